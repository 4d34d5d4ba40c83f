"""The process's ngspice, driven through PySpice's shared-library interface.

ngspice keeps global state, so there is one session per process (:func:`session`); run
parallel simulations in separate processes started with the ``spawn`` method. Each session
sets ``num_threads=1`` (ngspice's OpenMP BSIM4 code otherwise spins two threads per process
and a pool of processes crawls), turns ngspice's error output into :class:`SpiceError`, and
returns results as named numpy arrays.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import logging
import os
import re
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from neatxbar.spice.errors import (
    NGSPICE_INSTALL_HINT,
    NgspiceNotFoundError,
    SpiceConvergenceError,
    SpiceError,
)
from neatxbar.spice.render import Netlist

_CONVERGENCE = re.compile(
    r"timestep too small|gmin step|source stepping|iteration limit|singular matrix|"
    r"simulation\(s\) aborted|no convergence",
    re.IGNORECASE,
)
_FORKED = (
    "this process inherited its parent's ngspice through fork, which cannot work "
    "(ngspice keeps global state); start worker processes with the 'spawn' method"
)


@dataclass(frozen=True)
class SimulationResult:
    """The vectors of one ngspice analysis.

    Attributes
    ----------
    plot
        ngspice's name for the analysis (``op1``, ``dc2``, ...).
    vectors
        Every vector of the plot by its ngspice name, lower case: node voltages (V) by node
        name, branch currents (A) as ``<source>#branch``, sweep variables by source name.
    """

    plot: str
    vectors: dict[str, np.ndarray] = field(repr=False)

    def current(self, source: str) -> np.ndarray:
        """Branch current (A) through the voltage source ``source``, from its + to its - node."""
        key = f"{source.lower()}#branch"
        if key not in self.vectors:
            raise KeyError(f"no branch current for source {source!r} in plot {self.plot}")
        return self.vectors[key]

    def currents(self, netlist: Netlist) -> np.ndarray:
        """The netlist's probe currents (A), stacked: shape ``(n_probes, n_points)``."""
        return np.stack([self.current(name) for name in netlist.probes])


def _library_path() -> str:
    explicit = os.environ.get("NGSPICE_LIBRARY_PATH")
    if explicit:
        return explicit
    found = ctypes.util.find_library("ngspice")
    if found is None:
        raise NgspiceNotFoundError(f"ngspice shared library not found; {NGSPICE_INSTALL_HINT}")
    return found


_NOISE = ("Warning", "Note", "Trying gmin", "Supplies reduced")
_SALIENT = re.compile(r"error|fatal|aborted|failed|too small|unknown|not parsed", re.IGNORECASE)


def _error_lines(messages: list[tuple[str, str]]) -> list[str]:
    """ngspice's stderr lines that report errors: the salient ones if any, else all but noise."""
    lines = [text.strip() for stream, text in messages if stream == "stderr" and text.strip()]
    salient = [line for line in lines if _SALIENT.search(line) and not line.startswith(_NOISE)]
    return salient or [line for line in lines if not line.startswith(_NOISE)]


@contextlib.contextmanager
def _keep_sigint() -> Iterator[None]:
    """Keep Ctrl-C for Python while ngspice runs, and raise it only once ngspice has returned.

    ngspice calls back into Python (its output, its status) while it runs; a KeyboardInterrupt
    raised inside such a callback is printed and swallowed by cffi ("Exception ignored from cffi
    callback") and the run goes on as if nothing happened. In the main thread, during the call,
    SIGINT is blocked and Python's handler is replaced by one that only records the signal (a
    process-directed SIGINT can still reach another thread, e.g. a BLAS thread, whose C handler
    then has the main thread run the Python handler in the middle of a callback). Afterwards the
    previous handler is put back (which also undoes a handler ngspice may have installed) and, if
    a SIGINT came, called: the usual handler raises KeyboardInterrupt here, outside ngspice.
    A handler of ``SIG_IGN`` (e.g. in a pool's worker) stays as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    received: list[int] = []
    if callable(previous):
        signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        if received and callable(previous):
            previous(signal.SIGINT, None)


#: ngspice commands a netlist's ``*#`` lines or ``.control`` blocks could use to run programs;
#: aliased to a harmless ``echo`` in every session (``alias`` and ``unalias`` last, so no later
#: line can undo it). This is a second fence: SPICE text from outside the package never
#: reaches ngspice unchecked (see :func:`neatxbar.spice.params.check_card_text`).
_REFUSED_COMMANDS = ("shell", "edit", "unalias", "alias")


class NgspiceSession:
    """One ngspice instance (shared library) for this process; obtain it with :func:`session`."""

    def __init__(self) -> None:
        library = _library_path()
        # PySpice logs every ngspice stderr line itself; they become exceptions here instead.
        logging.getLogger("PySpice").setLevel(logging.CRITICAL)
        try:
            from PySpice.Spice.NgSpice.Shared import NgSpiceShared
        except ImportError as error:  # pragma: no cover - PySpice is a dependency
            raise NgspiceNotFoundError(f"PySpice is not installed ({error})") from error

        owner = self

        class _Shared(NgSpiceShared):
            LIBRARY_PATH = library

            def send_char(self, message: str, ngspice_id: int) -> int:
                stream, _, text = message.partition(" ")
                owner._messages.append((stream, text))
                return 0

        self._messages: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        with _keep_sigint():
            try:
                self._shared = _Shared(ngspice_id=0, send_data=False, verbose=False)
            except OSError as error:
                raise NgspiceNotFoundError(
                    f"cannot load the ngspice shared library {library!r} ({error}); "
                    f"{NGSPICE_INSTALL_HINT}"
                ) from error
        self._command("set num_threads=1")
        # BSIM4's parameter check writes bsim4*.out into the working folder (the user's) on any
        # warning; ng_nomodcheck turns that check and its file off.
        self._command("set ng_nomodcheck")
        for command in _REFUSED_COMMANDS:
            self._command(f"alias {command} echo refused: {command}")
        self._version = self._read_version()

    @property
    def version(self) -> str:
        """ngspice's version, e.g. ``"39"``."""
        return self._version

    def _read_version(self) -> str:
        output = self._command("version -s")
        match = re.search(r"ngspice-(\S+)", output)
        return match.group(1) if match else "unknown"

    def _command(self, command: str) -> str:
        """Run one ngspice command; raise SpiceError with ngspice's message if it fails."""
        from PySpice.Spice.NgSpice.Shared import NgSpiceCommandError

        self._messages.clear()
        try:
            with _keep_sigint():
                self._shared.exec_command(command)
        except NgSpiceCommandError:
            lines = _error_lines(self._messages)
            text = " | ".join(lines) or "no message"
            if "fatal" not in text.lower() and (_CONVERGENCE.search(text) or command == "run"):
                raise SpiceConvergenceError(f"ngspice did not converge ({command})", text) from None
            raise SpiceError(f"ngspice command {command!r} failed", text) from None
        return "\n".join(text for stream, text in self._messages if stream == "stdout")

    def _load(self, text: str) -> None:
        if not text.rstrip().lower().endswith(".end"):
            raise SpiceError("netlist does not end with .end; ngspice would ignore it")
        self._messages.clear()
        # PySpice raises its own types for some errors on stdout; the messages decide below.
        with contextlib.suppress(Exception), _keep_sigint():
            self._shared.load_circuit(text)
        lines = _error_lines(self._messages)
        stdout_errors = [
            text.strip()
            for stream, text in self._messages
            if stream == "stdout" and "error" in text.lower()
        ]
        if lines or stdout_errors:
            self._discard()
            raise SpiceError("ngspice rejected the netlist", " | ".join(lines + stdout_errors))

    def _discard(self) -> None:
        """Drop the loaded circuit and every plot, so the next run starts clean."""
        for command in ("destroy all", "remcirc"):
            with contextlib.suppress(SpiceError):
                self._command(command)

    def _read_plot(self) -> SimulationResult:
        from PySpice.Spice.NgSpice.Shared import ffi

        lib = self._shared._ngspice_shared
        plot = ffi.string(lib.ngSpice_CurPlot()).decode()
        names = self._shared._convert_string_array(lib.ngSpice_AllVecs(plot.encode()))
        vectors = {}
        for name in names:
            info = lib.ngGet_Vec_Info(f"{plot}.{name}".encode())
            if info == ffi.NULL or info.v_realdata == ffi.NULL:
                continue
            buffer = ffi.buffer(info.v_realdata, info.v_length * 8)
            vectors[name.lower()] = np.frombuffer(buffer, dtype=np.float64).copy()
        return SimulationResult(plot=plot, vectors=vectors)

    def run(self, netlist: Netlist | str) -> SimulationResult:
        """Load ``netlist``, run its analysis, return its vectors, and unload it.

        Raises
        ------
        SpiceError
            The netlist does not parse (with ngspice's message).
        SpiceConvergenceError
            The analysis did not converge.
        """
        if os.getpid() != self._pid:
            raise SpiceError(_FORKED)
        text = netlist.text if isinstance(netlist, Netlist) else netlist
        with self._lock:
            self._load(text)
            try:
                self._command("run")
                result = self._read_plot()
            finally:
                self._discard()
        if not result.vectors:
            raise SpiceError("ngspice produced no results; does the netlist have an analysis?")
        return result


_SESSION: NgspiceSession | None = None
_SESSION_LOCK = threading.Lock()


def session() -> NgspiceSession:
    """This process's ngspice session, created on first use.

    Raises
    ------
    NgspiceNotFoundError
        When the ngspice shared library is not installed; the message says how to install it.
    """
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:
            _SESSION = NgspiceSession()
        elif _SESSION._pid != os.getpid():
            raise SpiceError(_FORKED)
        return _SESSION


def ngspice_version() -> str:
    """The version of the ngspice shared library this process runs, e.g. ``"39"``."""
    return session().version
