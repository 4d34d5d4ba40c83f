"""``convert``: a model's crossbar twin, each layer of the conversion map replaced by its crossbar
twin (by default every Linear and Conv2d)."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Iterator, Mapping

from torch import nn

from neatxbar.core.checks import check_integer
from neatxbar.core.errors import NeatError
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping.config import MappingConfig
from neatxbar.mapping.errors import MappingError
from neatxbar.mapping.gates import resolve_gate_voltages
from neatxbar.mapping.layers import (
    DEFAULT_CONVERSION_MAP,
    ConversionMap,
    TwinFactory,
    _CrossbarMapping,
    check_conversion_map,
    crossbar_layers,
    is_twin,
    twin_factory,
)

__all__ = [
    "DEFAULT_CONVERSION_MAP",
    "ConversionMap",
    "TwinFactory",
    "chips",
    "chips_kept",
    "convert",
    "crossbar_layers",
    "describe",
    "draws_chips",
    "set_chip",
]

#: Layers with weights that have no crossbar twin in the default map: converting a model with one
#: is an error unless the conversion map covers it.
UNSUPPORTED = (
    nn.Conv1d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.Bilinear,
    nn.Embedding,
)


def convert(
    model: nn.Module,
    lut: CellLUT,
    config: MappingConfig | None = None,
    v_gate: float | Mapping[str, float] | None = None,
    weight_scales: Mapping[str, float] | None = None,
    *,
    conversion_map: ConversionMap | None = None,
) -> nn.Module:
    """A deep copy of ``model`` with every layer of the conversion map on crossbars.

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
        ``model.named_modules()``) to V_gate, with an optional ``"default"``; layers it does not
        cover, and every layer when unset, get the config's ``v_gate`` (the rule:
        :func:`neatxbar.mapping.gates.resolve_gate_voltages`).
    weight_scales
        Fixed weight scale per layer name (the weight that maps to G_max); NEAT passes the
        scales its bounds refer to. Layers not named use the config's rule.
    conversion_map
        Layer type -> factory of its crossbar twin, like the ``conversion_map`` of aihwkit's
        ``convert_to_analog(module, rpu_config, tile_module_class=None, conversion_map=None,
        ...)`` (there a dict of layer class -> analog class with a ``from_digital(module,
        rpu_config, tile_module_class)`` class method, matched by exact class). Here a factory is
        called as ``factory(module, lut, config, v_gate, w_scale)`` and returns the twin (an
        ``nn.Module``; ``CrossbarLinear`` and ``CrossbarConv2d`` are such factories); a layer
        matches the first type in the map's order that it is an instance of, so list a subclass
        before its base. Types the model lacks are fine. The layers inside a matched layer are
        replaced with it. None: :data:`DEFAULT_CONVERSION_MAP` (``{nn.Linear: CrossbarLinear,
        nn.Conv2d: CrossbarConv2d}``); a map replaces it, so extend it explicitly:
        ``{MyLayer: my_twin, **DEFAULT_CONVERSION_MAP}``.

    Raises
    ------
    MappingError
        A layer that cannot be mapped (named), a model that already holds crossbar twins, a bad
        conversion map, a V_gate mapping naming unknown layers, weight scales for unknown layers.
    ConfigError
        A gate voltage that is not one (NaN, out of (0, 5] V), a bad config.
    LUTError
        A gate voltage that is not on the LUT's gate grid.
    """
    config = (config or MappingConfig()).validate()
    conversion_map = check_conversion_map(conversion_map)
    layers = crossbar_layers(model, conversion_map)
    if "" in layers:
        raise MappingError(
            f"the model itself is a layer to map ({type(model).__name__}): wrap it in a "
            "container (nn.Sequential(model))"
        )
    for name, module in layers.items():
        if is_twin(module, conversion_map):
            raise MappingError(
                f"layer {name!r} is already a crossbar twin ({type(module).__name__}); convert "
                "the original model"
            )
    for name, module in model.named_modules():
        inside = any(name == layer or name.startswith(layer + ".") for layer in layers)
        if isinstance(module, UNSUPPORTED) and not inside:
            raise MappingError(
                f"layer {name!r} ({type(module).__name__}) cannot be mapped onto crossbars: the "
                f"conversion map covers {', '.join(k.__name__ for k in conversion_map)}"
            )
    gates = resolve_gate_voltages(model, v_gate, config.v_gate, conversion_map=conversion_map)
    scales = dict(weight_scales or {})
    unknown = sorted(set(scales) - set(gates))
    if unknown:
        raise MappingError(
            f"weight_scales names layers the model does not have: {', '.join(unknown)}"
        )
    twin = copy.deepcopy(model)
    for index, (name, module) in enumerate(crossbar_layers(twin, conversion_map).items()):
        factory = twin_factory(module, conversion_map)
        try:
            replacement = factory(module, lut, config, gates[name], scales.get(name))
        except NeatError as error:
            raise _naming_layer(error, name) from None
        if not isinstance(replacement, nn.Module):
            raise MappingError(
                f"layer {name!r}: the conversion map's factory returned "
                f"{type(replacement).__name__}, not an nn.Module"
            )
        replacement.train(module.training)
        if isinstance(replacement, _CrossbarMapping):
            replacement.layer_index = index  # in module order: the chip's draws per layer
        _set_submodule(twin, name, replacement)
    return twin


def set_chip(model: nn.Module, seed: int) -> None:
    """Make ``model``'s crossbar twins one chip: every twin draws its programming errors, stuck
    cells and threshold shifts from ``seed`` (and its layer index) from now on.

    The draws are made at the next forward and kept while the seed and weights stay; the same
    seed gives the same chip. Without variation in the mapping config the seed changes nothing.

    Raises
    ------
    ConfigError
        A seed that is not an integer in [0, 2**63).
    """
    seed = check_integer("seed", seed, low=0, high=2**63 - 1)
    for module in model.modules():
        if isinstance(module, _CrossbarMapping):
            module.chip_seed = seed


def draws_chips(model: nn.Module) -> bool:
    """True when some crossbar twin of ``model`` draws a chip (its mapping has programming
    variation, stuck cells or mismatch): then :func:`set_chip` changes what it computes."""
    return any(
        isinstance(m, _CrossbarMapping) and m.config.variation.per_chip for m in model.modules()
    )


@contextlib.contextmanager
def chips_kept(model: nn.Module) -> Iterator[None]:
    """A block after which every crossbar twin of ``model`` is back on the chip it was on."""
    before = {m: m.chip_seed for m in model.modules() if isinstance(m, _CrossbarMapping)}
    try:
        yield
    finally:
        for module, seed in before.items():
            module.chip_seed = seed


def chips(model: nn.Module, seeds: Iterable[int]) -> Iterator[int]:
    """Iterate over chips: before yielding each seed of ``seeds``, make ``model`` that chip
    (:func:`set_chip`); afterwards every twin is back on the chip it was on.

    Example: ``[evaluate(twin, test_set) for _ in chips(twin, range(seed, seed + n))]``.
    """
    with chips_kept(model):
        for seed in seeds:
            set_chip(model, seed)
            yield seed


def _naming_layer(error: NeatError, name: str) -> NeatError:
    """The same kind of error with the layer's name in front of its message."""
    try:
        return type(error)(f"layer {name!r}: {error}")
    except TypeError:  # an error type whose constructor takes more than a message
        return MappingError(f"layer {name!r}: {error}")


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def describe(model: nn.Module) -> list[dict[str, object]]:
    """One row per crossbar layer: name, kind, V_gate, path, and the fast path's K and error."""
    rows = []
    for name, module in model.named_modules():
        if isinstance(module, _CrossbarMapping):
            form = module.cell_form  # with mismatch: the form over (delvto, G) x V
            rows.append(
                {
                    "layer": name,
                    "kind": type(module).__name__,
                    "v_gate": module.v_gate,
                    "path": module.config.path,
                    "rank": form.rank,
                    "degree": form.degree,
                    "fast_error": form.error,
                    "w_scale": module.w_scale,
                }
            )
    return rows
