"""What the experiment measured: one :class:`Setting` per gate-voltage configuration."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from neatxbar.core.tables import to_markdown
from neatxbar.studies.experiment.tables import results_frame


@dataclass
class Setting:
    """One evaluated configuration of gate voltages.

    Attributes
    ----------
    label
        What was set, e.g. ``"all layers at 0.80 V"``.
    gates
        The gate voltage of each crossbar layer (V).
    naive, neat
        Test accuracy (fraction) of the naive mapping and of the NEAT-trained model (None: no
        NEAT for this setting, see ``note``).
    saving_naive, saving_neat
        Energy saving per inference against every layer at 1.0 V (fraction; None: not modelled).
    note
        Why a value is missing, or how it was measured.
    """

    label: str
    gates: dict[str, float]
    naive: float
    neat: float | None
    saving_naive: float | None
    saving_neat: float | None
    note: str = ""


@dataclass
class ExperimentResult:
    """The outcome of :func:`~neatxbar.studies.experiment.run_experiment`.

    ``software`` is the float model's test accuracy (fraction); ``report`` and ``figures`` the
    files written into ``out_dir``.
    """

    out_dir: Path
    software: float
    settings: list[Setting]
    report: Path
    figures: list[Path]

    def table(self) -> str:
        """The final table as Markdown (accuracies and savings in %)."""
        return to_markdown(results_frame(self.software, self.settings))
