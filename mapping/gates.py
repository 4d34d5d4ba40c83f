"""Gate voltages per crossbar layer: the one rule that turns a user's setting into V_gate per layer,
and the gate-voltage file.

The rule (:func:`resolve_gate_voltages`), used by ``convert``, NEAT and the studies alike:

- a number applies to every crossbar layer;
- a mapping names layers (as in ``model.named_modules()``) and may hold ``"default"`` for the
  layers it does not name;
- a layer neither named nor covered by ``"default"`` (nor by the caller's ``default``) is an
  error naming it; a name the model has no crossbar layer for is an error listing the model's
  crossbar layers;
- every value is a gate voltage (:func:`check_v_gate`: finite, in (0, 5] V); whether it lies on
  a LUT's gate grid is the LUT's check (``CellLUT.gate_index``).

A gate file (:func:`load_gate_file`) holds such a mapping in TOML or JSON.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path

from torch import nn

from neatxbar.core.errors import ConfigError
from neatxbar.mapping.config import V_GATE_MAX, check_v_gate
from neatxbar.mapping.errors import MappingError
from neatxbar.mapping.layers import ConversionMap, crossbar_layers

__all__ = ["V_GATE_MAX", "check_v_gate", "load_gate_file", "resolve_gate_voltages"]

#: The key of a gate-voltage mapping that applies to every layer it does not name.
DEFAULT_KEY = "default"

#: The largest gate file read (characters): a gate file is a few lines per layer.
MAX_GATE_FILE_CHARS = 1_000_000


def resolve_gate_voltages(
    model: nn.Module,
    v_gate: float | Mapping[str, float] | None,
    default: float | None = None,
    *,
    conversion_map: ConversionMap | None = None,
) -> dict[str, float]:
    """V_gate (V) of every crossbar layer of ``model``, by layer name (see the module docstring).

    Parameters
    ----------
    model
        The model (plain, or already holding crossbar twins).
    v_gate
        A gate voltage for every layer (V); a mapping from layer name to V_gate (V), with an
        optional ``"default"``; or None: ``default`` for every layer.
    default
        The gate voltage (V) of the layers ``v_gate`` does not cover (``convert`` passes the
        config's ``v_gate``); None: such a layer is an error.
    conversion_map
        Which layers go onto crossbars (see :func:`neatxbar.mapping.convert.convert`); None:
        :data:`~neatxbar.mapping.layers.DEFAULT_CONVERSION_MAP`.

    Returns
    -------
    dict[str, float]
        Layer name -> V_gate (V), in the model's order, one entry per crossbar layer.

    Raises
    ------
    ConfigError
        A value that is not a gate voltage (NaN, infinite, not a number, outside (0, 5] V).
    MappingError
        A name the model has no crossbar layer for, or a layer without a gate voltage.
    """
    names = list(crossbar_layers(model, conversion_map))
    fallback = None if default is None else check_v_gate("default V_gate", default)
    if v_gate is None:
        if fallback is None:
            raise MappingError("no V_gate given: give a number in volts or a layer -> V_gate map")
        return dict.fromkeys(names, fallback)
    if not isinstance(v_gate, Mapping):
        return dict.fromkeys(names, check_v_gate("V_gate", v_gate))
    checked = {str(key): check_v_gate(f"V_gate of {key!r}", value) for key, value in v_gate.items()}
    unknown = [key for key in checked if key not in names and key != DEFAULT_KEY]
    if unknown:
        layers = ", ".join(repr(n) for n in names) if names else "none"
        raise MappingError(
            f"v_gate names layers the model does not have: {', '.join(unknown)}; "
            f"its crossbar layers are {layers}"
        )
    fallback = checked.get(DEFAULT_KEY, fallback)
    missing = [name for name in names if name not in checked]
    if missing and fallback is None:
        raise MappingError(
            f"no V_gate for layers {', '.join(repr(n) for n in missing)}: name them or add a "
            f"{DEFAULT_KEY!r}"
        )
    return {name: checked.get(name, fallback) for name in names}  # type: ignore[misc]


def load_gate_file(path: Path | str) -> dict[str, float]:
    """Layer name -> V_gate (V) from a gate file: TOML, or JSON when the name ends in ``.json``.

    The pairs sit at the top level or in a ``[v_gate]`` table (``1 = 0.8``,
    ``default = 1.0``); ``default`` applies to the layers not named (see
    :func:`resolve_gate_voltages`, which also checks the names against a model).

    Raises
    ------
    ConfigError
        One line naming the file: not UTF-8 text, larger than :data:`MAX_GATE_FILE_CHARS`, not
        valid TOML/JSON, no pairs, or a value that is not a gate voltage (:func:`check_v_gate`:
        NaN, infinities, non-numbers and values outside (0, 5] V are refused).
    OSError
        The file cannot be read: the type ``open`` raised (FileNotFoundError,
        IsADirectoryError, PermissionError, ...) with its errno and ``filename``, the message
        saying it is the gate-voltage file.
    """
    path = Path(path)
    kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(MAX_GATE_FILE_CHARS + 1)
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: a gate-voltage file must be UTF-8 text") from None
    except OSError as error:  # same type, errno and file name: the CLI's "missing file" case
        reason = f"cannot read gate-voltage file ({error.strerror or type(error).__name__})"
        raise type(error)(error.errno, reason, str(path)) from None
    if len(text) > MAX_GATE_FILE_CHARS:
        raise ConfigError(
            f"{path}: larger than {MAX_GATE_FILE_CHARS} characters; a gate-voltage file holds "
            "one line per layer"
        )
    try:
        data = json.loads(text) if kind == "JSON" else tomllib.loads(text)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, TOMLDecodeError
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"{path}: not valid {kind} ({first})") from None
    if isinstance(data, dict) and isinstance(data.get("v_gate"), dict):
        data = data["v_gate"]
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{path}: expected layer = V_gate pairs (e.g. 1 = 0.8, default = 1.0)")
    bad = [k for k, v in data.items() if isinstance(v, bool) or not isinstance(v, int | float)]
    if bad:
        raise ConfigError(
            f"{path}: V_gate of {bad[0]!r} is not a number (expected layer = V_gate in volts)"
        )
    return {str(k): check_v_gate(f"{path}: V_gate of {k!r}", v) for k, v in data.items()}
