"""Gate-voltage selection per layer (heterogeneous gate control).

- data-free (the paper's Algorithm 1): per layer, the lowest V_gate of the LUT's grid whose
  linear-region bound covers the layer's weights at a given coverage;
- data-driven: lower each layer's V_gate greedily while the accuracy measured by a callback stays
  within a budget of the accuracy with every layer at the baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from neatxbar.core.checks import check_number
from neatxbar.lut.errors import LUTError
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping.config import check_v_gate


def _grid(lut: CellLUT, lowest: float | None, highest: float | None) -> list[float]:
    lowest = None if lowest is None else check_v_gate("lowest V_gate", lowest)
    highest = None if highest is None else check_v_gate("highest V_gate", highest)
    values = [float(v) for v in lut.vg_grid]
    return [
        v
        for v in values
        if (lowest is None or v >= lowest - 1e-9) and (highest is None or v <= highest + 1e-9)
    ]


def data_free(
    weights: Mapping[str, torch.Tensor],
    scales: Mapping[str, float],
    lut: CellLUT,
    coverage: float = 0.995,
    highest: float | None = None,
) -> dict[str, float]:
    """Lowest grid V_gate per layer whose bound w_max * scale covers ``coverage`` of its |w|.

    ``weights``: the layers' weights by name; ``scales``: the weight that maps to G_max per layer
    (max |w| before NEAT). A layer that no grid gate voltage covers gets the highest one (or
    ``highest``).
    """
    check_number("coverage", coverage, positive=True, high=1.0)
    if lut.w_max is None:
        raise LUTError(f"{lut.path}: the LUT has no linear_region; run 'neat fit' on it")
    grid = _grid(lut, None, highest)
    chosen = {}
    for name, weight in weights.items():
        need = float(torch.quantile(weight.detach().abs().flatten().float(), coverage))
        need /= scales[name]
        fits = [v for v in grid if float(lut.w_max[lut.gate_index(v)]) >= need - 1e-12]
        chosen[name] = fits[0] if fits else grid[-1]
    return chosen


def data_driven(
    layers: list[str],
    lut: CellLUT,
    accuracy: Callable[[dict[str, float]], float],
    baseline: float = 1.0,
    budget: float = 0.005,
    lowest: float | None = None,
) -> tuple[dict[str, float], float, float]:
    """Lower each layer's V_gate in turn, one grid step at a time, while
    ``accuracy(gates) >= accuracy(all at baseline) - budget``.

    Returns (gates, baseline accuracy, final accuracy). ``budget`` is a fraction (0.005 = 0.5
    points); ``accuracy`` evaluates the crossbar model with the given V_gate per layer.
    """
    baseline = check_v_gate("baseline V_gate", baseline)
    check_number("budget", budget, nonnegative=True, high=1.0)
    grid = _grid(lut, lowest, baseline)
    if not grid or abs(grid[-1] - baseline) > 1e-9:
        raise LUTError(f"baseline V_gate {baseline} V is not on the LUT's gate grid")
    gates = dict.fromkeys(layers, baseline)
    reference = accuracy(gates)
    current = reference
    for name in layers:
        for v in reversed(grid[:-1]):
            trial = {**gates, name: v}
            score = accuracy(trial)
            if score < reference - budget:
                break
            gates, current = trial, score
    return gates, reference, current
