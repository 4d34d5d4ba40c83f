"""The linear region of a 1T-1R cell: where its current stays within a tolerance of linear.

Tolerance metric (a fraction; 0.025 is 2.5 %). For a conductance G and gate voltage V_gate, the
deviation is the largest pointwise relative deviation over the LUT's input voltages in (0, V_max]:

- ``"ideal"`` (default): ``max_V |I(G, V) - G*V| / (G*V)``: distance from the ideal memristor.
  It includes the transistor's series resistance at small V, which is what narrows the paper's
  linear region at low V_gate.
- ``"fit"``: ``max_V |I(G, V) - s*V| / (s*V)`` with ``s = sum(I*V) / sum(V^2)`` the cell's own
  least-squares line through the origin: curvature only, the series resistance forgiven.

``g_max(V_gate)`` is the largest grid conductance at and below which every grid conductance
stays within tolerance (0 when even the smallest does not). ``w_max`` is the weight bound it
implies under the default mapping, where a weight fraction f = |w| / w_scale in [0, 1] is
programmed as G = G_min + f * (G_max - G_min) on one column of a differential pair:
``w_max = (g_max - G_min) / (G_max - G_min)``, clipped to [0, 1].

A LUT with several temperatures gets one region per temperature, fitted on its table at 0 V
threshold shift (``linear_region/*`` have a leading temperature axis in ``neat-lut/2``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from neatxbar.characterize.spec import METRICS
from neatxbar.core.checks import check_number
from neatxbar.core.errors import ConfigError
from neatxbar.lut.errors import LUTError
from neatxbar.lut.schema import SCHEMA_V1, Grids, open_lut, read_lut, replace_atomically


@dataclass(frozen=True)
class LinearRegion:
    """Linear-region bounds per gate voltage.

    Attributes
    ----------
    tolerance, metric
        As defined in this module's docstring.
    max_deviation
        Shape ``(n_g, n_vg)``: the deviation of each conductance at each gate voltage (fraction).
    g_max_s
        Shape ``(n_vg,)``: the largest conductance within tolerance (S), 0 if none.
    w_max
        Shape ``(n_vg,)``: the weight bound, a fraction of the full weight range.
    crossing_s
        Shape ``(n_vg,)``: the conductance where the deviation crosses the tolerance, linearly
        interpolated between grid points (S); ``inf`` when the whole grid is within tolerance,
        the smallest grid conductance when even that is not.
    """

    tolerance: float
    metric: str
    max_deviation: np.ndarray
    g_max_s: np.ndarray
    w_max: np.ndarray
    crossing_s: np.ndarray


def deviation(
    current: np.ndarray, g_siemens: np.ndarray, v_in: np.ndarray, metric: str = "ideal"
) -> np.ndarray:
    """Pointwise relative deviation from linear, shape ``(n_g, n_v+, n_vg)`` for V_in > 0 only.

    Parameters
    ----------
    current
        Cell currents in A, shape ``(n_g, n_v, n_vg)``.
    g_siemens, v_in
        The conductance (S) and input-voltage (V) grids.
    metric
        ``"ideal"`` or ``"fit"`` (see the module docstring).
    """
    if metric not in METRICS:
        raise ConfigError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    positive = v_in > 0
    v = v_in[positive][None, :, None]
    i = current[:, positive, :]
    if metric == "ideal":
        slope = np.asarray(g_siemens, float)[:, None, None]
    else:
        slope = (i * v).sum(axis=1, keepdims=True) / (v * v).sum()
    line = slope * v
    return np.abs(i - line) / line


def fit_linear_region(
    current: np.ndarray,
    g_siemens: np.ndarray,
    v_in: np.ndarray,
    tolerance: float,
    metric: str = "ideal",
) -> LinearRegion:
    """Linear-region bounds of a LUT (see the module docstring for the definitions)."""
    tolerance = check_number("tolerance", tolerance, positive=True, high=1.0)
    if tolerance >= 1:
        raise ConfigError(f"tolerance must be a fraction in (0, 1), got {tolerance}")
    g = np.asarray(g_siemens, float)
    worst = deviation(current, g, v_in, metric).max(axis=1)  # (n_g, n_vg)
    within = worst <= tolerance
    # Number of leading conductances that are all within tolerance, per V_gate.
    n_ok = np.where(within.all(axis=0), g.size, np.argmin(within, axis=0))
    g_max = np.where(n_ok > 0, g[np.maximum(n_ok - 1, 0)], 0.0)
    w_max = np.clip((g_max - g[0]) / (g[-1] - g[0]), 0.0, 1.0)
    w_max = np.where(n_ok > 0, w_max, 0.0)
    crossing = np.empty(worst.shape[1])
    for m, k in enumerate(n_ok):
        if k == g.size:
            crossing[m] = np.inf
        elif k == 0:
            crossing[m] = g[0]
        else:
            d0, d1 = worst[k - 1, m], worst[k, m]
            crossing[m] = g[k - 1] + (tolerance - d0) / (d1 - d0) * (g[k] - g[k - 1])
    return LinearRegion(tolerance, metric, worst, g_max, w_max, crossing)


def compute_fit(
    path: Path, tolerance: float | None = None, metric: str | None = None
) -> tuple[list[LinearRegion], Grids]:
    """Check a complete LUT file and compute its linear region at each of its temperatures
    (at 0 V threshold shift); the file is not changed.

    ``tolerance`` and ``metric`` default to the file's ``tolerance`` attribute and ``"ideal"``
    (or the metric of an earlier fit). Returns the regions (one per ``grids.temperature_c``,
    degC) and the file's grids.
    """
    lut = read_lut(Path(path))
    tolerance = lut.tolerance if tolerance is None else tolerance
    if metric is None:
        earlier = lut.region.metric if lut.region is not None else None
        metric = earlier or "ideal"
    grids = lut.grids
    regions = [
        fit_linear_region(
            lut.current[t, grids.zero_shift], grids.conductance, grids.v_in, tolerance, metric
        )
        for t in range(grids.temperature_c.size)
    ]
    return regions, grids


def write_fit(path: Path, region: LinearRegion | Sequence[LinearRegion]) -> Path:
    """Write ``linear_region/`` into the LUT at ``path``: copy, write, rename.

    A symbolic link is followed: its target is replaced (atomically) and the link stays. Returns
    the file written. On failure the file is unchanged and the copy is removed.
    """
    target = Path(os.path.realpath(path))
    tmp = target.with_name(f".{target.name}.{os.getpid()}.fit.tmp")
    try:
        shutil.copyfile(target, tmp)
        shutil.copymode(target, tmp)
        with open_lut(tmp, "r+") as f:
            write_linear_region(f, region)
        replace_atomically(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def fit_file(
    path: Path, tolerance: float | None = None, metric: str | None = None
) -> list[LinearRegion]:
    """Fit a complete LUT file and write ``linear_region/`` into it (:func:`compute_fit`, then
    :func:`write_fit`); return the regions, one per temperature."""
    regions, _ = compute_fit(path, tolerance, metric)
    write_fit(path, regions)
    return regions


def write_linear_region(f: h5py.File, region: LinearRegion | Sequence[LinearRegion]) -> None:
    """Write ``linear_region/`` (g_max, w_max, max_deviation, crossing) into an open LUT file.

    ``region``: one region per temperature of the file (``neat-lut/2``: each dataset gets a
    leading temperature axis); a ``neat-lut/1`` file takes one region, written without it.
    """
    regions = [region] if isinstance(region, LinearRegion) else list(region)
    v1 = f.attrs.get("schema") == SCHEMA_V1
    n_t = 1 if v1 else f["grid/temperature_c"].shape[0]
    if len(regions) != n_t or not regions:
        raise LUTError(
            f"{f.filename}: {len(regions)} linear regions for {n_t} temperatures; fit each"
        )
    first = regions[0]
    if any(r.metric != first.metric or r.tolerance != first.tolerance for r in regions):
        raise ValueError("the regions of one file must share their metric and tolerance")

    def stacked(name: str) -> np.ndarray:
        values = [getattr(r, name) for r in regions]
        return values[0] if v1 else np.stack(values)

    if "linear_region" in f:
        del f["linear_region"]
    group = f.create_group("linear_region")
    group.attrs["metric"] = first.metric
    group.attrs["tolerance"] = first.tolerance
    for name, field_name, units in [
        ("g_max", "g_max_s", "S"),
        ("w_max", "w_max", "fraction of the full weight range"),
        ("max_deviation", "max_deviation", "fraction"),
        ("crossing", "crossing_s", "S"),
    ]:
        group.create_dataset(name, data=stacked(field_name)).attrs["units"] = units
    f.attrs["tolerance"] = first.tolerance
