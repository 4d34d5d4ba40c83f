"""``neat train`` under torchrun: two CPU processes (gloo) train one model and agree on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist

from neatxbar.training.checkpoint import load_checkpoint
from neatxbar.training.run import model_from_checkpoint

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="torch without gloo"
)

#: Variables a surrounding torchrun (or a cluster) sets; the child launcher must not inherit them.
LAUNCHER_VARIABLES = (
    "RANK",
    "LOCAL_RANK",
    "WORLD_SIZE",
    "LOCAL_WORLD_SIZE",
    "GROUP_RANK",
    "MASTER_ADDR",
    "MASTER_PORT",
    "TORCHELASTIC_RUN_ID",
)


def test_python_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "neatxbar.cli.main", "train", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "--max-steps" in done.stdout


def test_train_under_torchrun_with_two_cpu_processes(tmp_path: Path) -> None:
    out = tmp_path / "ddp.pt"
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}
    env |= {"OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "neatxbar.cli.main",
        "train",
        "--model",
        "mlp",
        "--dataset",
        "digits",
        "--epochs",
        "1",
        "--max-steps",
        "4",
        "--device",
        "cpu",
        "--no-progress",
        "--out",
        str(out),
        "--json",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-4000:]

    header, state = load_checkpoint(out)
    assert header["world_size"] == 2
    assert header["ddp_consistent"] is True
    assert (header["model"], header["dataset"]) == ("mlp", "digits")
    assert header["train"]["max_steps"] == 4 and header["train"]["device"] == "cpu"
    assert 0.0 <= header["accuracy"] <= 1.0
    printed = json.loads(done.stdout)  # rank 0 alone prints, so stdout is one JSON document
    saved = {k: v for k, v in header.items() if k not in ("created", "git_revision")}
    assert printed == saved
    assert [p.name for p in tmp_path.iterdir()] == ["ddp.pt"]  # one writer, no temporary files
    model, _ = model_from_checkpoint(out)
    assert model.state_dict().keys() == state.keys()
