"""Errors of the mapping floor."""

from __future__ import annotations

from neatxbar.core.errors import NeatError


class MappingError(NeatError, ValueError):
    """A model, a weight, a gate voltage or a mapping setting cannot be mapped onto crossbars;
    the message says which and how to mend it."""
