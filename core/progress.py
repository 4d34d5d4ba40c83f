"""The progress bar of every long run: tqdm, quiet when stderr is not a terminal.

tqdm's monitor thread is turned off so that a Ctrl-C always reaches the main thread (which defers
it while ngspice runs, see :mod:`neatxbar.spice.session`).
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


class ProgressBar(tqdm):
    """A tqdm bar without its monitor thread."""

    monitor_interval = 0


def progress_bar(
    total: int | float | None,
    desc: str,
    unit: str = "it",
    enabled: bool | None = None,
    **kwargs: Any,
) -> ProgressBar:
    """A progress bar on stderr.

    Parameters
    ----------
    total
        The amount of work (in ``unit``), or None if unknown.
    desc
        The bar's label.
    unit
        What one step counts (e.g. ``"point"``, ``"step"``, ``"image"``).
    enabled
        True or False to force the bar on or off; None (default) shows it only when stderr is a
        terminal, so logs and pipes stay clean.
    """
    show = sys.stderr.isatty() if enabled is None else enabled
    return ProgressBar(total=total, desc=desc, unit=unit, disable=not show, **kwargs)
