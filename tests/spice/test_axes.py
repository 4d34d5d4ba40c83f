"""Per-cell threshold shifts (delvto) and the temperature in the netlists, against ngspice."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neatxbar.core.errors import ConfigError
from neatxbar.spice import (
    Transistor,
    Wires,
    cell_current,
    crossbar_column_currents,
    crossbar_column_currents_batch,
    render_cell,
    render_cell_sweep,
    render_crossbar,
    render_crossbar_batch,
)

G_ON, G_OFF = 1.0 / 30e3, 1.0 / 300e3
CELL = Transistor(w_m=4.729e-7, model_params=(("rdsw", 126.48), ("vth0", 0.75)))


def test_defaults_render_todays_netlists_byte_for_byte() -> None:
    g = np.full((3, 2), 2e-5)
    v = np.full((4, 3), 0.2)
    assert (
        render_crossbar(g, v[0], 1.0, CELL).text
        == render_crossbar(g, v[0], 1.0, CELL, delvto=np.zeros((3, 2)), temperature_c=None).text
    )
    plain = render_crossbar_batch(g, v, 1.0, CELL, Wires(r_row=1.0))
    assert "delvto" not in plain.text and "temp" not in plain.text
    assert plain.text == render_crossbar_batch(g, v, 1.0, CELL, Wires(r_row=1.0), delvto=None).text
    assert (
        render_cell(2e-5, 0.3, 1.0, CELL).text == render_cell(2e-5, 0.3, 1.0, CELL, delvto=0.0).text
    )


def test_shifts_and_the_temperature_are_written_per_cell_and_per_netlist() -> None:
    shifts = np.array([[0.0, 0.01], [-0.02, 0.0]])
    text = render_crossbar(
        np.full((2, 2), 2e-5), [0.1, 0.2], 1.0, CELL, delvto=shifts, temperature_c=85.0
    ).text
    mosfets = [line for line in text.splitlines() if line.startswith("m")]
    assert mosfets[0].endswith("L=4.5e-08") and mosfets[1].endswith("L=4.5e-08 delvto=0.01")
    assert mosfets[2].endswith("delvto=-0.02") and mosfets[3].endswith("L=4.5e-08")
    assert ".options temp=85.0" in text
    sweep = render_cell_sweep(
        [1e-5, 2e-5],
        [0.0, 0.5],
        [1.0],
        CELL,
        {"reltol": 1e-4},
        delvto=[0.005, 0.0],
        temperature_c=-40,
    )
    assert ".options reltol=0.0001 temp=-40.0" in sweep.text and "delvto=0.005" in sweep.text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delvto": np.full((2, 2), math.nan)}, "delvto of cell 0_0"),
        ({"delvto": np.full((2, 2), 1.5)}, "delvto of cell 0_0"),
        ({"delvto": np.zeros((2, 3))}, r"delvto must have shape \(2, 2\)"),
        ({"temperature_c": math.inf}, "temperature"),
        ({"temperature_c": 400.0}, "temperature"),
        ({"temperature_c": "85"}, "temperature"),
    ],
)
def test_bad_shifts_and_temperatures_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        render_crossbar(np.full((2, 2), 2e-5), [0.1, 0.2], 1.0, CELL, **kwargs)


def test_a_shift_needs_a_transistor() -> None:
    with pytest.raises(ConfigError, match="needs a transistor"):
        render_crossbar(np.full((2, 2), 2e-5), [0.1, 0.2], 1.0, None, delvto=np.full((2, 2), 0.01))
    # zero shifts on ideal switches are no shifts
    render_crossbar(np.full((2, 2), 2e-5), [0.1, 0.2], 1.0, None, delvto=np.zeros((2, 2)))


@pytest.mark.parametrize("temperature_c", [None, 85.0])
def test_a_crossbar_without_wires_sums_its_cells_each_with_its_shift(temperature_c) -> None:
    rng = np.random.default_rng(14)
    g = rng.uniform(G_OFF, G_ON, size=(4, 3))
    shifts = rng.normal(0.0, 0.01, size=(4, 3))
    v = rng.uniform(0.05, 0.5, size=(2, 4))
    batch = crossbar_column_currents_batch(
        g,
        v,
        0.8,
        CELL,
        delvto=shifts,
        temperature_c=temperature_c,
        options={"reltol": 1e-6, "vntol": 1e-9},
    )
    for k in range(2):
        cells = [
            [
                cell_current(
                    g[i, j],
                    v[k, i],
                    0.8,
                    CELL,
                    {"reltol": 1e-6, "vntol": 1e-9},
                    delvto=shifts[i, j],
                    temperature_c=temperature_c,
                )
                for j in range(3)
            ]
            for i in range(4)
        ]
        np.testing.assert_allclose(batch[k], np.sum(cells, axis=0), rtol=1e-6)
        single = crossbar_column_currents(
            g, v[k], 0.8, CELL, delvto=shifts, temperature_c=temperature_c
        )
        np.testing.assert_allclose(single, batch[k], rtol=1e-5)
    # the shifts matter: without them the columns differ by far more than the tolerance
    plain = crossbar_column_currents_batch(g, v, 0.8, CELL, temperature_c=temperature_c)
    assert np.max(np.abs(plain - batch) / batch) > 1e-3


def test_heat_changes_the_cell_current() -> None:
    cold = cell_current(3e-5, 0.4, 1.0, CELL, temperature_c=27.0)
    assert cold == cell_current(3e-5, 0.4, 1.0, CELL)  # ngspice's default is 27 degC
    hot = cell_current(3e-5, 0.4, 1.0, CELL, temperature_c=85.0)
    assert hot < cold * (1 - 1e-3)  # mobility falls with heat
