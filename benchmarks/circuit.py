"""The circuit solver (wire resistance) against ngspice, and its cost in networks.

Per MVM at 16, 32 and 64 rows with 2.5-ohm row and column segments: ngspice (one operating point,
and many vectors in one run) against the solver batched over 256 vectors; the column-current
error against ngspice for the solver and for the per-cell path (no wires). Then the forward time
of a digits MLP and a CIFAR-shaped ResNet18 with wires, relative to the ideal model.

Run: ``.venv/bin/python benchmarks/circuit.py`` (a few minutes).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from _lut import paper_lut  # benchmarks/_lut.py, beside this script
from _results import publish  # benchmarks/_results.py, beside this script

from neatxbar.characterize.spec import load_preset
from neatxbar.lut import CellLUT
from neatxbar.mapping import Crossbar, MappingConfig, convert
from neatxbar.mapping.circuit import CircuitConfig, solve
from neatxbar.spice import Wires, crossbar_column_currents, crossbar_column_currents_batch
from neatxbar.training.models import build_model

OHM = 2.5
V_GATE = 1.0
SPICE_VECTORS = {16: 8, 32: 4, 64: 2}
ACCURACY = {"reltol": 1e-6, "vntol": 1e-9}


def _mvm_rows(lut: CellLUT) -> list[tuple[str, ...]]:
    spec, _ = load_preset("paper")
    transistor = spec.cell_transistor()
    rows = []
    for n, count in SPICE_VECTORS.items():
        rng = np.random.default_rng(n)
        g = rng.uniform(lut.g_min_s, lut.g_on_s, (n, n))
        v = rng.uniform(0, lut.v_max, (count, n))
        start = time.perf_counter()
        crossbar_column_currents(g, v[0], V_GATE, transistor, Wires(OHM, OHM), ACCURACY)
        single = time.perf_counter() - start
        start = time.perf_counter()
        spice = crossbar_column_currents_batch(g, v, V_GATE, transistor, Wires(OHM, OHM), ACCURACY)
        batched = (time.perf_counter() - start) / count
        g_t = torch.as_tensor(g)
        circuit = solve(lut, g_t, torch.as_tensor(v), V_GATE, CircuitConfig(Wires(OHM, OHM)))
        per_cell = Crossbar(lut, V_GATE, n, n, path="exact").column_currents(
            g_t, torch.as_tensor(v)
        )
        err_circuit = np.abs(circuit.column_currents.numpy() / spice - 1)
        err_cell = np.abs(per_cell.numpy() / spice - 1)
        many = torch.as_tensor(rng.uniform(0, lut.v_max, (256, n)))
        solve(lut, g_t, many, V_GATE, CircuitConfig(Wires(OHM, OHM)))  # warm up
        start = time.perf_counter()
        result = solve(lut, g_t, many, V_GATE, CircuitConfig(Wires(OHM, OHM)))
        per_mvm = (time.perf_counter() - start) / len(many)
        rows.append(
            (
                f"{n}x{n}",
                f"{single * 1e3:.0f} ms",
                f"{batched * 1e3:.1f} ms",
                f"{per_mvm * 1e6:.0f} us ({result.iterations} it.)",
                f"{single / per_mvm:.0f}x / {batched / per_mvm:.0f}x",
                f"{100 * err_circuit.max():.3f} / {100 * np.median(err_circuit):.4f}",
                f"{100 * err_cell.max():.2f} / {100 * np.median(err_cell):.3f}",
            )
        )
    return rows


def _timed(model: torch.nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        start = time.perf_counter()
        model(x)
        return time.perf_counter() - start


def _network_rows(lut: CellLUT) -> list[tuple[str, ...]]:
    """Forward time with wires against the ideal model: the digits MLP, and one ResNet18 layer
    (a whole ResNet18 with wires is about 10^5 tile solves per image on CPU: out of reach here)."""
    config = MappingConfig(v_gate=V_GATE, wires=Wires(OHM, OHM), path="exact")  # the solver
    mlp = build_model("mlp", 10, 1, 8).eval()
    resnet = build_model("resnet18", 10, 3, 32).eval()
    conv = torch.nn.Sequential(resnet[3].conv1).eval()  # first block's 3x3, 64 -> 64 channels
    workloads = (
        ("digits MLP 64-256-256-10, batch 16", mlp, torch.randn(16, 1, 8, 8)),
        ("ResNet18 first block conv, 64 ch, 8x8 input, batch 1", conv, torch.randn(1, 64, 8, 8)),
    )
    rows = []
    for name, model, x in workloads:
        twin = convert(model, lut, config).eval()
        _timed(model, x)
        ideal, wired = _timed(model, x), _timed(twin, x)
        rows.append((name, f"{ideal * 1e3:.2f} ms", f"{wired:.2f} s", f"{wired / ideal:.0f}x"))
    return rows


def main() -> None:
    torch.set_num_threads(2)
    lut = paper_lut()
    mvm = _mvm_rows(lut)
    networks = _network_rows(lut)
    caption = (
        f"`paper` LUT, V_gate {V_GATE} V, {OHM}-ohm row and column segments (driver and sense 0), "
        "ngspice 39 with reltol 1e-6, vntol 1e-9; solver batched over 256 vectors, float64, "
        "2 threads. Errors: |I / I_ngspice - 1| of the column currents over the ngspice vectors, "
        "max / median (%)."
    )
    rows = [*mvm, ("", "", "", "", "", "", "")]
    rows += [
        (n, f"ideal {a}", f"with wires {b}", f"ratio {c}", "", "", "") for n, a, b, c in networks
    ]
    header = [
        "array",
        "ngspice, one op",
        "ngspice per vector (batched)",
        "solver per MVM",
        "speed-up (op / batched)",
        "solver error max / median %",
        "per-cell error max / median %",
    ]
    publish(__file__, caption, header, rows)


if __name__ == "__main__":
    main()
