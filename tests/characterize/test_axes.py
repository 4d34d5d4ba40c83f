"""Temperatures and threshold shifts (delvto) in the sweep: real ngspice, real HDF5 files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from neatxbar.characterize.fit import compute_fit, fit_linear_region
from neatxbar.characterize.runner import characterize, partial_path
from neatxbar.characterize.spec import parse_spec
from neatxbar.lut.schema import read_lut
from neatxbar.spice import cell_current, sweep_cells

sys.path.insert(0, str(Path(__file__).parent))
from test_runner import _current, _held_run, _neat  # the runner tests' helpers

AXES = """
name = "axes"
chunk_size = 4
[conductance]
num = 3
[v_in]
start_v = 0.0
stop_v = 0.5
num = 6
[v_gate]
start_v = 0.8
stop_v = 1.0
num = 3
[transistor]
w_m = 4.7e-7
a_vt_mv_um = 2.0
a_vt_source = "test value"
model_params = {vth0 = 0.75}
[temperature]
values_c = [0.0, 27.0, 85.0]
[mismatch]
num = 3
span_sigma = 2.0
"""


@pytest.fixture(scope="module")
def axes_lut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The AXES spec characterized in this process: 3 temperatures x 3 shifts x 3 G."""
    path = tmp_path_factory.mktemp("axes") / "axes.h5"
    report = characterize(parse_spec(AXES), AXES, path, workers=1, progress=False)
    assert report.complete and report.points_run == 3 * 3 * 3 * 6 * 3
    assert report.temperatures_c == [0.0, 27.0, 85.0] and len(report.regions) == 3
    assert report.region is report.regions[1]  # the nominal 27 degC
    return path


def test_the_file_holds_the_axes_and_sigma(axes_lut: Path) -> None:
    spec = parse_spec(AXES)
    sigma = 2.0e-9 / np.sqrt(4.7e-7 * 45e-9)  # Pelgrom: A_Vt / sqrt(W L), in V
    assert spec.sigma_vt_v == pytest.approx(sigma, rel=1e-12)
    lut = read_lut(axes_lut)
    assert lut.schema == "neat-lut/2" and lut.sigma_vt_v == pytest.approx(sigma, rel=1e-12)
    assert lut.grids.temperature_c.tolist() == [0.0, 27.0, 85.0]
    np.testing.assert_allclose(lut.grids.delvto, [-2 * sigma, 0.0, 2 * sigma], rtol=1e-12)
    assert lut.grids.delvto[1] == 0.0 and lut.current.shape == (3, 3, 3, 6, 3)
    assert lut.transistor["a_vt_mv_um"] == 2.0 and lut.transistor["a_vt_source"] == "test value"
    assert lut.region.g_max.shape == (3, 3) and lut.region.max_deviation.shape == (3, 3, 3)


@pytest.mark.parametrize(
    ("t", "d", "k", "j", "m"), [(0, 0, 2, 5, 0), (2, 2, 0, 3, 2), (1, 0, 1, 5, 1)]
)
def test_a_point_equals_a_direct_operating_point(
    axes_lut: Path, t: int, d: int, k: int, j: int, m: int
) -> None:
    lut = read_lut(axes_lut)
    g = lut.grids
    direct = cell_current(
        g.conductance[k],
        g.v_in[j],
        g.v_gate[m],
        parse_spec(AXES).cell_transistor(),
        delvto=float(g.delvto[d]),
        temperature_c=float(g.temperature_c[t]),
    )
    # a nested sweep starts each point from the last: equal within ngspice's tolerances (about
    # 1e-6 relative; one shift step moves the current by more than 1e-4, see below)
    assert lut.current[t, d, k, j, m] == pytest.approx(direct, rel=1e-5)
    other = cell_current(
        g.conductance[k],
        g.v_in[j],
        g.v_gate[m],
        parse_spec(AXES).cell_transistor(),
        delvto=float(g.delvto[d]) + float(g.delvto[2] - g.delvto[1]),
        temperature_c=float(g.temperature_c[t]),
    )
    assert abs(other - direct) > 1e-4 * direct


def test_each_block_equals_a_sweep_of_its_shift_alone(axes_lut: Path) -> None:
    # chunks of 4 cells mix shifts (3 conductances per shift): each lands in its own block
    lut, spec = read_lut(axes_lut), parse_spec(AXES)
    g = lut.grids
    for t, temperature in enumerate(g.temperature_c):
        for d, shift in enumerate(g.delvto):
            alone = sweep_cells(
                g.conductance,
                g.v_in,
                g.v_gate,
                spec.cell_transistor(),
                delvto=np.full(g.conductance.size, shift),
                temperature_c=float(temperature),
            )
            # within ngspice's reltol (other cells in the netlist, other Newton iterations)
            np.testing.assert_allclose(lut.current[t, d], alone, rtol=1e-3, atol=1e-15)
    # ... a test that would fail for a misplaced block: neighbouring shifts differ by more
    step = np.abs(np.diff(lut.current[..., 1:, :], axis=1)) / lut.current[:, 1:, :, 1:, :]
    assert step.max() > 0.05


def test_shift_and_temperature_move_the_current_the_physical_way(axes_lut: Path) -> None:
    i = read_lut(axes_lut).current[:, :, :, 1:, :]  # V_in > 0
    # a higher threshold (positive delvto) conducts less; a lower one more
    assert np.all(i[:, 0] > i[:, 1]) and np.all(i[:, 1] > i[:, 2])
    # the transistor of these cells is near threshold at 0.8 V and strong at 1.0 V: heat
    # changes the current by more than solver noise everywhere
    assert np.all(np.abs(i[2] - i[1]) > 1e-4 * i[1])
    # ... and at the top of the gate grid (mobility falls with heat) it lowers it
    assert np.all(i[2, :, :, :, -1] < i[1, :, :, :, -1])


def test_the_region_is_fitted_per_temperature_at_zero_shift(axes_lut: Path) -> None:
    lut = read_lut(axes_lut)
    g = lut.grids
    for t in range(3):
        region = fit_linear_region(lut.current[t, 1], g.conductance, g.v_in, 0.025)
        np.testing.assert_array_equal(lut.region.g_max[t], region.g_max_s)
        np.testing.assert_array_equal(lut.region.max_deviation[t], region.max_deviation)
    regions, _ = compute_fit(axes_lut)
    assert [r.g_max_s.tolist() for r in regions] == lut.region.g_max.tolist()
    # the bounds differ between temperatures (deviations do, at least)
    assert not np.array_equal(lut.region.max_deviation[0], lut.region.max_deviation[2])
    with h5py.File(axes_lut, "r") as f:
        energy = f["energy/read_energy"][()]
    np.testing.assert_allclose(energy, 10e-9 * g.v_in[:, None] * lut.current, rtol=1e-15)


def test_process_pool_gives_bit_identical_results(axes_lut: Path, tmp_path: Path) -> None:
    report = characterize(parse_spec(AXES), AXES, tmp_path / "p.h5", workers=2, progress=False)
    assert report.complete and np.array_equal(_current(report.path), _current(axes_lut))


def test_a_killed_run_with_axes_resumes_to_an_identical_file(
    axes_lut: Path, tmp_path: Path
) -> None:
    # chunks of 2 cells, some across two shifts (3 conductances per shift): 5 per temperature
    text = AXES.replace("chunk_size = 4", "chunk_size = 2")
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(text)
    out = tmp_path / "killed.h5"
    command = _neat("characterize", "--spec", str(spec_file), "--out", str(out), "--workers", "1")
    process = _held_run([*command, "--no-progress"], tmp_path / "hold", 7)
    process.kill()
    process.communicate(timeout=60)
    with h5py.File(partial_path(out), "r") as f:
        solved = f["status"][()] == 0
    # 7 chunks: the first temperature's 9 cells (chunks of 2, 2, 2, 2, 1) and 4 of the second's
    assert solved.reshape(3, 9, -1).all(axis=2).sum(axis=1).tolist() == [9, 4, 0]
    resumed = subprocess.run([*command, "--no-progress"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    whole = characterize(parse_spec(text), text, tmp_path / "w.h5", workers=1, progress=False)
    assert np.array_equal(_current(out), _current(whole.path))
    # other chunks, other Newton iterations: equal within ngspice's reltol (1e-3)
    np.testing.assert_allclose(_current(out), _current(axes_lut), rtol=1e-3, atol=1e-15)
    assert not partial_path(out).exists()
