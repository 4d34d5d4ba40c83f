"""The toolkit's error root.

Every error a user can cause (a wrong value, a damaged file, a refused netlist) is a
:class:`NeatError`; the CLI prints it as one line with exit code 2. Anything else is a bug: the CLI
shows its traceback and asks for a report (exit code 1). The floors' errors: ``ConfigError``
(here), ``SpiceError``, ``LUTError``, ``MappingError``, ``CheckpointError``, ``DatasetError`` and
``OutputError``.
"""

from __future__ import annotations


class NeatError(Exception):
    """Root of every toolkit error a user can cause; the message says what is wrong and how to
    mend it."""


class ConfigError(NeatError, ValueError):
    """A configuration value or key is wrong; the message names the key."""
