"""The experiment's result table as a pandas DataFrame (``neatxbar.core.tables``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from neatxbar.core.tables import frame

if TYPE_CHECKING:
    from neatxbar.studies.experiment.results import Setting

COLUMNS = (
    "gate voltages",
    "naive mapping (%)",
    "naive + BN re-estimated (%)",
    "NEAT (%)",
    "NEAT + BN re-estimated (%)",
    "trained through the emulation (%)",
    "energy saving, naive (%)",
    "energy saving, NEAT (%)",
)


def _percent(value: float | None, decimals: int) -> float | None:
    return None if value is None else round(100 * value, decimals)


def results_frame(software: float, settings: Sequence[Setting]) -> pd.DataFrame:
    """One row for the software model, then one per setting: accuracies (%, 2 decimals) and
    energy savings (%, 1 decimal); a missing value is empty. Columns nothing filled are left
    out."""
    rows = [dict(zip(COLUMNS, ("software (ideal float)", _percent(software, 2)), strict=False))]
    for s in settings:
        values = (
            s.label,
            _percent(s.naive, 2),
            _percent(s.naive_bn, 2),
            _percent(s.neat, 2),
            _percent(s.neat_bn, 2),
            _percent(s.emulation, 2),
            _percent(s.saving_naive, 1),
            _percent(s.saving_neat, 1),
        )
        rows.append(dict(zip(COLUMNS, values, strict=True)))
    table = frame(rows, COLUMNS)
    return table.dropna(axis=1, how="all")


def energy_frame(settings: Sequence[Setting]) -> pd.DataFrame:
    """Energy per inference of the naive mapping by part (pJ) for each setting."""
    parts = ("read", "gate", "dac", "adc", "total", "baseline")
    names = ("array read", "gate", "DAC", "ADC", "total", "all at 1.0 V")
    rows = [
        {
            "gate voltages": s.label,
            **{n: s.energy_pj.get(p) for p, n in zip(parts, names, strict=True)},
        }
        for s in settings
        if s.energy_pj
    ]
    return frame(rows, ("gate voltages", *names))
