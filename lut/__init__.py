"""The HDF5 cell look-up table (schema ``neat-lut/1``) and, later, its interpolation in torch.

``neatxbar.lut.schema`` needs only h5py and numpy, so the characterization stage writes files
without importing torch.
"""

from __future__ import annotations

from neatxbar.lut.errors import LUTError
from neatxbar.lut.schema import SCHEMA, Grids, check_complete

__all__ = ["SCHEMA", "Grids", "LUTError", "check_complete"]
