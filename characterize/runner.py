"""The sweep runner: a spec in, a complete ``neat-lut/2`` file out, resumable.

The cells to simulate are the (threshold shift, conductance) pairs of the spec, at each of its
temperatures. At each temperature the pairs, in the order (shift, conductance), are cut into
chunks of ``spec.chunk_size``; each chunk is one ngspice run (a netlist of that many
independent cells, each with its own ``delvto``, at ``.options temp=``; one nested V_in x V_gate
sweep). Chunks run on a process pool
(``spawn``), on any ``concurrent.futures`` executor (a Dask cluster's included), or in this
process. Each finished chunk is written to ``<out>.partial`` at once; a killed run, started again,
runs only what is missing. When every point is solved, the linear region (per temperature, at
0 V shift) and the read energy are added and the file is renamed to ``<out>``: a file at
``<out>`` is always complete.

Safety: the spec is validated (every number, every size, the model card) before any file is
written. A run holds ``<out>.lock`` (an advisory ``flock``, removed at the end) so a second run on
the same output stops at once with "locked by another run". Ctrl-C stops the run after the
current ngspice call (the finished chunks stay in the ``.partial``; see
``neatxbar.spice.session``). Pool workers ignore Ctrl-C (the parent stops them) and die with
their parent (``PR_SET_PDEATHSIG`` on Linux, else a thread watching the parent).

Test hook: with the environment variables ``NEAT_TEST_HOLD_AFTER_CHUNK=k`` and
``NEAT_TEST_HOLD_FILE=<path>``, the runner, right after writing its k-th chunk of this run, creates
``<path>`` and waits until that file is removed. Tests use it to act (send a signal, start a second
run) while a run is provably in the middle. Not for users.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import h5py
import numpy as np

from neatxbar.characterize.energy import write_read_energy
from neatxbar.characterize.fit import LinearRegion, fit_linear_region, write_linear_region
from neatxbar.characterize.spec import SweepSpec
from neatxbar.core.progress import ProgressBar
from neatxbar.lut.errors import LUTError
from neatxbar.lut.schema import (
    FAILED,
    OFFERED,
    OFFERED_TOLERANCE_V,
    SCHEMA,
    SOLVED,
    Grids,
    check_attrs_and_grids,
    create,
    open_lut,
    read_offered,
    replace_atomically,
    schema_of,
    select_temperature,
    transistor_json,
    write_block,
)
from neatxbar.spice import (
    SpiceConvergenceError,
    Transistor,
    cell_current,
    ngspice_version,
    render_cell,
    sweep_cells,
)

#: ngspice options of a retry: gmin and source stepping on, more iterations (the spec's own
#: options win where it sets them).
RETRY_OPTIONS = {"gminsteps": 100.0, "srcsteps": 100.0, "itl1": 1000.0, "itl2": 500.0}

#: With ``workers`` unset, runs of fewer pending points than this stay in this process: starting
#: a pool of spawned processes (imports, ngspice) costs more than it saves (measured: a 13-gate
#: paper LUT's 84k points took 0.2 s in process and 0.45 s on a 2-process pool; the 71-gate
#: paper LUT's 459k points take 1.8 s in process and 15 s on a 2-process pool of a loaded 2-core
#: machine, where starting the pool alone took 11 s).
IN_PROCESS_BELOW_POINTS = 1_000_000


@dataclass(frozen=True)
class ChunkJob:
    """One ngspice run: cells ``start:stop`` of the (shift, conductance) pairs at temperature
    index ``t``, each cell a conductance ``g_siemens`` (S) with a threshold shift ``delvto``
    (V), over the V_in and V_gate grids (V), at ``temperature_c`` (degC)."""

    t: int
    start: int
    stop: int
    g_siemens: np.ndarray
    delvto: np.ndarray
    v_in: np.ndarray
    v_gate: np.ndarray
    transistor: Transistor
    options: dict[str, float]
    temperature_c: float


@dataclass(frozen=True)
class ChunkResult:
    """Currents (A) and status of one chunk, shape ``(stop - start, n_v, n_vg)``; ``retried``
    when the nested sweep failed first."""

    t: int
    start: int
    stop: int
    current: np.ndarray
    status: np.ndarray
    retried: bool = False


def _retry_point_by_point(job: ChunkJob) -> ChunkResult:
    options = RETRY_OPTIONS | job.options
    shape = (job.g_siemens.size, job.v_in.size, job.v_gate.size)
    current = np.full(shape, np.nan)
    status = np.full(shape, FAILED, dtype=np.uint8)
    for (k, j, m), _ in np.ndenumerate(current):
        try:
            current[k, j, m] = cell_current(
                job.g_siemens[k],
                job.v_in[j],
                job.v_gate[m],
                job.transistor,
                options,
                delvto=float(job.delvto[k]),
                temperature_c=job.temperature_c,
            )
            status[k, j, m] = SOLVED
        except SpiceConvergenceError:
            pass
    return ChunkResult(job.t, job.start, job.stop, current, status, retried=True)


def _sweep(job: ChunkJob, options: dict[str, float]) -> np.ndarray:
    return sweep_cells(
        job.g_siemens,
        job.v_in,
        job.v_gate,
        job.transistor,
        options,
        delvto=job.delvto,
        temperature_c=job.temperature_c,
    )


def run_chunk(job: ChunkJob) -> ChunkResult:
    """Simulate one chunk in this process's ngspice.

    A nested sweep that does not converge is retried with :data:`RETRY_OPTIONS`, first as a
    sweep, then point by point; points that still fail get status 2 (and NaN current).
    """
    try:
        current = _sweep(job, job.options)
    except SpiceConvergenceError:
        try:
            current = _sweep(job, RETRY_OPTIONS | job.options)
        except SpiceConvergenceError:
            return _retry_point_by_point(job)
        ok = np.zeros(current.shape, np.uint8)
        return ChunkResult(job.t, job.start, job.stop, current, ok, True)
    return ChunkResult(job.t, job.start, job.stop, current, np.zeros(current.shape, np.uint8))


def cell_blocks(start: int, stop: int, n_g: int) -> Iterator[tuple[int, slice, slice]]:
    """Split the cells ``start:stop`` of the (shift, conductance) pairs (shift-major, ``n_g``
    conductances per shift) into blocks of one shift: ``(d, grid rows, rows of the chunk)``."""
    cell = start
    while cell < stop:
        d, g0 = divmod(cell, n_g)
        g1 = min(n_g, g0 + stop - cell)
        yield d, slice(g0, g1), slice(cell - start, cell - start + g1 - g0)
        cell += g1 - g0


def write_result(f: h5py.File, result: ChunkResult, n_g: int) -> None:
    """Write a chunk's currents and status into the open LUT (one block per shift it spans)."""
    for d, rows, part in cell_blocks(result.start, result.stop, n_g):
        write_block(f, (result.t, d, rows), result.current[part], result.status[part])


@dataclass
class CharacterizeReport:
    """What a run did.

    Attributes
    ----------
    path
        The complete LUT, or the ``.partial`` file when points failed.
    complete
        Every point solved (and the file renamed into place).
    points_total, points_run, points_failed
        Points in the LUT, points simulated by this run, points with status 2.
    chunks_retried
        Chunks whose first nested sweep did not converge and that were retried.
    failed_examples
        Up to five failed points as (G in S, V_in in V, V_gate in V, delvto in V, T in degC).
    seconds
        Wall time of this run.
    region
        The fitted linear region of a complete LUT, at its nominal temperature (27 degC when
        it has it, else its first; see :func:`neatxbar.lut.schema.select_temperature`).
    regions
        The fitted linear region at each temperature of ``temperatures_c`` (degC).
    up_to_date
        The file existed, complete and from the same spec: nothing was run.
    """

    path: Path
    complete: bool
    points_total: int
    points_run: int = 0
    points_failed: int = 0
    chunks_retried: int = 0
    failed_examples: list[tuple[float, ...]] = field(default_factory=list)
    seconds: float = 0.0
    region: LinearRegion | None = None
    up_to_date: bool = False
    regions: list[LinearRegion] = field(default_factory=list)
    temperatures_c: list[float] = field(default_factory=list)


def partial_path(out: Path) -> Path:
    """Where an unfinished run keeps its results."""
    return out.with_name(out.name + ".partial")


def lock_path(out: Path) -> Path:
    """The lock file a run on ``out`` holds."""
    return out.with_name(out.name + ".lock")


@contextlib.contextmanager
def _run_lock(out: Path) -> Iterator[None]:
    """Hold ``<out>.lock`` (an exclusive ``flock``) for the whole run; remove it at the end.

    Raises
    ------
    LUTError
        Another run holds it.
    """
    path = lock_path(out)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LUTError(
                f"{out} is locked by another run (lock file {path}); wait for that run to "
                "finish, or choose another --out"
            ) from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file after we opened it: take the new one
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


def _hold_for_tests(chunks_written: int) -> None:
    """The test hook of the module docstring (does nothing unless both variables are set)."""
    at, hold = os.environ.get("NEAT_TEST_HOLD_AFTER_CHUNK"), os.environ.get("NEAT_TEST_HOLD_FILE")
    if not at or not hold or str(chunks_written) != at.strip():
        return
    Path(hold).write_text(str(os.getpid()))
    while os.path.exists(hold):
        time.sleep(0.01)


def _check_same_spec(path: Path, spec: SweepSpec, sha: str) -> None:
    """Refuse ``path`` unless it was made from this spec: the same ``spec_sha256`` (which covers
    ``v_gate.offered_v``) and the same offered gate voltages in ``grid/v_gate_offered``."""
    with open_lut(path) as f:
        grids = check_attrs_and_grids(f, path)
        theirs = str(f.attrs["spec_sha256"])
        offered = read_offered(f, grids, path)
    if theirs != sha:
        raise LUTError(
            f"{path} was made from another spec (spec_sha256 {theirs[:12]}..., this spec "
            f"{sha[:12]}...); use --overwrite to start again, or another --out"
        )
    ours = _offered(spec)
    same = (offered is None and ours is None) or (
        offered is not None
        and ours is not None
        and offered.shape == ours.shape
        and bool(np.all(np.abs(offered - ours) <= OFFERED_TOLERANCE_V))
    )
    if not same:
        raise LUTError(
            f"{path}: its {OFFERED} does not match the spec's v_gate.offered_v; use --overwrite "
            "to start again, or another --out"
        )


def _check_resumable(path: Path) -> None:
    """Refuse to resume a partial file of the older schema (its tables have no axes)."""
    with open_lut(path) as f:
        schema = schema_of(f, path)
    if schema != SCHEMA:
        raise LUTError(
            f"{path} is an unfinished run of an older version ({schema}); use --overwrite to "
            "start again"
        )


def _offered(spec: SweepSpec) -> np.ndarray | None:
    """The spec's offered gate voltages (V, grid values) as the file stores them; None when the
    spec offers every grid value (the file then has no ``grid/v_gate_offered``)."""
    return None if spec.v_gate.offered_v is None else spec.v_gate.offered()


def _new_file(path: Path, spec: SweepSpec, spec_text: str, sha: str) -> None:
    transistor = spec.cell_transistor()
    cell = render_cell(
        1 / spec.memristor.r_on_ohm,
        spec.v_in.stop_v,
        spec.v_gate.stop_v,
        transistor,
        spec.ngspice or None,
    )
    description = {
        "model": transistor.model,
        "w_m": transistor.w_m,
        "l_m": transistor.l_m,
        "model_params": dict(transistor.model_params),
        "card_file": transistor.card_file,
        "side": "transistor between the memristor and the column; bulk tied to source",
    }
    if spec.transistor.a_vt_mv_um is not None:
        description["a_vt_mv_um"] = spec.transistor.a_vt_mv_um
        description["a_vt_source"] = spec.transistor.a_vt_source
    attrs = {
        "ngspice_version": ngspice_version(),
        "package_version": version("neat-xbar"),
        "spec": spec_text,
        "spec_sha256": sha,
        "cell_netlist": cell.text,
        "transistor": transistor_json(description),
        "tolerance": spec.tolerance,
        "sigma_vt_v": spec.sigma_vt_v,
    }
    grids = Grids(
        spec.conductances,
        spec.v_in.values(),
        spec.v_gate.values(),
        spec.temperatures_c,
        spec.delvto_v,
    )
    tmp = path.with_name(path.name + ".tmp")
    create(tmp, grids, attrs, _offered(spec))
    replace_atomically(tmp, path)


def _nothing_solved(path: Path) -> bool:
    """Whether ``path`` is a LUT file of this schema without a single solved point (a run that
    failed before its first chunk): nothing in it is worth keeping. A file that does not open
    or check is not judged here (the caller's check reports it)."""
    try:
        with open_lut(path) as f:
            check_attrs_and_grids(f, path)
            status = f["status"]
            return not any(
                bool(np.any(status[start : start + 64] == SOLVED))
                for start in range(0, status.shape[0], 64)
            )
    except LUTError:
        return False


def _pending_jobs(path: Path, spec: SweepSpec) -> list[ChunkJob]:
    """The chunks of the (shift, conductance) pairs, per temperature, with a point not solved."""
    g, v_in, v_gate = spec.conductances, spec.v_in.values(), spec.v_gate.values()
    temps, shifts = spec.temperatures_c, spec.delvto_v
    n_cells = shifts.size * g.size
    with open_lut(path) as f:
        status = f["status"][()].reshape(temps.size, n_cells, -1)
    pending = np.any(status != SOLVED, axis=2)  # (n_t, n_cells)
    cell_g = np.tile(g, shifts.size)  # shift-major order, as the file's (n_d, n_g) axes
    cell_d = np.repeat(shifts, g.size)
    transistor = spec.cell_transistor()
    jobs = []
    for t, temperature in enumerate(temps):
        for start in range(0, n_cells, spec.chunk_size):
            stop = min(start + spec.chunk_size, n_cells)
            if np.any(pending[t, start:stop]):
                jobs.append(
                    ChunkJob(
                        t,
                        start,
                        stop,
                        cell_g[start:stop],
                        cell_d[start:stop],
                        v_in,
                        v_gate,
                        transistor,
                        dict(spec.ngspice),
                        float(temperature),
                    )
                )
    return jobs


PR_SET_PDEATHSIG = 1


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _init_worker(parent: int) -> None:
    """Initializer of the default pool's workers: Ctrl-C is the parent's to handle (a terminal
    sends it to the whole process group), and a worker dies with its parent, even a killed one."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    armed = False
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the watch was armed
        os._exit(1)


@contextlib.contextmanager
def _workers_ignore_sigint(own: bool) -> Iterator[None]:
    """Start the default pool's workers with SIGINT ignored from their first instruction.

    A spawned worker imports the package before its initializer runs; a terminal's Ctrl-C (sent
    to the whole process group) landing then would print a traceback per worker. An ignored
    signal stays ignored across ``exec`` and Python keeps it so, hence SIGINT is ignored in the
    parent while the pool starts its processes (a few milliseconds: the workers are launched
    by the first submissions and do not wait for each other's start-up).
    """
    if not own or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _results(
    jobs: list[ChunkJob], workers: int, executor: Executor | None
) -> Iterator[ChunkResult]:
    """Run the jobs where asked, yielding results as they finish."""
    if executor is None and workers <= 1:
        for job in jobs:
            yield run_chunk(job)
        return
    own = executor is None
    with _workers_ignore_sigint(own):
        if own:
            executor = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(os.getpid(),),
            )
        futures: list[Future] = [executor.submit(run_chunk, job) for job in jobs]
    try:
        for future in as_completed(futures):
            yield future.result()
    finally:
        for future in futures:
            future.cancel()
        if own:
            executor.shutdown(wait=True, cancel_futures=True)


def _finish(path: Path, out: Path, spec: SweepSpec) -> list[LinearRegion]:
    """Fit the linear region at each temperature (at 0 V shift), add the read energy, and
    move the file into place; return the regions."""
    with open_lut(path, "r+") as f:
        grids = check_attrs_and_grids(f, path)
        regions = [
            fit_linear_region(
                f["current"][t, grids.zero_shift],
                grids.conductance,
                grids.v_in,
                spec.tolerance,
                spec.metric,
            )
            for t in range(grids.temperature_c.size)
        ]
        write_linear_region(f, regions)
        write_read_energy(f, spec.read_time_s)
    replace_atomically(path, out)
    return regions


def characterize(
    spec: SweepSpec,
    spec_text: str,
    out: Path | str,
    *,
    workers: int | None = None,
    executor: Executor | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> CharacterizeReport:
    """Characterize the cell of ``spec`` into the LUT file ``out`` (resuming if it can).

    Parameters
    ----------
    spec, spec_text
        The validated spec and its TOML text (stored in the file).
    out
        The LUT file to write; ``<out>.partial`` holds an unfinished run.
    workers
        Processes of the default pool; 1 runs in this process. Default: this process for runs
        under :data:`IN_PROCESS_BELOW_POINTS` points, else the number of CPU cores.
    executor
        Any ``concurrent.futures.Executor`` (e.g. a Dask client's ``get_executor()``) to use
        instead of the default pool.
    overwrite
        Discard an existing file or unfinished run instead of refusing or resuming.
    progress
        Show a progress bar (points per second) on stderr.

    Raises
    ------
    LUTError
        ``out`` or its partial file comes from another spec, or the partial file is damaged.
    """
    started = time.perf_counter()
    out = Path(out)
    partial = partial_path(out)
    spec.validate()  # every number, size and the card, before any file is written
    sha = spec.sha256()
    total = int(
        np.prod(
            [
                len(spec.temperature.values_c),
                spec.mismatch.num,
                spec.conductance.num,
                spec.v_in.num,
                spec.v_gate.num,
            ]
        )
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with _run_lock(out):
        if overwrite:
            for path in (out, partial):
                path.unlink(missing_ok=True)
        if out.exists():
            _check_same_spec(out, spec, sha)
            return CharacterizeReport(out, True, total, up_to_date=True)
        if partial.exists() and _nothing_solved(partial):
            partial.unlink()  # nothing solved in it (e.g. a run that failed at once): start anew
        if partial.exists():
            _check_same_spec(partial, spec, sha)
            _check_resumable(partial)
        else:
            _new_file(partial, spec, spec_text, sha)
        return _run(spec, out, partial, total, workers, executor, progress, started)


def _run(
    spec: SweepSpec,
    out: Path,
    partial: Path,
    total: int,
    workers: int | None,
    executor: Executor | None,
    progress: bool,
    started: float,
) -> CharacterizeReport:
    """Run the pending chunks of ``partial``, then finish it into ``out`` if all solved."""
    jobs = _pending_jobs(partial, spec)
    points = sum((j.stop - j.start) * j.v_in.size * j.v_gate.size for j in jobs)
    n_g = spec.conductance.num
    if workers is None:
        workers = 1 if points < IN_PROCESS_BELOW_POINTS else (os.cpu_count() or 1)
    retried = 0
    with (
        open_lut(partial, "r+") as f,
        ProgressBar(
            total=points,
            unit="pt",
            unit_scale=True,
            disable=not progress,
            desc=f"characterize {spec.name}",
        ) as bar,
    ):
        for written, result in enumerate(
            _results(jobs, min(workers, max(len(jobs), 1)), executor), start=1
        ):
            write_result(f, result, n_g)
            retried += result.retried
            bar.update(result.status.size)
            _hold_for_tests(written)
        status = f["status"][()]
        failed = int(np.sum(status == FAILED))
        grids = check_attrs_and_grids(f, partial)
        examples = [
            (
                float(grids.conductance[k]),
                float(grids.v_in[j]),
                float(grids.v_gate[m]),
                float(grids.delvto[d]),
                float(grids.temperature_c[t]),
            )
            for t, d, k, j, m in np.argwhere(status == FAILED)[:5]
        ]
    report = CharacterizeReport(partial, False, total, points, failed, retried, examples)
    report.temperatures_c = grids.temperature_c.tolist()
    if failed == 0:
        report.regions = _finish(partial, out, spec)
        report.region = report.regions[select_temperature(grids.temperature_c, None, out)]
        report.path, report.complete = out, True
    report.seconds = time.perf_counter() - started
    return report
