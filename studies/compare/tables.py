"""The comparison's rows as pandas DataFrames (``neatxbar.core.tables``): the CSV file keeps
every field at full precision; the console table shows errors in % and times in readable units."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd

from neatxbar.core.tables import frame, to_text
from neatxbar.studies.compare.results import CompareReport, CompareRow

FIELDS = tuple(f.name for f in dataclasses.fields(CompareRow))


def rows_frame(report: CompareReport) -> pd.DataFrame:
    """One row per (size, case, model), the columns of :class:`CompareRow` (fractions, seconds):
    what ``compare.csv`` holds."""
    return frame([dataclasses.asdict(row) for row in report.rows], FIELDS)


def console_frame(report: CompareReport) -> pd.DataFrame:
    """The rows for reading: relative errors in %, ngspice in s and ms per vector, the emulation
    in µs per vector; with wires, also the once-per-array set-up (the wired fast path's
    reduction) in ms (``-`` for the models without one)."""
    setup = any(row.setup_seconds > 0 for row in report.rows)
    rows = [
        {
            "size": f"{row.size}x{row.size}",
            "case": row.case,
            "model": row.model,
            "vec": row.vectors,
            "rms %": 100 * row.rel_err_rms,
            "median %": 100 * row.rel_err_median,
            "p99 %": 100 * row.rel_err_p99,
            "max %": 100 * row.rel_err_max,
            "spice s": round(row.spice_seconds, 3),
            "spice ms/v": round(1e3 * row.spice_seconds_per_vector, 2),
            "emu us/v": round(1e6 * row.emulation_seconds_per_vector, 2),
            "speed-up": round(row.speedup) if math.isfinite(row.speedup) else None,
            **(
                {"setup ms": round(1e3 * row.setup_seconds, 2) if row.setup_seconds > 0 else None}
                if setup
                else {}
            ),
        }
        for row in report.rows
    ]
    return frame(rows)


def console_text(report: CompareReport) -> str:
    """The report for the console: a heading (LUT, V_gate, fast path, ngspice, trained model,
    wires) and :func:`console_frame` as aligned text."""
    form = report.degree if report.degree is not None else "interpolated"
    lines = [
        f"{report.lut_path}: V_gate {report.config.v_gate:.2f} V, fast path K = {report.rank} "
        f"(degree {form}), ngspice {report.ngspice_version}"
    ]
    if report.trained_source is not None:
        line = f"trained case: layer {report.trained_layer!r} of {report.trained_source}"
        if report.trained_accuracy is not None:
            line += f", held-out accuracy {report.trained_accuracy:.1%}"
        lines.append(line)
    if report.config.wire_ohm > 0:
        lines.append(
            f"wires: {report.config.wire_ohm:g} ohm per row and column segment; circuit: the "
            "reference solver; wired-fast: the wired fast path, its once-per-array reduction in "
            "'setup ms', not in 'emu us/v'"
        )
    lines.append("relative error |I_model - I_spice| / |I_spice| of the column currents, in %")
    lines.append(to_text(console_frame(report), digits=4))
    return "\n".join(lines)
