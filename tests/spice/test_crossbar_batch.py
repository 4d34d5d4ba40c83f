"""Many input vectors through one crossbar in one ngspice DC sweep, against real ngspice."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neatxbar.spice import (
    Transistor,
    Wires,
    crossbar_column_currents,
    crossbar_column_currents_batch,
    render_crossbar_batch,
)

G_ON = 1.0 / 30e3
G_OFF = 1.0 / 300e3


def test_resistive_crossbar_batch_is_a_matrix_product() -> None:
    rng = np.random.default_rng(11)
    g = rng.uniform(G_OFF, G_ON, size=(8, 6))
    v = rng.uniform(0.0, 0.5, size=(5, 8))
    columns = crossbar_column_currents_batch(g, v, 1.0, transistor=None)
    assert columns.shape == (5, 6)
    np.testing.assert_allclose(columns, v @ g, rtol=1e-9)


def test_one_vector_batch_matches_the_operating_point() -> None:
    rng = np.random.default_rng(12)
    g = rng.uniform(G_OFF, G_ON, size=(4, 3))
    v = rng.uniform(0.0, 0.5, size=(1, 4))
    columns = crossbar_column_currents_batch(g, v, 1.0, transistor=None)
    assert columns.shape == (1, 3)
    np.testing.assert_allclose(columns[0], g.T @ v[0], rtol=1e-9)


def test_bsim4_crossbar_batch_matches_one_operating_point_per_vector() -> None:
    rng = np.random.default_rng(13)
    g = rng.uniform(G_OFF, G_ON, size=(8, 8))
    v = rng.uniform(0.0, 0.5, size=(4, 8))
    wires = Wires(2.5, 2.5, 0.0, 0.0)
    batch = crossbar_column_currents_batch(g, v, 1.0, Transistor(), wires=wires)
    single = np.stack([crossbar_column_currents(g, x, 1.0, Transistor(), wires) for x in v])
    assert batch.shape == (4, 8)
    assert np.all(batch > 0)
    # Both are Newton solutions within ngspice's tolerances, reached from different starts.
    np.testing.assert_allclose(batch, single, rtol=1e-6)


def test_batch_probes_and_index_sweep() -> None:
    netlist = render_crossbar_batch(np.full((3, 2), 1e-5), np.zeros((7, 3)), 1.0, Transistor())
    assert netlist.probes == ("vc0", "vc1")
    assert ".dc vidx 0 6.5 1" in netlist.text
    assert "brow2 r2 0 V = pwl(V(idx)," in netlist.text
    assert netlist.text.rstrip().endswith(".end")


@pytest.mark.parametrize(
    ("g_shape", "v_shape"),
    [
        ((3, 2), (3,)),  # one vector, not a batch
        ((3, 2), (4, 2)),  # one voltage per column instead of per row
        ((3, 2), (0, 3)),  # no vectors
        ((3, 2), (2, 3, 1)),
        ((6,), (2, 6)),  # conductances not a matrix
    ],
)
def test_batch_shapes_are_value_errors(g_shape: tuple, v_shape: tuple) -> None:
    name = "v_in" if len(g_shape) == 2 else "g_siemens"
    with pytest.raises(ValueError, match=name):
        render_crossbar_batch(np.full(g_shape, 1e-5), np.zeros(v_shape), 1.0, None)
    with pytest.raises(ValueError, match=name):
        crossbar_column_currents_batch(np.full(g_shape, 1e-5), np.zeros(v_shape), 1.0, None)


@pytest.mark.parametrize(
    ("g", "v", "v_gate", "name"),
    [
        (-1e-5, 0.1, 1.0, "conductance"),
        (1e-5, math.nan, 1.0, r"v_in\[1, 2\]"),
        (1e-5, 0.1, math.inf, "v_gate"),
    ],
)
def test_batch_numbers_are_checked(g: float, v: float, v_gate: float, name: str) -> None:
    conductances = np.full((3, 2), 1e-5)
    conductances[1, 1] = g
    voltages = np.full((2, 3), 0.1)
    voltages[1, 2] = v
    with pytest.raises(ValueError, match=name):
        render_crossbar_batch(conductances, voltages, v_gate, Transistor())
