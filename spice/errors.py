"""Errors raised by the SPICE layer."""

from __future__ import annotations

from neatxbar.core.errors import NeatError

NGSPICE_INSTALL_HINT = (
    "install it with 'sudo apt-get install ngspice libngspice0 libngspice0-dev' "
    "(or run 'make install'), or point NGSPICE_LIBRARY_PATH at libngspice.so.0"
)


class SpiceError(NeatError, RuntimeError):
    """ngspice refused a netlist or failed to solve it.

    Parameters
    ----------
    message
        What went wrong, in one line.
    ngspice_message
        ngspice's own output (its error lines), verbatim.
    """

    def __init__(self, message: str, ngspice_message: str = "") -> None:
        self.ngspice_message = ngspice_message
        full = f"{message}: {ngspice_message}" if ngspice_message else message
        super().__init__(full)


class SpiceConvergenceError(SpiceError):
    """An analysis did not converge (ngspice aborted the run)."""


class NgspiceNotFoundError(SpiceError):
    """The ngspice shared library could not be loaded."""
