"""CellLUT: loading checks and interpolation against functions with known answers."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from lut_factory import ideal, write_lut

from neatxbar.lut import CellLUT, LUTError


def multilinear(g: np.ndarray, v: np.ndarray, vg: np.ndarray) -> np.ndarray:
    """Reproduced exactly by trilinear interpolation."""
    return (1 + 3e4 * g) * (2 + v) * (3 + vg) * 1e-6


@pytest.fixture
def lut(tmp_path: Path) -> CellLUT:
    return CellLUT.load(write_lut(tmp_path / "m.h5", multilinear))


def test_trilinear_is_exact_on_a_multilinear_table(lut: CellLUT) -> None:
    rng = np.random.default_rng(0)
    g = rng.uniform(1 / 300e3, 1 / 30e3, 50)
    v = rng.uniform(0, 0.5, 50)
    vg = rng.uniform(0.7, 1.3, 50)
    got = lut.current(torch.tensor(g), torch.tensor(v), torch.tensor(vg))
    np.testing.assert_allclose(got.numpy(), multilinear(g, v, vg), rtol=1e-12)


@pytest.mark.parametrize("method", ["linear", "pchip"])
def test_grid_points_are_reproduced(lut: CellLUT, method: str) -> None:
    g, v = lut.g_grid[:, None], lut.v_grid[None, :]
    got = lut.current(g, v, 1.0, method=method)
    np.testing.assert_allclose(got.numpy(), lut.table[:, :, 6].numpy(), rtol=1e-12)


def test_pchip_is_monotone_and_close_on_a_smooth_curve(tmp_path: Path) -> None:
    curve = lambda g, v, vg: g * 0.5 * np.tanh(v / 0.5) + 0 * vg  # noqa: E731
    lut = CellLUT.load(write_lut(tmp_path / "t.h5", curve))
    v = torch.linspace(0, 0.5, 1001, dtype=torch.float64)
    g = torch.tensor(2e-5, dtype=torch.float64)
    cubic = lut.current(g, v, 1.0, method="pchip")
    linear = lut.current(g, v, 1.0)
    truth = torch.as_tensor(curve(2e-5, v.numpy(), 1.0))
    assert torch.all(torch.diff(cubic) >= 0)
    assert (cubic - truth).abs().max() < (linear - truth).abs().max() / 5


def test_broadcasting_dtype_and_device(lut: CellLUT) -> None:
    g = torch.full((4, 1), 1e-5, dtype=torch.float32)
    v = torch.linspace(0, 0.5, 3, dtype=torch.float32)
    out = lut.current(g, v, 0.9)
    assert out.shape == (4, 3) and out.dtype == torch.float32 and out.device == g.device
    assert lut.current(1e-5, 0.1, 0.9).dtype == torch.float64


@pytest.mark.parametrize("method", ["linear", "pchip"])
def test_gradients_in_g_and_v(lut: CellLUT, method: str) -> None:
    g = torch.tensor([1.2e-5, 2.7e-5], dtype=torch.float64, requires_grad=True)
    v = torch.tensor([0.13, 0.41], dtype=torch.float64, requires_grad=True)
    # Scale G to order 1 so gradcheck's finite differences are well conditioned.
    f = lambda gs, vv: lut.current(gs * 1e-5, vv, 0.95, method=method)  # noqa: E731
    assert torch.autograd.gradcheck(f, (g / 1e-5, v))


def test_out_of_range_raises_unless_clamped(lut: CellLUT) -> None:
    with pytest.raises(LUTError, match="v_in outside"):
        lut.current(1e-5, 0.6, 1.0)
    with pytest.raises(LUTError, match="g outside"):
        lut.current(1e-3, 0.1, 1.0)
    clamped = lut.current(1e-5, 0.6, 1.0, extrapolate="clamp")
    assert clamped == lut.current(1e-5, 0.5, 1.0)


def test_gate_voltages_off_the_grid_are_refused_for_slices(lut: CellLUT) -> None:
    assert lut.gate_index(0.8) == 2
    with pytest.raises(LUTError, match="not on the LUT's gate grid"):
        lut.gate_index(0.77)


def test_incomplete_foreign_and_unordered_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LUTError, match="incomplete"):
        CellLUT.load(write_lut(tmp_path / "p.h5", ideal, status=1))
    foreign = tmp_path / "f.h5"
    with h5py.File(foreign, "w") as f:
        f.attrs["schema"] = "other/2"
    with pytest.raises(LUTError, match="schema"):
        CellLUT.load(foreign)
    unordered = write_lut(tmp_path / "u.h5", ideal)
    with h5py.File(unordered, "r+") as f:
        f["grid/v_in"][...] = f["grid/v_in"][()][::-1]
    with pytest.raises(LUTError, match="strictly increasing"):
        CellLUT.load(unordered)
    with pytest.raises(LUTError, match="no such"):
        CellLUT.load(tmp_path / "missing.h5")


def test_grid_ends_given_in_float32_or_as_numbers_are_inside(lut: CellLUT) -> None:
    g = torch.tensor([1 / 300e3, 1 / 30e3], dtype=torch.float32)
    v = torch.tensor([0.0, 0.5], dtype=torch.float32)
    assert torch.all(torch.isfinite(lut.current(g, v, torch.tensor(0.7, dtype=torch.float32))))
    assert torch.isfinite(lut.current(1 / 300e3, 0.5, 0.7))


def test_the_file_s_metadata_are_properties_read_once(paper_lut_path: Path) -> None:
    """spec, cell netlist, transistor, read time, tolerance and provenance come from the one
    validated reader: they equal the file's attributes, and the file is not opened again."""
    import json

    lut = CellLUT.load(paper_lut_path)
    with h5py.File(paper_lut_path, "r") as f:
        attrs = {key: f.attrs[key] for key in f.attrs}
        read_time = f["energy/read_energy"].attrs.get("read_time_s") if "energy" in f else None
    assert lut.spec_text == attrs["spec"] and lut.spec_text.strip()
    assert lut.cell_netlist == attrs["cell_netlist"] and ".model" in lut.cell_netlist
    assert lut.transistor == json.loads(attrs["transistor"]) and lut.transistor["w_m"] > 0
    assert lut.tolerance == pytest.approx(float(attrs["tolerance"]))
    assert lut.read_time_s == (None if read_time is None else pytest.approx(float(read_time)))
    p = lut.provenance
    assert (p.created, p.ngspice_version, p.package_version, p.spec_sha256) == (
        attrs["created"],
        attrs["ngspice_version"],
        attrs["package_version"],
        attrs["spec_sha256"],
    )
    assert len(p.spec_sha256) == 64 and p.created.startswith("20")
    # read-only, and the parsed transistor cannot be changed through the LUT
    with pytest.raises(AttributeError):
        lut.spec_text = "x"  # type: ignore[misc]
    lut.transistor["w_m"] = -1.0
    assert lut.transistor["w_m"] > 0


def test_metadata_need_no_file_after_loading(tmp_path: Path) -> None:
    path = write_lut(tmp_path / "gone.h5", ideal)
    lut = CellLUT.load(path)
    path.unlink()  # any later reopening would fail
    assert lut.spec_text == "name = 'test'" and lut.cell_netlist == "* none\n.end"
    assert lut.provenance.ngspice_version == "test" and lut.provenance.spec_sha256 == "0" * 64
    assert lut.transistor == {} and lut.read_time_s is None and lut.tolerance == 0.025


@pytest.mark.parametrize("uniform", [True, False])
def test_one_interval_lookup_clamps_or_extrapolates(uniform: bool) -> None:
    """The shared grid-interval lookup (used by CellLUT, the separable form and the circuit
    solver): index always a valid interval, fraction clamped or left for extrapolation."""
    from neatxbar.lut.separable import interval

    grid = (
        torch.linspace(0.7, 1.3, 13) if uniform else torch.tensor([0.7, 0.75, 0.9, 1.0, 1.3])
    ).to(torch.float64)
    x = torch.tensor([0.6, 0.7, 0.8, 1.0, 1.3, 1.4], dtype=torch.float64)
    i, t = interval(grid, x)
    assert torch.all((i >= 0) & (i <= grid.numel() - 2)) and torch.all((t >= 0) & (t <= 1))
    torch.testing.assert_close(grid[i] + t * (grid[i + 1] - grid[i]), x.clamp(0.7, 1.3))
    i, t = interval(grid, x, clamp=False)
    assert int(i[0]) == 0 and float(t[0]) < 0 and int(i[-1]) == grid.numel() - 2
    assert float(t[-1]) > 1
    torch.testing.assert_close(grid[i] + t * (grid[i + 1] - grid[i]), x)
