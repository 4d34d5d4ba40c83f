"""The ngspice side of a comparison: the LUT's own cell, re-simulated.

The transistor and ngspice options come from the LUT (:class:`~neatxbar.lut.interp.CellLUT`'s
``spec_text`` and ``cell_netlist``): the model card is the one stored in the LUT, passed through
the same gate as a card file (:func:`neatxbar.spice.params.check_card_text`); a ``card_file``
named in the LUT's stored spec is never opened.
"""

from __future__ import annotations

from neatxbar.characterize.spec import parse_spec
from neatxbar.lut.errors import LUTError
from neatxbar.lut.interp import CellLUT
from neatxbar.spice import Transistor

#: ngspice accuracy for the reference: each vector's Newton solve converged to ~1e-11 relative
#: (see :func:`neatxbar.spice.crossbar_column_currents_batch`); the LUT spec's own options are
#: kept, and tightened to these where they are looser.
SPICE_ACCURACY = {"reltol": 1e-6, "vntol": 1e-9}


def stored_card(netlist: str) -> str:
    """The model card at the head of a LUT's stored cell netlist (``cell_netlist``).

    The rendered cell netlist starts with comments and the model card (``.model`` and its ``+``
    lines); the card ends at the first line that is neither. What is returned still has to pass
    :func:`neatxbar.spice.params.check_card_text`; the rest of the netlist is never used.
    """
    head = []
    for line in netlist.split("\n"):
        body = line.strip(" \t\r")
        if body and not body.startswith(("*", "+", ".model", ".MODEL", ".Model")):
            break
        head.append(line)
    return "\n".join(head)


def spice_reference(lut: CellLUT) -> tuple[Transistor, dict[str, float]]:
    """The transistor (with the LUT's stored model card) and the ngspice options of the LUT's
    spec, tightened to :data:`SPICE_ACCURACY`.

    Raises
    ------
    LUTError
        The LUT has no stored spec or cell netlist, or its spec or model card is refused.
    """
    text, netlist = lut.spec_text, lut.cell_netlist
    if not text or not netlist:
        raise LUTError(
            f"{lut.path}: no 'spec' or 'cell_netlist' attribute; remake it with 'neat characterize'"
        )
    try:
        spec = parse_spec(text, card_text=stored_card(netlist))
        transistor = spec.cell_transistor()
    except ValueError as error:
        raise LUTError(f"{lut.path}: its stored spec or model card is refused ({error})") from None
    options = dict(spec.ngspice)
    for name, value in SPICE_ACCURACY.items():
        options[name] = min(options.get(name, value), value)
    return transistor, options
