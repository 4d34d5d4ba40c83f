"""Result tables as pandas DataFrames: one frame gives the CSV, the Markdown and the console text.

A table's columns carry their units in their names (``energy_pj``, ``v_gate_v``); these functions
only render, they never compute.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from neatxbar.core.files import write_text


def frame(rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A DataFrame from a list of row dicts, columns in the given order (all keys otherwise)."""
    return pd.DataFrame(list(rows), columns=list(columns) if columns is not None else None)


def _cell(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if value != 0 else "0"
    return str(value)


def _formatted(value: Any, spec: str | None, digits: int) -> str:
    """``value`` in the format ``spec`` when it is a number, else as :func:`_cell` shows it."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if spec is None or missing or not isinstance(value, int | float):
        return _cell(value, digits)
    return format(value, spec)


def to_text(
    table: pd.DataFrame,
    digits: int = 4,
    formats: Mapping[str, str] | None = None,
    align_right: bool = False,
) -> str:
    """The table as aligned console text (numbers right-aligned, text left-aligned).

    ``formats`` maps a column to a format spec for its numbers (e.g. ``{"accuracy %": ".2f"}``,
    so a column's decimals line up); other numbers show ``digits`` significant digits; a missing
    value shows as ``-``. ``align_right`` right-aligns every column (text columns included).
    """
    specs = [(formats or {}).get(str(c)) for c in table.columns]
    cells = [
        [_formatted(v, spec, digits) for v, spec in zip(row, specs, strict=True)]
        for row in table.itertuples(index=False)
    ]
    headers = [str(c) for c in table.columns]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [align_right or pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(headers)] + [line(r) for r in cells])


def to_markdown(table: pd.DataFrame, digits: int = 4) -> str:
    """The table as a GitHub-flavoured Markdown table (no extra dependency)."""
    headers = [str(c) for c in table.columns]
    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]
    rule = ["---:" if num else "---" for num in numeric]
    body = [[_cell(v, digits) for v in row] for row in table.itertuples(index=False)]
    return "\n".join("| " + " | ".join(r) + " |" for r in [headers, rule, *body])


def to_csv_text(table: pd.DataFrame) -> str:
    """The table as CSV text (full precision, ``\\n`` line ends, no index)."""
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def write_csv(table: pd.DataFrame, path: Path) -> Path:
    """Write the table as CSV, atomically; return the path."""
    write_text(path, to_csv_text(table))
    return path
