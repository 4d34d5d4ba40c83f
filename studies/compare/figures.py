"""The comparison's figures: parity (emulated against ngspice) and the error histogram.

matplotlib without pyplot (``neatxbar.core.files.new_figure``), imported only when drawing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from neatxbar.core.files import new_figure
from neatxbar.studies.compare.results import CompareReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MICRO = 1e6
REL_ERR_FLOOR = 1e-10  # relative errors below this are drawn at it on log axes
_MARKERS = {"random": "o", "trained": "^"}


def parity_figure(report: CompareReport) -> Figure:
    """Left: emulated against ngspice column current (µA, log-log) with y = x. Right: the
    relative error |I_model / I_spice - 1| (%, log) against the ngspice current, where the fast
    path's small errors can be seen. With wires, the coloured model is the wired fast path (the
    per-cell fast path leaves the wires out)."""
    fig = new_figure((11.5, 4.8))
    parity, error = fig.subplots(1, 2)
    sizes = list(report.config.sizes)
    wired = report.config.wire_ohm > 0
    fast, fast_name = ("wired-fast", "wired fast") if wired else ("fast", "fast")
    for case in report.cases:
        x = case.i_spice.ravel() * MICRO
        colour = f"C{sizes.index(case.size)}"
        marker = _MARKERS[case.case]
        for model, style in (
            ("ideal", {"color": "0.6", "alpha": 0.5, "s": 10}),
            (fast, {"color": colour, "alpha": 0.8, "s": 12}),
        ):
            y = case.i_model[model].ravel() * MICRO
            label = (
                f"{case.size}x{case.size} {case.case}, {fast_name}"
                if model == fast
                else ("ideal G$^T$V (all)" if case is report.cases[0] else None)
            )
            kwargs = {"marker": marker, "linewidths": 0, "label": label, **style}
            parity.scatter(x, y, **kwargs)
            relative = np.maximum(np.abs(y / x - 1), REL_ERR_FLOOR)
            error.scatter(x, 100 * relative, **{**kwargs, "label": None})
    drawn = [a for c in report.cases for a in (c.i_spice, c.i_model[fast], c.i_model["ideal"])]
    lo = min(float(a.min()) for a in drawn) * MICRO
    hi = max(float(a.max()) for a in drawn) * MICRO
    line = [lo / 1.2, hi * 1.2]
    parity.plot(line, line, color="black", lw=1.0, ls="--", label="y = x", zorder=0)
    parity.set_xscale("log")
    parity.set_yscale("log")
    parity.set_xlim(*line)
    parity.set_ylim(*line)
    parity.set_aspect("equal")
    parity.set_xlabel("ngspice column current (µA)")
    parity.set_ylabel("emulated column current (µA)")
    title = f"$V_\\mathrm{{gate}}$ = {report.config.v_gate:.2f} V, " + (
        f"{report.config.wire_ohm:g}-ohm wires, wired fast path"
        if wired
        else f"fast path K = {report.rank}"
    )
    parity.set_title(title, fontsize=10)
    parity.grid(alpha=0.3, which="major")
    parity.legend(fontsize=7, loc="upper left")
    error.set_xscale("log")
    error.set_yscale("log")
    error.set_xlim(*line)
    error.set_xlabel("ngspice column current (µA)")
    error.set_ylabel("relative error |emulated / ngspice - 1| (%)")
    error.set_title(f"error against ngspice (colour: {fast_name} path; grey: ideal)", fontsize=10)
    error.grid(alpha=0.3, which="major")
    return fig


def histogram_figure(report: CompareReport) -> Figure:
    """Histograms of the relative error against ngspice, all sizes and cases pooled, log x."""
    fig = new_figure((7.0, 4.4))
    ax = fig.subplots()
    errors = {
        model: np.concatenate([c.relative_error(model).ravel() for c in report.cases])
        for model in report.config.models
    }
    clipped = {m: np.maximum(e, REL_ERR_FLOOR) for m, e in errors.items()}
    lo = min(float(e.min()) for e in clipped.values())
    hi = max(float(e.max()) for e in clipped.values())
    bins = np.geomspace(lo / 1.5, hi * 1.5, 61)
    styles = {
        "ideal": {"color": "0.55", "alpha": 0.6, "histtype": "stepfilled"},
        "fast": {"color": "C0", "alpha": 0.6, "histtype": "stepfilled"},
        "exact": {"color": "C3", "histtype": "step", "lw": 1.4},
        "circuit": {"color": "C2", "alpha": 0.6, "histtype": "stepfilled"},
        "wired-fast": {"color": "C1", "histtype": "step", "lw": 1.6},
    }
    names = {
        "ideal": "ideal G$^T$V",
        "fast": f"fast path (K = {report.rank}), no wires",
        "exact": "exact, no wires",
        "circuit": "circuit solver (wires, reference)",
        "wired-fast": "wired fast path (wires)",
    }
    for model in ("ideal", "fast", "exact", "circuit", "wired-fast"):
        if model not in errors:
            continue
        e = errors[model]
        label = f"{names[model]}: median {100 * np.median(e):.2g} %, max {100 * e.max():.2g} %"
        ax.hist(clipped[model], bins=bins, label=label, **styles[model])
    ax.set_xscale("log")
    ax.set_xlabel("relative error |I_model - I_ngspice| / |I_ngspice|  (10$^{-2}$ = 1 %)")
    ax.set_ylabel("column currents (all sizes, cases, vectors)")
    sizes = ", ".join(f"{n}x{n}" for n in report.config.sizes)
    ax.set_title(
        f"error against ngspice: {sizes} at $V_\\mathrm{{gate}}$ = {report.config.v_gate:.2f} V",
        fontsize=10,
    )
    ax.grid(alpha=0.3, which="major")
    ax.legend(fontsize=8, loc="upper left")
    return fig
