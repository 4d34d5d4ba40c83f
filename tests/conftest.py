"""Shared fixtures: real LUTs made once per test session.

``paper_lut``: the cell and grids of the ``paper`` preset at its nominal point only (27 degC,
no threshold-shift axis; the file still records the preset's ``sigma_vt_v``): the preset itself
(2 temperatures x 9 shifts, about 8 million points) would take about 20 s on one core.

``paper_axes_lut``: the same cell with the preset's temperatures (27, 85 degC) and its 9
threshold shifts (+-3 sigma), on the preset's conductance and V_in grids but only the 13 gate
voltages offered for mapping (0.70 to 1.30 V in 50 mV steps; 1.5 million points, about 4 s).
``CellLUT.load`` selects 27 degC; load ``paper_axes_lut_path`` with ``temperature_c=85.0`` for
the other.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/lut_factory.py


def _tables(text: str) -> dict[str, list[str]]:
    """A TOML text's lines by table (``""`` for the lines before the first table)."""
    tables: dict[str, list[str]] = {"": []}
    name = ""
    for line in text.splitlines():
        if line.startswith("["):
            name = line.strip("[] ")
            tables[name] = []
        tables[name].append(line)
    return tables


def paper_variant(axes: bool) -> tuple[object, str]:
    """The paper preset's spec and TOML text, nominal only (``axes`` False: its
    ``[temperature]`` and ``[mismatch]`` tables left out) or with its axes on the 13 offered
    gate voltages (``axes`` True)."""
    from neatxbar.characterize.spec import load_preset, parse_spec

    _, text = load_preset("paper")
    tables = _tables(text)
    if axes:
        tables[""] = [line.replace('"paper"', '"paper-axes"') for line in tables[""]]
        tables["v_gate"] = ["[v_gate]", "start_v = 0.70", "stop_v = 1.30", "num = 13", ""]
    else:
        del tables["temperature"], tables["mismatch"]
    text = "\n".join(line for lines in tables.values() for line in lines) + "\n"
    return parse_spec(text), text


@pytest.fixture(scope="session")
def paper_lut_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `paper` preset's cell and grids at 27 degC without shifts, characterized by real
    ngspice (about 1.5 s)."""
    from neatxbar.characterize.runner import characterize

    spec, text = paper_variant(axes=False)
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
def paper_axes_lut_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The paper cell with temperatures (27, 85 degC) and 9 threshold shifts (+-3 sigma_vt) on
    the 13 offered gate voltages, characterized by real ngspice (about 4 s)."""
    from neatxbar.characterize.runner import characterize

    spec, text = paper_variant(axes=True)
    path = tmp_path_factory.mktemp("luts") / "paper-axes.h5"
    assert characterize(spec, text, path, workers=1, progress=False).complete
    return path


@pytest.fixture(scope="session")
def paper_axes_lut(paper_axes_lut_path: Path):
    """``paper_axes_lut_path`` loaded at 27 degC (``shift_grid`` of 9 shifts)."""
    from neatxbar.lut import CellLUT

    return CellLUT.load(paper_axes_lut_path)


@pytest.fixture(scope="session")
def linear_lut(tmp_path_factory: pytest.TempPathFactory):
    """A LUT of an ideal memristor with no transistor effect: I = G * V exactly."""
    from lut_factory import ideal, write_lut

    from neatxbar.lut import CellLUT

    return CellLUT.load(write_lut(tmp_path_factory.mktemp("lut") / "ideal.h5", ideal))
