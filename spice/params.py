"""Typed, validated parameters for the netlists: transistor, wires, and number checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files

from neatxbar.core.checks import check_number

_MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def available_models() -> tuple[str, ...]:
    """Names of the transistor model cards shipped in ``neatxbar.netlists`` (``*.lib``)."""
    root = files("neatxbar.netlists")
    return tuple(sorted(p.name[:-4] for p in root.iterdir() if p.name.endswith(".lib")))


_CARD_LINE = re.compile(r"^\s*(\*.*|\+.*|\.model\s+(\S+)\s+nmos\b.*|)$", re.IGNORECASE)


@dataclass(frozen=True)
class Transistor:
    """The access transistor of a 1T-1R cell.

    Parameters
    ----------
    model
        Name of the ``.model`` to use: a card shipped in ``neatxbar.netlists``
        (``nmos45_bsim4``, ``nmos_level1``, whose file names equal their model names), or the
        model defined in ``card_file``.
    w_m
        Channel width in m.
    l_m
        Channel length in m.
    model_params
        Model parameters that override the card's, as ``(name, value)`` pairs, e.g.
        ``(("vth0", 0.68),)`` for a BSIM4 threshold of 0.68 V; appended to the card as
        ``+ name=value`` lines (ngspice keeps the last value given).
    card_file
        Path of a model card of your own (one ``.model <model> nmos ...`` statement, comments and
        ``+`` continuation lines only), or None for the shipped cards.
    """

    model: str = "nmos45_bsim4"
    w_m: float = 450e-9
    l_m: float = 45e-9
    model_params: tuple[tuple[str, float], ...] = ()
    card_file: str | None = None

    def validate(self) -> None:
        """Raise ValueError naming the first field that is not acceptable."""
        if not isinstance(self.model, str) or not _MODEL_NAME.match(self.model):
            raise ValueError(f"transistor.model must be a model card name, got {self.model!r}")
        if self.card_file is None:
            models = available_models()
            if self.model not in models:
                raise ValueError(
                    f"transistor.model {self.model!r} is not a model card here; "
                    f"choose one of {', '.join(models)}, or give transistor.card_file"
                )
        else:
            read_card_file(self.card_file, self.model)
        check_number("transistor.w_m", self.w_m, positive=True)
        check_number("transistor.l_m", self.l_m, positive=True)
        for name, value in self.model_params:
            if not isinstance(name, str) or not _MODEL_NAME.match(name):
                raise ValueError(f"transistor.model_params: {name!r} is not a parameter name")
            check_number(f"transistor.model_params.{name}", value)


def read_card_file(path: str, model: str) -> str:
    """Read a user's model card and check it holds exactly one ``.model <model> nmos`` and no
    other SPICE statements (no ``.include``, ``.control``, elements, ...).

    Raises
    ------
    ValueError
        Naming the file and the offending line.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise ValueError(f"transistor.card_file {path!r} cannot be read ({error})") from None
    models = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _CARD_LINE.match(line)
        if match is None:
            raise ValueError(
                f"transistor.card_file {path!r} line {number}: only comments, '.model <name> nmos'"
                f" and '+' continuation lines are allowed, got {line.strip()!r}"
            )
        if match.group(2):
            models.append(match.group(2).lower())
    if models != [model]:
        raise ValueError(
            f"transistor.card_file {path!r} must define exactly one '.model {model} nmos', "
            f"found {models or 'none'}"
        )
    return text


#: ngspice options a netlist may set (``.options name=value``), all numeric.
SPICE_OPTIONS = ("reltol", "abstol", "vntol", "gmin", "itl1", "itl2", "gminsteps", "srcsteps")


def check_options(options: dict[str, float] | None) -> dict[str, float]:
    """Check ngspice options: known names (:data:`SPICE_OPTIONS`), finite non-negative values."""
    checked = {}
    for name, value in (options or {}).items():
        if name not in SPICE_OPTIONS:
            raise ValueError(
                f"ngspice option {name!r} is not supported; use one of {', '.join(SPICE_OPTIONS)}"
            )
        checked[name] = check_number(f"ngspice.{name}", value, nonnegative=True)
    return checked


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
