"""Writing report files safely: through a temporary file and a rename, and PNG figures drawn
with matplotlib's Agg canvas (no pyplot, no global figure state)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 150


def write_atomically(path: Path, write: Callable[[io.IOBase], None], binary: bool) -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it into place;
    a reader never sees a half-written file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") if binary else tmp.open("w", encoding="utf-8", newline="") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically."""
    write_atomically(path, lambda f: f.write(text), binary=False)


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A matplotlib Figure on an Agg canvas, constrained layout (matplotlib imported here)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: Path) -> Path:
    """Save ``fig`` as PNG at :data:`DPI`, atomically; return the path."""
    write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=DPI), binary=True)
    return path
