"""Crossbar emulation backed by the cell LUT: mapping, tiles, crossbar layers, model conversion.

Typical use::

    from neatxbar.lut import CellLUT
    from neatxbar.mapping import MappingConfig, convert

    lut = CellLUT.load("luts/paper.h5")
    crossbar_model = convert(model, lut, MappingConfig(v_gate=0.8))
"""

from __future__ import annotations

from neatxbar.mapping.circuit import CircuitConfig, CircuitConvergenceError, solve
from neatxbar.mapping.config import MappingConfig, WireResistance
from neatxbar.mapping.convert import convert, describe
from neatxbar.mapping.crossbar import Crossbar
from neatxbar.mapping.layers import CrossbarConv2d, CrossbarLinear

__all__ = [
    "CircuitConfig",
    "CircuitConvergenceError",
    "Crossbar",
    "CrossbarConv2d",
    "CrossbarLinear",
    "MappingConfig",
    "WireResistance",
    "convert",
    "describe",
    "solve",
]
