"""NEAT on the digits with the `paper` LUT: accuracy and energy per gate voltage, homogeneous
and heterogeneous.

Software MLP (64-256-256-10) -> crossbars at 5 gate voltages, mapped naively (w_scale = max |w|)
and after NEAT (weights clipped into each gate voltage's linear region); energy per inference
relative to every layer at 1.0 V (`mapping/energy.py`); per-layer gate voltages chosen data-free
(the paper's Algorithm 1) and data-driven (greedy, accuracy budget 1 point on a validation split).

Run: ``.venv/bin/python benchmarks/neat_digits.py`` (about 2 minutes on 2 cores).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch
from _results import publish  # benchmarks/_results.py, beside this script
from torch import nn
from torch.utils.data import Subset

from neatxbar.characterize.runner import characterize
from neatxbar.characterize.spec import load_preset
from neatxbar.lut import CellLUT
from neatxbar.mapping import MappingConfig, convert
from neatxbar.mapping.energy import EnergyConfig, model_energy
from neatxbar.mapping.vgate import data_driven, data_free
from neatxbar.training.data import load_dataset
from neatxbar.training.models import build_model
from neatxbar.training.neat import DIGITS_DEFAULTS, neat_train, weight_scales
from neatxbar.training.trainer import TrainConfig, evaluate, train

GATES = (0.7, 0.75, 0.8, 0.9, 1.0)
BUDGET = 0.01  # accuracy budget of the data-driven selection: 1 point


Gates = float | dict[str, float]


def _crossbar(
    model: nn.Module, lut: CellLUT, gates: Gates, scales: dict[str, float] | None = None
) -> nn.Module:
    return convert(model, lut, MappingConfig(), v_gate=gates, weight_scales=scales).eval()


def _saving(
    model: nn.Module,
    lut: CellLUT,
    gates: Gates,
    scales: dict[str, float] | None,
    x: torch.Tensor,
    config: EnergyConfig,
) -> float:
    """Energy saving (%) against every layer at 1.0 V, same inputs."""
    report = model_energy(_crossbar(model, lut, gates, scales), x, config)
    return 100 * (1 - report.relative_to_baseline)


def _gates_text(gates: dict[str, float]) -> str:
    return ", ".join(f"{name}: {v:.2f} V" for name, v in gates.items())


def main() -> None:
    torch.set_num_threads(2)
    started = time.perf_counter()
    spec, text = load_preset("paper")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "paper.h5"
        characterize(spec, text, path, workers=1, progress=False)
        lut = CellLUT.load(path)
        energy_config = EnergyConfig.from_lut(lut)
    data = load_dataset("digits")
    torch.manual_seed(0)
    model = build_model("mlp", data.num_classes, data.in_channels, data.image_size)
    n = len(data.train)
    fit, validation = (
        Subset(data.train, range(int(0.8 * n))),
        Subset(data.train, range(int(0.8 * n), n)),
    )
    train(model, fit, None, TrainConfig(epochs=30, device="cpu"), progress=False)
    software = evaluate(model, data.test)
    x = torch.stack([data.test[i][0] for i in range(len(data.test))])
    scales = weight_scales(model)
    rows = [("software (ideal float)", "-", f"{100 * software:.2f}", "", "", "")]
    for v in GATES:
        naive = evaluate(_crossbar(model, lut, v), data.test)
        saving = _saving(model, lut, v, None, x, energy_config)
        w_max = float(lut.w_max[lut.gate_index(v)])
        if w_max == 0:
            neat_text, share = "n/a (w_max = 0: nothing is linear)", ""
        else:
            trained, log = neat_train(
                model, lut, fit, data.test, v, DIGITS_DEFAULTS, progress=False
            )
            neat_acc = evaluate(_crossbar(trained, lut, v, log.scales), data.test)
            neat_text = f"{100 * neat_acc:.2f}"
            share = ", ".join(
                f"{100 * s:.0f} -> {100 * log.share[-1][k]:.0f}"
                for k, s in log.initial_share.items()
            )
        rows.append(
            (
                f"all layers at {v:.2f} V",
                f"{w_max:.3f}",
                f"{100 * naive:.2f}",
                neat_text,
                share,
                f"{saving:.1f}",
            )
        )
    # Heterogeneous: data-free on the software weights; data-driven on a validation split.
    weights = {
        name: m.weight
        for name, m in model.named_modules()
        if hasattr(m, "weight") and name in scales
    }
    free = data_free(weights, scales, lut, highest=1.0)
    gates, reference, final = data_driven(
        list(scales),
        lut,
        lambda g: evaluate(_crossbar(model, lut, g), validation),
        baseline=1.0,
        budget=BUDGET,
    )
    trained, log = neat_train(model, lut, fit, data.test, free, DIGITS_DEFAULTS, progress=False)
    rows.append(
        (
            "data-free (99.5 % coverage), then NEAT: " + _gates_text(free),
            "",
            f"{100 * evaluate(_crossbar(model, lut, free), data.test):.2f}",
            f"{100 * evaluate(_crossbar(trained, lut, free, log.scales), data.test):.2f}",
            "",
            f"{_saving(trained, lut, free, log.scales, x, energy_config):.1f}",
        )
    )
    rows.append(
        (
            "data-driven (1 point on validation), naive mapping: " + _gates_text(gates),
            "",
            f"{100 * evaluate(_crossbar(model, lut, gates), data.test):.2f}",
            "",
            "",
            f"{_saving(model, lut, gates, None, x, energy_config):.1f}",
        )
    )
    seconds = time.perf_counter() - started
    caption = (
        f"Digits (1149 train / 288 validation / 360 test), MLP 64-256-256-10, `paper` LUT, NEAT: "
        f"{DIGITS_DEFAULTS.iterations} iterations x {DIGITS_DEFAULTS.epochs_per_iteration} epochs, "
        f"Adam lr {DIGITS_DEFAULTS.lr}. Accuracy on the test split (%); energy saving against "
        f"every layer at 1.0 V, same inputs (%). Whole run: {seconds:.0f} s on 2 cores. "
        f"Data-driven: validation accuracy {100 * reference:.2f} % with every layer at 1.0 V, "
        f"{100 * final:.2f} % with its choice."
    )
    header = [
        "gate voltages",
        "w_max",
        "naive mapping",
        "NEAT",
        "linear share % (before -> after)",
        "energy saving %",
    ]
    publish(__file__, caption, header, rows)


if __name__ == "__main__":
    main()
