"""The HDF5 cell look-up table (schema ``neat-lut/2``; ``neat-lut/1`` still read) and its
interpolation in torch.

``CellLUT.load(path, temperature_c=None)`` reads and checks a file once and holds one of its
temperatures; the table, the threshold-shift axis (``shift_grid``, ``shift_table``,
``sigma_vt_v``) and the file's metadata (spec, transistor, read time, tolerance, provenance) are
its properties.

``neatxbar.lut.schema`` needs only h5py and numpy, so the characterization stage writes files
without importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neatxbar.lut.errors import LUTError
from neatxbar.lut.schema import SCHEMA, SCHEMA_V1, Grids, Provenance, check_complete

if TYPE_CHECKING:
    from neatxbar.lut.interp import CellLUT

__all__ = ["SCHEMA", "SCHEMA_V1", "CellLUT", "Grids", "LUTError", "Provenance", "check_complete"]


def __getattr__(name: str) -> object:
    # CellLUT needs torch; importing it lazily keeps `neatxbar.lut.schema` usable without torch.
    if name == "CellLUT":
        from neatxbar.lut.interp import CellLUT

        return CellLUT
    raise AttributeError(f"module 'neatxbar.lut' has no attribute {name!r}")
