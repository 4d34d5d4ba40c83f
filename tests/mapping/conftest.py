"""Fixtures of the mapping tests: a LUT with a threshold-shift (delvto) axis."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neatxbar.lut import CellLUT

#: The card mismatch of the test LUT (V) and its delvto grid: +-3 sigma in 9 steps.
SIGMA_VT_V = 0.01
SHIFTS = np.linspace(-3 * SIGMA_VT_V, 3 * SIGMA_VT_V, 9)


def with_shift_axis(lut: CellLUT, shifts: np.ndarray, sigma_vt_v: float) -> CellLUT:
    """``lut`` with a delvto axis: a threshold shift delta moves the transistor's overdrive like
    a gate voltage lower by delta, so I(G, V, V_g, delta) = I(G, V, V_g - delta) interpolated on
    the gate grid (clamped at its ends). Uses the CellLUT constructor's ``shift_grid``,
    ``shift_table`` and ``sigma_vt_v`` (contract of issue 14)."""
    g, v, vg = lut.g_grid, lut.v_grid, lut.vg_grid
    table = torch.stack(
        [
            lut.current(
                g[:, None, None], v[None, :, None], vg[None, None, :] - d, extrapolate="clamp"
            )
            for d in shifts
        ]
    )
    table[np.argmin(np.abs(shifts))] = lut.table  # exactly the LUT at delvto = 0
    kwargs = dict(shift_grid=np.asarray(shifts), shift_table=table.numpy(), sigma_vt_v=sigma_vt_v)
    args = (g.numpy(), v.numpy(), vg.numpy(), lut.table.numpy(), lut.g_max, lut.w_max)
    return CellLUT(*args, lut.tolerance, **kwargs)


@pytest.fixture(scope="session")
def shifted_lut(paper_lut: CellLUT) -> CellLUT:
    """The `paper` LUT with a 9-point delvto axis over +-30 mV and sigma_vt 10 mV."""
    return with_shift_axis(paper_lut, SHIFTS, SIGMA_VT_V)
