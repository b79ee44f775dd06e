"""LaVIN's routed RepAdapter, the wrapper that puts one after a block's norm, and the visual-token MLP.

No library ships these: peft has LoRA/IA3/adapters of other shapes but no modality-routed adapter (peft 0.21
checked), so they are written here, each small.

Where plait departs from luogen1996/LaVIN on purpose: LaVIN routes from x[:, 0], which in its LLaMA blocks is the
first token (wrong under left padding) and in its CLIP blocks, whose tensors are sequence-first, is the first
image's tokens (every image in a batch then gets the routing of image 0, per position). Here the LM's adapters
route from each row's modality token wherever it sits, and the encoder's from each image's own class token.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class RouterAdapter(nn.Module):
    """x + scale (w0 B(A(x)) + w1 D(A(x))), w = softmax(router(route) / t); B and D start at zero (identity)."""

    def __init__(self, width: int, dim: int = 8, groups: int = 2, temperature: float = 10.0, scale: float = 1.0,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if width % groups or dim % groups:
            raise ValueError(f"adapter groups {groups} must divide the width {width} and the adapter dim {dim}")
        self.down = nn.Linear(width, dim)  # LaVIN's conv_A, a 1x1 convolution
        # grouped 1x1 convolutions: torch's grouped Conv1d is the library's grouped linear map
        self.up_b = nn.Conv1d(dim, width, 1, groups=groups)
        self.up_d = nn.Conv1d(dim, width, 1, groups=groups)
        self.router = nn.Linear(width, 2)
        self.dropout = nn.Dropout(dropout)
        self.temperature = temperature
        self.scale = scale
        nn.init.xavier_uniform_(self.down.weight)
        nn.init.zeros_(self.down.bias)
        for up in (self.up_b, self.up_d):
            nn.init.zeros_(up.weight)
            nn.init.zeros_(up.bias)

    def weights(self, route: torch.Tensor) -> torch.Tensor:
        """(batch, 2) expert weights from the routing vector (batch, width); rows sum to one."""
        return torch.softmax(self.router(route.to(self.router.weight.dtype)) / self.temperature, dim=-1)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        h = self.dropout(self.down(x.to(self.down.weight.dtype))).transpose(1, 2)  # (batch, dim, seq)
        b = self.up_b(h).transpose(1, 2)
        d = self.up_d(h).transpose(1, 2)
        w = weights[:, None, :]
        return x + (self.scale * (w[..., :1] * b + w[..., 1:] * d)).to(x.dtype)


class Routing:
    """Where the routing vector sits in the current batch, and each adapter's weights for it.

    The model calls `begin(positions, length)` before each forward or generation. A pass over the whole
    sequence (`length` positions: training, a recomputation under gradient checkpointing, generation's
    prefill) routes from the modality token's hidden state and keeps the weights; the decoding steps after
    it, which see only new tokens, reuse them (as LaVIN does after start_pos 0).
    """

    def __init__(self) -> None:
        self.positions: torch.Tensor | None = None
        self.length = 0
        self.cache: dict[int, torch.Tensor] = {}

    def begin(self, positions: torch.Tensor | None, length: int = 0) -> None:
        """positions: (batch,) index of each row's modality token, in sequences of `length`;
        None = route every pass from position 0 (a vision encoder's class token)."""
        self.positions = positions
        self.length = length
        self.cache = {}

    def weights(self, adapter: RouterAdapter, x: torch.Tensor) -> torch.Tensor:
        positions = self.positions
        if positions is None:
            return adapter.weights(x[:, 0])
        if x.shape[1] != self.length:  # a decoding step: the modality token is in the cache, not in x
            cached = self.cache[id(adapter)]
            return cached if cached.shape[0] == x.shape[0] else cached.repeat_interleave(
                x.shape[0] // cached.shape[0], dim=0)
        if positions.shape[0] != x.shape[0]:  # generate expanded the batch (beams), repeating each row
            positions = positions.repeat_interleave(x.shape[0] // positions.shape[0])
        weights = adapter.weights(x[torch.arange(x.shape[0], device=x.device), positions.to(x.device)])
        self.cache[id(adapter)] = weights
        return weights


class AdaptedNorm(nn.Module):
    """A block's norm followed by a routed adapter: the block is wrapped, never patched."""

    def __init__(self, norm: nn.Module, adapter: RouterAdapter, routing: Routing) -> None:
        super().__init__()
        self.norm = norm
        self.adapter = adapter
        self.routing = routing

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        h = self.norm(x, *args, **kwargs)
        return self.adapter(h, self.routing.weights(self.adapter, h))


class VisualTokens(nn.Module):
    """The class token after every k-th encoder layer -> MLP (d_v -> hidden -> d, SiLU): (batch, L // k, d)."""

    def __init__(self, vision_width: int, lm_width: int, every: int = 4, hidden: int = 128) -> None:
        super().__init__()
        self.every = every
        self.mlp = nn.Sequential(nn.Linear(vision_width, hidden), nn.SiLU(), nn.Linear(hidden, lm_width))
        for layer in (self.mlp[0], self.mlp[2]):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def layers(self, num_layers: int) -> list[int]:
        """hidden_states indices read (0 is the embeddings): every, 2 x every, ... <= num_layers."""
        return list(range(self.every, num_layers + 1, self.every))

    def forward(self, hidden_states: tuple[torch.Tensor, ...]) -> torch.Tensor:
        picked = torch.stack([hidden_states[i][:, 0] for i in self.layers(len(hidden_states) - 1)], dim=1)
        return self.mlp(picked.to(self.mlp[0].weight.dtype))
