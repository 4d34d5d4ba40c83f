"""SPICE templates from ``neatxbar.netlists`` and the one safe way to fill them.

Templates use ``${name}`` placeholders (:class:`string.Template`). Values that go into them are
either numbers (checked finite and written with full double precision), identifiers made of
letters, digits and ``_``, or :class:`SpiceText` produced by this package's own rendering. Any
other string is refused, so no text from a user reaches ngspice unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from string import Template

from neatxbar.core.errors import ConfigError
from neatxbar.spice.params import check_card_text, check_number

#: Matched whole (``fullmatch``): ``$`` would also match before a trailing newline.
_IDENTIFIER = re.compile(r"[A-Za-z0-9_]+")
_FRAGMENT_MARK = re.compile(r"^\*@\s*(\w+)\s*$", re.MULTILINE)


class SpiceText(str):
    """SPICE text rendered by neat-xbar itself (safe to paste into a template)."""


def spice_number(name: str, value: float) -> str:
    """Format a finite number for SPICE with full double precision (shortest round-trip form)."""
    return repr(check_number(name, value))


@cache
def read_template(filename: str) -> str:
    """Return the text of ``neatxbar.netlists/<filename>``."""
    return (files("neatxbar.netlists") / filename).read_text(encoding="utf-8")


@cache
def fragments() -> dict[str, str]:
    """The named blocks of ``elements.cir`` (``*@ name`` starts a block), without the marker."""
    text = read_template("elements.cir")
    marks = list(_FRAGMENT_MARK.finditer(text))
    blocks = {}
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(text)
        body = text[mark.end() : end].strip("\n")
        blocks[mark.group(1)] = body
    return blocks


def model_card(model: str) -> SpiceText:
    """The text of the model card ``neatxbar.netlists/<model>.lib`` (name checked by the caller)."""
    if not _IDENTIFIER.fullmatch(model):
        raise ConfigError(f"model card name must be an identifier, got {model!r}")
    text = read_template(f"{model}.lib")
    check_card_text(text, f"neatxbar.netlists/{model}.lib", model)
    return SpiceText(text.strip("\n"))


def _safe_value(key: str, value: object) -> str:
    if isinstance(value, SpiceText):
        return value
    if isinstance(value, str):
        if not _IDENTIFIER.fullmatch(value):
            raise ConfigError(f"{key} must be an identifier, got {value!r}")
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return spice_number(key, value)
    raise TypeError(f"{key}: cannot put a {type(value).__name__} into SPICE text")


def fill(template: str, values: Mapping[str, object]) -> SpiceText:
    """Substitute checked ``values`` into ``template``.

    Raises
    ------
    KeyError
        If the template has a placeholder that ``values`` lacks.
    ConfigError
        If a number is not finite or a string is neither :class:`SpiceText` nor an identifier.
    """
    safe = {key: _safe_value(key, value) for key, value in values.items()}
    return SpiceText(Template(template).substitute(safe))


def fill_fragment(name: str, values: Mapping[str, object]) -> SpiceText:
    """Fill the fragment ``name`` of ``elements.cir``."""
    return fill(fragments()[name], values)


def join_lines(blocks: list[SpiceText]) -> SpiceText:
    """Join rendered blocks with newlines, keeping them :class:`SpiceText`."""
    return SpiceText("\n".join(blocks))
