"""``grid/v_gate_offered``: the optional list of gate voltages a LUT offers for mapping.

Absent (every file written before it existed): every grid gate voltage is offered. Present: read
back as ``CellLUT.offered_gates``; a tampered list (wrong type, shape, values off the grid, out
of order) is refused by ``read_lut`` in one line, like every other check of an untrusted file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from lut_factory import ideal, write_lut

from neatxbar.cli.main import cli
from neatxbar.lut import CellLUT, LUTError
from neatxbar.lut.schema import read_lut

GRID = np.linspace(0.6, 1.0, 9)  # 50 mV steps
OFFERED = GRID[[2, 4, 6, 8]]  # 0.7, 0.8, 0.9, 1.0 V


def _lut(path: Path, offered: Callable[[h5py.File], None] | None = None) -> Path:
    write_lut(path, ideal, vg=GRID)
    if offered is not None:
        with h5py.File(path, "r+") as f:
            offered(f)
    return path


def _store(data: object, **kwargs: object) -> Callable[[h5py.File], None]:
    def store(f: h5py.File) -> None:
        f.create_dataset("grid/v_gate_offered", data=data, **kwargs)

    return store


def test_a_lut_without_the_list_offers_its_whole_gate_grid(tmp_path: Path) -> None:
    path = _lut(tmp_path / "old.h5")
    assert read_lut(path).v_gate_offered is None
    lut = CellLUT.load(path)
    assert lut.offered_gates == tuple(GRID.tolist())
    lut = CellLUT.load(write_lut(tmp_path / "default.h5", ideal))  # the factory's 13 gates
    assert len(lut.offered_gates) == 13 and lut.offered_gates == tuple(lut.vg_grid.tolist())


def test_the_list_round_trips_as_grid_values(tmp_path: Path) -> None:
    near = OFFERED + np.array([4e-10, -4e-10, 0.0, 0.0])  # within 1 nV of the grid
    path = _lut(tmp_path / "offered.h5", _store(near))
    assert read_lut(path).v_gate_offered.tolist() == OFFERED.tolist()
    lut = CellLUT.load(path)
    assert lut.offered_gates == tuple(OFFERED.tolist())
    assert lut.vg_grid.numel() == 9  # the whole grid stays for interpolation
    assert float(lut.current(1e-5, 0.3, 0.65)) == pytest.approx(3e-6)


def test_neat_fit_keeps_the_list(tmp_path: Path) -> None:
    path = _lut(tmp_path / "fit.h5", _store(OFFERED))
    result = CliRunner().invoke(cli, ["fit", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert CellLUT.load(path).offered_gates == tuple(OFFERED.tolist())


TAMPERED: dict[str, tuple[Callable[[h5py.File], None], str]] = {
    "float32": (_store(OFFERED.astype(np.float32)), "expected float64"),
    "int64": (_store(np.array([1, 2])), "expected float64"),
    "strings": (_store(["0.7", "0.8"], dtype=h5py.string_dtype()), "expected float64"),
    "a group": (lambda f: f.create_group("grid/v_gate_offered"), "is not a dataset"),
    "2-D": (_store(OFFERED.reshape(2, 2)), "must be a 1-D list of 1 to 9"),
    "empty": (_store(np.zeros(0)), "must be a 1-D list of 1 to 9"),
    "scalar": (_store(0.7), "must be a 1-D list of 1 to 9"),
    "longer than the grid": (_store(np.linspace(0.6, 1.0, 10)), "1-D list of 1 to 9"),
    "NaN": (_store(np.array([0.7, np.nan])), "NaN or inf"),
    "inf": (_store(np.array([0.7, np.inf])), "NaN or inf"),
    "off the grid": (_store(np.array([0.7, 0.73])), "0.73 V, not a value of grid/v_gate"),
    "below the grid": (_store(np.array([0.5, 0.7])), "0.5 V, not a value of grid/v_gate"),
    "above the grid": (_store(np.array([0.7, 1.2])), "1.2 V, not a value of grid/v_gate"),
    "unsorted": (_store(OFFERED[::-1].copy()), "strictly increasing"),
    "repeated": (_store(np.array([0.7, 0.8, 0.8])), "strictly increasing"),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_list_is_refused_in_one_line(tmp_path: Path, case: str) -> None:
    tamper, message = TAMPERED[case]
    path = _lut(tmp_path / "tampered.h5", tamper)
    with pytest.raises(LUTError) as caught:
        read_lut(path)
    text = str(caught.value)
    assert message in text and "grid/v_gate_offered" in text and str(path) in text
    assert "\n" not in text
    with pytest.raises(LUTError, match="v_gate_offered"):
        CellLUT.load(path)


def test_a_tampered_list_stops_neat_fit_with_exit_2(tmp_path: Path) -> None:
    path = _lut(tmp_path / "tampered.h5", TAMPERED["off the grid"][0])
    result = CliRunner().invoke(cli, ["fit", str(path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "grid/v_gate_offered" in lines[0], result.output


@pytest.mark.parametrize(
    "offered",
    [[], [0.73], [0.8, 0.7], [0.7, 0.7], [float("nan")], [[0.7, 0.8]]],
    ids=["empty", "off-grid", "unsorted", "repeated", "nan", "2-D"],
)
def test_cell_lut_refuses_offered_gates_off_its_grid(offered: list[float]) -> None:
    g, v = np.linspace(1e-6, 1e-5, 3), np.linspace(0.0, 0.5, 3)
    table = np.zeros((3, 3, GRID.size))
    with pytest.raises(LUTError, match="offered gate voltages"):
        CellLUT(g, v, GRID, table, offered_gates=offered)
    lut = CellLUT(g, v, GRID, table, offered_gates=[0.7 + 1e-10, 1.0])
    assert lut.offered_gates == (GRID[2], GRID[8])
