"""Mismatch and temperature against ngspice: crossbars whose cells carry the test's own
threshold shifts (ngspice's per-instance ``delvto``), at 27 and 85 degC, against the emulation
(exact and fast path) with the same shifts, on the paper cell's LUT with both axes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neatxbar.characterize.spec import load_preset
from neatxbar.lut import CellLUT
from neatxbar.mapping import Crossbar
from neatxbar.spice import crossbar_column_currents_batch

#: Largest |I / I_spice - 1| of every column current allowed (the issue's target).
TARGET = 3e-3
ACCURACY = {"reltol": 1e-6, "vntol": 1e-9}


def _draws(lut: CellLUT, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Conductances (S), threshold shifts (V) and 4 input vectors (V) of an n x n crossbar.

    The shifts are N(0, sigma_vt) plus +-2 sigma_vt by column (alternating), clipped to the LUT's
    axis: random draws of sigma_vt alone average out over a column, the offset makes the shifts'
    effect on every column current large enough that the comparison can fail."""
    rng = np.random.default_rng(seed)
    g = rng.uniform(lut.g_min_s, lut.g_on_s, (n, n))
    grid = lut.shift_grid.numpy()
    offset = 2 * lut.sigma_vt_v * np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    shift = np.clip(rng.normal(0.0, lut.sigma_vt_v, (n, n)) + offset, grid[0], grid[-1])
    v = rng.uniform(0.0, lut.v_max, (4, n))
    return g, shift, v


@pytest.mark.parametrize("temperature_c", [27.0, 85.0])
@pytest.mark.parametrize("v_gate", [0.8, 1.0])
def test_shifted_crossbar_matches_ngspice(
    paper_axes_lut_path, temperature_c: float, v_gate: float
) -> None:
    lut = CellLUT.load(paper_axes_lut_path, temperature_c=temperature_c)
    assert lut.sigma_vt_v > 0 and lut.temperature_c == temperature_c
    g, shift, v = _draws(lut, 16, seed=int(100 * v_gate + temperature_c))
    transistor = load_preset("paper")[0].cell_transistor()
    spice = crossbar_column_currents_batch(
        g, v, v_gate, transistor, options=ACCURACY, delvto=shift, temperature_c=temperature_c
    )
    g, v, shift = (torch.as_tensor(x) for x in (g, v, shift))
    errors = {
        path: np.abs(
            Crossbar(lut, v_gate, 16, 16, path=path).column_currents(g, v, shift).numpy() / spice
            - 1
        ).max()
        for path in ("exact", "fast")
    }
    unshifted = Crossbar(lut, v_gate, 16, 16, path="exact").column_currents(g, v).numpy()
    ignored = np.abs(unshifted / spice - 1).max()
    assert errors["exact"] < min(TARGET, ignored / 4)  # the shifts are resolved, not ignored
    assert errors["fast"] < TARGET


def test_temperature_changes_the_emulated_currents(paper_axes_lut_path) -> None:
    """At 85 degC the emulation reads the 85 degC slice: its currents differ from 27 degC by far
    more than the target, and match ngspice at 85 degC (above)."""
    cold = CellLUT.load(paper_axes_lut_path, temperature_c=27.0)
    hot = CellLUT.load(paper_axes_lut_path, temperature_c=85.0)
    g, _, v = _draws(cold, 16, seed=3)
    currents = [
        Crossbar(lut, 0.8, 16, 16).column_currents(torch.as_tensor(g), torch.as_tensor(v))
        for lut in (cold, hot)
    ]
    assert (currents[1] / currents[0] - 1).abs().max() > 3 * TARGET
