"""Typed configuration from TOML: nested frozen dataclasses, unknown keys refused by name.

Every stage's configuration is a frozen dataclass with ``validate()``; :func:`from_mapping`
builds one from a parsed TOML table, naming the first unknown or ill-typed key.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from neatxbar.core.errors import ConfigError

T = TypeVar("T")


def _is_dataclass_type(tp: object) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Convert one TOML value to the field type ``tp`` (dataclass, float, int, str, bool, dict)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [t for t in typing.get_args(tp) if t is not type(None)]
        if value is None:
            return None
        return _convert(value, options[0], key)
    if _is_dataclass_type(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a table")
        return from_mapping(tp, value, key)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return value
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a table")
        (_, value_type) = typing.get_args(tp) or (str, float)
        return {k: _convert(v, value_type, f"{key}.{k}") for k, v in value.items()}
    return value


def from_mapping(cls: type[T], data: Mapping[str, Any], where: str = "") -> T:
    """Build the dataclass ``cls`` from ``data``; refuse unknown keys, naming them.

    Missing keys take the dataclass's defaults. ``where`` is the key path used in messages.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    prefix = f"{where}." if where else ""
    unknown = [key for key in data if key not in fields]
    if unknown:
        raise ConfigError(f"unknown key {prefix}{unknown[0]}; known keys here: {', '.join(fields)}")
    values = {name: _convert(data[name], hints[name], prefix + name) for name in data}
    try:
        return cls(**values)
    except TypeError as error:  # a required field is missing
        raise ConfigError(f"{where or cls.__name__}: {error}") from None


def from_toml_file(cls: type[T], path: Path | str, section: str | None = None) -> T:
    """Build ``cls`` from the ``[section]`` table of a TOML file (the whole file when it has no
    such table, or with ``section`` None) and validate it; a missing, unreadable or invalid file
    is a ConfigError."""
    what = section or cls.__name__
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {what} config {path} ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    table = data if section is None else data.get(section, data)
    return from_mapping(cls, table, section or "").validate()


def to_plain(obj: Any) -> Any:
    """A dataclass as plain dicts, lists and numbers (for JSON and hashing)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    return obj
