"""``neat doctor``: versions of the parts, the torch device, and one simulated cell."""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version

import click

from neatxbar.cli.errors import NeatCommand
from neatxbar.spice import SpiceError, Transistor, cell_current, ngspice_version

# One cell at the paper's corner: G_ON = 1/30 kOhm, V_in = 0.5 V, V_gate = 1.0 V.
_G_SIEMENS = 1.0 / 30e3
_V_IN = 0.5
_V_GATE = 1.0


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _torch_device() -> str:
    try:
        import torch
    except ImportError as error:
        return f"torch not importable ({error})"
    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return "cpu"


def _check_cell() -> tuple[bool, str]:
    """Simulate one 1T-1R cell; OK when its current is positive and below G*V_in."""
    try:
        current = cell_current(_G_SIEMENS, _V_IN, _V_GATE, Transistor())
    except SpiceError as error:
        return False, str(error)
    ideal = _G_SIEMENS * _V_IN
    ok = 0 < current < ideal
    verdict = "OK" if ok else "WRONG (expected 0 < I < G*V_in)"
    return ok, (
        f"{verdict}: G = {_G_SIEMENS * 1e6:.2f} uS, V_in = {_V_IN} V, V_gate = {_V_GATE} V: "
        f"I = {current * 1e6:.4f} uA, G*V_in = {ideal * 1e6:.4f} uA"
    )


@click.command("doctor", cls=NeatCommand)
def doctor_command() -> None:
    """Print versions and the torch device, simulate one cell; exit 0 if all is well, else 1."""
    try:
        spice_version = ngspice_version()
    except SpiceError as error:
        spice_version = f"unavailable: {error}"
    rows = [
        ("neat-xbar", _package_version("neat-xbar")),
        ("python", sys.version.split()[0]),
        ("ngspice", spice_version),
        ("PySpice", _package_version("PySpice")),
        ("torch", _package_version("torch")),
        ("numpy", _package_version("numpy")),
        ("h5py", _package_version("h5py")),
        ("torch device", _torch_device()),
    ]
    for name, value in rows:
        click.echo(f"{name:<14}{value}")
    ok, message = _check_cell()
    click.echo(f"{'1T-1R cell':<14}{message}")
    sys.exit(0 if ok else 1)
