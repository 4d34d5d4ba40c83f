"""Crossbar emulation: weight and input mapping, tiling, crossbar layers (not built yet)."""
