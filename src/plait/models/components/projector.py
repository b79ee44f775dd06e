"""Projectors from encoder features to a language model's embedding size."""

from __future__ import annotations

from torch import nn

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh}


class MLPProjector(nn.Module):
    """`layers` linear layers with an activation between them (layers=1 is a linear projection)."""

    def __init__(self, in_dim: int, out_dim: int, layers: int = 2, activation: str = "gelu") -> None:
        super().__init__()
        dims = [in_dim] + [out_dim] * layers
        blocks: list[nn.Module] = []
        for i in range(layers):
            if i:
                blocks.append(ACTIVATIONS[activation]())
            blocks.append(nn.Linear(dims[i], dims[i + 1]))
        self.net = nn.Sequential(*blocks)

    def forward(self, features):
        return self.net(features)
