"""Crossbar emulation: the fast path against the exact one, and both against physics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neatxbar.characterize.spec import load_preset
from neatxbar.lut import CellLUT, LUTError
from neatxbar.mapping import Crossbar
from neatxbar.spice import crossbar_column_currents


def _random(lut: CellLUT, rows: int, cols: int, n: int, seed: int) -> tuple:
    gen = torch.Generator().manual_seed(seed)
    g = lut.g_min_s + (lut.g_on_s - lut.g_min_s) * torch.rand(
        rows, cols, generator=gen, dtype=torch.float64
    )
    v = lut.v_max * torch.rand(n, rows, generator=gen, dtype=torch.float64)
    return g, v


@pytest.mark.parametrize("v_gate", [0.7, 0.75, 0.8, 1.0, 1.3])
@pytest.mark.parametrize(("rows", "cols"), [(16, 8), (64, 64)])
def test_fast_path_is_within_budget_of_the_exact_path(
    lut: CellLUT, v_gate: float, rows: int, cols: int
) -> None:
    g, v = _random(lut, rows, cols, 50, seed=rows + int(100 * v_gate))
    exact = Crossbar(lut, v_gate, rows, cols, path="exact").column_currents(g, v)
    fast_bar = Crossbar(lut, v_gate, rows, cols, error_budget=1e-3)
    fast = fast_bar.column_currents(g, v)
    full_scale = rows * lut.g_on_s * lut.v_max
    assert (fast - exact).abs().max() / full_scale <= 1e-3
    assert 1 <= fast_bar.form.rank <= 8


def test_inside_the_linear_region_at_high_gate_voltage_the_crossbar_is_linear(
    lut: CellLUT,
) -> None:
    m = lut.gate_index(1.3)
    g_max = float(lut.g_max[m])
    gen = torch.Generator().manual_seed(5)
    g = lut.g_min_s + (g_max - lut.g_min_s) * torch.rand(32, 16, generator=gen, dtype=torch.float64)
    v = lut.v_max * torch.rand(20, 32, generator=gen, dtype=torch.float64)
    for path in ("fast", "exact"):
        currents = Crossbar(lut, 1.3, 32, 16, path=path).column_currents(g, v)
        ideal = v @ g
        assert torch.all((currents - ideal).abs() <= lut.tolerance * ideal)
    # and outside it, at low gate voltage, it is not
    low = Crossbar(lut, 0.7, 32, 16, path="exact").column_currents(g, v)
    assert torch.any((low - v @ g).abs() > lut.tolerance * (v @ g))


def test_column_currents_match_ngspice_on_a_16x16_crossbar(lut: CellLUT) -> None:
    spec, _ = load_preset("paper")
    g, v = _random(lut, 16, 16, 3, seed=7)
    for path in ("exact", "fast"):
        emulated = Crossbar(lut, 1.0, 16, 16, path=path).column_currents(g, v).numpy()
        for n in range(v.shape[0]):
            spice = crossbar_column_currents(g.numpy(), v[n].numpy(), 1.0, spec.cell_transistor())
            assert np.max(np.abs(emulated[n] - spice) / spice) <= 3e-3


def test_gradients_flow_to_conductances_and_voltages(lut: CellLUT) -> None:
    g, v = _random(lut, 4, 3, 2, seed=3)
    for path in ("fast", "exact"):
        bar = Crossbar(lut, 0.8, 4, 3, path=path)
        gs = (g / 1e-5).requires_grad_()
        vv = v.clone().requires_grad_()
        scaled = lambda a, b, bar=bar: bar.column_currents(a * 1e-5, b)  # noqa: E731
        assert torch.autograd.gradcheck(scaled, (gs, vv))


def test_bad_shapes_ranges_and_gate_voltages(lut: CellLUT) -> None:
    bar = Crossbar(lut, 1.0, 4, 3)
    g, v = _random(lut, 4, 3, 2, seed=1)
    with pytest.raises(ValueError, match=r"g must have shape \(4, 3\)"):
        bar.column_currents(g.t(), v)
    with pytest.raises(ValueError, match=r"v must have shape"):
        bar.column_currents(g, v[:, :3])
    with pytest.raises(LUTError, match="v_in outside"):
        bar.column_currents(g, v + 1.0)
    with pytest.raises(LUTError, match="gate grid"):
        Crossbar(lut, 0.995, 4, 3)
