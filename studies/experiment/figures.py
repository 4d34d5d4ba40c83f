"""The experiment's figures (matplotlib without pyplot, ``neatxbar.core.files.new_figure``).

- ``accuracy_vs_vgate.png``: the headline: test accuracy against the gate voltage of every layer
  for software, naive mapping, BatchNorm re-estimation, NEAT and training through the emulation
  (and naive and NEAT with wire resistance where evaluated), beside the energy saving of each gate
  voltage against 1.0 V.
- ``energy_vs_vgate.png``: energy per inference by part (array read, gate, DAC, ADC).
- ``neat_iterations.png``: per NEAT (or emulation-training) iteration, the trained model's
  accuracy and each layer's share of weights inside the linear region.
- ``gates_per_layer.png``: the gate voltage per layer of the data-free and data-driven choices.
- ``variability.png`` (with the variability section): per gate voltage, each model's accuracy on
  every sampled chip at each temperature, the mean +- one standard deviation over the chips, the
  worst chip and the nominal chip.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from neatxbar.core.files import new_figure, save_png
from neatxbar.studies.experiment.results import ChipAccuracy, ExperimentResult, Setting
from neatxbar.studies.experiment.settings import VARIABILITY_FIGURE
from neatxbar.studies.experiment.tables import VARIABILITY_MODELS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

XLABEL = "gate voltage of every layer, $V_\\mathrm{gate}$ (V)"

#: With wires: (attribute of Setting, legend label, marker)
WIRED_CURVES = (("naive", "naive, with wires", "x"), ("neat", "NEAT, with wires", "P"))

#: (attribute of Setting, legend label, marker)
CURVES = (
    ("naive", "naive mapping", "o-"),
    ("naive_bn", "naive + BN re-estimated", "v--"),
    ("neat", "NEAT", "s-"),
    ("neat_bn", "NEAT + BN re-estimated", "D--"),
    ("emulation", "trained through the emulation", "*"),
)


def draw_figures(result: ExperimentResult, path: Callable[[str], Path]) -> None:
    """Draw every figure; ``path(name)`` is where the file ``name`` is written."""
    accuracy_figure(result, path("accuracy_vs_vgate.png"))
    energy_figure(result, path("energy_vs_vgate.png"))
    iterations_figure(result, path("neat_iterations.png"))
    gates_figure(result, path("gates_per_layer.png"))
    if result.variability is not None:
        variability_figure(result, path(VARIABILITY_FIGURE))


def _points(v_gates: list[float], settings: list[Setting], attr: str) -> list[tuple[float, float]]:
    values = [(v, getattr(s, attr)) for v, s in zip(v_gates, settings, strict=True)]
    return [(v, 100 * a) for v, a in values if a is not None]


def accuracy_figure(result: ExperimentResult, path: Path) -> None:
    """Accuracy against V_gate (left) and the naive mapping's energy saving (right)."""
    fig = new_figure((10.5, 4.2))
    ax, ax_e = fig.subplots(1, 2, width_ratios=(2, 1))
    ax.axhline(100 * result.software, color="black", ls=":", label="software (ideal)")
    for attr, label, style in CURVES:
        points = _points(result.v_gates, result.homogeneous, attr)
        if points:
            ax.plot(*zip(*points, strict=True), style, label=label, ms=8 if "*" in style else 5)
    wired = _wired_points(result)
    for attr, label, style in WIRED_CURVES:
        points = [(v, 100 * getattr(s, attr)) for v, s in wired if getattr(s, attr) is not None]
        if points:
            ohm = wired[0][1].wires.ohm if wired[0][1].wires else 0.0
            ax.plot(*zip(*points, strict=True), style, ms=8, label=f"{label} ({ohm:g} ohm)")
    ax.set_xlabel(XLABEL)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    savings = _points(result.v_gates, result.homogeneous, "saving_naive")
    if savings:
        ax_e.bar(*zip(*savings, strict=True), width=0.03, color="tab:green")
    ax_e.set_xlabel(XLABEL)
    ax_e.set_ylabel("energy saving against 1.0 V (%)")
    ax_e.grid(alpha=0.3, axis="y")
    save_png(fig, path)


def _wired_points(result: ExperimentResult) -> list[tuple[float, Setting]]:
    """(gate voltage, setting) of each setting with wires whose setting without wires has every
    layer at one gate voltage."""
    at = {s.label: v for v, s in zip(result.v_gates, result.homogeneous, strict=True)}
    return [(at[s.wires.without], s) for s in result.wired if s.wires and s.wires.without in at]


def energy_figure(result: ExperimentResult, path: Path) -> None:
    """Stacked energy per inference by part for each homogeneous gate voltage (pJ)."""
    fig = new_figure((6.4, 4.2))
    ax = fig.subplots()
    bottom = [0.0] * len(result.v_gates)
    for part, label in (("read", "array read"), ("gate", "gate"), ("dac", "DAC"), ("adc", "ADC")):
        values = [s.energy_pj.get(part, 0.0) for s in result.homogeneous]
        ax.bar(result.v_gates, values, width=0.03, bottom=bottom, label=label)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xlabel(XLABEL)
    ax.set_ylabel("energy per inference (pJ)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    save_png(fig, path)


def iterations_figure(result: ExperimentResult, path: Path) -> None:
    """Accuracy per iteration of every training log (left); linear share per layer and
    iteration of the first log (right, one line per layer)."""
    fig = new_figure((10.5, 4.2))
    ax, ax_s = fig.subplots(1, 2)
    for log in result.logs:
        steps = range(1, len(log.accuracy) + 1)
        ax.plot(steps, [100 * a for a in log.accuracy], "o-", label=log.label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("test accuracy of the model being trained (%)")
    ax.grid(alpha=0.3)
    if result.logs:
        ax.legend(fontsize=7)
        first = next((log for log in result.logs if log.label.startswith("neat")), result.logs[0])
        layers = list(first.initial_share)
        for k, name in enumerate(layers):
            shares = [first.initial_share[name]] + [s.get(name, 0.0) for s in first.share]
            ax_s.plot(
                range(len(shares)),
                [100 * s for s in shares],
                lw=2 if k == 0 else 0.8,
                label=name if k in (0, len(layers) - 1) else None,
            )
        ax_s.set_title(f"{first.label}: weights inside the linear region", fontsize=9)
        ax_s.legend(fontsize=7, title="layer (first, last)", title_fontsize=7)
    ax_s.set_xlabel("iteration (0: before NEAT)")
    ax_s.set_ylabel("share of weights (%)")
    ax_s.grid(alpha=0.3)
    save_png(fig, path)


def gates_figure(result: ExperimentResult, path: Path) -> None:
    """V_gate per layer of the per-layer settings (data-free, data-driven), as grouped bars."""
    chosen = [s for s in result.settings if "per layer" in s.label and s.wires is None]
    fig = new_figure((10.5, 4.0))
    ax = fig.subplots()
    if chosen:
        layers = list(chosen[0].gates)
        width = 0.8 / len(chosen)
        for k, s in enumerate(chosen):
            xs = [i + (k - (len(chosen) - 1) / 2) * width for i in range(len(layers))]
            ax.bar(xs, [s.gates[n] for n in layers], width=width, label=s.label.split(":")[0])
        ax.set_xticks(range(len(layers)), layers, rotation=60, ha="right", fontsize=7)
        low = min(min(s.gates.values()) for s in chosen)
        ax.set_ylim(max(0.0, low - 0.1), None)
        ax.legend(fontsize=8)
    ax.set_xlabel("crossbar layer (input first)")
    ax.set_ylabel("$V_\\mathrm{gate}$ (V)")
    ax.grid(alpha=0.3, axis="y")
    save_png(fig, path)


#: Short names of the variability section's models on the figure's axis.
_SHORT = {"naive": "naive", "neat": "NEAT", "noise_aware": "noise-aware"}


def _chip_group(ax: Axes, rows: list[ChipAccuracy], x: float, width: float, color: str) -> None:
    """One model at one temperature at ``x``: every chip as a point, the mean +- std, the worst
    chip and the nominal chip."""
    for row in rows:
        n = len(row.chips.accuracies)
        xs = [x + width * ((i + 0.5) / n - 0.5) for i in range(n)]
        ax.scatter(
            xs, [100 * a for a in row.chips.accuracies], s=9, alpha=0.45, color=color, zorder=2
        )
        ax.errorbar(
            [x],
            [100 * row.chips.mean],
            yerr=[[100 * row.chips.std], [100 * row.chips.std]],
            fmt="s",
            color=color,
            capsize=4,
            zorder=3,
        )
        ax.scatter([x], [100 * row.chips.worst], marker="v", color="black", s=18, zorder=4)
        ax.scatter([x], [100 * row.nominal], marker="x", color=color, s=30, zorder=4)


def variability_figure(result: ExperimentResult, path: Path) -> None:
    """One panel per gate voltage of the variability section: per model (x) and temperature
    (colour), each chip's accuracy, their mean +- one standard deviation (square and bar), the
    worst chip (black triangle) and the nominal chip (cross); software as a dotted line."""
    section = result.variability
    assert section is not None
    gates = sorted({row.v_gate for row in section.rows})
    temperatures = sorted({row.temperature_c for row in section.rows})
    fig = new_figure((max(6.4, 4.2 * len(gates)), 4.4))
    axes = fig.subplots(1, len(gates), squeeze=False, sharey=True)[0]
    keys = [k for k, _ in VARIABILITY_MODELS]
    width = 0.8 / len(temperatures)
    for ax, v in zip(axes, gates, strict=True):
        ax.axhline(100 * result.software, color="black", ls=":", lw=1, label="software")
        for j, t in enumerate(temperatures):
            color = f"C{j}"
            for i, key in enumerate(keys):
                rows = [
                    r
                    for r in section.rows
                    if r.v_gate == v and r.temperature_c == t and r.model == key
                ]
                x = i + (j - (len(temperatures) - 1) / 2) * width
                _chip_group(ax, rows, x, 0.6 * width, color)
            ax.scatter([], [], marker="s", color=color, label=f"{t:g} C: chips, mean +- std")
        ax.scatter([], [], marker="v", color="black", label="worst chip")
        ax.scatter([], [], marker="x", color="gray", label="nominal chip")
        ax.set_xticks(range(len(keys)), [_SHORT[k] for k in keys])
        ax.set_title(f"every layer at {v:.2f} V", fontsize=9)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3, axis="y")
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle(
        f"accuracy over {len(section.rows[0].chips.seeds) if section.rows else 0} sampled chips",
        fontsize=10,
    )
    save_png(fig, path)
