"""The LUTs of `neat characterize`, checked against the neat-lut/2 contract with plain h5py.

This test reads the files as a user would, without importing the package's reader. The `paper`
file is the paper preset at its nominal point (27 degC, no shift axis; tests/conftest.py says
why): the preset's axes are checked on a smaller grid by tests/lut/test_axes.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import paper_variant

ROOT_ATTRS = {
    "schema",
    "created",
    "ngspice_version",
    "package_version",
    "spec",
    "spec_sha256",
    "cell_netlist",
    "transistor",
    "tolerance",
    "sigma_vt_v",
}


@pytest.fixture(scope="module", params=["quick", "paper"])
def lut(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The preset's LUT, made by the same command as `make characterize`."""
    folder = tmp_path_factory.mktemp("luts")
    out = folder / f"{request.param}.h5"
    neat = Path(sys.executable).parent / "neat"
    source = ["--preset", "quick"]
    if request.param == "paper":
        spec = folder / "paper.toml"
        spec.write_text(paper_variant(axes=False)[1])
        source = ["--spec", str(spec)]
    subprocess.run(
        [str(neat), "characterize", *source, "--out", str(out), "--no-progress"],
        check=True,
        capture_output=True,
    )
    return out


def test_root_attributes(lut: Path) -> None:
    with h5py.File(lut, "r") as f:
        assert set(f.attrs) >= ROOT_ATTRS
        assert f.attrs["schema"] == "neat-lut/2"
        sigma = float(f.attrs["sigma_vt_v"])
        assert sigma == (pytest.approx(8.5688e-3, rel=1e-4) if lut.stem == "paper" else 0.0)
        assert len(f.attrs["spec_sha256"]) == 64
        assert ".model" in f.attrs["cell_netlist"] and ".end" in f.attrs["cell_netlist"]
        transistor = json.loads(f.attrs["transistor"])
        assert {"model", "w_m", "l_m", "side"} <= set(transistor)
        assert 0 < float(f.attrs["tolerance"]) < 1
        assert "[transistor]" in f.attrs["spec"]


def test_grids_are_increasing_float64_with_units(lut: Path) -> None:
    with h5py.File(lut, "r") as f:
        for name, units in [("conductance", "S"), ("v_in", "V"), ("v_gate", "V")]:
            grid = f[f"grid/{name}"]
            assert grid.dtype == np.float64 and grid.ndim == 1
            assert grid.attrs["units"] == units
            assert np.all(np.diff(grid[()]) > 0)
        g = f["grid/conductance"][()]
        assert g[0] == pytest.approx(1 / 300e3) and g[-1] == pytest.approx(1 / 30e3)
        assert f["grid/temperature_c"][()].tolist() == [27.0]
        assert f["grid/temperature_c"].attrs["units"] == "degC"
        assert f["grid/delvto"][()].tolist() == [0.0] and f["grid/delvto"].attrs["units"] == "V"


def test_current_status_and_energy(lut: Path) -> None:
    with h5py.File(lut, "r") as f:
        names = ("temperature_c", "delvto", "conductance", "v_in", "v_gate")
        shape = tuple(f[f"grid/{n}"].size for n in names)
        current, status = f["current"], f["status"]
        assert current.shape == shape and current.dtype == np.float64
        assert status.shape == shape and status.dtype == np.uint8
        assert np.all(status[()] == 0)
        i = current[0, 0]
        assert np.all(np.isfinite(i))
        g = f["grid/conductance"][()][:, None, None]
        v = f["grid/v_in"][()][None, :, None]
        # Physical: never more than the ideal memristor, and the transistor costs current.
        assert np.all(i[:, 1:, :] < (g * v)[:, 1:, :])
        assert np.all(i[:, 1:, :] > 0)
        energy = f["energy/read_energy"]
        assert energy.shape == shape and energy.attrs["units"] == "J"


def test_linear_region_bounds(lut: Path) -> None:
    with h5py.File(lut, "r") as f:
        n_vg = f["grid/v_gate"].size
        g_max, w_max = f["linear_region/g_max"][()], f["linear_region/w_max"][()]
        assert g_max.shape == w_max.shape == (1, n_vg)
        g_max, w_max = g_max[0], w_max[0]
        assert np.all((w_max >= 0) & (w_max <= 1))
        assert np.all(np.diff(g_max) >= 0)  # more gate drive, a wider linear region
        v_gate = f["grid/v_gate"][()]
        if lut.stem == "paper":
            # The calibrated preset reproduces the paper's reported cut-offs on its grid.
            at = {v: g_max[np.argmin(abs(v_gate - v))] for v in (0.8, 1.0, 1.3)}
            assert at[0.8] == pytest.approx(12.5e-6, rel=0.05)
            assert at[1.0] == pytest.approx(1 / 30e3)
            assert at[1.3] == pytest.approx(1 / 30e3)
