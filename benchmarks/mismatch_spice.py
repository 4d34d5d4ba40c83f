"""Transistor mismatch and temperature: the emulation against ngspice on the same draws.

n x n crossbars (n = 16, 64) of random conductances in the LUT's range, whose cells carry their
own threshold shifts drawn N(0, sigma_vt) (the `paper` card's Pelgrom sigma, clipped to the LUT's
delvto axis), given to ngspice as each MOSFET's ``delvto``, at V_gate 0.8 and 1.0 V, at 27 and
85 degC (``.options temp``). The emulation reads the same shifts along the LUT's delvto axis: the
exact path (per-cell lookups) and the fast path (separable form over (delvto, G) x V). Errors are
the largest |I / I_spice - 1| over every column current of 4 uniform input vectors; "shifts
ignored" is the exact emulation without the shifts, what mismatch moves the column currents.

Run: ``.venv/bin/python benchmarks/mismatch_spice.py`` (about 1 minute on 2 cores).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from _results import publish  # benchmarks/_results.py, beside this script

from neatxbar.characterize.runner import characterize
from neatxbar.characterize.spec import load_preset
from neatxbar.lut import CellLUT
from neatxbar.mapping import Crossbar
from neatxbar.spice import crossbar_column_currents_batch

SIZES = (16, 64)
V_GATES = (0.8, 1.0)
TEMPERATURES_C = (27.0, 85.0)
ACCURACY = {"reltol": 1e-6, "vntol": 1e-9}


def _error(got: torch.Tensor, reference: np.ndarray) -> float:
    return float(np.abs(got.numpy() / reference - 1).max())


def _rows(path: Path) -> list[tuple[str, ...]]:
    transistor = load_preset("paper")[0].cell_transistor()
    rows = []
    for temperature_c in TEMPERATURES_C:
        lut = CellLUT.load(path, temperature_c=temperature_c)
        grid = lut.shift_grid.numpy()
        for v_gate in V_GATES:
            for n in SIZES:
                rng = np.random.default_rng(n)
                g = rng.uniform(lut.g_min_s, lut.g_on_s, (n, n))
                shift = np.clip(rng.normal(0.0, lut.sigma_vt_v, (n, n)), grid[0], grid[-1])
                v = rng.uniform(0.0, lut.v_max, (4, n))
                spice = crossbar_column_currents_batch(
                    g,
                    v,
                    v_gate,
                    transistor,
                    None,
                    ACCURACY,
                    delvto=shift,
                    temperature_c=temperature_c,
                )
                tg, tv, ts = (torch.as_tensor(x) for x in (g, v, shift))
                exact = Crossbar(lut, v_gate, n, n, path="exact")
                fast = Crossbar(lut, v_gate, n, n, path="fast")
                rows.append(
                    (
                        f"{n}x{n}",
                        f"{v_gate:.2f}",
                        f"{temperature_c:.0f}",
                        f"{100 * _error(exact.column_currents(tg, tv, ts), spice):.4f}",
                        f"{100 * _error(fast.column_currents(tg, tv, ts), spice):.4f}",
                        f"{100 * _error(exact.column_currents(tg, tv), spice):.3f}",
                    )
                )
                print(rows[-1], flush=True)
    return rows


def main() -> None:
    torch.set_num_threads(2)
    spec, text = load_preset("paper")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "paper.h5"
        characterize(spec, text, path, workers=2, progress=False)
        sigma = CellLUT.load(path).sigma_vt_v
        rows = _rows(path)
    caption = (
        f"`paper` LUT with its 9 threshold shifts (+-3 sigma_vt, sigma_vt = {1e3 * sigma:.2f} mV "
        "from the card's A_Vt) and 27/85 degC; per-cell shifts N(0, sigma_vt), the same in "
        "ngspice (delvto) and the emulation; ngspice 39 with reltol 1e-6, vntol 1e-9. Errors: "
        "largest |I / I_spice - 1| over the column currents of 4 uniform input vectors (%). "
        "Target: 0.3 %."
    )
    header = [
        "array",
        "V_gate (V)",
        "T (degC)",
        "exact path %",
        "fast path %",
        "shifts ignored %",
    ]
    publish(__file__, caption, header, rows)


if __name__ == "__main__":
    main()
