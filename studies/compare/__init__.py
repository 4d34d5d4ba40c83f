"""``neat compare``: whole crossbars in ngspice against the emulation (fast, exact, ideal; with
wires also the circuit solver and the wired fast path).

- :mod:`~neatxbar.studies.compare.settings`: :class:`CompareConfig`, what to simulate.
- :mod:`~neatxbar.studies.compare.inputs`: the crossbars and input vectors, random and of a trained
  layer (:class:`TrainedLayer`: from a checkpoint, a model, or a digits MLP trained here).
- :mod:`~neatxbar.studies.compare.reference`: the ngspice side, the LUT's own cell.
- :mod:`~neatxbar.studies.compare.run`: :func:`compare`, the orchestration.
- :mod:`~neatxbar.studies.compare.results`: :class:`CompareRow`, :class:`CaseResult`,
  :class:`CompareReport`.
- :mod:`~neatxbar.studies.compare.tables`, :mod:`~neatxbar.studies.compare.figures`,
  :mod:`~neatxbar.studies.compare.report`: the rows as DataFrames, the figures, the files.

Typical use::

    from neatxbar.studies.compare import CompareConfig, compare

    report = compare("luts/paper.h5", CompareConfig(sizes=(16, 32), checkpoint="model.pt"),
                     out_dir="reports/compare")
    print(report.row(32, "trained", "fast").rel_err_max)
"""

from __future__ import annotations

from neatxbar.studies.compare.inputs import (
    TrainedLayer,
    input_voltages,
    layer_from_checkpoint,
    layer_of,
    train_digits_layer,
    trained_conductances,
)
from neatxbar.studies.compare.report import FILES, write_report
from neatxbar.studies.compare.results import CaseResult, CompareReport, CompareRow
from neatxbar.studies.compare.run import compare
from neatxbar.studies.compare.settings import CASES, MODELS, WIRED_MODELS, CompareConfig

__all__ = [
    "CASES",
    "FILES",
    "MODELS",
    "WIRED_MODELS",
    "CaseResult",
    "CompareConfig",
    "CompareReport",
    "CompareRow",
    "TrainedLayer",
    "compare",
    "input_voltages",
    "layer_from_checkpoint",
    "layer_of",
    "train_digits_layer",
    "trained_conductances",
    "write_report",
]
