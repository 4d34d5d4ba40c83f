"""Characterization time of the paper grid with a threshold-shift axis and three temperatures.

The paper preset's grid (64 G x 101 V_in x 71 V_gate) with its 9 threshold shifts (+-3 sigma
of Pelgrom mismatch) at 0, 27 and 85 degC: 27 x 458,944 = 12.4 million points, on a process
pool of 2 workers and on a Dask LocalCluster of 2 single-threaded worker processes (when
``distributed`` is installed). Each run starts from nothing (a new file, a new pool or cluster).

Prints a table and writes it to benchmarks/RESULTS.md (section "characterize_axes").
Run: ``.venv/bin/python benchmarks/characterize_axes.py``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import h5py
import numpy as np
from _results import publish  # benchmarks/_results.py, beside this script

from neatxbar.characterize.runner import CharacterizeReport, characterize
from neatxbar.characterize.spec import SweepSpec, load_preset, parse_spec

TEMPERATURES_C = "[0.0, 27.0, 85.0]"
WORKERS = 2
TARGET_S = 30.0


def axes_spec() -> tuple[SweepSpec, str]:
    """The paper preset with the temperatures 0, 27 and 85 degC (its 9 shifts as they are)."""
    _, text = load_preset("paper")
    text = text.replace("values_c = [27.0, 85.0]", f"values_c = {TEMPERATURES_C}")
    spec = parse_spec(text)
    assert spec.temperatures_c.size == 3 and spec.delvto_v.size == 9
    return spec, text


def on_pool(spec: SweepSpec, text: str, out: Path) -> CharacterizeReport:
    return characterize(spec, text, out, workers=WORKERS, progress=False)


def on_dask(spec: SweepSpec, text: str, out: Path) -> CharacterizeReport | None:
    """The same run on a local Dask cluster (cluster start-up included), or None without dask."""
    try:
        import distributed
    except ImportError:
        return None
    with (
        distributed.LocalCluster(
            n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        return characterize(spec, text, out, executor=client.get_executor(), progress=False)


def _current(path: Path) -> np.ndarray:
    with h5py.File(path, "r") as f:
        return f["current"][()]


def _row(name: str, report: CharacterizeReport) -> tuple[str, str, str]:
    rate = report.points_run / report.seconds
    verdict = "met" if report.seconds <= TARGET_S else "missed"
    return (
        name,
        f"{report.seconds:.1f} s ({rate:,.0f} points/s)",
        f"<= {TARGET_S:.0f} s: {verdict}",
    )


def main() -> None:
    spec, text = axes_spec()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        pool = on_pool(spec, text, Path(tmp) / "pool.h5")
        assert pool.complete
        rows = [_row(f"process pool, {WORKERS} workers", pool)]
        dask = on_dask(spec, text, Path(tmp) / "dask.h5")
        if dask is not None:
            assert dask.complete
            rows.append(_row(f"Dask LocalCluster, {WORKERS} worker processes", dask))
            same = np.array_equal(_current(pool.path), _current(dask.path))
            rows.append(("Dask result equal to the pool's, bit for bit", str(same), "True"))
        else:
            rows.append(("Dask LocalCluster", "not run: distributed is not installed", "—"))
    caption = (
        f"Paper grid {spec.conductance.num} G x {spec.v_in.num} V_in x {spec.v_gate.num} V_gate "
        f"x {spec.delvto_v.size} threshold shifts (+-3 sigma, sigma_vt "
        f"{spec.sigma_vt_v * 1e3:.2f} mV) x temperatures {TEMPERATURES_C} degC = "
        f"{pool.points_total:,} points; {os.cpu_count()} cores, load average "
        f"{load:.2f} at the start. Wall time of `characterize` from nothing to the complete, "
        "fitted file."
    )
    publish(__file__, caption, ["run", "wall time", "target"], rows)


if __name__ == "__main__":
    main()
