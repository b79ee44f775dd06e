"""Mappers from frame features to a backbone's width; each takes and returns (frames, mask)."""

from __future__ import annotations

import torch
from torch import nn

from plait.models.components.projector import ACTIVATIONS, MLPProjector


class FrameMapper(nn.Module):
    """Linear (layers=1) or MLP, applied to every frame; the mask is unchanged."""

    def __init__(self, in_dim: int, out_dim: int, layers: int = 1, hidden: int | None = None,
                 activation: str = "gelu") -> None:
        super().__init__()
        self.net = MLPProjector(in_dim, out_dim, layers, activation, hidden)

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(frames), mask


class ConvMapper(nn.Module):
    """Strided 1-D convolutions over time; the output is `stride ** layers` times shorter, and so is the mask."""

    def __init__(self, in_dim: int, out_dim: int, layers: int = 1, kernel_size: int = 3, stride: int = 2,
                 activation: str = "gelu") -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, kernel_size // 2
        self.convs = nn.ModuleList(
            nn.Conv1d(in_dim if i == 0 else out_dim, out_dim, kernel_size, stride, self.padding)
            for i in range(layers)
        )
        self.activation = ACTIVATIONS[activation]()

    def _shorten(self, lengths: torch.Tensor) -> torch.Tensor:
        shorter = torch.div(lengths + 2 * self.padding - self.kernel_size, self.stride, rounding_mode="floor") + 1
        return shorter.clamp(min=1)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Valid output positions for inputs of the given lengths (at least one each)."""
        for _ in self.convs:
            lengths = self._shorten(lengths)
        return lengths

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, lengths = frames.transpose(1, 2), mask.sum(dim=1)
        for i, conv in enumerate(self.convs):
            valid = torch.arange(x.shape[-1], device=x.device)[None, :] < lengths[:, None]
            x = conv(x * valid[:, None, :].to(x.dtype))  # padding positions must not leak into valid ones
            lengths = self._shorten(lengths)
            if i < len(self.convs) - 1:
                x = self.activation(x)
        out_mask = (torch.arange(x.shape[-1], device=x.device)[None, :] < lengths[:, None]).to(mask.dtype)
        return x.transpose(1, 2), out_mask
