"""Linear-region fitting on currents built by the tests (exact answers known)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from neatxbar.characterize.fit import compute_fit, deviation, fit_linear_region, write_fit
from neatxbar.cli.main import cli

G = np.linspace(1 / 300e3, 1 / 30e3, 10)
V = np.linspace(0.0, 0.5, 11)


def _series(r_ohm: np.ndarray) -> np.ndarray:
    """Currents of G in series with a resistance r_ohm per V_gate: shape (n_g, n_v, n_vg)."""
    r = np.asarray(r_ohm)[None, None, :]
    return V[None, :, None] / (1 / G[:, None, None] + r)


def test_an_ideal_cell_is_linear_everywhere() -> None:
    current = G[:, None, None] * V[None, :, None] * np.ones((1, 1, 3))
    region = fit_linear_region(current, G, V, tolerance=0.025)
    assert np.all(region.g_max_s == G[-1])
    assert np.all(region.w_max == 1.0)
    assert np.all(np.isinf(region.crossing_s))


def test_series_resistance_gives_the_analytic_cut_off() -> None:
    # I = V / (1/G + R): deviation from G*V is G*R / (1 + G*R), crossing at G*R = tol/(1 - tol).
    r = np.array([2000.0, 500.0])
    region = fit_linear_region(_series(r), G, V, tolerance=0.025)
    exact = 0.025 / (1 - 0.025) / r
    ok = G[None, :] <= exact[:, None]
    expected_g_max = np.array([G[row].max() if row.any() else 0.0 for row in ok])
    np.testing.assert_allclose(region.g_max_s, expected_g_max)
    np.testing.assert_allclose(region.w_max, (expected_g_max - G[0]) / (G[-1] - G[0]), atol=1e-12)
    # Linear interpolation of a smooth deviation between grid points: close to exact.
    np.testing.assert_allclose(region.crossing_s[0], exact[0], rtol=0.01)
    assert np.isinf(region.crossing_s[1]) or region.crossing_s[1] > G[-1] * 0.99


def test_fit_metric_forgives_a_pure_series_resistance() -> None:
    current = _series(np.array([2000.0]))
    assert deviation(current, G, V, "fit").max() < 1e-12
    assert deviation(current, G, V, "ideal").max() > 0.05


def test_nothing_linear_gives_zero_bounds() -> None:
    region = fit_linear_region(_series(np.array([1e6])), G, V, tolerance=0.025)
    assert region.g_max_s[0] == 0.0 and region.w_max[0] == 0.0
    assert region.crossing_s[0] == G[0]


def test_bad_tolerance_and_metric_are_refused() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        fit_linear_region(_series(np.array([1.0])), G, V, tolerance=2.0)
    with pytest.raises(ValueError, match="metric"):
        deviation(_series(np.array([1.0])), G, V, "curvy")


# --- `neat fit` on files: strict JSON, nothing changed on failure, links kept -----------------


def _strict_json(text: str) -> object:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} is not strict JSON")

    return json.loads(text, parse_constant=refuse)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def paper_copy(paper_lut_path: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "p.h5"
    shutil.copyfile(paper_lut_path, copy)
    return copy


def test_fit_json_on_the_paper_lut_is_strict_with_null_for_no_cut_off(paper_copy: Path) -> None:
    result = CliRunner().invoke(cli, ["fit", str(paper_copy), "--json"])
    assert result.exit_code == 0, result.output
    data = _strict_json(result.stdout)
    crossing = {round(row["v_gate_v"], 2): row["crossing_s"] for row in data["rows"]}
    assert crossing[1.3] is None  # inf: no cut-off inside the grid
    assert all(c is None or c > 0 for c in crossing.values())
    assert [p.name for p in paper_copy.parent.iterdir()] == ["p.h5"]  # no copy left


@pytest.mark.parametrize("tolerance", ["nan", "inf", "2", "0", "-0.1"])
def test_a_failed_fit_changes_no_file(paper_copy: Path, tolerance: str) -> None:
    before = _digest(paper_copy)
    result = CliRunner().invoke(cli, ["fit", str(paper_copy), "--tolerance", tolerance, "--json"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and len(result.output.splitlines()) == 1
    assert "tolerance" in result.output
    assert _digest(paper_copy) == before
    assert [p.name for p in paper_copy.parent.iterdir()] == ["p.h5"]


def test_fit_through_a_symlink_rewrites_the_target_and_keeps_the_link(
    paper_copy: Path, tmp_path: Path
) -> None:
    with h5py.File(paper_copy, "r+") as f:
        del f["linear_region"]
    link = tmp_path / "link.h5"
    link.symlink_to(paper_copy)
    result = CliRunner().invoke(cli, ["fit", str(link), "--tolerance", "0.03"])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == paper_copy.resolve()
    with h5py.File(paper_copy, "r") as f:
        assert f["linear_region"].attrs["tolerance"] == 0.03
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.h5", "p.h5"]


def test_compute_fit_changes_nothing_and_write_fit_cleans_up_on_failure(
    paper_copy: Path,
) -> None:
    before = _digest(paper_copy)
    (region,), grids = compute_fit(paper_copy, 0.03)  # one temperature: one region
    assert grids.shape[2] == region.g_max_s.size and _digest(paper_copy) == before
    broken = dataclasses.replace(region, g_max_s=None)  # h5py cannot write None
    with pytest.raises(TypeError):
        write_fit(paper_copy, broken)
    assert _digest(paper_copy) == before
    assert [p.name for p in paper_copy.parent.iterdir()] == ["p.h5"]
