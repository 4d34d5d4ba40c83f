"""Strict JSON for everything the toolkit prints or writes (``--json``, results and summaries).

Python's :mod:`json` writes ``NaN`` and ``Infinity`` by default, which strict parsers (and most
languages) reject. Every JSON document of the toolkit goes through :func:`dumps_strict`: a float
that is not finite (NaN, +inf, -inf) becomes ``null``. The places where that can happen are named
in the docs (e.g. a linear-region ``crossing`` of ``inf``, "no cut-off", prints as ``null``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any


def to_strict(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by None, recursively.

    Mappings become dicts, tuples and lists become lists, numpy/torch scalars and arrays (anything
    with ``tolist``) become plain Python values. Other objects are left for ``json``'s ``default``.
    """
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, Integral):
        return int(obj)
    if isinstance(obj, Real):
        number = float(obj)
        return number if math.isfinite(number) else None
    if isinstance(obj, Mapping):
        return {key: to_strict(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_strict(value) for value in obj]
    if hasattr(obj, "tolist") and callable(obj.tolist):
        return to_strict(obj.tolist())
    return obj


def dumps_strict(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`to_strict` ``(obj)`` with ``allow_nan=False``.

    Keyword arguments (``indent``, ``sort_keys``, ``default``) go to :func:`json.dumps`. The
    ``default`` hook's results are made strict too.
    """
    default = kwargs.pop("default", None)
    if default is not None:
        kwargs["default"] = lambda value: to_strict(default(value))
    return json.dumps(to_strict(obj), allow_nan=False, **kwargs)
