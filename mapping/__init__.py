"""Crossbar emulation backed by the cell LUT: mapping, tiles, crossbar layers, model conversion.

Typical use::

    from neatxbar.lut import CellLUT
    from neatxbar.mapping import MappingConfig, convert

    lut = CellLUT.load("luts/paper.h5")
    crossbar_model = convert(model, lut, MappingConfig(v_gate=0.8))

Wire resistance is :class:`~neatxbar.spice.params.Wires` (re-exported here), gate voltages per
layer follow :func:`~neatxbar.mapping.gates.resolve_gate_voltages`, and ``convert`` takes a
``conversion_map`` (default :data:`DEFAULT_CONVERSION_MAP`) for layer types of your own.
Device variation, faults, read noise and transistor mismatch are ``MappingConfig(variation=
Variation(...))``; a chip is a seed: ``set_chip(twin, seed)``, ``for seed in chips(twin, seeds)``.
"""

from __future__ import annotations

from neatxbar.mapping.circuit import CircuitConfig, CircuitConvergenceError, solve
from neatxbar.mapping.config import MappingConfig, Variation
from neatxbar.mapping.convert import (
    DEFAULT_CONVERSION_MAP,
    chips,
    convert,
    crossbar_layers,
    describe,
    set_chip,
)
from neatxbar.mapping.crossbar import Crossbar
from neatxbar.mapping.errors import MappingError
from neatxbar.mapping.gates import load_gate_file, resolve_gate_voltages
from neatxbar.mapping.layers import CrossbarConv2d, CrossbarLinear
from neatxbar.spice.params import Wires

__all__ = [
    "DEFAULT_CONVERSION_MAP",
    "CircuitConfig",
    "CircuitConvergenceError",
    "Crossbar",
    "CrossbarConv2d",
    "CrossbarLinear",
    "MappingConfig",
    "MappingError",
    "Variation",
    "Wires",
    "chips",
    "convert",
    "crossbar_layers",
    "describe",
    "load_gate_file",
    "resolve_gate_voltages",
    "set_chip",
    "solve",
]
