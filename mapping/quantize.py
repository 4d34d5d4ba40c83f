"""Quantizers with straight-through gradients (the rounding is invisible to autograd)."""

from __future__ import annotations

import torch


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """``round(x)`` in the forward pass, identity in the backward pass."""
    return x + (torch.round(x) - x).detach()


def quantize_unit(x: torch.Tensor, bits: int | None) -> torch.Tensor:
    """Quantize ``x`` in [0, 1] to ``2**bits - 1`` equal steps (``None``: unchanged)."""
    if bits is None:
        return x
    steps = 2**bits - 1
    return round_ste(x * steps) / steps


def quantize_symmetric(
    x: torch.Tensor, full_scale: torch.Tensor | float, bits: int | None
) -> torch.Tensor:
    """Clamp ``x`` to [-full_scale, full_scale] and quantize it to ``2**bits`` levels.

    An ADC: the levels are the centres of 2**bits equal bins over the range; ``None``: unchanged.
    """
    if bits is None:
        return x
    levels = 2**bits
    step = 2 * full_scale / levels
    clipped = torch.maximum(
        torch.minimum(x, torch.as_tensor(full_scale)), -torch.as_tensor(full_scale)
    )
    index = torch.clamp(torch.floor(clipped / step + levels / 2), 0, levels - 1)
    quantized = (index - levels / 2 + 0.5) * step
    return clipped + (quantized - clipped).detach()
