"""What the experiment measured: one :class:`Setting` per gate-voltage configuration, and with a
variability section one :class:`ChipAccuracy` per gate voltage, temperature and model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from neatxbar.core.tables import to_markdown
from neatxbar.studies.experiment.tables import results_frame
from neatxbar.studies.neat_map.results import ChipStats

#: ``MappingConfig.path`` -> how a wired mapping was computed.
SOLVERS = {"fast": "wired fast path", "exact": "reference circuit solver"}


@dataclass
class WireSetup:
    """How a setting with wire resistance was evaluated.

    Attributes
    ----------
    ohm
        Wire resistance per row and column segment (ohm).
    images
        Test images evaluated.
    whole_test_set
        True when ``images`` is the whole test set.
    path
        ``MappingConfig.path``: ``"fast"`` (the wired fast path) or ``"exact"`` (the reference
        circuit solver).
    without
        The label of the same setting without wires (its no-wire accuracies).
    """

    ohm: float
    images: int
    whole_test_set: bool
    path: str
    without: str

    @property
    def solver(self) -> str:
        """The path in words."""
        return SOLVERS.get(self.path, self.path)


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
    wires
        With wire resistance: how it was evaluated (None: no wires).
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
    wires: WireSetup | None = None

    @property
    def best(self) -> float:
        """The best accuracy any method reached at this setting (fraction)."""
        values = (self.naive, self.naive_bn, self.neat, self.neat_bn, self.emulation)
        return max(v for v in values if v is not None)


@dataclass
class ChipAccuracy:
    """One model at one gate voltage and temperature, on every sampled chip.

    Attributes
    ----------
    v_gate
        The gate voltage of every layer (V).
    temperature_c
        The LUT's temperature (degC).
    model
        ``"naive"``, ``"neat"`` or ``"noise_aware"``
        (:data:`~neatxbar.studies.experiment.tables.VARIABILITY_MODELS`).
    nominal
        Test accuracy (fraction) of the nominal chip (no variation) at this temperature.
    chips
        The chips' seeds and each chip's test accuracy, with their mean, std, worst and best
        (the same type as ``neat map --chips``).
    """

    v_gate: float
    temperature_c: float
    model: str
    nominal: float
    chips: ChipStats

    def to_dict(self) -> dict[str, object]:
        """``results.json``'s record (accuracies as fractions)."""
        c = self.chips
        return {
            "v_gate": self.v_gate,
            "temperature_c": self.temperature_c,
            "model": self.model,
            "nominal": self.nominal,
            "seeds": list(c.seeds),
            "accuracies": list(c.accuracies),
            "mean": c.mean,
            "std": c.std,
            "worst": c.worst,
            "best": c.best,
        }


@dataclass
class Variability:
    """The variability section: what was drawn, on how many images, and every row.

    Attributes
    ----------
    variation
        The variation each chip is drawn with (``Variation``'s fields).
    sigma_vt_v
        The LUT's card mismatch sigma_Vt (V; 0: the LUT has none).
    images
        Test images each chip is evaluated on.
    rows
        One per gate voltage, temperature and model that ran.
    notes
        Why a model is missing somewhere.
    """

    variation: dict[str, object]
    sigma_vt_v: float
    images: int
    rows: list[ChipAccuracy] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """``results.json``'s ``variability``."""
        return {
            "variation": self.variation,
            "sigma_vt_v": self.sigma_vt_v,
            "images": self.images,
            "rows": [row.to_dict() for row in self.rows],
            "notes": list(self.notes),
        }


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
    files written into ``out_dir``; ``variability`` the variability section (None: not run).
    """

    out_dir: Path
    software: float
    settings: list[Setting]
    report: Path
    figures: list[Path]
    logs: list[TrainingLog] = field(default_factory=list)
    v_gates: list[float] = field(default_factory=list)
    variability: Variability | None = None

    def table(self) -> str:
        """The final table as Markdown (accuracies and savings in %)."""
        return to_markdown(results_frame(self.software, self.settings))

    @property
    def homogeneous(self) -> list[Setting]:
        """The settings with every layer at one of ``v_gates`` (the first ones)."""
        return self.settings[: len(self.v_gates)]

    @property
    def wired(self) -> list[Setting]:
        """The settings evaluated with wire resistance."""
        return [s for s in self.settings if s.wires is not None]

    def without_wires(self, setting: Setting) -> Setting | None:
        """The setting ``setting`` (one with wires) pairs with: the same gates, no wires."""
        if setting.wires is None:
            return None
        label = setting.wires.without
        return next((s for s in self.settings if s.wires is None and s.label == label), None)
