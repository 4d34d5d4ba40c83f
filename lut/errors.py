"""Errors about look-up-table files."""

from __future__ import annotations

from neatxbar.core.errors import NeatError


class LUTError(NeatError, ValueError):
    """A LUT file is missing, damaged, of another schema, or incomplete; the message says which."""
