"""Number checks at the places where values enter the toolkit (one place per kind).

A value from a user or a file is checked once, where it enters: finite, of the right sign, inside
its physical range. ``NaN`` fails every check (it is not finite), so a NaN never reaches a
comparison that would silently be False.
"""

from __future__ import annotations

import math

from neatxbar.core.errors import ConfigError, NeatError


def check_number(
    name: str,
    value: object,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    low: float | None = None,
    high: float | None = None,
    error: type[NeatError] = ConfigError,
) -> float:
    """Return ``value`` as a float after checking it is a finite real number in range.

    Parameters
    ----------
    name
        The value's name, used in the error message.
    value
        The number to check (a bool is refused).
    positive, nonnegative
        Also require ``value > 0`` or ``value >= 0``.
    low, high
        Also require ``low <= value <= high`` (each bound optional, same units as ``value``).
    error
        The toolkit error type to raise.

    Raises
    ------
    NeatError
        Of type ``error``, naming ``name``, if a check fails.
    """
    if isinstance(value, bool | str | bytes):
        raise error(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise error(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise error(f"{name} must be finite, got {value!r}")
    if positive and number <= 0:
        raise error(f"{name} must be > 0, got {value!r}")
    if nonnegative and number < 0:
        raise error(f"{name} must be >= 0, got {value!r}")
    if low is not None and number < low:
        raise error(f"{name} must be >= {low:g}, got {value!r}")
    if high is not None and number > high:
        raise error(f"{name} must be <= {high:g}, got {value!r}")
    return number


def check_integer(
    name: str,
    value: object,
    *,
    low: int | None = None,
    high: int | None = None,
    error: type[NeatError] = ConfigError,
) -> int:
    """Return ``value`` as an int after checking it is an integer (not a bool) in range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{name} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise error(f"{name} must be >= {low}, got {value!r}")
    if high is not None and value > high:
        raise error(f"{name} must be <= {high}, got {value!r}")
    return value
