"""The experiment's two figures: accuracy and energy saving against the gate voltage.

matplotlib without pyplot (``neatxbar.core.files.new_figure``), imported only when drawing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from neatxbar.core.files import new_figure, save_png
from neatxbar.studies.experiment.results import ExperimentResult

XLABEL = "gate voltage of every layer, $V_\\mathrm{gate}$ (V)"


def draw_figures(
    result: ExperimentResult, v_gates: list[float], path: Callable[[str], Path]
) -> None:
    """Draw ``accuracy_vs_vgate.png`` and ``energy_vs_vgate.png`` from the homogeneous settings
    (the first ``len(v_gates)``); ``path(name)`` is where the file ``name`` is written."""
    homogeneous = result.settings[: len(v_gates)]
    fig = new_figure((6.4, 4.2))
    ax = fig.subplots()
    ax.axhline(100 * result.software, color="black", ls="--", label="software")
    ax.plot(v_gates, [100 * s.naive for s in homogeneous], "o-", label="naive mapping")
    neat = [(v, 100 * s.neat) for v, s in zip(v_gates, homogeneous, strict=True) if s.neat]
    if neat:
        ax.plot(*zip(*neat, strict=True), "s-", label="NEAT")
    ax.set_xlabel(XLABEL)
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    save_png(fig, path("accuracy_vs_vgate.png"))
    fig = new_figure((6.4, 4.2))
    ax = fig.subplots()
    ax.bar(v_gates, [100 * (s.saving_naive or 0.0) for s in homogeneous], width=0.03)
    ax.set_xlabel(XLABEL)
    ax.set_ylabel("energy saving against 1.0 V (%)")
    ax.grid(alpha=0.3, axis="y")
    save_png(fig, path("energy_vs_vgate.png"))
