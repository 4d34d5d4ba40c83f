"""One chip's departures from the ideal crossbar: programming errors, stuck cells, threshold shifts.

A chip is a seed (:attr:`~neatxbar.mapping.config.Variation.seed`). Every crossbar layer draws its
cells' errors from generators seeded by (chip seed, the layer's index among the model's crossbar
layers, the effect), in the shape of its weight (one draw for G+ and one for G- of every weight),
so the same seed gives the same chip, whatever else the model computes, and switching one effect
on or off leaves the others' draws unchanged. The draws are made on the CPU (float32, used in
float64: the same chip on every device) and do not depend on the weights: a chip is a property of
the hardware.

- programming variation: G' = G (1 + sigma z) (Gaussian) or G exp(sigma z) (log-normal, median G),
  z standard normal per cell, clipped to [G_min, G_on];
- stuck cells: a uniform draw per cell; cells below ``stuck_on`` sit at G_on, cells in
  [stuck_on, stuck_on + stuck_off) at G_min (so raising a fraction only adds stuck cells);
- transistor mismatch: a threshold shift delta ~ N(0, (mismatch * sigma_vt_v)^2) per cell (V),
  clipped to the LUT's delvto grid, looked up along the LUT's shift axis.

Read noise is not drawn here: it is drawn at every forward from torch's global RNG (see
:mod:`neatxbar.mapping.layers`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import torch

from neatxbar.lut.interp import CellLUT
from neatxbar.lut.separable import ShiftedSeparableCell, fit_separable_shifted
from neatxbar.mapping.config import Variation
from neatxbar.mapping.errors import MappingError

#: The effects, each with its own generator stream.
PROGRAMMING, STUCK, SHIFT = 1, 2, 3
#: Tag of the chips drawn while training (see :func:`training_chip_seed`).
_TRAINING_TAG = 0x6E6F697365

#: Fitted shifted separable forms per LUT, (gate index, budget) -> form.
_SHIFTED_FORMS: weakref.WeakKeyDictionary[CellLUT, dict[tuple[int, float], ShiftedSeparableCell]]
_SHIFTED_FORMS = weakref.WeakKeyDictionary()


def stream_seed(*entropy: int) -> int:
    """A 63-bit generator seed from integers (numpy's SeedSequence: well mixed, reproducible)."""
    words = np.random.SeedSequence([int(e) for e in entropy]).generate_state(2, np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


def generator(seed: int, layer_index: int, effect: int) -> torch.Generator:
    """The CPU generator of one effect of one layer of chip ``seed``."""
    return torch.Generator().manual_seed(stream_seed(seed, layer_index, effect))


def training_chip_seed(seed: int, step: int) -> int:
    """The chip of training step ``step`` (noise-aware training), drawn from the base ``seed``.

    Far from the small seeds that Monte Carlo evaluations use (S, S + 1, ...), so a network is
    not evaluated on chips it was trained on.
    """
    return stream_seed(seed, _TRAINING_TAG, step)


@dataclass(frozen=True)
class ChipDraws:
    """One layer's draws for one chip, each a pair (G+ cells, G- cells) in the weight's shape.

    Attributes
    ----------
    programming
        Standard normals z (dimensionless), or None when programming variation is off.
    stuck
        Uniforms in [0, 1) (dimensionless), or None when no cell is stuck.
    shift
        Threshold shifts (V), already scaled and clipped, or None without mismatch.
    """

    programming: tuple[torch.Tensor, torch.Tensor] | None
    stuck: tuple[torch.Tensor, torch.Tensor] | None
    shift: tuple[torch.Tensor, torch.Tensor] | None

    def to(self, dtype: torch.dtype, device: torch.device | str) -> ChipDraws:
        """These draws in ``dtype`` on ``device``."""

        def move(pair: tuple[torch.Tensor, torch.Tensor] | None) -> tuple | None:
            return None if pair is None else tuple(t.to(dtype=dtype, device=device) for t in pair)

        return ChipDraws(move(self.programming), move(self.stuck), move(self.shift))


def draw_chip(
    variation: Variation,
    layer_index: int,
    shape: tuple[int, ...],
    lut: CellLUT | None = None,
    *,
    seed: int | None = None,
) -> ChipDraws:
    """The draws of one layer (index ``layer_index``) of chip ``seed`` (default the variation's).

    Parameters
    ----------
    shape
        The weight's shape: one cell of G+ and one of G- per weight.
    lut
        Needed with mismatch: its ``sigma_vt_v`` (V) and delvto grid.
    """
    seed = variation.seed if seed is None else seed
    shape = tuple(shape)

    def pair(effect: int, uniform: bool) -> tuple[torch.Tensor, torch.Tensor]:
        gen = generator(seed, layer_index, effect)
        # drawn in float32 (4x faster than float64 on the CPU), used in float64
        draw = torch.rand if uniform else torch.randn
        values = draw((2, *shape), generator=gen, dtype=torch.float32).double()
        return values[0], values[1]

    programming = pair(PROGRAMMING, False) if variation.programming_sigma > 0 else None
    stuck = pair(STUCK, True) if variation.stuck_on + variation.stuck_off > 0 else None
    shift = None
    if variation.mismatch > 0:
        grid = shift_grid(lut)
        sigma = variation.mismatch * float(lut.sigma_vt_v)
        low, high = float(grid[0]), float(grid[-1])
        shift = tuple(z.mul_(sigma).clamp_(low, high) for z in pair(SHIFT, False))
    return ChipDraws(programming, stuck, shift)


def apply_chip(
    g: torch.Tensor,
    programming: torch.Tensor | None,
    stuck: torch.Tensor | None,
    variation: Variation,
    g_min: float,
    g_on: float,
) -> torch.Tensor:
    """Conductances ``g`` (S) as the chip holds them: programming error, clipping, stuck cells.

    ``programming`` and ``stuck`` are the draws of :class:`ChipDraws` for these cells (same shape
    as ``g``, or None). Differentiable in ``g`` (zero gradient where clipped or stuck).
    """
    sigma = variation.programming_sigma
    if programming is not None and sigma > 0:
        if variation.distribution == "lognormal":
            factor = torch.exp(sigma * programming)
        else:
            factor = 1 + sigma * programming
        g = (g * factor).clamp(g_min, g_on)
    if stuck is not None:
        on = stuck < variation.stuck_on
        off = (stuck >= variation.stuck_on) & (stuck < variation.stuck_on + variation.stuck_off)
        g = torch.where(on, g.new_tensor(g_on), torch.where(off, g.new_tensor(g_min), g))
    return g


def shift_grid(lut: CellLUT | None) -> torch.Tensor:
    """The LUT's delvto grid (V), checked usable for mismatch.

    Raises
    ------
    MappingError
        No LUT, a LUT without a threshold-shift axis (fewer than 2 shifts) or without a card
        mismatch (``sigma_vt_v`` 0).
    """
    grid = getattr(lut, "shift_grid", None)
    if grid is None or grid.numel() < 2:
        raise MappingError(
            "mismatch needs a LUT with a threshold-shift axis: characterize it with a "
            "[mismatch] table in the sweep spec"
        )
    if not float(getattr(lut, "sigma_vt_v", 0.0)) > 0:
        raise MappingError(
            "mismatch needs the LUT's card mismatch sigma_vt_v > 0 (set a_vt_mv_um under "
            "[transistor] in the sweep spec)"
        )
    return grid


def shifted_form(lut: CellLUT, v_gate: float, budget: float) -> ShiftedSeparableCell:
    """The separable form over (delvto, G) x V of ``lut`` at grid gate voltage ``v_gate`` (V),
    fitted once per LUT, gate and ``budget`` (a fraction of G_ON * V_max)."""
    grid = shift_grid(lut)
    gate = lut.gate_index(v_gate)
    forms = _SHIFTED_FORMS.setdefault(lut, {})
    key = (gate, float(budget))
    if key not in forms:
        forms[key] = fit_separable_shifted(
            lut.shift_table[..., gate].numpy(),
            grid.numpy(),
            lut.g_grid.numpy(),
            lut.v_grid.numpy(),
            float(lut.vg_grid[gate]),
            budget,
        )
    return forms[key]
