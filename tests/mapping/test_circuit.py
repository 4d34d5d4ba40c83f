"""The crossbar circuit with wire resistance: against the per-cell path, a nodal solve, ngspice."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lut_factory import ideal, write_lut
from nodal_reference import nodal_reference

from neatxbar.characterize.spec import load_preset
from neatxbar.core.errors import ConfigError, NeatError
from neatxbar.lut import CellLUT
from neatxbar.mapping import Crossbar
from neatxbar.mapping.circuit import (
    CircuitConfig,
    CircuitConvergenceError,
    extended_cell_current,
    solve,
)
from neatxbar.mapping.errors import MappingError
from neatxbar.spice import crossbar_column_currents_batch
from neatxbar.spice.params import Wires

SPICE_OPTIONS = {"reltol": 1e-6, "vntol": 1e-9}


@pytest.fixture(scope="module")
def ideal_lut(tmp_path_factory: pytest.TempPathFactory) -> CellLUT:
    return CellLUT.load(write_lut(tmp_path_factory.mktemp("luts") / "ideal.h5", ideal))


def _random(lut: CellLUT, rows: int, cols: int, n: int, seed: int) -> tuple:
    gen = torch.Generator().manual_seed(seed)
    span = lut.g_on_s - lut.g_min_s
    g = lut.g_min_s + span * torch.rand(rows, cols, generator=gen, dtype=torch.float64)
    v = lut.v_max * torch.rand(n, rows, generator=gen, dtype=torch.float64)
    return g, v


def test_zero_wire_resistance_equals_the_per_cell_path(lut: CellLUT) -> None:
    g, v = _random(lut, 8, 8, 5, seed=1)
    solution = solve(lut, g, v, 1.0, CircuitConfig())
    exact = Crossbar(lut, 1.0, 8, 8, path="exact").column_currents(g, v)
    torch.testing.assert_close(solution.column_currents, exact, rtol=1e-6, atol=0)
    assert solution.column_currents.shape == (5, 8)
    assert solution.row_voltages.shape == solution.column_voltages.shape == (5, 8, 8)


def test_linear_cells_with_wires_equal_a_nodal_solve(ideal_lut: CellLUT) -> None:
    rng = np.random.default_rng(2)
    g = rng.uniform(ideal_lut.g_min_s, ideal_lut.g_on_s, size=(4, 3))
    v = rng.uniform(0.1, 0.5, size=(3, 4))
    wires = Wires(r_row=500.0, r_col=700.0, r_driver=300.0, r_sense=200.0)
    config = CircuitConfig(Wires(r_row=500.0, r_col=700.0, r_driver=300.0, r_sense=200.0))
    solution = solve(ideal_lut, torch.tensor(g), torch.tensor(v), 1.0, config)
    reference = np.stack([nodal_reference(g, x, wires) for x in v])
    np.testing.assert_allclose(solution.column_currents.numpy(), reference, rtol=1e-6)
    # the sense resistor carries the column current
    sense = solution.column_voltages[:, -1, :].numpy() / 200.0
    np.testing.assert_allclose(sense, reference, rtol=1e-6)
    assert np.all(reference < v @ g)  # the drop is visible


def test_tiles_and_vectors_are_solved_together(ideal_lut: CellLUT) -> None:
    g, v = _random(ideal_lut, 4, 3, 2, seed=3)
    g2 = torch.stack([g, g.flip(0)])
    config = CircuitConfig(Wires(r_row=100.0, r_col=100.0, r_driver=50.0, r_sense=0.0))
    together = solve(ideal_lut, g2, v, 1.0, config).column_currents
    assert together.shape == (2, 2, 3)
    for t in range(2):
        alone = solve(ideal_lut, g2[t], v, 1.0, config).column_currents
        torch.testing.assert_close(together[t], alone, rtol=1e-9, atol=0)


def test_matches_ngspice_with_wires_better_than_the_per_cell_path(lut: CellLUT) -> None:
    g, v = _random(lut, 16, 16, 3, seed=4)
    transistor = load_preset("paper")[0].cell_transistor()
    wired = crossbar_column_currents_batch(
        g.numpy(), v.numpy(), 1.0, transistor, Wires(r_row=5.0, r_col=5.0), options=SPICE_OPTIONS
    )
    solution = solve(lut, g, v, 1.0, CircuitConfig(Wires(r_row=5.0, r_col=5.0)))
    circuit_error = np.abs(solution.column_currents.numpy() / wired - 1).max()
    per_cell = Crossbar(lut, 1.0, 16, 16, path="exact").column_currents(g, v).numpy()
    per_cell_error = np.abs(per_cell / wired - 1).max()
    print(
        f"16x16, 5-ohm segments, V_gate 1.0 V: circuit error {circuit_error:.2e}, "
        f"per-cell (no wires) error {per_cell_error:.2e}, {solution.iterations} iterations"
    )
    assert circuit_error <= 3e-3
    assert per_cell_error > 3 * circuit_error


def test_gradients_match_finite_differences_of_the_full_solve(lut: CellLUT) -> None:
    g, v = _random(lut, 3, 2, 2, seed=5)
    v = 0.1 + 0.8 * v  # away from 0 V, where the cell's odd extension has a kink
    wires = Wires(r_row=50.0, r_col=80.0, r_driver=30.0, r_sense=20.0)
    config = CircuitConfig(wires, tolerance_v=1e-15)
    scale = 1e-5  # g in units of 10 uS, currents in uA: entries of order 1

    def currents(g_scaled: torch.Tensor, v_in: torch.Tensor) -> torch.Tensor:
        return solve(lut, g_scaled * scale, v_in, 1.0, config).column_currents * 1e6

    inputs = ((g / scale).requires_grad_(), v.clone().requires_grad_())
    assert torch.autograd.gradcheck(currents, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_extended_cell_current_is_odd_and_extrapolates_below_the_gate_grid(lut: CellLUT) -> None:
    g = torch.tensor(2e-5, dtype=torch.float64)
    v = torch.tensor(0.2, dtype=torch.float64)
    lowest, second = (float(x) for x in lut.vg_grid[:2])
    on_grid = lut.current(g, v, lowest)
    assert extended_cell_current(lut, g, v, lowest) == pytest.approx(float(on_grid), rel=1e-12)
    assert extended_cell_current(lut, g, -v, lowest) == pytest.approx(-float(on_grid), rel=1e-12)
    slope = (lut.current(g, v, second) - on_grid) / (second - lowest)
    below = extended_cell_current(lut, g, v, lowest - 0.01)
    assert float(below) == pytest.approx(float(on_grid - 0.01 * slope), rel=1e-12)


def test_absurd_wires_raise_a_convergence_error(ideal_lut: CellLUT) -> None:
    g, v = _random(ideal_lut, 4, 4, 2, seed=6)
    config = CircuitConfig(Wires(r_row=500.0, r_col=500.0, r_driver=100.0), max_iterations=1)
    with pytest.raises(CircuitConvergenceError, match=r"1 iteration.*wire resistances"):
        solve(ideal_lut, g, v, 1.0, config)
    huge = CircuitConfig(Wires(r_row=1e9, r_col=1e9), max_iterations=30)
    with pytest.raises(CircuitConvergenceError, match="too large for the cell conductances"):
        solve(ideal_lut, g, v, 1.0, huge)
    # a user's wire choice: a toolkit error (one line in the CLI), still a RuntimeError
    assert issubclass(CircuitConvergenceError, NeatError)
    assert issubclass(CircuitConvergenceError, RuntimeError)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("r_row", -1.0),
        ("r_col", float("nan")),
        ("r_driver", -0.1),
        ("r_sense", float("inf")),
        ("tolerance_v", 0.0),
        ("max_iterations", 0),
        ("max_iterations", 2.5),
    ],
)
def test_bad_config_values_are_named(ideal_lut: CellLUT, field: str, value: float) -> None:
    wire = field.startswith("r_")
    config = CircuitConfig(Wires(**{field: value})) if wire else CircuitConfig(**{field: value})
    with pytest.raises(ConfigError, match=field):
        config.validate()
    g, v = _random(ideal_lut, 2, 2, 1, seed=7)
    with pytest.raises(ConfigError, match=field):
        solve(ideal_lut, g, v, 1.0, config)


def test_the_solver_takes_the_one_wire_type(ideal_lut: CellLUT) -> None:
    wires = Wires(r_row=2.0, r_col=3.0)
    assert CircuitConfig(wires).wires is wires and wires.any and not Wires().any
    with pytest.raises(ConfigError, match="Wires"):
        CircuitConfig(wires=(2.0, 3.0)).validate()  # type: ignore[arg-type]


def test_bad_shapes_raise_mapping_error(ideal_lut: CellLUT) -> None:
    g, v = _random(ideal_lut, 3, 2, 2, seed=8)
    with pytest.raises(MappingError, match="one per row"):
        solve(ideal_lut, g, v[:, :2], 1.0, CircuitConfig())
    with pytest.raises(MappingError, match="v must be"):
        solve(ideal_lut, g, v[0], 1.0, CircuitConfig())
