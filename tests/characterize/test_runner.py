"""The sweep runner against real ngspice and real HDF5 files."""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner, Result

from neatxbar.characterize.runner import characterize, lock_path, partial_path
from neatxbar.characterize.spec import parse_spec
from neatxbar.cli.main import cli
from neatxbar.lut.errors import LUTError
from neatxbar.spice import sweep_cells

SMALL = """
name = "small"
chunk_size = 2
[conductance]
num = 5
[v_in]
start_v = 0.0
stop_v = 0.5
num = 11
[v_gate]
start_v = 0.8
stop_v = 1.2
num = 3
[transistor]
w_m = 4.7e-7
model_params = {vth0 = 0.75}
"""


def _current(path: Path) -> np.ndarray:
    with h5py.File(path, "r") as f:
        return f["current"][()]


def _neat(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "neat"), *args]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small spec characterized in this process (one worker)."""
    path = tmp_path_factory.mktemp("ref") / "small.h5"
    report = characterize(parse_spec(SMALL), SMALL, path, workers=1, progress=False)
    assert report.complete and report.points_run == 5 * 11 * 3
    return path


def test_lut_equals_a_direct_sweep_and_is_complete(reference: Path) -> None:
    spec = parse_spec(SMALL)
    direct = sweep_cells(
        spec.conductances[:2], spec.v_in.values(), spec.v_gate.values(), spec.cell_transistor()
    )
    np.testing.assert_array_equal(_current(reference)[0, 0, :2], direct)
    with h5py.File(reference, "r") as f:
        assert np.all(f["status"][()] == 0)
        assert f.attrs["spec_sha256"] == spec.sha256()
        assert f["linear_region/g_max"].shape == (1, 3)  # (temperature, V_gate)
        energy = f["energy/read_energy"][()]
        expected = 10e-9 * f["grid/v_in"][()][:, None] * f["current"][()]
        np.testing.assert_allclose(energy, expected)
    assert not partial_path(reference).exists()


def test_process_pool_gives_bit_identical_results(reference: Path, tmp_path: Path) -> None:
    report = characterize(parse_spec(SMALL), SMALL, tmp_path / "pool.h5", workers=2, progress=False)
    assert report.complete
    assert np.array_equal(_current(report.path), _current(reference))


def test_dask_local_cluster_gives_bit_identical_results(reference: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(SMALL)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        report = characterize(
            parse_spec(SMALL),
            SMALL,
            tmp_path / "dask.h5",
            executor=client.get_executor(),
            progress=False,
        )
        result = CliRunner().invoke(
            cli,
            [
                "characterize",
                "--spec",
                str(spec_file),
                "--out",
                str(tmp_path / "cli.h5"),
                "--scheduler",
                cluster.scheduler_address,
                "--no-progress",
            ],
        )
    assert report.complete
    assert np.array_equal(_current(report.path), _current(reference))
    assert result.exit_code == 0, result.output
    assert np.array_equal(_current(tmp_path / "cli.h5"), _current(reference))


def test_rerun_is_up_to_date_and_another_spec_is_refused(reference: Path) -> None:
    again = characterize(parse_spec(SMALL), SMALL, reference, workers=1, progress=False)
    assert again.up_to_date and again.points_run == 0
    other = SMALL.replace("num = 11", "num = 6")
    with pytest.raises(LUTError, match="another spec"):
        characterize(parse_spec(other), other, reference, workers=1, progress=False)


def _invoke(spec_file: Path, out: Path, *extra: str) -> Result:
    """``neat characterize --spec FILE --out OUT --workers 1 --no-progress EXTRA...``."""
    args = ["characterize", "--spec", str(spec_file), "--out", str(out), "--workers", "1"]
    return CliRunner().invoke(cli, [*args, "--no-progress", *extra])


def test_cli_refuses_a_spec_mismatch_in_one_line_and_overwrites_on_request(
    tmp_path: Path,
) -> None:
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(SMALL)
    out = tmp_path / "x.h5"
    first = _invoke(spec_file, out)
    assert first.exit_code == 0, first.output
    spec_file.write_text(SMALL.replace("num = 11", "num = 6"))
    refused = _invoke(spec_file, out)
    assert refused.exit_code == 2
    assert "another spec" in refused.output and refused.output.strip().count("\n") == 0
    forced = _invoke(spec_file, out, "--overwrite")
    assert forced.exit_code == 0, forced.output
    assert _current(out).shape == (1, 1, 5, 6, 3)


def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default, as under a terminal (a shell that
    runs the tests in the background starts them with SIGINT ignored, which a child inherits)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _held_run(
    command: list[str], hold: Path, after_chunk: int, **popen: object
) -> subprocess.Popen:
    """Start ``command`` with the runner's test hook: it stops after chunk ``after_chunk`` and
    waits until ``hold`` is removed. Returns once it is held there.

    ``hold`` is made a FIFO first: the hook's write of its pid into it is the event this waits
    for (``select`` on the pipe, no polling of the run's progress); it stays held while the FIFO
    exists. The 60 s limit only turns a run that never gets there into a failure."""
    os.mkfifo(hold)
    env = os.environ | {
        "NEAT_TEST_HOLD_AFTER_CHUNK": str(after_chunk),
        "NEAT_TEST_HOLD_FILE": str(hold),
    }
    reader = os.open(hold, os.O_RDONLY | os.O_NONBLOCK)  # before the writer: it never blocks
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
        **popen,
    )
    try:
        exited = os.pidfd_open(process.pid)
        ready, _, _ = select.select([reader, exited], [], [], 60)
        os.close(exited)
        held = reader in ready and os.read(reader, 64).strip() == str(process.pid).encode()
    finally:
        os.close(reader)
    if not held:
        process.kill()
        _, err = process.communicate()
        pytest.fail(f"the run never reached the hold point: rc {process.returncode}, {err}")
    return process


def _solved(path: Path) -> int:
    with h5py.File(path, "r", locking=False) as f:
        return int(np.sum(f["status"][()] == 0))


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_to_an_identical_file(tmp_path: Path, sig: signal.Signals) -> None:
    # One conductance per chunk; the hook holds the run after its 3rd chunk, so the signal
    # provably lands in the middle (3 of 8 chunks written).
    text = SMALL.replace("chunk_size = 2", "chunk_size = 1").replace("num = 5", "num = 8")
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(text)
    whole = characterize(parse_spec(text), text, tmp_path / "whole.h5", workers=1, progress=False)
    out = tmp_path / "killed.h5"
    command = _neat(
        "characterize",
        "--spec",
        str(spec_file),
        "--out",
        str(out),
        "--workers",
        "1",
        "--no-progress",
    )
    process = _held_run(command, tmp_path / "hold", 3)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert process.returncode == 130, err
        assert err.count("\n") == 1 and "interrupted" in err and "Traceback" not in err, err
    else:
        assert process.returncode == -signal.SIGKILL
    assert not out.exists() and partial_path(out).exists()
    assert _solved(partial_path(out)) == 3 * 11 * 3
    resumed = subprocess.run(command, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert np.array_equal(_current(out), _current(whole.path))
    assert not partial_path(out).exists() and not lock_path(out).exists()


def test_sigint_inside_an_ngspice_call_stops_the_in_process_run(tmp_path: Path) -> None:
    # The signal handler runs while ngspice is inside a callback into Python (as when Ctrl-C
    # comes mid-sweep): cffi used to swallow the KeyboardInterrupt and the run went on.
    from neatxbar.spice import session

    ngspice = session()
    messages = ngspice._messages

    class _InterruptOnOutput(list):
        def append(self, item: object) -> None:
            super().append(item)
            if not self.fired:
                self.fired = True
                signal.getsignal(signal.SIGINT)(signal.SIGINT, None)

    hook = _InterruptOnOutput()
    hook.fired = False
    ngspice._messages = hook
    # Python's own Ctrl-C handler, even where the tests were started with SIGINT ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            characterize(parse_spec(SMALL), SMALL, tmp_path / "x.h5", workers=1, progress=False)
    finally:
        ngspice._messages = messages
        signal.signal(signal.SIGINT, previous)
    assert hook.fired
    assert partial_path(tmp_path / "x.h5").exists() and not (tmp_path / "x.h5").exists()
    assert not lock_path(tmp_path / "x.h5").exists()


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _assert_gone(pids: set[int]) -> None:
    """Wait (at most 30 s in all) for the processes to exit, as they do once their parent is
    gone: each one's exit is an event on its pidfd."""
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue  # already gone
        try:
            select.select([fd], [], [], 30)
        finally:
            os.close(fd)
    assert not [pid for pid in pids if _alive(pid)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_pool_run_leaves_no_worker(tmp_path: Path) -> None:
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(SMALL.replace("chunk_size = 2", "chunk_size = 1"))
    command = _neat(
        "characterize",
        "--spec",
        str(spec_file),
        "--out",
        str(tmp_path / "p.h5"),
        "--workers",
        "2",
        "--no-progress",
    )
    process = _held_run(command, tmp_path / "hold", 1)
    workers = _children(process.pid)
    assert len(workers) >= 2  # the pool's workers (and multiprocessing's resource tracker)
    process.kill()
    process.communicate(timeout=60)
    _assert_gone(workers)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_of_a_pool_run_gives_one_line_and_130(tmp_path: Path) -> None:
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(SMALL.replace("chunk_size = 2", "chunk_size = 1"))
    out = tmp_path / "p.h5"
    command = _neat(
        "characterize",
        "--spec",
        str(spec_file),
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-progress",
    )
    # A terminal's Ctrl-C goes to the whole process group: give the run a group of its own.
    process = _held_run(command, tmp_path / "hold", 1, start_new_session=True)
    workers = _children(process.pid)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.count("\n") == 1 and "interrupted" in err, err
    assert partial_path(out).exists() and _solved(partial_path(out)) >= 11 * 3
    _assert_gone(workers)


def test_the_loser_of_two_runs_on_one_output_says_locked(tmp_path: Path) -> None:
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(SMALL)
    out = tmp_path / "x.h5"
    command = _neat(
        "characterize",
        "--spec",
        str(spec_file),
        "--out",
        str(out),
        "--workers",
        "1",
        "--no-progress",
    )
    hold = tmp_path / "hold"
    first = _held_run(command, hold, 1)
    loser = subprocess.run([*command, "--overwrite"], capture_output=True, text=True)
    assert loser.returncode == 2
    assert loser.stderr.startswith("error:") and "locked by another run" in loser.stderr
    assert loser.stderr.count("\n") == 1
    hold.unlink()
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert out.exists() and not lock_path(out).exists()


def test_non_convergence_ends_with_status_2_a_summary_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # A card that ngspice 39 cannot solve at any operating point: BSIM4 warns about the
    # negative rdsw and clamps it in its parameter check, yet every DC solution fails.
    card = tmp_path / "broken.lib"
    card.write_text(".model broken nmos level=54\n+ vth0=0.47 rdsw=-1e9\n")
    text = (
        SMALL.replace("num = 5", "num = 2")
        .replace("num = 11", "num = 3")
        .replace("num = 3\n[transistor]", "num = 2\n[transistor]")
        .replace("w_m = 4.7e-7", "w_m = 4.7e-7\nmodel = 'broken'\ncard_file = 'broken.lib'")
    )
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(text)
    out = tmp_path / "broken.h5"
    result = _invoke(spec_file, out)
    assert result.exit_code == 1
    assert "did not converge" in result.output and "G " in result.output
    assert not out.exists()
    with h5py.File(partial_path(out), "r") as f:
        status, current = f["status"][()], f["current"][()]
    assert np.all(status == 2)
    assert not np.any(np.isfinite(current[status == 2]))  # failed points never look solved
    refused = CliRunner().invoke(cli, ["fit", str(partial_path(out))])
    assert refused.exit_code == 2 and "incomplete" in refused.output


@pytest.mark.parametrize("kind", ["truncated", "foreign", "not-hdf5"])
def test_damaged_or_foreign_files_give_one_line(reference: Path, tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.h5"
    if kind == "truncated":
        data = reference.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "foreign":
        with h5py.File(path, "w") as f:
            f.attrs["schema"] = "someone-else/3"
            f["x"] = np.arange(3)
    else:
        path.write_text("hello")
    result = CliRunner().invoke(cli, ["fit", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith("error:") and result.output.strip().count("\n") == 0


def test_fit_command_rewrites_bounds_with_another_tolerance(
    reference: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.h5"
    copy.write_bytes(reference.read_bytes())
    result = CliRunner().invoke(cli, ["fit", str(copy), "--tolerance", "0.001", "--json"])
    assert result.exit_code == 0, result.output
    with h5py.File(copy, "r") as f, h5py.File(reference, "r") as g:
        assert f.attrs["tolerance"] == 0.001
        assert np.all(f["linear_region/g_max"][()] <= g["linear_region/g_max"][()])
        assert np.any(f["linear_region/g_max"][()] < g["linear_region/g_max"][()])


def test_spawn_is_the_pool_start_method() -> None:
    # The pool must not fork this process's ngspice into workers.
    assert "spawn" in multiprocessing.get_all_start_methods()
