"""Cost of one LUT point in ngspice: one multi-cell nested sweep vs one operating point per run.

Prints a table and writes it to benchmarks/RESULTS.md (section "spice_sweep").
Run: ``.venv/bin/python benchmarks/spice_sweep.py``.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from _results import publish  # benchmarks/_results.py, beside this script

from neatxbar.spice import Transistor, cell_current, sweep_cells

G = np.linspace(1 / 300e3, 1 / 30e3, 32)
V_IN = np.linspace(0.0, 0.5, 51)
V_GATE = np.linspace(0.7, 1.3, 13)


def _per_point_sweep(repeats: int = 3) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        sweep_cells(G, V_IN, V_GATE, Transistor())
        best = min(best, time.perf_counter() - start)
    return best / (G.size * V_IN.size * V_GATE.size)


def _per_point_single(n: int = 60) -> float:
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(n):
        cell_current(rng.choice(G), rng.choice(V_IN), rng.choice(V_GATE), Transistor())
    return (time.perf_counter() - start) / n


def _per_point_pool(workers: int, chunks: int = 8) -> float:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        list(
            pool.map(
                sweep_cells,
                [G[:1]] * workers,
                [V_IN] * workers,
                [V_GATE] * workers,
                [Transistor()] * workers,
            )
        )  # warm up: start and load ngspice everywhere
        start = time.perf_counter()
        futures = [pool.submit(sweep_cells, G, V_IN, V_GATE, Transistor()) for _ in range(chunks)]
        for future in futures:
            future.result()
        elapsed = time.perf_counter() - start
    return elapsed / (chunks * G.size * V_IN.size * V_GATE.size)


def main() -> None:
    sweep = _per_point_sweep()
    single = _per_point_single()
    pool1 = _per_point_pool(1)
    pool2 = _per_point_pool(2)
    rows = [
        ("one .op per point (one run each)", single, single / sweep),
        ("32 cells, nested .dc, in process", sweep, 1.0),
        ("nested .dc chunks, 1 spawned worker", pool1, pool1 / sweep),
        ("nested .dc chunks, 2 spawned workers", pool2, pool2 / sweep),
    ]
    caption = (
        f"Grid per sweep: {G.size} G x {V_IN.size} V_in x {V_GATE.size} V_gate, BSIM4 cell "
        "(nmos45_bsim4, W 450 nm, L 45 nm)."
    )
    header = ["method", "time per point (us)", "relative to nested .dc"]
    publish(__file__, caption, header, [(n, f"{t * 1e6:.2f}", f"{r:.2f}") for n, t, r in rows])


if __name__ == "__main__":
    main()
