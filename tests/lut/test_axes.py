"""Schema neat-lut/2 (temperature and threshold-shift axes) and CellLUT's use of them."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from lut_factory import ideal, write_lut, write_lut_v1

from neatxbar.cli.main import cli
from neatxbar.lut import CellLUT, LUTError
from neatxbar.lut.schema import read_lut
from neatxbar.spice import cell_current

TEMPS = np.array([0.0, 27.0, 85.0])
SHIFTS = np.array([-0.02, -0.01, 0.0, 0.01, 0.02])


def shifted(t: np.ndarray, d: np.ndarray, g: np.ndarray, v: np.ndarray, vg: np.ndarray):
    """A table linear in each axis but V_gate: I = G V (1 - 5 d)(1 - 1e-3 (T - 27)) + 1e-9 vg."""
    return g * v * (1 - 5 * d) * (1 - 1e-3 * (t - 27)) + 1e-9 * vg


@pytest.fixture
def axes_path(tmp_path):
    return write_lut(
        tmp_path / "axes.h5", shifted, temperature_c=TEMPS, delvto=SHIFTS, sigma_vt_v=7e-3
    )


def test_a_v2_file_round_trips(axes_path) -> None:
    lut = read_lut(axes_path)
    assert lut.schema == "neat-lut/2" and lut.sigma_vt_v == 7e-3
    assert lut.grids.temperature_c.tolist() == TEMPS.tolist()
    assert lut.grids.delvto.tolist() == SHIFTS.tolist() and lut.grids.zero_shift == 2
    g = lut.grids
    expected = shifted(
        TEMPS[:, None, None, None, None],
        SHIFTS[None, :, None, None, None],
        g.conductance[:, None, None],
        g.v_in[None, :, None],
        g.v_gate[None, None, :],
    )
    np.testing.assert_array_equal(lut.current, expected)
    assert lut.region.g_max.shape == (3, 13)
    np.testing.assert_array_equal(lut.nominal, expected[1, 2])


def test_cell_lut_selects_a_temperature(axes_path) -> None:
    nominal = CellLUT.load(axes_path)
    assert nominal.temperature_c == 27.0 and nominal.temperatures_c == (0.0, 27.0, 85.0)
    hot = CellLUT.load(axes_path, temperature_c=85)
    assert hot.temperature_c == 85.0 and hot.sigma_vt_v == 7e-3
    g, v, vg = 2e-5, 0.3, 1.0
    for lut, t in ((nominal, 27.0), (hot, 85.0)):
        expected = g * v * (1 - 1e-3 * (t - 27)) + 1e-9 * vg
        assert float(lut.current(g, v, vg)) == pytest.approx(expected, rel=1e-12)
        assert lut.table.shape == (9, 11, 13) and lut.shift_table.shape == (5, 9, 11, 13)
        assert torch.equal(lut.shift_table[2], lut.table)
        assert lut.shift_grid.tolist() == SHIFTS.tolist()
    with pytest.raises(LUTError, match=r"no 50 degC in this LUT \(its temperatures: 0, 27, 85"):
        CellLUT.load(axes_path, temperature_c=50.0)
    with pytest.raises(LUTError, match="temperature"):
        CellLUT.load(axes_path, temperature_c=float("nan"))


def test_at_temperature_reads_the_file_again_only_for_another_temperature(axes_path) -> None:
    nominal = CellLUT.load(axes_path)
    assert nominal.at_temperature(None) is nominal and nominal.at_temperature(27.0) is nominal
    hot = nominal.at_temperature(85.0)
    assert hot.temperature_c == 85.0 and not torch.equal(hot.table, nominal.table)
    with pytest.raises(LUTError, match="no 50 degC"):
        nominal.at_temperature(50.0)
    memory = CellLUT(
        *(t.numpy() for t in (nominal.g_grid, nominal.v_grid, nominal.vg_grid)),
        nominal.table.numpy(),
    )
    with pytest.raises(LUTError, match="not from a file"):
        memory.at_temperature(85.0)


def test_without_27_degc_the_first_temperature_is_the_default(tmp_path) -> None:
    path = write_lut(tmp_path / "hot.h5", shifted, temperature_c=np.array([60.0, 85.0]))
    assert CellLUT.load(path).temperature_c == 60.0


def test_the_shift_interpolates_linearly_along_delvto(axes_path) -> None:
    lut = CellLUT.load(axes_path, temperature_c=0.0)
    g = torch.tensor([1e-5, 2e-5, 3e-5], dtype=torch.float64, requires_grad=True)
    v = torch.tensor([0.1, 0.25, 0.5], dtype=torch.float64)
    shift = torch.tensor([-0.02, 0.0037, 0.0151], dtype=torch.float64)
    out = lut.current(g, v, 0.9, shift=shift)
    expected = g.detach() * v * (1 - 5 * shift) * (1 + 27e-3) + 0.9e-9
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=0)
    out.sum().backward()  # differentiable in G, as without a shift
    assert g.grad is not None and torch.all(g.grad > 0)
    # shift None, and a shift of 0, are the table alone
    assert torch.equal(lut.current(g, v, 0.9, shift=torch.zeros(3)), lut.current(g, v, 0.9))
    pchip = lut.current(g, v, 0.9, shift=shift, method="pchip")
    torch.testing.assert_close(pchip, expected, rtol=1e-9, atol=0)
    f32 = lut.current(g.detach().float(), v.float(), 0.9, shift=shift.float())
    assert f32.dtype == torch.float32
    torch.testing.assert_close(f32.double(), expected, rtol=1e-5, atol=0)


def test_a_shift_off_the_grid_is_refused_or_clamped(axes_path) -> None:
    lut = CellLUT.load(axes_path)
    with pytest.raises(LUTError, match=r"shift outside the LUT's range \[-0.02, 0.02\] V"):
        lut.current(2e-5, 0.3, 1.0, shift=0.03)
    with pytest.raises(LUTError, match="shift holds NaN"):
        lut.current(2e-5, 0.3, 1.0, shift=torch.tensor([0.0, float("nan")]))
    clamped = lut.current(2e-5, 0.3, 1.0, shift=0.03, extrapolate="clamp")
    assert float(clamped) == pytest.approx(float(lut.current(2e-5, 0.3, 1.0, shift=0.02)))


def test_a_v1_file_still_loads_as_one_temperature_without_shifts(tmp_path) -> None:
    path = write_lut_v1(tmp_path / "old.h5", ideal)
    contents = read_lut(path)
    assert contents.schema == "neat-lut/1" and contents.current.shape == (1, 1, 9, 11, 13)
    lut = CellLUT.load(path)
    assert lut.temperature_c == 27.0 and lut.temperatures_c == (27.0,)
    assert lut.shift_grid.tolist() == [0.0] and lut.sigma_vt_v == 0.0
    assert lut.shift_table.shape == (1, 9, 11, 13) and lut.g_max.shape == (13,)
    assert float(lut.current(2e-5, 0.3, 1.0)) == pytest.approx(6e-6, rel=1e-12)
    assert float(lut.current(2e-5, 0.3, 1.0, shift=0.0)) == pytest.approx(6e-6, rel=1e-12)
    with pytest.raises(LUTError, match="shift outside"):
        lut.current(2e-5, 0.3, 1.0, shift=0.01)
    with pytest.raises(LUTError, match="its temperatures: 27"):
        CellLUT.load(path, temperature_c=85.0)
    # `neat fit` keeps an old file in its own layout
    result = CliRunner().invoke(cli, ["fit", str(path)])
    assert result.exit_code == 0, result.output
    with h5py.File(path, "r") as f:
        assert f.attrs["schema"] == "neat-lut/1" and f["linear_region/g_max"].shape == (13,)
    assert CellLUT.load(path).g_max.shape == (13,)


def test_neat_fit_writes_bounds_per_temperature(axes_path) -> None:
    result = CliRunner().invoke(cli, ["fit", str(axes_path)])
    assert result.exit_code == 0, result.output
    assert "at 0 degC" in result.output and "at 85 degC" in result.output
    with h5py.File(axes_path, "r") as f:
        assert f["linear_region/g_max"].shape == (3, 13)
        assert f["linear_region/max_deviation"].shape == (3, 9, 13)
    # the heat lowers the current by 5.8 % at 85 degC: the ideal metric's deviation there
    lut = read_lut(axes_path)
    assert lut.region.max_deviation[2].max() == pytest.approx(0.058, rel=1e-2)
    assert np.all(lut.region.max_deviation[2] > 0.045)
    assert lut.region.max_deviation[1].max() < 0.01  # 27 degC: the 1 nA offset alone


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shift_grid": [-0.01, 0.01], "shift_table": "same"}, "hold 0 V"),
        ({"shift_grid": [0.0, -0.01], "shift_table": "same"}, "strictly increasing"),
        ({"shift_grid": [-0.01, 0.0]}, "together"),
        ({"shift_grid": [-0.01, 0.0], "shift_table": "short"}, "shift_table shape"),
        ({"shift_grid": [-0.01, 0.0], "shift_table": "other"}, "table must equal"),
        ({"sigma_vt_v": -1.0}, "sigma_vt_v"),
    ],
)
def test_the_constructor_checks_the_shift_axis(kwargs: dict, message: str) -> None:
    g, v, vg = np.linspace(1e-5, 3e-5, 3), np.linspace(0, 0.5, 4), np.array([0.8, 1.0])
    table = g[:, None, None] * v[None, :, None] + 0 * vg
    tables = {
        "same": np.stack([table, table]),
        "short": table[None],
        "other": np.stack([table, 2 * table]),
    }
    if "shift_table" in kwargs:
        kwargs = kwargs | {"shift_table": tables[kwargs["shift_table"]]}
    with pytest.raises(LUTError, match=message):
        CellLUT(g, v, vg, table, **kwargs)


def test_shift_interpolation_against_ngspice(paper_axes_lut_path) -> None:
    """Between the grid's shifts, conductances and input voltages, at 85 degC: the LUT against
    direct ngspice operating points with the same delvto."""
    lut = CellLUT.load(paper_axes_lut_path, temperature_c=85.0)
    from conftest import paper_variant

    transistor = paper_variant(axes=True)[0].cell_transistor()
    rng = np.random.default_rng(14)
    sigma = lut.sigma_vt_v
    full_scale = float(lut.g_grid[-1] * lut.v_grid[-1])
    errors = []
    for _ in range(12):
        g = rng.uniform(float(lut.g_grid[0]), float(lut.g_grid[-1]))
        v = rng.uniform(0.05, 0.5)
        vg = float(rng.choice([0.8, 1.0]))
        shift = rng.uniform(-3, 3) * sigma
        direct = cell_current(g, v, vg, transistor, delvto=shift, temperature_c=85.0)
        errors.append(abs(float(lut.current(g, v, vg, shift=shift)) - direct) / full_scale)
    assert max(errors) < 1e-3  # of G_ON * V_max
    # ... and the shift matters at that scale: +3 sigma against -3 sigma
    spread = lut.current(3e-5, 0.5, 0.8, shift=-3 * sigma) - lut.current(
        3e-5, 0.5, 0.8, shift=3 * sigma
    )
    assert float(spread) / full_scale > 0.01
