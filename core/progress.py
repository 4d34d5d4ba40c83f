"""The progress bar of every long run: tqdm, quiet when stderr is not a terminal.

tqdm's monitor thread is turned off so that a Ctrl-C always reaches the main thread (where the
SPICE floor defers it while ngspice runs).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from tqdm import tqdm


class ProgressBar(tqdm):
    """A tqdm bar without its monitor thread, drawn only when its stream is a terminal.

    In a log or a pipe a bar redraws itself once per step, which buries the output; there it is
    off whatever the caller asked (set the environment variable ``NEAT_PROGRESS=always`` to force
    it, e.g. for a terminal multiplexer that does not look like one).
    """

    monitor_interval = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not kwargs.get("disable") and not _terminal(kwargs.get("file")):
            kwargs["disable"] = True
        super().__init__(*args, **kwargs)


def _terminal(stream: Any) -> bool:
    """Whether ``stream`` (stderr when None) is a terminal, or bars are forced on."""
    if os.environ.get("NEAT_PROGRESS") == "always":
        return True
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


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
        False turns the bar off; True or None (default) show it when stderr is a terminal (see
        :class:`ProgressBar`), so logs and pipes stay clean.
    """
    show = _terminal(None) if enabled is None else enabled
    return ProgressBar(total=total, desc=desc, unit=unit, disable=not show, **kwargs)
