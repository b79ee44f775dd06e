"""Model FLOPs of a training step and model FLOP utilisation (MFU), as pure functions.

The convention is PaLM's (Chowdhury et al. 2022, appendix B): a forward pass costs 2 FLOPs per
weight that multiplies an input, per token, plus 4 x layers x width x context per token for
attention; the backward pass costs twice the forward for weights that train, once for frozen
weights gradients must still flow through, and nothing for a frozen encoder at the start.
Recomputation (gradient checkpointing) and padding are not model FLOPs, so they do not count.
"""

from __future__ import annotations

from dataclasses import dataclass

# Dense peak throughput (FLOP/s) from the vendors' data sheets, by (device-name fragment, precision).
# fp32 is plain fp32 (PyTorch leaves TF32 matmuls off by default); tf32 is used when they are on.
PEAK_FLOPS: dict[tuple[str, str], float] = {
    ("H100 PCIe", "bf16"): 756e12, ("H100 PCIe", "fp16"): 756e12,
    ("H100 PCIe", "tf32"): 378e12, ("H100 PCIe", "fp32"): 51e12,
    ("H100", "bf16"): 989.4e12, ("H100", "fp16"): 989.4e12, ("H100", "tf32"): 494.7e12, ("H100", "fp32"): 66.9e12,
    ("H200", "bf16"): 989.4e12, ("H200", "fp16"): 989.4e12, ("H200", "tf32"): 494.7e12, ("H200", "fp32"): 66.9e12,
    ("A100", "bf16"): 312e12, ("A100", "fp16"): 312e12, ("A100", "tf32"): 156e12, ("A100", "fp32"): 19.5e12,
}


@dataclass(frozen=True)
class Part:
    """One block of a model as the FLOP count sees it."""

    params: int
    """Weights that multiply inputs (embedding lookups excluded)."""
    tokens: int
    """Tokens (or patches) this part processes per step."""
    passes: int
    """1: forward only (frozen, nothing before it trains); 2: + input gradients (frozen); 3: + weight gradients."""
    layers: int = 0
    """Attention layers (0 = no attention term)."""
    width: int = 0
    """Attention width (heads x head size)."""
    context: float = 0.0
    """Mean number of positions each token attends over (sequence length)."""


def forward_flops(part: Part) -> float:
    """FLOPs of one forward pass of `part` over its tokens."""
    return (2.0 * part.params + 4.0 * part.layers * part.width * part.context) * part.tokens


def step_flops(parts: list[Part]) -> float:
    """Model FLOPs of one training step (forward and backward of every part)."""
    return sum(forward_flops(p) * p.passes for p in parts)


def passes(trains: bool, gradients_flow: bool) -> int:
    """3 when the part's weights train, 2 when only gradients pass through it, 1 when neither."""
    return 3 if trains else (2 if gradients_flow else 1)


def peak_flops(device_name: str, precision: str) -> float | None:
    """Dense peak FLOP/s of a known accelerator at `precision` (bf16, fp16, tf32, fp32), or None."""
    for (fragment, kind), value in PEAK_FLOPS.items():  # the more specific names come first
        if fragment in device_name and kind == precision:
            return value
    return None


def mfu(flops_per_step: float, seconds_per_step: float, peak: float) -> float:
    """Model FLOP utilisation: achieved model FLOP/s over the device's peak."""
    if seconds_per_step <= 0 or peak <= 0:
        raise ValueError("seconds_per_step and peak must be positive")
    return flops_per_step / seconds_per_step / peak
