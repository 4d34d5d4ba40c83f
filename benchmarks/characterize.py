"""Speed and accuracy of the paper LUT: the runner vs one operating point per point, and the
interpolation error of the paper grid at held-out midpoints.

Prints a table and writes it to benchmarks/RESULTS.md (section "characterize").
Run: ``.venv/bin/python benchmarks/characterize.py``.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _results import publish  # benchmarks/_results.py, beside this script

from neatxbar.characterize.runner import characterize
from neatxbar.characterize.spec import (
    MismatchGrid,
    SweepSpec,
    TemperatureGrid,
    load_preset,
    parse_spec,
)
from neatxbar.spice import cell_current, sweep_cells

NAIVE_POINTS = 150  # random operating points for the naive baseline
FINE_CHUNK = 16  # conductances per ngspice run in the fine (held-out) sweeps


def naive_rate(spec: SweepSpec, n: int = NAIVE_POINTS, batches: int = 3) -> float:
    """Points per second of one ngspice operating point per point, at ``n`` random grid points.

    The points run in ``batches`` equal batches; the fastest batch counts (as for the runner).
    """
    rng = np.random.default_rng(0)
    g, v_in, v_gate = spec.conductances, spec.v_in.values(), spec.v_gate.values()
    transistor, options = spec.cell_transistor(), spec.ngspice or None
    cell_current(g[0], v_in[0], v_gate[0], transistor, options)  # load ngspice first
    best = np.inf
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(n // batches):
            cell_current(rng.choice(g), rng.choice(v_in), rng.choice(v_gate), transistor, options)
        best = min(best, time.perf_counter() - start)
    return (n // batches) / best


def runner_rate(
    spec: SweepSpec, text: str, workers: int | None, repeats: int = 3
) -> tuple[float, float]:
    """Points per second and wall time (s) of ``characterize`` for the whole spec, best run.

    Each run starts from nothing (a new file; with workers > 1, a new process pool).
    """
    best = np.inf
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            report = characterize(
                spec, text, Path(tmp) / "lut.h5", workers=workers, overwrite=True, progress=False
            )
            best = min(best, report.seconds)
    return report.points_run / best, best


def with_midpoints(x: np.ndarray) -> np.ndarray:
    """``x`` (n points) with the midpoint of each interval inserted: 2n-1 points."""
    out = np.empty(2 * x.size - 1)
    out[::2], out[1::2] = x, (x[:-1] + x[1:]) / 2
    return out


def simulate(spec: SweepSpec, g: np.ndarray, v_in: np.ndarray, v_gate: np.ndarray) -> np.ndarray:
    """Cell currents (A), shape (g, v_in, v_gate), in chunks of FINE_CHUNK conductances."""
    transistor, options = spec.cell_transistor(), spec.ngspice or None
    chunks = [
        sweep_cells(g[k : k + FINE_CHUNK], v_in, v_gate, transistor, options)
        for k in range(0, g.size, FINE_CHUNK)
    ]
    return np.concatenate(chunks)


def bilinear_midpoints(coarse: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of ``coarse`` (n, m, ...) at its midpoints: (2n-1, 2m-1, ...).

    Units are those of ``coarse``; the even-index points are ``coarse`` itself.
    """
    n, m = coarse.shape[:2]
    out = np.empty((2 * n - 1, 2 * m - 1, *coarse.shape[2:]))
    out[::2, ::2] = coarse
    out[1::2, ::2] = (coarse[:-1] + coarse[1:]) / 2
    out[::2, 1::2] = (coarse[:, :-1] + coarse[:, 1:]) / 2
    out[1::2, 1::2] = (coarse[:-1, :-1] + coarse[1:, :-1] + coarse[:-1, 1:] + coarse[1:, 1:]) / 4
    return out


@dataclass(frozen=True)
class InterpolationErrors:
    """Absolute interpolation errors in % of full scale, at held-out points.

    Attributes
    ----------
    g_vin
        At the (G, V_in) midpoints, per V_gate of the grid: shape (held-out points, n_V_gate).
    by_axis
        The maximum of ``g_vin`` at midpoints in G only, in V_in only, and in both.
    v_gate
        At the V_gate midpoints (grid G and V_in), per V_gate midpoint: shape (points, n_V_gate-1).
    v_gate_mid
        The V_gate midpoints (V).
    """

    g_vin: np.ndarray
    by_axis: dict[str, float]
    v_gate: np.ndarray
    v_gate_mid: np.ndarray


def full_scale(spec: SweepSpec) -> float:
    """Full-scale current G_ON * V_max (A)."""
    return spec.v_in.stop_v / spec.memristor.r_on_ohm


def interpolation_errors(spec: SweepSpec) -> InterpolationErrors:
    """Simulate the spec's grid with midpoints and compare with interpolation of the grid."""
    g, v_in, v_gate = spec.conductances, spec.v_in.values(), spec.v_gate.values()
    fine = simulate(spec, with_midpoints(g), with_midpoints(v_in), v_gate)
    coarse = fine[::2, ::2]
    error = np.abs(fine - bilinear_midpoints(coarse)) * 100 / full_scale(spec)
    odd_g = (np.arange(fine.shape[0]) % 2 == 1)[:, None]
    odd_v = (np.arange(fine.shape[1]) % 2 == 1)[None, :]
    held_out = odd_g | odd_v
    by_axis = {
        "G": float(error[odd_g & ~odd_v].max()),
        "V_in": float(error[~odd_g & odd_v].max()),
        "both": float(error[odd_g & odd_v].max()),
    }
    vg_mid = (v_gate[:-1] + v_gate[1:]) / 2
    at_mid = simulate(spec, g, v_in, vg_mid)
    linear = (coarse[..., :-1] + coarse[..., 1:]) / 2
    vg_error = np.abs(at_mid - linear) * 100 / full_scale(spec)
    return InterpolationErrors(error[held_out], by_axis, vg_error.reshape(-1, vg_mid.size), vg_mid)


def _pct(x: float) -> str:
    return f"{x:.4f} % of full scale"


def accuracy_rows(errors: InterpolationErrors, v_gate: np.ndarray) -> list[tuple[str, str, str]]:
    """Table rows (measure, value, target) for the interpolation errors."""
    per_vg_max = errors.g_vin.max(axis=0)
    per_vg_p99 = np.percentile(errors.g_vin, 99, axis=0)
    worst = int(np.argmax(per_vg_max))
    vg_max = errors.v_gate.max(axis=0)
    axes = ", ".join(f"{name} {value:.4f} %" for name, value in errors.by_axis.items())
    return [
        (
            "interpolation error at held-out (G, V_in) midpoints, max",
            _pct(per_vg_max.max()),
            "<= 0.05 %",
        ),
        ("... 99th percentile, all V_gate", _pct(np.percentile(errors.g_vin, 99)), "<= 0.05 %"),
        (
            f"... worst V_gate ({v_gate[worst]:.2f} V): max / 99th percentile",
            f"{per_vg_max[worst]:.4f} % / {per_vg_p99[worst]:.4f} %",
            "",
        ),
        ("... max by held-out axis (midpoint in G only, V_in only, both)", axes, ""),
        (
            "interpolation error at V_gate midpoints, max (information)",
            f"{_pct(vg_max.max())} (at {errors.v_gate_mid[np.argmax(vg_max)]:.3f} V)",
            "—",
        ),
        ("... 99th percentile (information)", _pct(np.percentile(errors.v_gate, 99)), "—"),
    ]


def main() -> None:
    spec, text = load_preset("paper")
    # the nominal grid (27 C, no threshold shifts), as before the preset gained its axes;
    # benchmarks/characterize_axes.py measures the axes
    spec = dataclasses.replace(spec, temperature=TemperatureGrid(), mismatch=MismatchGrid())
    text = re.sub(r"^\[(temperature|mismatch)\]\n(?:[^\[].*\n|\n)*", "", text, flags=re.MULTILINE)
    assert parse_spec(text) == spec
    naive = naive_rate(spec)
    rate, seconds = runner_rate(spec, text, workers=None)
    rate1, seconds1 = runner_rate(spec, text, workers=1)
    rate2, seconds2 = runner_rate(spec, text, workers=2)
    big = dataclasses.replace(
        spec,
        conductance=dataclasses.replace(spec.conductance, num=256),
        v_in=dataclasses.replace(spec.v_in, num=201),
    )
    big_points = big.conductance.num * big.v_in.num * big.v_gate.num
    big1, big_s1 = runner_rate(big, text, workers=1, repeats=1)
    big2, big_s2 = runner_rate(big, text, workers=2, repeats=1)
    errors = interpolation_errors(spec)
    rows = [
        ("naive: one operating point per point", f"{naive:.0f} points/s", "—"),
        ("runner, paper LUT, default workers", f"{rate:.0f} points/s ({seconds:.2f} s)", "< 30 s"),
        ("runner, paper LUT, 1 worker", f"{rate1:.0f} points/s ({seconds1:.2f} s)", "—"),
        ("runner, paper LUT, 2 workers", f"{rate2:.0f} points/s ({seconds2:.2f} s)", "—"),
        ("speed-up, default vs naive", f"{rate / naive:.0f}x", ">= 100x"),
        (
            f"runner, 256 x 201 x 13 grid ({big_points} points), 1 / 2 workers",
            f"{big1:.0f} / {big2:.0f} points/s ({big_s1:.2f} s / {big_s2:.2f} s)",
            "—",
        ),
        *accuracy_rows(errors, spec.v_gate.values()),
    ]
    caption = (
        f"Paper grid: {spec.conductance.num} G x {spec.v_in.num} V_in x {spec.v_gate.num} V_gate; "
        f"full scale G_ON * V_max = {full_scale(spec) * 1e6:.3f} uA. Held-out points: the "
        "midpoints in G and V_in at every V_gate, and the V_gate midpoints."
    )
    publish(__file__, caption, ["measure", "value", "target"], rows)


if __name__ == "__main__":
    main()
