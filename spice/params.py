"""Typed, validated parameters for the netlists: transistor, wires, and number checks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib.resources import files

from neatxbar.core.checks import check_number
from neatxbar.core.errors import ConfigError

#: Names of models and model parameters (matched whole: ``re.fullmatch``, never ``$``, which also
#: matches before a trailing newline).
_MODEL_NAME = re.compile(r"[a-z][a-z0-9_]*")

#: Physical range of a transistor's width and length (m).
SIZE_RANGE_M = (1e-9, 1e-3)
#: The largest threshold shift (ngspice instance parameter ``delvto``) a cell may get (V).
DELVTO_LIMIT_V = 1.0
#: Simulation temperatures a netlist may ask for (degC): the range where BSIM4's temperature
#: model is used in practice (military range with margin), not beyond.
TEMPERATURE_RANGE_C = (-100.0, 250.0)


def check_delvto(name: str, value: object) -> float:
    """A threshold shift ``delvto`` in V: finite, at most :data:`DELVTO_LIMIT_V` in magnitude."""
    return check_number(name, value, low=-DELVTO_LIMIT_V, high=DELVTO_LIMIT_V)


def check_temperature(name: str, value: object) -> float:
    """A simulation temperature in degC, finite, within :data:`TEMPERATURE_RANGE_C`."""
    low, high = TEMPERATURE_RANGE_C
    return check_number(name, value, low=low, high=high)


def available_models() -> tuple[str, ...]:
    """Names of the transistor model cards shipped in ``neatxbar.netlists`` (``*.lib``)."""
    root = files("neatxbar.netlists")
    return tuple(sorted(p.name[:-4] for p in root.iterdir() if p.name.endswith(".lib")))


#: What a model card may hold, line by line (see :func:`check_card_text`).
_PRINTABLE = re.compile(r"[\x20-\x7e\t]*")
_MODEL_LINE = re.compile(
    r"\.model\s+([a-z][a-z0-9_]*)\s+nmos\b[a-z0-9_.=+\-,() \t]*", re.IGNORECASE
)
_CONTINUATION = re.compile(r"\+[a-z0-9_.=+\-,() \t]*", re.IGNORECASE)
_COMMAND_COMMENT = re.compile(r"\*\s*#")


def check_card_text(text: str, source: str, model: str) -> str:
    """The one gate for SPICE text from outside the package: a transistor model card.

    A card may hold blank lines, plain ``*`` comments, exactly one ``.model <model> nmos ...``
    statement and its ``+`` continuation lines (parameters ``name=value``: letters, digits and
    ``_ . = + - , ( )`` only). Everything else is refused: ``*#`` lines (ngspice runs them as
    commands), ``.control``, ``.include``/``.lib`` and every other dot command, element lines,
    and any control or non-ASCII character (ngspice splits lines on more than ``\\n``).

    Parameters
    ----------
    text
        The card's SPICE text.
    source
        Where the text comes from (a file name), for the message.
    model
        The model name the card must define.

    Returns
    -------
    str
        ``text``, unchanged.

    Raises
    ------
    ConfigError
        One line naming ``source``, the line number and what is wrong.
    """
    if not isinstance(text, str):
        raise ConfigError(f"{source}: a model card must be text")
    models = []
    in_model = False
    for number, line in enumerate(text.split("\n"), start=1):
        where = f"{source} line {number}"
        line = line.removesuffix("\r")  # Windows line ends
        if not _PRINTABLE.fullmatch(line):
            raise ConfigError(f"{where}: control or non-ASCII character in a model card")
        body = line.strip(" \t")
        shown = body if len(body) <= 60 else body[:57] + "..."
        if not body:
            continue
        if body.startswith("*"):
            if _COMMAND_COMMENT.match(body):
                raise ConfigError(
                    f"{where}: '*#' lines are ngspice commands, not comments; got {shown!r}"
                )
            continue
        if body.startswith("+"):
            if not in_model or not _CONTINUATION.fullmatch(body):
                raise ConfigError(
                    f"{where}: a '+' line must continue the '.model' statement with "
                    f"name=value parameters only; got {shown!r}"
                )
            continue
        match = _MODEL_LINE.fullmatch(body)
        if match is None:
            raise ConfigError(
                f"{where}: only comments, '.model <name> nmos' and '+' continuation lines "
                f"are allowed in a model card; got {shown!r}"
            )
        models.append(match.group(1).lower())
        in_model = True
    if models != [model]:
        raise ConfigError(
            f"{source} must define exactly one '.model {model} nmos', found {models or 'none'}"
        )
    return text


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
        ``+`` continuation lines only, see :func:`check_card_text`), or None for the shipped cards.
    card_text
        The model card itself (e.g. the card stored in a LUT), checked by the same gate; excludes
        ``card_file``.
    """

    model: str = "nmos45_bsim4"
    w_m: float = 450e-9
    l_m: float = 45e-9
    model_params: tuple[tuple[str, float], ...] = ()
    card_file: str | None = None
    card_text: str | None = field(default=None, repr=False)

    def validate(self) -> None:
        """Raise ConfigError naming the first field that is not acceptable."""
        if not isinstance(self.model, str) or not _MODEL_NAME.fullmatch(self.model):
            raise ConfigError(f"transistor.model must be a model card name, got {self.model!r}")
        if self.card_text is not None:
            if self.card_file is not None:
                raise ConfigError("give transistor.card_file or a stored card, not both")
            check_card_text(self.card_text, "the stored model card", self.model)
        elif self.card_file is None:
            models = available_models()
            if self.model not in models:
                raise ConfigError(
                    f"transistor.model {self.model!r} is not a model card here; "
                    f"choose one of {', '.join(models)}, or give transistor.card_file"
                )
        else:
            read_card_file(self.card_file, self.model)
        low, high = SIZE_RANGE_M
        check_number("transistor.w_m (m)", self.w_m, low=low, high=high)
        check_number("transistor.l_m (m)", self.l_m, low=low, high=high)
        for name, value in self.model_params:
            if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
                raise ConfigError(f"transistor.model_params: {name!r} is not a parameter name")
            check_number(f"transistor.model_params.{name}", value)


def read_card_file(path: str, model: str) -> str:
    """Read a user's model card and pass it through :func:`check_card_text`.

    Raises
    ------
    ConfigError
        Naming the file and the offending line.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(_MAX_CARD_CHARS + 1)
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"transistor.card_file {path!r} cannot be read ({error})") from None
    if len(text) > _MAX_CARD_CHARS:
        raise ConfigError(
            f"transistor.card_file {path!r} is larger than {_MAX_CARD_CHARS} characters; "
            "a model card is a few kilobytes"
        )
    return check_card_text(text, f"transistor.card_file {path!r}", model)


#: The largest model card read (characters).
_MAX_CARD_CHARS = 1_000_000


#: ngspice options a netlist may set (``.options name=value``), all numeric.
SPICE_OPTIONS = ("reltol", "abstol", "vntol", "gmin", "itl1", "itl2", "gminsteps", "srcsteps")


def check_options(options: dict[str, float] | None) -> dict[str, float]:
    """Check ngspice options: known names (:data:`SPICE_OPTIONS`), finite non-negative values."""
    checked = {}
    for name, value in (options or {}).items():
        if name not in SPICE_OPTIONS:
            raise ConfigError(
                f"ngspice option {name!r} is not supported; use one of {', '.join(SPICE_OPTIONS)}"
            )
        checked[name] = check_number(f"ngspice.{name}", value, nonnegative=True)
    return checked


@dataclass(frozen=True)
class Wires:
    """Interconnect resistances of a crossbar, in ohms (0 means an ideal wire).

    The toolkit's one wire-resistance type: the crossbar netlists
    (:func:`neatxbar.spice.render.render_crossbar`), the mapping (``MappingConfig.wires``,
    ``[mapping.wires]`` in TOML) and the circuit solver (``CircuitConfig.wires``) all take it.

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

    @property
    def any(self) -> bool:
        """True when any resistance is above 0 ohm (the wires are not ideal)."""
        return any(getattr(self, name) > 0 for name in _WIRE_FIELDS)

    def validate(self) -> Wires:
        """Raise ConfigError naming the first resistance that is negative or not finite (ohm);
        return self."""
        for name in _WIRE_FIELDS:
            check_number(f"wires.{name}", getattr(self, name), nonnegative=True)
        return self


_WIRE_FIELDS = ("r_row", "r_col", "r_driver", "r_sense")
