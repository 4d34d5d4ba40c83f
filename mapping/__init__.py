"""Crossbar emulation backed by the cell LUT: mapping, tiles, crossbar layers, model conversion.

Typical use::

    from neatxbar.lut import CellLUT
    from neatxbar.mapping import MappingConfig, convert

    lut = CellLUT.load("luts/paper.h5")
    crossbar_model = convert(model, lut, MappingConfig(v_gate=0.8))
"""

from __future__ import annotations

from neatxbar.mapping.config import MappingConfig
from neatxbar.mapping.convert import convert, describe
from neatxbar.mapping.crossbar import Crossbar
from neatxbar.mapping.layers import CrossbarConv2d, CrossbarLinear

__all__ = ["Crossbar", "CrossbarConv2d", "CrossbarLinear", "MappingConfig", "convert", "describe"]
