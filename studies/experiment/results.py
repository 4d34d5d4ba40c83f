"""What the experiment measured: one :class:`Setting` per gate-voltage configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    naive, neat, emulation
        Test accuracy (fraction) of the naive mapping, of the NEAT-trained model and of the model
        trained through the emulation (None: not run for this setting, see ``note``).
    naive_bn, neat_bn
        The same with the BatchNorm statistics re-estimated through the crossbar twin (None: not
        run, or a model without BatchNorm).
    saving_naive, saving_neat
        Energy saving per inference against every layer at 1.0 V (fraction; None: not modelled).
    energy_pj
        The naive mapping's energy per inference by part (pJ): ``read``, ``gate``, ``dac``,
        ``adc``, ``total`` and the 1.0 V ``baseline`` total.
    note
        Why a value is missing, or how it was measured.
    """

    label: str
    gates: dict[str, float]
    naive: float
    neat: float | None = None
    saving_naive: float | None = None
    saving_neat: float | None = None
    note: str = ""
    naive_bn: float | None = None
    neat_bn: float | None = None
    emulation: float | None = None
    energy_pj: dict[str, float] = field(default_factory=dict)

    @property
    def best(self) -> float:
        """The best accuracy any method reached at this setting (fraction)."""
        values = (self.naive, self.naive_bn, self.neat, self.neat_bn, self.emulation)
        return max(v for v in values if v is not None)


@dataclass
class TrainingLog:
    """Per iteration of NEAT (or of training through the emulation): the trained model's test
    accuracy (fraction, in the model it trains: ideal for NEAT, the twin with hardware in the
    loop) and each layer's share of weights inside the linear region."""

    label: str
    accuracy: list[float]
    share: list[dict[str, float]]
    initial_share: dict[str, float] = field(default_factory=dict)


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
    logs: list[TrainingLog] = field(default_factory=list)
    v_gates: list[float] = field(default_factory=list)

    def table(self) -> str:
        """The final table as Markdown (accuracies and savings in %)."""
        return to_markdown(results_frame(self.software, self.settings))

    @property
    def homogeneous(self) -> list[Setting]:
        """The settings with every layer at one of ``v_gates`` (the first ones)."""
        return self.settings[: len(self.v_gates)]
