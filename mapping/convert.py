"""``convert``: a model's crossbar twin, every Linear and Conv2d replaced by its crossbar layer."""

from __future__ import annotations

import copy
from collections.abc import Mapping

from torch import nn

from neatxbar.lut.interp import CellLUT
from neatxbar.mapping.config import MappingConfig
from neatxbar.mapping.layers import CrossbarConv2d, CrossbarLinear, _CrossbarMapping

#: Layers with weights that have no crossbar twin yet: converting a model with one is an error.
UNSUPPORTED = (nn.Conv1d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d,
               nn.Bilinear, nn.Embedding)  # fmt: skip


def _gate_voltages(
    model: nn.Module, v_gate: float | Mapping[str, float] | None, default: float
) -> dict[str, float]:
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    if v_gate is None or isinstance(v_gate, int | float):
        value = default if v_gate is None else float(v_gate)
        return dict.fromkeys(names, value)
    unknown = sorted(set(v_gate) - set(names) - {"default"})
    if unknown:
        raise ValueError(
            f"v_gate names layers the model does not have: {', '.join(unknown)}; "
            f"its crossbar layers are {', '.join(names)}"
        )
    fallback = float(v_gate.get("default", default))
    return {name: float(v_gate.get(name, fallback)) for name in names}


def convert(
    model: nn.Module,
    lut: CellLUT,
    config: MappingConfig | None = None,
    v_gate: float | Mapping[str, float] | None = None,
    weight_scales: Mapping[str, float] | None = None,
) -> nn.Module:
    """A deep copy of ``model`` with every ``nn.Linear`` and ``nn.Conv2d`` on crossbars.

    Parameters
    ----------
    model
        The model; it stays untouched.
    lut
        The cell LUT.
    config
        The mapping (default :class:`MappingConfig()`).
    v_gate
        Gate voltage (V) of every layer, or a mapping from layer name (as in
        ``model.named_modules()``) to V_gate, with an optional ``"default"``; unset: the
        config's ``v_gate``.
    weight_scales
        Fixed weight scale per layer name (the weight that maps to G_max); NEAT passes the
        scales its bounds refer to. Layers not named use the config's rule.

    Raises
    ------
    ValueError
        A layer that cannot be mapped (named), or a V_gate mapping naming unknown layers.
    LUTError
        A gate voltage that is not on the LUT's gate grid.
    """
    config = (config or MappingConfig()).validate()
    for name, module in model.named_modules():
        if isinstance(module, UNSUPPORTED):
            raise ValueError(f"layer {name!r} ({type(module).__name__}) cannot be mapped onto "
                             "crossbars yet: only Linear and Conv2d")  # fmt: skip
    gates = _gate_voltages(model, v_gate, config.v_gate)
    scales = dict(weight_scales or {})
    unknown = sorted(set(scales) - set(gates))
    if unknown:
        raise ValueError(
            f"weight_scales names layers the model does not have: {', '.join(unknown)}"
        )
    twin = copy.deepcopy(model)
    for name, module in list(twin.named_modules()):
        if name not in gates:
            continue
        try:
            kind = CrossbarLinear if isinstance(module, nn.Linear) else CrossbarConv2d
            replacement = kind(module, lut, config, gates[name], scales.get(name))
        except ValueError as error:
            raise type(error)(f"layer {name!r}: {error}") from None
        replacement.train(module.training)
        _set_submodule(twin, name, replacement)
    return twin


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    if not name:
        raise ValueError("the model itself is a Linear or Conv2d: wrap it in a container")
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def crossbar_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The layers that go onto crossbars, by name: every Linear and Conv2d or crossbar twin."""
    kinds = (nn.Linear, nn.Conv2d, _CrossbarMapping)
    return {name: m for name, m in model.named_modules() if isinstance(m, kinds)}


def describe(model: nn.Module) -> list[dict[str, object]]:
    """One row per crossbar layer: name, kind, V_gate, path, and the fast path's K and error."""
    rows = []
    for name, module in model.named_modules():
        if isinstance(module, _CrossbarMapping):
            form = module.form
            rows.append({
                "layer": name,
                "kind": type(module).__name__,
                "v_gate": module.v_gate,
                "path": module.config.path,
                "rank": form.rank,
                "degree": form.degree,
                "fast_error": form.error,
                "w_scale": module.w_scale,
            })  # fmt: skip
    return rows
