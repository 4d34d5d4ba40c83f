"""The SPICE layer: render netlists from typed parameters and run them in ngspice.

Nothing here imports torch. Typical use::

    from neatxbar.spice import Transistor, cell_current
    i_amp = cell_current(g_siemens=20e-6, v_in=0.3, v_gate=1.0, transistor=Transistor())
"""

from __future__ import annotations

from neatxbar.spice.errors import NgspiceNotFoundError, SpiceConvergenceError, SpiceError
from neatxbar.spice.params import Transistor, Wires, available_models, check_number
from neatxbar.spice.render import (
    Netlist,
    render_cell,
    render_cell_sweep,
    render_crossbar,
    render_crossbar_batch,
)
from neatxbar.spice.session import NgspiceSession, SimulationResult, ngspice_version, session
from neatxbar.spice.simulate import (
    cell_current,
    crossbar_column_currents,
    crossbar_column_currents_batch,
    sweep_cells,
)

__all__ = [
    "Netlist",
    "NgspiceNotFoundError",
    "NgspiceSession",
    "SimulationResult",
    "SpiceConvergenceError",
    "SpiceError",
    "Transistor",
    "Wires",
    "available_models",
    "cell_current",
    "check_number",
    "crossbar_column_currents",
    "crossbar_column_currents_batch",
    "ngspice_version",
    "render_cell",
    "render_cell_sweep",
    "render_crossbar",
    "render_crossbar_batch",
    "session",
    "sweep_cells",
]
