"""How long ``neat map`` takes on a digits MLP, and what it reports per gate voltage.

A software MLP (64-256-256-10) trained here on the digits (20 epochs), the `paper` LUT
characterized here; ``neat-map --vgate 1.3 --sweep 0.7:1.0:0.1`` (every layer at 0.7, 0.8, 0.9,
1.0 and 1.3 V) run as a subprocess (what a user waits for: start-up, imports, evaluation of the
360 test images per setting, energy, the JSON, CSV and three figures), and the same through the
library call :func:`neatxbar.studies.neat_map.deploy` with the time of each setting. Target: the
whole command in under 60 s on 2 cores.

Run: ``.venv/bin/python benchmarks/neat_map.py`` (about 20 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _results import publish  # benchmarks/_results.py, beside this script

from neatxbar.characterize.runner import characterize
from neatxbar.characterize.spec import load_preset
from neatxbar.studies.neat_map import deploy
from neatxbar.training.data import load_dataset
from neatxbar.training.run import run_training
from neatxbar.training.trainer import TrainConfig

THREADS = 2
GATE_ARGS = ["--vgate", "1.3", "--sweep", "0.7:1.0:0.1"]  # 0.7, 0.8, 0.9, 1.0 and 1.3 V
TARGET_S = 60.0


def main() -> None:
    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec, text = load_preset("paper")
        lut = folder / "paper.h5"
        characterize(spec, text, lut, workers=1, progress=False)
        started = time.perf_counter()
        run = run_training(
            "mlp",
            load_dataset("digits"),
            TrainConfig(epochs=20, device="cpu"),
            folder / "mlp.pt",
            progress=False,
        )
        train_s = time.perf_counter() - started

        script = Path(sys.executable).parent / "neat-map"
        command = [
            str(script),
            "--checkpoint",
            str(run.checkpoint),
            "--lut",
            str(lut),
            *GATE_ARGS,
            "--out",
            str(folder / "cli"),
            "--json",
            "--no-progress",
        ]
        env = {**os.environ, "OMP_NUM_THREADS": str(THREADS)}
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        cli_s = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"neat-map failed ({done.returncode}): {done.stderr.strip()}")
        printed = json.loads(done.stdout)

        started = time.perf_counter()
        report = deploy(
            run.checkpoint,
            lut,
            v_gate=1.3,
            sweep="0.7:1.0:0.1",
            out_dir=folder / "library",
            progress=False,
        )
        library_s = time.perf_counter() - started

    assert [s["label"] for s in printed["settings"]] == [s.label for s in report.settings]
    software = report.software_accuracy
    rows = []
    for s in sorted(report.settings, key=lambda s: s.uniform or 0.0):
        e = s.energy
        rows.append(
            (
                f"{s.uniform:.2f}",
                f"{100 * s.crossbar_accuracy:.2f}",
                f"{100 * (s.crossbar_accuracy - software):+.2f}",
                ", ".join(f"{v:.3f}" for v in s.linear_share.values()),
                ", ".join(str(k) for k in s.fast_path_k.values()),
                f"{e.read_j * 1e12:.1f}",
                f"{e.gate_j * 1e12:.1f}",
                f"{e.total_j * 1e12:.1f}",
                f"{s.energy_relative:.3f}",
                f"{100 * s.saving:.1f}",
                f"{s.seconds:.2f}",
            )
        )
    verdict = "within" if cli_s < TARGET_S else "OVER"
    caption = (
        f"`neat-map {' '.join(GATE_ARGS)}` on a digits MLP 64-256-256-10 (20 epochs, software "
        f"accuracy {100 * software:.2f} %), `paper` LUT, {THREADS} threads: the command (a fresh "
        f"process, JSON, CSV and 3 figures) took **{cli_s:.1f} s** ({verdict} the {TARGET_S:.0f} s "
        f"target); the library call `deploy(...)` {library_s:.1f} s in a warm process (training "
        f"the model: {train_s:.1f} s, not counted). Accuracy on the 360 test images (%), energy "
        f"per inference in pJ over them, relative to every layer at 1.0 V with the same inputs; "
        f"'s' is the time of each setting (conversion, evaluation, energy)."
    )
    header = [
        "V_gate (V)",
        "crossbar %",
        "vs software (points)",
        "linear share per layer",
        "fast-path K per layer",
        "read pJ",
        "gate pJ",
        "total pJ",
        "relative",
        "saving %",
        "s",
    ]
    publish(__file__, caption, header, rows)


if __name__ == "__main__":
    main()
