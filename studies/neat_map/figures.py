"""``neat map``'s three figures, each from a :class:`~neatxbar.studies.neat_map.results.MapReport`:
accuracy against V_gate (with chips: every chip's accuracy, their mean and spread), energy per
setting relative to the baseline, and the first setting's V_gate and linear share per layer. With
wires, the accuracy figure names them and their solver, and the energy figure says its energies
leave them out."""

from __future__ import annotations

import itertools
import textwrap
from typing import TYPE_CHECKING

from neatxbar.core.files import new_figure
from neatxbar.studies.neat_map.tables import variation_words

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from neatxbar.studies.neat_map.results import MapReport


def _wires_title(report: MapReport) -> str:
    """A title's second line naming the wires (ohm per row / column segment) and their solver,
    or "" without wires."""
    wires = report.mapping.wires
    if not wires.any:
        return ""
    solver = "reference solver" if report.mapping.path == "exact" else "wired fast path"
    if wires.r_row == wires.r_col:
        ohm = f"{wires.r_row:g} ohm per row and column segment"
    else:
        ohm = f"row {wires.r_row:g}, column {wires.r_col:g} ohm per segment"
    if wires.r_driver or wires.r_sense:
        ohm += f", driver {wires.r_driver:g}, sense {wires.r_sense:g} ohm"
    return f"\nwires: {ohm} ({solver})"


def _chip_spread(ax: Axes, report: MapReport) -> list[float]:
    """Each setting's chips at its (mean) V_gate: every chip as a point, the mean with a bar of
    +- one standard deviation and the worst chip as a mark; return every accuracy drawn (%)."""
    drawn: list[float] = []
    chipped = sorted(
        ((s.mean_v_gate, s) for s in report.settings if s.chips is not None), key=lambda p: p[0]
    )
    if not chipped:
        return drawn
    gates = [v for v, _ in chipped]
    spacing = min((b - a for a, b in itertools.pairwise(gates) if b > a), default=0.05)
    for k, (v, s) in enumerate(chipped):
        stats = s.chips
        assert stats is not None
        values = [100 * a for a in stats.accuracies]
        n = len(values)
        offsets = [0.25 * spacing * ((i + 0.5) / n - 0.5) for i in range(n)]
        ax.scatter(
            [v + d for d in offsets],
            values,
            s=10,
            alpha=0.5,
            color="C3",
            zorder=2,
            label="chip" if k == 0 else None,
        )
        ax.errorbar(
            [v],
            [100 * stats.mean],
            yerr=[[100 * stats.std], [100 * stats.std]],
            fmt="s",
            color="C1",
            capsize=4,
            zorder=4,
            label="mean over the chips +- std" if k == 0 else None,
        )
        ax.scatter(
            [v],
            [100 * stats.worst],
            marker="v",
            color="C4",
            zorder=4,
            label="worst chip" if k == 0 else None,
        )
        drawn += values
    ax.plot(gates, [100 * s.chips.mean for _, s in chipped if s.chips], color="C1", lw=1)
    return drawn


#: Characters per line of a figure title's variation line.
TITLE_WIDTH = 80


def _chips_title(report: MapReport) -> str:
    """A title's line naming the chips and the temperature, or "" without chips."""
    if report.chips is None:
        return ""
    drawn = variation_words(getattr(report.mapping, "variation", None))
    line = (
        f"{len(report.chips)} chips (seeds {report.chips[0]}..{report.chips[-1]}) at "
        f"{report.temperature_c:g} C: {drawn}"
    )
    return "\n" + "\n".join(textwrap.wrap(line, TITLE_WIDTH))


def accuracy_figure(report: MapReport) -> Figure:
    """Crossbar accuracy per setting against V_gate (a per-layer setting at its layers' mean
    V_gate, labelled), with the software accuracy as a line. With chips, every chip's accuracy
    as a point beside the nominal one, their mean with +- one standard deviation, and the worst
    chip."""
    fig = new_figure((6.4, 4.2))
    ax = fig.subplots()
    ax.axhline(
        100 * report.software_accuracy,
        color="black",
        ls="--",
        lw=1,
        label=f"software {100 * report.software_accuracy:.2f} %",
    )
    uniform = sorted((s.uniform, s) for s in report.settings if s.uniform is not None)
    if uniform:
        ax.plot(
            [v for v, _ in uniform],
            [100 * s.crossbar_accuracy for _, s in uniform],
            marker="o",
            color="C0",
            label=("nominal chip" if report.chips else "crossbar")
            + ", every layer at V$_\\mathrm{gate}$",
        )
    mixed = [s for s in report.settings if s.uniform is None]
    for k, s in enumerate(mixed):
        x, y = s.mean_v_gate, 100 * s.crossbar_accuracy
        ax.scatter(
            [x],
            [y],
            marker="D",
            color=f"C{k + 1}",
            zorder=3,
            label=f"crossbar, {s.label} (at the layers' mean V$_\\mathrm{{gate}}$)",
        )
        ax.annotate(s.label, (x, y), textcoords="offset points", xytext=(5, -12), fontsize=8)
    values = [100 * s.crossbar_accuracy for s in report.settings] + _chip_spread(ax, report)
    low = min([*values, 100 * report.software_accuracy])
    high = max([*values, 100 * report.software_accuracy])
    pad = max(0.5, 0.15 * (high - low))
    ax.set_ylim(low - pad, min(100.0, high + pad) + 0.05)
    ax.set_xlabel("gate voltage V$_\\mathrm{gate}$ (V)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(
        f"{report.model} on {report.dataset}: accuracy on crossbars{_wires_title(report)}"
        f"{_chips_title(report)}",
        fontsize=9 if report.mapping.wires.any or report.chips else 10,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def _energy_parts(report: MapReport) -> list[tuple[str, list[float]]]:
    """(label, energy per inference in J per setting) of each stacked part: array read, gate
    (word line), and DAC + ADC when the periphery costs anything."""
    settings = report.settings
    parts = [
        ("array read", [s.energy.read_j for s in settings]),
        ("gate (word line)", [s.energy.gate_j for s in settings]),
    ]
    periphery = [s.energy.dac_j + s.energy.adc_j for s in settings]
    if any(v > 0 for v in periphery):
        parts.append(("DAC + ADC", periphery))
    return parts


def _stack(ax: Axes, report: MapReport, parts: list[tuple[str, list[float]]]) -> list[float]:
    """Draw ``parts`` as stacked bars relative to each setting's baseline energy; return the
    bars' tops (relative energy)."""
    bases = [s.energy.baseline_total_j or 1.0 for s in report.settings]
    xs = list(range(len(report.settings)))
    bottoms = [0.0] * len(xs)
    for k, (label, values) in enumerate(parts):
        heights = [v / b for v, b in zip(values, bases, strict=True)]
        ax.bar(xs, heights, bottom=bottoms, color=f"C{k}", label=label, width=0.7)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    return bottoms


def _label_tops(ax: Axes, report: MapReport, tops: list[float]) -> None:
    """Write each setting's relative energy above its bar."""
    for x, (s, top) in enumerate(zip(report.settings, tops, strict=True)):
        if s.energy_relative is None:
            continue
        ax.annotate(
            f"{s.energy_relative:.3f}",
            (x, top),
            textcoords="offset points",
            xytext=(0, 3),
            ha="center",
            fontsize=7,
            zorder=4,
            bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none"},
        )


def energy_figure(report: MapReport) -> Figure:
    """Energy per inference per setting relative to every layer at the baseline V_gate, as
    stacked bars of its read, gate (word line) and DAC + ADC shares. With wires, the title names
    them and says the energies leave their dissipation out."""
    settings = report.settings
    wired = _wires_title(report)
    if wired:
        wired += "\nenergies leave out the wires' dissipation (no wires in the energy model)"
    fig = new_figure((max(6.8 if wired else 5.0, 0.75 * len(settings) + 2.5), 4.4))
    ax = fig.subplots()
    parts = _energy_parts(report)
    tops = _stack(ax, report, parts)
    _label_tops(ax, report, tops)
    baseline = f"{report.baseline_v_gate:g} V"
    ax.axhline(1.0, color="black", ls="--", lw=1, zorder=1, label=f"every layer at {baseline}")
    rotation = 45 if len(settings) > 6 else 0
    ax.set_xticks(range(len(settings)), [s.label for s in settings], rotation=rotation, fontsize=8)
    ax.set_ylim(0, max([*tops, 1.0]) * 1.3)
    ax.set_xlabel("gate-voltage setting")
    ax.set_ylabel(f"energy per inference / energy at {baseline}")
    ax.set_title(
        f"{report.model} on {report.dataset}: crossbar energy per inference{wired}",
        fontsize=9 if wired else 10,
    )
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="upper left", ncols=len(parts) + 1)
    return fig


def layers_figure(report: MapReport) -> Figure:
    """Per-layer V_gate and linear share of the first setting."""
    setting = report.settings[0]
    fig = new_figure((max(6.4, 0.5 * len(setting.layers) + 3.0), 4.2))
    gates, shares = fig.subplots(1, 2)
    names = [row.name for row in setting.layers]
    xs = list(range(len(names)))
    gates.bar(xs, [row.v_gate for row in setting.layers], color="C0", width=0.7)
    gates.set_ylabel("V$_\\mathrm{gate}$ (V)")
    grid = [float(v) for v in report.settings[0].v_gate.values()]
    gates.set_ylim(0, max([*grid, 1.0]) * 1.15)
    shares.bar(xs, [100 * row.linear_share for row in setting.layers], color="C2", width=0.7)
    shares.set_ylabel("weights inside the linear region (%)")
    shares.set_ylim(0, 110)
    for ax, values, fmt in (
        (gates, [r.v_gate for r in setting.layers], "{:.2f}"),
        (shares, [100 * r.linear_share for r in setting.layers], "{:.1f}"),
    ):
        for x, v in zip(xs, values, strict=True):
            ax.annotate(
                fmt.format(v),
                (x, v),
                textcoords="offset points",
                xytext=(0, 3),
                ha="center",
                fontsize=7,
            )
        ax.set_xticks(xs, names, rotation=45 if len(names) > 8 else 0, fontsize=8)
        ax.set_xlabel("crossbar layer")
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(
        f"{report.model} on {report.dataset}, setting {setting.label}: gate voltage and "
        "linear share per layer\n(linear: |w| <= w_max(V$_\\mathrm{gate}$) x scale; "
        f"scale: {report.scale_source})",
        fontsize=9,
    )
    return fig
