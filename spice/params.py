"""Typed, validated parameters for the netlists: transistor, wires, and number checks."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from importlib.resources import files

_MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def check_number(
    name: str, value: float, *, positive: bool = False, nonnegative: bool = False
) -> float:
    """Return ``value`` as a float after checking it is a finite real number.

    Parameters
    ----------
    name
        The parameter's name, used in the error message.
    value
        The number to check.
    positive, nonnegative
        Also require ``value > 0`` or ``value >= 0``.

    Raises
    ------
    ValueError
        Naming ``name``, if ``value`` is not a finite number or breaks the sign requirement.
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and number <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if nonnegative and number < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return number


def available_models() -> tuple[str, ...]:
    """Names of the transistor model cards shipped in ``neatxbar.netlists`` (``*.lib``)."""
    root = files("neatxbar.netlists")
    return tuple(sorted(p.name[:-4] for p in root.iterdir() if p.name.endswith(".lib")))


@dataclass(frozen=True)
class Transistor:
    """The access transistor of a 1T-1R cell.

    Parameters
    ----------
    model
        Name of a model card in ``neatxbar.netlists`` (``nmos45_bsim4`` or ``nmos_level1``);
        the card's ``.model`` name equals its file name.
    w_m
        Channel width in m.
    l_m
        Channel length in m.
    """

    model: str = "nmos45_bsim4"
    w_m: float = 450e-9
    l_m: float = 45e-9

    def validate(self) -> None:
        """Raise ValueError naming the first field that is not acceptable."""
        if not isinstance(self.model, str) or not _MODEL_NAME.match(self.model):
            raise ValueError(f"transistor.model must be a model card name, got {self.model!r}")
        models = available_models()
        if self.model not in models:
            raise ValueError(
                f"transistor.model {self.model!r} is not a model card here; "
                f"choose one of {', '.join(models)}"
            )
        check_number("transistor.w_m", self.w_m, positive=True)
        check_number("transistor.l_m", self.l_m, positive=True)


@dataclass(frozen=True)
class Wires:
    """Interconnect resistances of a crossbar, in ohms (0 means an ideal wire).

    Parameters
    ----------
    r_row
        Resistance of one row-wire segment between neighbouring cells (ohm).
    r_col
        Resistance of one column-wire segment between neighbouring cells (ohm).
    r_driver
        Resistance between a row's voltage source and its first cell (ohm).
    r_sense
        Resistance between a column's last cell and its ammeter at 0 V (ohm).
    """

    r_row: float = 0.0
    r_col: float = 0.0
    r_driver: float = 0.0
    r_sense: float = 0.0

    def validate(self) -> None:
        """Raise ValueError naming the first resistance that is negative or not finite."""
        for field in ("r_row", "r_col", "r_driver", "r_sense"):
            check_number(f"wires.{field}", getattr(self, field), nonnegative=True)
