"""``neat report experiment``: the NEAT experiment end to end, from one TOML file, resumable.

- :mod:`~neatxbar.studies.experiment.settings`: :class:`ExperimentConfig` (the TOML file) and
  :class:`ExperimentSpec` (its ``[experiment]`` table).
- :mod:`~neatxbar.studies.experiment.run`: :func:`run_experiment`, the orchestration.
- :mod:`~neatxbar.studies.experiment.results`: :class:`Setting`, :class:`ExperimentResult`.
- :mod:`~neatxbar.studies.experiment.tables`: the result table as a DataFrame.
- :mod:`~neatxbar.studies.experiment.figures`, :mod:`~neatxbar.studies.experiment.report`: the
  figures and ``report.md``.

Typical use::

    from neatxbar.studies.experiment import ExperimentConfig, run_experiment

    result = run_experiment(ExperimentConfig.from_toml("configs/experiment-digits.toml"),
                            "reports/digits")
    print(result.table())
"""

from __future__ import annotations

from neatxbar.studies.experiment.results import ExperimentResult, Setting
from neatxbar.studies.experiment.run import run_experiment
from neatxbar.studies.experiment.settings import ExperimentConfig, ExperimentSpec

__all__ = ["ExperimentConfig", "ExperimentResult", "ExperimentSpec", "Setting", "run_experiment"]
