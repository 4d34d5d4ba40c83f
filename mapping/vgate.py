"""Gate-voltage selection per layer (heterogeneous gate control).

Both selections choose among the LUT's *offered* gate voltages (:attr:`CellLUT.offered_gates`:
the file's ``grid/v_gate_offered``, else every grid value), not the whole gate grid: a LUT may
hold a grid finer than the choices it offers, for accurate interpolation only.

- data-free (the paper's Algorithm 1): per layer, the lowest offered V_gate whose linear-region
  bound covers the layer's weights at a given coverage;
- data-driven: lower each layer's V_gate greedily, one offered value at a time, while the accuracy
  measured by a callback stays within a budget of the accuracy with every layer at the baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from neatxbar.core.checks import check_number
from neatxbar.core.errors import ConfigError
from neatxbar.lut.errors import LUTError
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping.config import check_v_gate


def _offered(lut: CellLUT, lowest: float | None, highest: float | None) -> list[float]:
    """The LUT's offered gate voltages (V, increasing) in [lowest, highest] (each bound
    optional)."""
    lowest = None if lowest is None else check_v_gate("lowest V_gate", lowest)
    highest = None if highest is None else check_v_gate("highest V_gate", highest)
    return [
        v
        for v in lut.offered_gates
        if (lowest is None or v >= lowest - 1e-9) and (highest is None or v <= highest + 1e-9)
    ]


def _listed(values: tuple[float, ...]) -> str:
    return ", ".join(f"{v:.3g}" for v in values)


def data_free(
    weights: Mapping[str, torch.Tensor],
    scales: Mapping[str, float],
    lut: CellLUT,
    coverage: float = 0.995,
    highest: float | None = None,
) -> dict[str, float]:
    """Lowest offered V_gate per layer whose bound w_max * scale covers ``coverage`` of its |w|.

    ``weights``: the layers' weights by name; ``scales``: the weight that maps to G_max per layer
    (max |w| before NEAT). A layer that no offered gate voltage (up to ``highest``, V) covers
    gets the highest one.

    Raises
    ------
    LUTError
        The LUT has no linear region, or offers no gate voltage <= ``highest``.
    """
    check_number("coverage", coverage, positive=True, high=1.0)
    if lut.w_max is None:
        raise LUTError(f"{lut.path}: the LUT has no linear_region; run 'neat fit' on it")
    offered = _offered(lut, None, highest)
    if not offered:
        raise LUTError(
            f"{lut.path}: no offered gate voltage is <= {highest} V "
            f"(offered: {_listed(lut.offered_gates)} V)"
        )
    chosen = {}
    for name, weight in weights.items():
        need = float(torch.quantile(weight.detach().abs().flatten().float(), coverage))
        need /= scales[name]
        fits = [v for v in offered if float(lut.w_max[lut.gate_index(v)]) >= need - 1e-12]
        chosen[name] = fits[0] if fits else offered[-1]
    return chosen


def data_driven(
    layers: list[str],
    lut: CellLUT,
    accuracy: Callable[[dict[str, float]], float],
    baseline: float = 1.0,
    budget: float = 0.005,
    lowest: float | None = None,
) -> tuple[dict[str, float], float, float]:
    """Lower each layer's V_gate in turn, one offered gate voltage at a time, while
    ``accuracy(gates) >= accuracy(all at baseline) - budget``.

    Returns (gates, baseline accuracy, final accuracy). ``baseline`` (V) must lie on the LUT's
    gate grid (it need not be offered); each layer tries the offered gate voltages below it, down
    to ``lowest`` (V). ``budget`` is a fraction (0.005 = 0.5 points); ``accuracy`` evaluates the
    crossbar model with the given V_gate per layer.

    Raises
    ------
    LUTError
        ``baseline`` is not on the gate grid.
    ConfigError
        ``lowest`` is above ``baseline``.
    """
    baseline = check_v_gate("baseline V_gate", baseline)
    check_number("budget", budget, nonnegative=True, high=1.0)
    try:
        lut.gate_index(baseline)
    except LUTError:
        raise LUTError(f"baseline V_gate {baseline} V is not on the LUT's gate grid") from None
    if lowest is not None and check_v_gate("lowest V_gate", lowest) > baseline + 1e-9:
        raise ConfigError(f"lowest V_gate {lowest} V is above the baseline {baseline} V")
    below = [v for v in _offered(lut, lowest, baseline) if v < baseline - 1e-9]
    gates = dict.fromkeys(layers, baseline)
    reference = accuracy(gates)
    current = reference
    for name in layers:
        for v in reversed(below):
            trial = {**gates, name: v}
            score = accuracy(trial)
            if score < reference - budget:
                break
            gates, current = trial, score
    return gates, reference, current
