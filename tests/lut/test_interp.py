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
