"""The `paper` LUT, characterized by real ngspice into a temporary file and loaded."""

from __future__ import annotations

import tempfile
from pathlib import Path

from neatxbar.characterize.runner import characterize
from neatxbar.characterize.spec import load_preset
from neatxbar.lut import CellLUT


def paper_lut() -> CellLUT:
    """The `paper` preset's LUT, as the benchmarks measure it (one process, no progress bar)."""
    spec, text = load_preset("paper")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "paper.h5"
        characterize(spec, text, path, workers=1, progress=False)
        return CellLUT.load(path)
