"""What a comparison measured: per (size, case, model) rows, the raw currents, the report."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neatxbar.spice import Transistor
from neatxbar.studies.compare.settings import CompareConfig


@dataclass(frozen=True)
class CompareRow:
    """One (size, case, model): its error against ngspice and its speed.

    Relative errors are ``|I_model - I_spice| / |I_spice|`` over all columns and vectors
    (fractions, not percent). Times are wall-clock seconds on this machine: ``spice_seconds`` is
    the one ngspice run over all the case's vectors (rendering and parsing included);
    ``emulation_seconds_per_vector`` is one call of the model over the same vectors (its per-call
    set-up included: range checks, the fast path's weight matrices), best of several rounds,
    divided by the vectors; ``speedup`` is the ratio of the two per vector. The wired fast path
    (``"wired-fast"``) does its once-per-array work apart: ``setup_seconds`` is that reduction
    (row solves and fits for the crossbar's conductances, best of several rounds), and its
    ``emulation_seconds_per_vector`` and ``speedup`` count only the evaluation of the vectors;
    ``setup_seconds`` is 0 for the models without such a step.
    """

    size: int
    case: str
    model: str
    vectors: int
    rel_err_rms: float
    rel_err_median: float
    rel_err_p99: float
    rel_err_max: float
    spice_seconds: float
    spice_seconds_per_vector: float
    emulation_seconds_per_vector: float
    speedup: float
    setup_seconds: float = 0.0


@dataclass(frozen=True)
class CaseResult:
    """One crossbar and its input vectors, solved by ngspice and by each model.

    ``g_siemens``: (n, n) S; ``v_in``: (vectors, n) V; ``i_spice`` and each ``i_model[m]``:
    (vectors, n) A; ``seconds_per_vector[m]``: the model's emulation time per vector (s);
    ``setup_seconds[m]``: its once-per-array work (s), for the models that have one (the wired
    fast path's reduction).
    """

    size: int
    case: str
    g_siemens: np.ndarray = field(repr=False)
    v_in: np.ndarray = field(repr=False)
    i_spice: np.ndarray = field(repr=False)
    i_model: dict[str, np.ndarray] = field(repr=False)
    spice_seconds: float
    seconds_per_vector: dict[str, float]
    setup_seconds: dict[str, float] = field(default_factory=dict)

    def relative_error(self, model: str) -> np.ndarray:
        """``|I_model - I_spice| / |I_spice|`` per vector and column, shape (vectors, n)."""
        return np.abs(self.i_model[model] - self.i_spice) / np.abs(self.i_spice)

    def rows(self) -> list[CompareRow]:
        """One row per model: the error statistics and the times."""
        vectors = self.v_in.shape[0]
        spice_per_vector = self.spice_seconds / vectors
        rows = []
        for model in self.i_model:
            err = self.relative_error(model).ravel()
            emu = self.seconds_per_vector[model]
            rows.append(
                CompareRow(
                    size=self.size,
                    case=self.case,
                    model=model,
                    vectors=vectors,
                    rel_err_rms=float(np.sqrt(np.mean(err**2))),
                    rel_err_median=float(np.median(err)),
                    rel_err_p99=float(np.percentile(err, 99)),
                    rel_err_max=float(err.max()),
                    spice_seconds=self.spice_seconds,
                    spice_seconds_per_vector=spice_per_vector,
                    emulation_seconds_per_vector=emu,
                    speedup=spice_per_vector / emu if emu > 0 else math.inf,
                    setup_seconds=self.setup_seconds.get(model, 0.0),
                )
            )
        return rows


@dataclass(frozen=True)
class CompareReport:
    """The outcome of :func:`~neatxbar.studies.compare.compare`.

    Attributes
    ----------
    config, lut_path
        What was compared.
    rank, degree, form_error
        The fast path's separable form at ``config.v_gate``: K, the polynomial degree (None:
        interpolated), its largest cell error against the LUT (fraction of G_ON * V_max).
    transistor
        The access transistor ngspice simulated (the LUT's, with its stored model card).
    spice_options
        The ngspice options of the reference runs.
    ngspice_version
        The ngspice that ran them.
    trained_accuracy, trained_source, trained_layer
        The trained model of the ``"trained"`` case: its held-out accuracy (fraction; None:
        unknown or not run), where it came from, the layer compared.
    rows
        One per (size, case, model), in that order.
    cases
        The raw currents behind the rows.
    files
        What :func:`~neatxbar.studies.compare.report.write_report` wrote (empty when nothing
        was written).
    """

    config: CompareConfig
    lut_path: Path
    rank: int
    degree: int | None
    form_error: float
    transistor: Transistor
    spice_options: dict[str, float]
    ngspice_version: str
    trained_accuracy: float | None
    rows: tuple[CompareRow, ...]
    cases: tuple[CaseResult, ...] = field(repr=False)
    files: tuple[Path, ...] = ()
    trained_source: str | None = None
    trained_layer: str | None = None

    def row(self, size: int, case: str, model: str) -> CompareRow:
        """The row of one (size, case, model); KeyError if there is none."""
        for row in self.rows:
            if (row.size, row.case, row.model) == (size, case, model):
                return row
        raise KeyError((size, case, model))

    def to_dict(self) -> dict[str, object]:
        """Everything but the raw currents, as plain JSON-able data."""
        config = dataclasses.asdict(self.config)
        config["sizes"] = list(self.config.sizes)
        return {
            "lut": str(self.lut_path),
            "config": config,
            "vectors_per_size": {str(n): self.config.vectors_for(n) for n in self.config.sizes},
            "fast_path": {"rank": self.rank, "degree": self.degree, "error": self.form_error},
            "transistor": dataclasses.asdict(self.transistor),
            "spice_options": self.spice_options,
            "ngspice_version": self.ngspice_version,
            "trained_accuracy": self.trained_accuracy,
            "trained": {"source": self.trained_source, "layer": self.trained_layer},
            "relative_error": "|I_model - I_spice| / |I_spice| over all columns and vectors",
            "rows": [dataclasses.asdict(row) for row in self.rows],
            "files": [str(path) for path in self.files],
        }
