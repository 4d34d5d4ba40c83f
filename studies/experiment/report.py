"""The experiment's ``report.md``: the settings, the result table, the notes, the figures."""

from __future__ import annotations

from neatxbar.lut.interp import CellLUT
from neatxbar.studies.experiment.results import ExperimentResult
from neatxbar.studies.experiment.settings import ExperimentConfig


def markdown(result: ExperimentResult, config: ExperimentConfig, lut: CellLUT) -> str:
    """The report as Markdown text; the figures are linked by their file names."""
    exp = config.experiment
    notes = "\n".join(f"- {s.label}: {s.note}" for s in result.settings if s.note)
    return f"""# NEAT experiment: {exp.name}

Model `{exp.model}` on `{exp.dataset}`, LUT `{lut.path}` (tolerance {lut.tolerance:.1%}), NEAT
{config.neat.iterations} iterations x {config.neat.epochs_per_iteration} epochs, Adam lr
{config.neat.lr}.
Accuracy on the test split; energy per inference against every layer at 1.0 V on the same inputs
(`docs/energy.md`). Computed in this run.

{result.table()}

{notes}

![accuracy against gate voltage](accuracy_vs_vgate.png)

![energy saving against gate voltage](energy_vs_vgate.png)
"""
