"""Shared fixtures: real LUTs made once per test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/lut_factory.py


@pytest.fixture(scope="session")
def paper_lut_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `paper` preset characterized by real ngspice (about 0.3 s)."""
    from neatxbar.characterize.runner import characterize
    from neatxbar.characterize.spec import load_preset

    spec, text = load_preset("paper")
    path = tmp_path_factory.mktemp("luts") / "paper.h5"
    assert characterize(spec, text, path, workers=1, progress=False).complete
    return path


@pytest.fixture(scope="session")
def paper_lut(paper_lut_path: Path):
    """The `paper` LUT loaded as a CellLUT (test modules may call it `lut` or `paper`)."""
    from neatxbar.lut import CellLUT

    return CellLUT.load(paper_lut_path)


@pytest.fixture(scope="session")
def lut(paper_lut):
    return paper_lut


@pytest.fixture(scope="session")
def paper(paper_lut):
    return paper_lut


@pytest.fixture(scope="session")
def linear_lut(tmp_path_factory: pytest.TempPathFactory):
    """A LUT of an ideal memristor with no transistor effect: I = G * V exactly."""
    from lut_factory import ideal, write_lut

    from neatxbar.lut import CellLUT

    return CellLUT.load(write_lut(tmp_path_factory.mktemp("lut") / "ideal.h5", ideal))
