"""Every ``neat`` command, run from an empty folder with its outputs elsewhere, leaves the folder
empty: no ngspice parameter-check dump (``bsim4*.out``), no caches, temporary files or locks.

One fresh interpreter runs the commands one after the other (as a user's shell would, but with
torch imported once); the folder is listed after each, so a failure names the command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Runs the commands of argv[1] (JSON) in this process; prints, per command, its exit code and the
# entries of the working folder after it, as the last line (JSON).
DRIVER = r"""
import json, os, sys, time
from neatxbar.cli.main import cli
runs = []
for args in json.loads(sys.argv[1]):
    start = time.perf_counter()
    try:
        cli.main(args=args, prog_name="neat")
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    seconds = round(time.perf_counter() - start, 2)
    runs.append({"args": args, "code": code, "left": sorted(os.listdir(".")), "s": seconds})
print("\nRUNS " + json.dumps(runs))
"""

TINY_SPEC = """
name = "tiny"
tolerance = 0.025
read_time_s = 10e-9
chunk_size = 4

[memristor]
r_on_ohm = 30e3
r_off_ohm = 300e3

[conductance]
num = 4

[v_in]
start_v = 0.0
stop_v = 0.5
num = 6

[v_gate]
start_v = 0.8
stop_v = 1.0
num = 3

[transistor]
model = "nmos45_bsim4"
w_m = 4.729e-07
l_m = 45e-9

[transistor.model_params]
vth0 = 0.75
rdsw = 126.48
ngate = 1e17  # a BSIM4 parameter-check warning: ngspice would write bsim4v5.out into the cwd
"""

EXPERIMENT = """
[experiment]
name = "clean"
dataset = "digits"
model = "mlp"
lut = "{lut}"
v_gates = [1.0]

[train]
epochs = 1
device = "cpu"

[neat]
iterations = 1
epochs_per_iteration = 1
device = "cpu"
"""


def test_no_command_leaves_a_file_in_the_working_folder(
    tmp_path: Path, paper_lut_path: Path
) -> None:
    cwd = tmp_path / "empty"
    cwd.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    spec = out / "tiny.toml"
    spec.write_text(TINY_SPEC)
    experiment = out / "experiment.toml"
    experiment.write_text(EXPERIMENT.format(lut=paper_lut_path))
    lut, model, paper = str(out / "tiny.h5"), str(out / "m.pt"), str(paper_lut_path)
    fast = ["--no-progress"]
    commands = [
        ["--help"],
        ["doctor"],
        ["characterize", "--spec", str(spec), "--out", lut, *fast],
        ["fit", lut],
        ["report", "lut", lut, "--out", str(out / "plots")],
        ["train", "--epochs", "1", "--max-steps", "3", "--device", "cpu", "--out", model, *fast],
        [
            "map",
            "--checkpoint",
            model,
            "--lut",
            paper,
            "--samples",
            "16",
            "--energy-samples",
            "4",
            "--out",
            str(out / "map"),
            *fast,
        ],
        [
            "compare",
            "--lut",
            paper,
            "--sizes",
            "4",
            "--vectors",
            "2",
            "--no-trained",
            "--out",
            str(out / "compare"),
            *fast,
        ],
        [
            "report",
            "experiment",
            "--config",
            str(experiment),
            "--out",
            str(out / "experiment"),
            *fast,
        ],
        ["fit", str(out / "missing.h5")],  # a user's mistake leaves nothing either
    ]
    env = {k: v for k, v in os.environ.items() if k != "MPLCONFIGDIR"}
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(commands)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = json.loads(done.stdout.rsplit("RUNS ", 1)[1])
    for run in runs:
        expected = 2 if run["args"][-1].endswith("missing.h5") else 0
        assert run["code"] == expected, (run, done.stderr[-5000:])
        assert run["left"] == [], f"'neat {' '.join(run['args'])}' left {run['left']} in its cwd"
    assert list(cwd.iterdir()) == []
