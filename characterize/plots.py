"""Figures of a complete, fitted cell LUT: I-V curves, the linear region's bound, the deviation.

Plain h5py, numpy and matplotlib (no torch, no pyplot): each figure is a
:class:`matplotlib.figure.Figure` drawn on the Agg canvas, so plotting never touches the caller's
backend or pyplot's global figure list. Currents are shown in uA, conductances in uS, voltages
in V, deviations in percent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import QuadMesh
from matplotlib.colorbar import Colorbar
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from neatxbar.characterize.calibrate import PAPER_CUTOFFS_S, PAPER_NO_CUTOFF_V
from neatxbar.characterize.fit import deviation
from neatxbar.core.errors import ConfigError
from neatxbar.core.outputs import OutputFolder
from neatxbar.lut.errors import LUTError
from neatxbar.lut.schema import read_lut, select_temperature

DPI = 150
IV_GATES_V = (0.8, 1.0, 1.3)
N_IV_CONDUCTANCES = 4
N_HEATMAP_GATES = 6
MICRO = 1e6
V_GATE, V_IN, G_MAX = r"$V_\mathrm{gate}$", r"$V_\mathrm{in}$", r"$g_\mathrm{max}$"
DEVIATION_FLOOR_PCT = 1e-3  # lower end of the log colour scale (%), for deviations of ~0
FIGURES = ("iv_curves", "g_max_vs_vgate", "deviation_heatmaps")
FILES = tuple(f"{name}.{ext}" for name in FIGURES for ext in ("png", "pdf"))


@dataclass(frozen=True)
class _Table:
    """The parts of a LUT file the figures need (SI units, as stored)."""

    g: np.ndarray  # (n_g,) S
    v_in: np.ndarray  # (n_v,) V
    v_gate: np.ndarray  # (n_vg,) V
    current: np.ndarray  # (n_g, n_v, n_vg) A
    g_max: np.ndarray  # (n_vg,) S
    crossing: np.ndarray  # (n_vg,) S, inf where the whole grid is within tolerance
    tolerance: float
    metric: str


def plot_lut(
    lut_path: Path,
    out_dir: Path,
    conductances_us: Sequence[float] | None = None,
    temperature_c: float | None = None,
) -> list[Path]:
    """Draw the characterization figures of a complete, fitted LUT as PNG and PDF.

    Writes ``iv_curves``, ``g_max_vs_vgate`` and ``deviation_heatmaps``, each as ``.png``
    (150 dpi) and ``.pdf``, into ``out_dir`` (created if missing), committed together
    (:class:`~neatxbar.core.outputs.OutputFolder`): a failure changes no file there, and only
    files an earlier run wrote are replaced.

    Parameters
    ----------
    lut_path
        A complete LUT file with a ``linear_region`` group (``neat characterize``, ``neat fit``).
    out_dir
        Folder for the figures.
    conductances_us
        Conductances (uS) of the I-V curves; each is drawn at its nearest grid conductance.
        Default: four spread over the grid.
    temperature_c
        The temperature (degC) of the file to draw, at 0 V threshold shift; None: 27 degC when
        the file has it, else its first temperature.

    Returns
    -------
    list of Path
        The files written, PNG before PDF for each figure.

    Raises
    ------
    LUTError
        The file is missing, not a LUT, incomplete, or not fitted; the message says which.
    OutputError
        An output would replace the LUT or a file neat-xbar did not write, or ``out_dir`` is a
        file.
    """
    folder = OutputFolder(out_dir, inputs=(lut_path,))
    folder.check(FILES)
    table = _read(Path(lut_path), temperature_c)
    g_index = _pick_conductances(table.g, conductances_us)
    figures = {
        "iv_curves": _iv_curves(table, g_index),
        "g_max_vs_vgate": _g_max_vs_vgate(table),
        "deviation_heatmaps": _deviation_heatmaps(table),
    }
    with folder.staging() as stage:
        for name, fig in figures.items():
            _save(fig, stage.file(f"{name}.png"), stage.file(f"{name}.pdf"))
    return [folder.path / name for name in FILES]


def _read(path: Path, temperature_c: float | None = None) -> _Table:
    """Check and read one temperature of a LUT file (at 0 V shift); raise :class:`LUTError` if
    it has no fitted ``linear_region``."""
    lut = read_lut(path)
    region = lut.region
    if region is None or region.crossing is None:
        raise LUTError(f"{path}: no fitted linear_region group; run 'neat fit {path}' first")
    grids = lut.grids
    t = select_temperature(grids.temperature_c, temperature_c, path)
    return _Table(
        g=grids.conductance,
        v_in=grids.v_in,
        v_gate=grids.v_gate,
        current=lut.current[t, grids.zero_shift],
        g_max=region.g_max[t],
        crossing=region.crossing[t],
        tolerance=lut.tolerance if region.tolerance is None else region.tolerance,
        metric=region.metric or "ideal",
    )


def _spread(n: int, k: int) -> np.ndarray:
    """Up to ``k`` indices into ``range(n)``, evenly spread, first and last included."""
    return np.unique(np.round(np.linspace(0, n - 1, min(k, n))).astype(int))


def _nearest(grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Sorted, distinct indices of the grid points nearest to ``values``."""
    return np.unique(np.abs(grid[:, None] - values[None, :]).argmin(axis=0))


def _pick_conductances(g: np.ndarray, conductances_us: Sequence[float] | None) -> np.ndarray:
    """Grid indices of the I-V curves' conductances."""
    if conductances_us is None:
        return _spread(g.size, N_IV_CONDUCTANCES)
    wanted = np.asarray(conductances_us, float).ravel()
    if wanted.size == 0 or not np.all(np.isfinite(wanted)):
        raise ConfigError(f"conductances (uS) must be finite numbers, got {list(wanted)}")
    return _nearest(g, wanted / MICRO)


def _iv_gate_indices(v_gate: np.ndarray) -> np.ndarray:
    """The gate voltages of :data:`IV_GATES_V` on the grid, else up to three spread ones."""
    on_grid = [
        int(np.argmin(np.abs(v_gate - v)))
        for v in IV_GATES_V
        if np.any(np.isclose(v_gate, v, rtol=0, atol=1e-6))
    ]
    return np.asarray(on_grid) if on_grid else _spread(v_gate.size, 3)


def _g_max_text(table: _Table, m: int) -> str:
    g_max = table.g_max[m]
    if g_max <= 0:
        return f"{G_MAX}: none within tolerance"
    whole = " (whole grid)" if g_max >= table.g[-1] else ""
    return f"{G_MAX} = {g_max * MICRO:.1f} µS{whole}"


def _iv_curves(table: _Table, g_index: np.ndarray) -> Figure:
    """I (uA) against V_in (V), one panel per selected gate voltage."""
    gates = _iv_gate_indices(table.v_gate)
    fig = _figure(figsize=(4.6 * gates.size, 4.4))
    axes = fig.subplots(1, gates.size, sharey=True, squeeze=False)[0]
    for ax, m in zip(axes, gates, strict=True):
        _iv_panel(ax, table, g_index, int(m))
    axes[0].set_ylabel("cell current I (µA)")
    return fig


def _iv_panel(ax: Axes, table: _Table, g_index: np.ndarray, m: int) -> None:
    """One gate voltage: cell and ideal currents for each conductance, and the g_max curve."""
    v = table.v_in
    for n, k in enumerate(g_index):
        g = table.g[k]
        outside = g > table.g_max[m]
        colour = f"C{n}"
        label = f"G = {g * MICRO:.1f} µS" + (", outside linear region" if outside else "")
        style = {"lw": 1.0, "marker": ".", "ms": 4} if outside else {"lw": 1.8}
        ax.plot(v, table.current[k, :, m] * MICRO, color=colour, label=label, **style)
        ax.plot(v, g * v * MICRO, color=colour, ls="--", lw=1.0)
    if table.g_max[m] > 0:
        k = int(np.argmin(np.abs(table.g - table.g_max[m])))
        label = f"boundary: G = {G_MAX} = {table.g[k] * MICRO:.1f} µS"
        ax.plot(v, table.current[k, :, m] * MICRO, color="black", lw=1.2, label=label, zorder=3)
    ax.plot([], [], color="grey", ls="--", lw=1.0, label=f"ideal G·{V_IN} (dashed)")
    ax.set_title(f"{V_GATE} = {table.v_gate[m]:.2f} V, {_g_max_text(table, m)}", fontsize=10)
    ax.set_xlabel(f"input voltage {V_IN} (V)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")


def _g_max_vs_vgate(table: _Table) -> Figure:
    """g_max (uS) against V_gate (V), with the paper's reported cut-offs and G_ON."""
    fig = _figure(figsize=(6.4, 4.4))
    ax = fig.subplots()
    g_on_us = table.g[-1] * MICRO
    ax.plot(
        table.v_gate,
        table.g_max * MICRO,
        drawstyle="steps-mid",
        marker="o",
        color="C0",
        label=f"{G_MAX} on the grid (tolerance {table.tolerance:.1%}, metric {table.metric!r})",
    )
    finite = np.isfinite(table.crossing)
    ax.plot(
        table.v_gate[finite],
        table.crossing[finite] * MICRO,
        ls=":",
        marker="x",
        color="C1",
        label="cut-off, interpolated between grid points",
    )
    g_on = f"$G_\\mathrm{{ON}}$ = {g_on_us:.1f} µS (grid top)"
    ax.axhline(g_on_us, color="grey", ls="--", lw=1.0, label=g_on)
    _paper_points(ax, g_on_us)
    ax.set_xlabel(f"gate voltage {V_GATE} (V)")
    ax.set_ylabel(f"largest linear conductance {G_MAX} (µS)")
    ax.set_ylim(0, 1.12 * g_on_us)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def _paper_points(ax: Axes, g_on_us: float) -> None:
    """The paper's reported cut-offs; "none" drawn at G_ON with an upward marker."""
    v = list(PAPER_CUTOFFS_S)
    g = [PAPER_CUTOFFS_S[x] * MICRO for x in v]
    ax.plot(
        v, g, ls="none", marker="D", ms=8, mfc="none", mec="C3", mew=1.5, label="paper (reported)"
    )
    for x in PAPER_NO_CUTOFF_V:
        ax.plot(
            x,
            g_on_us,
            ls="none",
            marker="^",
            ms=9,
            mfc="none",
            mec="C3",
            mew=1.5,
            label="paper (reported): none",
        )
        ax.annotate(
            "reported: none",
            (x, g_on_us),
            xytext=(0, 9),
            textcoords="offset points",
            ha="center",
            fontsize=8,
            color="C3",
        )


def _deviation_heatmaps(table: _Table) -> Figure:
    """Relative deviation from linear (%) over (V_in, G), one panel per spread gate voltage."""
    gates = _spread(table.v_gate.size, N_HEATMAP_GATES)
    percent = 100 * deviation(table.current, table.g, table.v_in, table.metric)[:, :, gates]
    v_pos = table.v_in[table.v_in > 0]
    norm = LogNorm(max(percent.min(), DEVIATION_FLOOR_PCT), max(percent.max(), 1.0))
    ncols = min(gates.size, 3)
    nrows = math.ceil(gates.size / ncols)
    fig = _figure(figsize=(4.0 * ncols + 1.2, 3.4 * nrows))
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
    for n, ax in enumerate(axes.flat):
        if n >= gates.size:
            ax.set_visible(False)
            continue
        mesh = _heatmap_panel(ax, table, v_pos, percent[:, :, n], norm)
        ax.set_title(f"{V_GATE} = {table.v_gate[gates[n]]:.2f} V", fontsize=10)
    for ax in axes[-1]:
        ax.set_xlabel(f"input voltage {V_IN} (V)")
    for ax in axes[:, 0]:
        ax.set_ylabel("conductance G (µS)")
    bar = fig.colorbar(mesh, ax=axes.ravel().tolist(), shrink=0.9)
    bar.set_label(_deviation_label(table.metric))
    _tolerance_ticks(bar, norm, 100 * table.tolerance)
    return fig


def _tolerance_ticks(bar: Colorbar, norm: LogNorm, level: float) -> None:
    """Plain-number ticks (1-2-5 steps) on the log colour bar, and the tolerance marked."""
    decades = 10.0 ** np.arange(np.floor(np.log10(norm.vmin)), np.ceil(np.log10(norm.vmax)) + 1)
    ticks = (decades[:, None] * [1, 2, 5]).ravel()
    ticks = ticks[(ticks >= norm.vmin) & (ticks <= norm.vmax)]
    bar.set_ticks(ticks, labels=[f"{t:g}" for t in ticks])
    bar.ax.minorticks_off()
    if norm.vmin <= level <= norm.vmax:
        bar.ax.axhline(level, color="white", lw=2)
        bar.ax.annotate(
            f"tolerance {level:g} %",
            (1.0, level),
            xycoords=("axes fraction", "data"),
            xytext=(-2, 3),
            textcoords="offset points",
            ha="right",
            fontsize=7,
            color="white",
            rotation=90,
            va="bottom",
        )


def _heatmap_panel(
    ax: Axes, table: _Table, v_pos: np.ndarray, percent: np.ndarray, norm: LogNorm
) -> QuadMesh:
    """One gate voltage's deviation (%) as a heat map, with the tolerance as a contour."""
    g_us = table.g * MICRO
    mesh = ax.pcolormesh(v_pos, g_us, percent, norm=norm, cmap="viridis", shading="nearest")
    level = 100 * table.tolerance
    if percent.min() < level < percent.max():  # else matplotlib warns: no contour in range
        lines = ax.contour(v_pos, g_us, percent, levels=[level], colors="white", linewidths=1.5)
        ax.clabel(lines, fmt={level: f"{level:g} %"}, fontsize=7)
    else:
        side = "below" if percent.max() <= level else "above"
        ax.text(
            0.5,
            0.5,
            f"{side} {level:g} % everywhere",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=9,
            color="white",
        )
    return mesh


def _deviation_label(metric: str) -> str:
    if metric == "fit":
        return f"deviation |I - s·{V_IN}| / (s·{V_IN}) (%), s: the cell's own line"
    return f"deviation |I - G·{V_IN}| / (G·{V_IN}) (%)"


def _figure(figsize: tuple[float, float]) -> Figure:
    """A figure on the Agg canvas, laid out by constrained layout (no pyplot involved)."""
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, png: Path, pdf: Path) -> None:
    """Write ``png`` (150 dpi) and ``pdf``, then clear the figure."""
    fig.savefig(png, dpi=DPI)
    fig.savefig(pdf, metadata={"CreationDate": None})
    fig.clear()
