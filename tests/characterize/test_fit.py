"""Linear-region fitting on currents built by the tests (exact answers known)."""

from __future__ import annotations

import numpy as np
import pytest

from neatxbar.characterize.fit import deviation, fit_linear_region

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
