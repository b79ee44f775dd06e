"""Projectors from encoder features to a language model's embedding size."""

from __future__ import annotations

from torch import nn

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh}


class MLPProjector(nn.Module):
    """`layers` linear layers with an activation between them (layers=1 is a linear projection); the inner
    layers are `hidden` wide (default: out_dim)."""

    def __init__(self, in_dim: int, out_dim: int, layers: int = 2, activation: str = "gelu",
                 hidden: int | None = None) -> None:
        super().__init__()
        dims = [in_dim] + [hidden or out_dim] * (layers - 1) + [out_dim]
        blocks: list[nn.Module] = []
        for i in range(layers):
            if i:
                blocks.append(ACTIVATIONS[activation]())
            blocks.append(nn.Linear(dims[i], dims[i + 1]))
        self.net = nn.Sequential(*blocks)

    def forward(self, features):
        return self.net(features)
