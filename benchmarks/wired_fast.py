"""The wired fast path: column currents against the circuit solver and ngspice, and its cost.

1. Column currents of n x n crossbars (n = 16, 32, 64) with 2.5-ohm row and column segments
   (driver and sense 0 ohm), random conductances in the LUT's range, at V_gate 0.75, 0.85 and
   1.0 V: the wired fast path against the reference circuit solver (64 input vectors, uniform in
   [0, V_max] and sparse: 30 % of the rows driven) and against ngspice (4 uniform vectors).
   Errors are |I / I_ref - 1| over every column current, largest.
2. A trained digits MLP over the whole test set at 0.75 and 1.0 V: accuracy without wires, with
   wires on the wired fast path and on the reference solver (same images).
3. Forward time with wires against the ideal model (batch 256): the digits MLP and ResNet18
   (CIFAR form, 1 x 8 x 8 inputs), after the once-per-weights reduction, which is timed apart.

Run: ``.venv/bin/python benchmarks/wired_fast.py`` (about 15 minutes on 2 cores).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from _lut import paper_lut  # benchmarks/_lut.py, beside this script
from _results import publish  # benchmarks/_results.py, beside this script
from torch import nn

from neatxbar.characterize.spec import load_preset
from neatxbar.lut import CellLUT
from neatxbar.mapping import MappingConfig, convert
from neatxbar.mapping.circuit import CircuitConfig, solve
from neatxbar.mapping.wired_fast import column_currents, reduce_array
from neatxbar.spice import Wires, crossbar_column_currents_batch
from neatxbar.training.data import load_dataset
from neatxbar.training.models import build_model
from neatxbar.training.trainer import TrainConfig, evaluate, train

OHM = 2.5
WIRES = Wires(OHM, OHM)
V_GATES = (0.75, 0.85, 1.0)
SIZES = (16, 32, 64)
SPICE_VECTORS = 4
ACCURACY = {"reltol": 1e-6, "vntol": 1e-9}


def _error(got: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(got / reference - 1).max())


def _array_rows(lut: CellLUT) -> list[tuple[str, ...]]:
    transistor = load_preset("paper")[0].cell_transistor()
    rows = []
    for n in SIZES:
        rng = np.random.default_rng(n)
        g = rng.uniform(lut.g_min_s, lut.g_on_s, (n, n))
        uniform = rng.uniform(0, lut.v_max, (64, n))
        sparse = uniform * (rng.uniform(0, 1, (64, n)) < 0.3)
        sparse[:, 0] = 0.5 * lut.v_max  # no vector all zero
        for v_gate in V_GATES:
            start = time.perf_counter()
            reduced = reduce_array(lut, torch.as_tensor(g), v_gate, WIRES)
            once = time.perf_counter() - start
            errors = []
            for v in (uniform, sparse):
                fast = column_currents(reduced, torch.as_tensor(v / lut.v_max)[None])[0]
                reference = solve(
                    lut, torch.as_tensor(g), torch.as_tensor(v), v_gate, CircuitConfig(WIRES)
                ).column_currents
                errors.append(_error(fast.numpy(), reference.numpy()))
            spice_v = uniform[:SPICE_VECTORS]
            spice = crossbar_column_currents_batch(g, spice_v, v_gate, transistor, WIRES, ACCURACY)
            fast = column_currents(reduced, torch.as_tensor(spice_v / lut.v_max)[None])[0]
            reference = solve(
                lut, torch.as_tensor(g), torch.as_tensor(spice_v), v_gate, CircuitConfig(WIRES)
            ).column_currents
            no_wires = lut.current(
                torch.as_tensor(g), torch.as_tensor(spice_v)[..., None], v_gate
            ).sum(1)
            rows.append(
                (
                    f"{n}x{n}",
                    f"{v_gate:.2f}",
                    f"{100 * errors[0]:.3f} / {100 * errors[1]:.3f}",
                    f"{100 * _error(fast.numpy(), spice):.3f}",
                    f"{100 * _error(reference.numpy(), spice):.3f}",
                    f"{100 * _error(no_wires.numpy(), spice):.2f}",
                    f"{once * 1e3:.0f} ms",
                )
            )
            print(rows[-1], flush=True)
    return rows


def _trained_mlp() -> tuple[nn.Module, object]:
    data = load_dataset("digits")
    torch.manual_seed(0)
    model = build_model("mlp", data.num_classes, data.in_channels, data.image_size)
    train(model, data.train, None, TrainConfig(epochs=30, device="cpu"), progress=False)
    return model.eval(), data


def _accuracy_rows(lut: CellLUT) -> list[tuple[str, ...]]:
    model, data = _trained_mlp()
    software = evaluate(model, data.test)
    rows = []
    for v_gate in (0.75, 1.0):
        base = MappingConfig(v_gate=v_gate)
        accuracy = {}
        for name, config in (
            ("no wires", base),
            ("wired fast", MappingConfig(v_gate=v_gate, wires=WIRES)),
            ("reference", MappingConfig(v_gate=v_gate, wires=WIRES, path="exact")),
        ):
            start = time.perf_counter()
            accuracy[name] = evaluate(convert(model, lut, config).eval(), data.test)
            print(name, v_gate, accuracy[name], f"{time.perf_counter() - start:.0f} s", flush=True)
        rows.append(
            (
                f"digits MLP, {len(data.test)} test images, {v_gate:.2f} V",
                f"software {100 * software:.2f}",
                f"no wires {100 * accuracy['no wires']:.2f}",
                f"wired fast {100 * accuracy['wired fast']:.2f}",
                f"reference {100 * accuracy['reference']:.2f}",
                "",
                "",
            )
        )
    return rows


def _timed(models: list[nn.Module], x: torch.Tensor, repeats: int) -> list[float]:
    """The best forward time (s) of each model over ``repeats`` rounds, the models taking turns
    in every round (so that the machine's slow spells fall on all of them), after a warm-up."""
    best = [float("inf")] * len(models)
    with torch.no_grad():
        for model in models:
            model(x)
        for _ in range(repeats):
            for k, model in enumerate(models):
                start = time.perf_counter()
                model(x)
                best[k] = min(best[k], time.perf_counter() - start)
    return best


def _speed_rows(lut: CellLUT) -> list[tuple[str, ...]]:
    rows = []
    x = torch.randn(256, 1, 8, 8)
    for name, repeats in (("mlp", 30), ("resnet18", 10)):
        torch.manual_seed(0)
        model = build_model(name, 10, 1, 8).eval()
        for v_gate in (0.75, 1.0):
            no_wires = convert(model, lut, MappingConfig(v_gate=v_gate)).eval()
            twin = convert(model, lut, MappingConfig(v_gate=v_gate, wires=WIRES)).eval()
            start = time.perf_counter()
            with torch.no_grad():
                twin(x[:1])  # the once-per-weights reduction of every layer
            once = time.perf_counter() - start
            ideal, plain, wired = _timed([model, no_wires, twin], x, repeats)
            terms = [layer._cached["wired_tiles"][1].terms for layer in _twins(twin)]
            rows.append(
                (
                    f"{name}, batch 256, {v_gate:.2f} V",
                    f"ideal {ideal * 1e3:.1f} ms",
                    f"no wires {plain / ideal:.1f}x",
                    f"wired fast {wired / ideal:.1f}x ({wired * 1e3:.0f} ms)",
                    f"once per weights {once:.1f} s",
                    "terms " + ", ".join(f"{k} {max(t[k] for t in terms)}" for k in terms[0]),
                    "",
                )
            )
            print(rows[-1], flush=True)
    return rows


def _twins(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if "wired_tiles" in getattr(m, "_cached", {})]


def main() -> None:
    torch.set_num_threads(2)
    lut = paper_lut()
    grid = lut.vg_grid
    speed = _speed_rows(lut)  # first: in a process that has not yet run ngspice and the solver
    rows = _array_rows(lut)
    rows += [("", "", "", "", "", "", "")]
    rows += _accuracy_rows(lut)
    rows += [("", "", "", "", "", "", "")]
    rows += speed
    caption = (
        f"`paper` LUT (gate grid {float(grid[0]):.2f}-{float(grid[-1]):.2f} V, "
        f"{len(grid)} points), {OHM}-ohm row and column segments (driver and sense 0), ngspice 39 "
        "with reltol 1e-6, vntol 1e-9, 2 threads. Errors: largest |I / I_ref - 1| of the column "
        "currents (%); against the reference solver over 64 vectors (uniform / sparse), against "
        f"ngspice over {SPICE_VECTORS} uniform vectors. Then accuracy (%) on the same images, and "
        "forward times against the ideal model (random weights, batch 256, float32; each the "
        "best of 30 (MLP) or 10 (ResNet18) rounds after a warm-up, the three models taking turns "
        "in every round)."
    )
    header = [
        "array",
        "V_gate (V)",
        "fast vs solver % (uniform / sparse)",
        "fast vs ngspice %",
        "solver vs ngspice %",
        "no wires vs ngspice %",
        "reduction per array",
    ]
    publish(__file__, caption, header, rows)


if __name__ == "__main__":
    main()
