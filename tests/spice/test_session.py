"""The SPICE layer against real ngspice (no mocks)."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from nodal_reference import nodal_reference

from neatxbar.spice import (
    SpiceConvergenceError,
    SpiceError,
    Transistor,
    Wires,
    cell_current,
    crossbar_column_currents,
    ngspice_version,
    session,
    sweep_cells,
)

G_ON = 1.0 / 30e3
G_OFF = 1.0 / 300e3


@pytest.mark.parametrize("g", [G_OFF, 1e-5, G_ON])
@pytest.mark.parametrize("v_in", [0.01, 0.25, 0.5])
def test_shorted_transistor_gives_ohms_law(g: float, v_in: float) -> None:
    current = cell_current(g, v_in, 1.0, transistor=None)
    assert current == pytest.approx(g * v_in, rel=1e-9)


@pytest.mark.parametrize("model", ["nmos45_bsim4", "nmos_level1"])
def test_transistor_cell_is_sublinear_and_monotone_in_gate_voltage(model: str) -> None:
    v_gate = np.round(np.arange(0.7, 1.3001, 0.05), 10)
    v_in = np.array([0.1, 0.3, 0.5])
    g = np.array([G_OFF, G_ON])
    currents = sweep_cells(g, v_in, v_gate, Transistor(model=model))
    ideal = g[:, None, None] * v_in[None, :, None]
    assert np.all(currents > 0)
    assert np.all(currents < ideal)
    # More gate drive, more current: strictly increasing along V_gate.
    assert np.all(np.diff(currents, axis=2) > 0)
    # The shortfall is worse at high G and low V_gate.
    shortfall = 1 - currents / ideal
    assert np.all(shortfall[1] > shortfall[0])
    assert np.all(shortfall[:, :, 0] > shortfall[:, :, -1])


def test_sweep_matches_single_operating_points() -> None:
    g = np.array([G_OFF, 1.2e-5, G_ON])
    v_in = np.linspace(0.0, 0.5, 6)
    v_gate = np.array([0.8, 1.0, 1.2])
    table = sweep_cells(g, v_in, v_gate, Transistor())
    assert table.shape == (3, 6, 3)
    for k, j, m in [(0, 1, 0), (1, 3, 1), (2, 5, 2), (2, 2, 0)]:
        single = cell_current(g[k], v_in[j], v_gate[m], Transistor())
        # Both are Newton solutions within ngspice's tolerances, reached from different starts.
        assert table[k, j, m] == pytest.approx(single, rel=1e-6)


def test_resistive_crossbar_is_a_matrix_vector_product() -> None:
    rng = np.random.default_rng(1)
    g = rng.uniform(G_OFF, G_ON, size=(8, 8))
    v = rng.uniform(0.0, 0.5, size=8)
    columns = crossbar_column_currents(g, v, 1.0, transistor=None)
    np.testing.assert_allclose(columns, g.T @ v, rtol=1e-9)


def test_crossbar_wire_topology_matches_a_nodal_solve() -> None:
    rng = np.random.default_rng(2)
    g = rng.uniform(G_OFF, G_ON, size=(4, 3))
    v = rng.uniform(0.1, 0.5, size=4)
    wires = Wires(r_row=500.0, r_col=700.0, r_driver=300.0, r_sense=200.0)
    columns = crossbar_column_currents(g, v, 1.0, transistor=None, wires=wires)
    np.testing.assert_allclose(columns, nodal_reference(g, v, wires), rtol=1e-9)
    assert np.all(columns < g.T @ v)  # IR drop only takes current away


def test_transistor_crossbar_with_wires_runs_and_loses_current() -> None:
    rng = np.random.default_rng(3)
    g = rng.uniform(G_OFF, G_ON, size=(4, 4))
    v = rng.uniform(0.1, 0.5, size=4)
    ideal_wires = crossbar_column_currents(g, v, 1.0, Transistor())
    with_wires = crossbar_column_currents(g, v, 1.0, Transistor(), Wires(5.0, 5.0, 5.0, 5.0))
    assert np.all(with_wires < ideal_wires)
    assert np.all(ideal_wires < g.T @ v)


def test_syntax_error_raises_with_ngspices_message_and_session_recovers() -> None:
    bad = "* bad\nv1 a 0 DC 1\nr1 a 0 1k 2k 3k\n.op\n.end\n"
    with pytest.raises(SpiceError, match=r"unknown parameter \(3k\)") as caught:
        session().run(bad)
    assert "line 3" in caught.value.ngspice_message
    # The failed netlist leaves nothing behind: the next run is clean.
    assert cell_current(G_ON, 0.3, 1.0, None) == pytest.approx(G_ON * 0.3, rel=1e-9)


def test_netlist_without_end_is_refused() -> None:
    with pytest.raises(SpiceError, match=r"\.end"):
        session().run("* no end\nv1 a 0 DC 1\nr1 a 0 1k\n.op\n")


def test_non_convergence_raises_convergence_error() -> None:
    # Two ideal sources in parallel with different voltages: no solution exists.
    loop = "* loop\nv1 a 0 DC 1\nv2 a 0 DC 2\nr1 a 0 1k\n.op\n.end\n"
    with pytest.raises(SpiceConvergenceError, match="did not converge"):
        session().run(loop)


def test_ngspice_version_is_reported() -> None:
    assert ngspice_version().split(".")[0].isdigit()


def test_two_worker_processes_give_bit_identical_results() -> None:
    g = np.linspace(G_OFF, G_ON, 8)
    v_in = np.linspace(0.0, 0.5, 11)
    v_gate = np.linspace(0.7, 1.3, 13)
    chunks = [g[:4], g[4:]]
    in_process = [sweep_cells(chunk, v_in, v_gate, Transistor()) for chunk in chunks]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        futures = [pool.submit(sweep_cells, c, v_in, v_gate, Transistor()) for c in chunks]
        in_workers = [f.result() for f in futures]
    for ours, theirs in zip(in_process, in_workers, strict=True):
        assert np.array_equal(ours, theirs)


def _simulate_after_fork(queue: multiprocessing.Queue) -> None:
    try:
        cell_current(G_ON, 0.3, 1.0, None)
        queue.put("no error")
    except SpiceError as error:
        queue.put(str(error))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method is Linux-specific here")
def test_forked_child_is_told_to_use_spawn() -> None:
    session()  # make sure this process owns an ngspice
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_simulate_after_fork, args=(queue,))
    child.start()
    message = queue.get(timeout=30)
    child.join(timeout=30)
    assert "spawn" in message


def test_missing_ngspice_library_says_how_to_install() -> None:
    code = (
        "from neatxbar.spice import session, NgspiceNotFoundError\n"
        "try:\n    session()\nexcept NgspiceNotFoundError as e:\n    print(e)\n"
    )
    env = os.environ | {"NGSPICE_LIBRARY_PATH": "/nonexistent/libngspice.so.0"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert "apt-get install ngspice libngspice0" in out.stdout
