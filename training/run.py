"""``run_training``: what ``neat train`` does, callable from Python.

Software training of a model by name on a dataset by name, optionally followed (or replaced, when
starting from a checkpoint) by NEAT; the result is saved as a checkpoint with its header.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from neatxbar.core.errors import ConfigError
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping import MappingConfig, convert
from neatxbar.training.checkpoint import (
    CheckpointError,
    check_model_fits,
    load_checkpoint,
    save_checkpoint,
)
from neatxbar.training.data import DatasetSplits, load_dataset
from neatxbar.training.models import build_model
from neatxbar.training.neat import NeatConfig, NeatResult, neat_train
from neatxbar.training.trainer import (
    TrainConfig,
    distributed,
    evaluate,
    finish_distributed,
    resolve_device,
    train,
)


@dataclass
class RunResult:
    """What a training run produced."""

    checkpoint: Path | None
    header: dict[str, Any]
    software_accuracy: float
    crossbar_accuracy: float | None = None
    neat: NeatResult | None = None


def model_from_checkpoint(
    path: Path | str,
    model_name: str | None = None,
    dataset: str | None = None,
    data_dir: Path | str | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model from a checkpoint (or a plain state_dict with ``model_name``)."""
    header, state = load_checkpoint(path)
    name = header.get("model", model_name)
    if name is None:
        raise CheckpointError(f"{path}: a plain state_dict; say which model it is (--model)")
    shape = {k: header[k] for k in ("num_classes", "in_channels", "image_size") if k in header}
    if not shape:
        splits = load_dataset(dataset or header.get("dataset", "digits"), data_dir)
        shape = {
            "num_classes": splits.num_classes,
            "in_channels": splits.in_channels,
            "image_size": splits.image_size,
        }
    check_model_fits(name, shape, state, path)  # shapes compared before any allocation
    model = build_model(name, **shape)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise CheckpointError(f"{path}: weights do not fit model {name!r} ({first})") from None
    return model, {**header, "model": name, **shape}


def check_output_file(out: Path | str, inputs: Mapping[str, Path | str | None]) -> Path:
    """Make sure a run can save its result at ``out`` before it starts (the work is not lost).

    Refuses ``out`` when it is a folder or the same file as one of ``inputs`` (a name, e.g.
    ``"--from checkpoint"``, to the path; None entries are skipped); creates its parent folder;
    writes and removes a probe file there, so a read-only or unwritable place fails now, not after
    the training. Returns ``out`` as a Path.

    Raises
    ------
    ConfigError
        One line naming the path and what to do.
    """
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a checkpoint file name (e.g. model.pt)")
    for name, path in inputs.items():
        if path is not None and _same_file(out, Path(path)):
            raise ConfigError(f"--out {out} is the {name} this run reads; choose another --out")
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".probe", dir=parent)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigError(
            f"--out {out}: cannot write in {parent} ({reason}); choose a writable place"
        ) from None
    return out


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def run_training(
    model_name: str,
    splits: DatasetSplits,
    train_config: TrainConfig,
    out: Path | str | None,
    *,
    start: Path | str | None = None,
    lut: CellLUT | None = None,
    v_gate: float | Mapping[str, float] | None = None,
    neat: NeatConfig | None = None,
    mapping: MappingConfig | None = None,
    progress: bool = True,
) -> RunResult:
    """Train (or load ``start``), run NEAT if ``neat`` is given, evaluate, save to ``out``.

    ``out`` is checked first (:func:`check_output_file`): not an input, in a writable place.
    """
    if out is not None and (not distributed() or int(os.environ.get("RANK", "0")) == 0):
        inputs = {"--from checkpoint": start, "LUT": lut.path if lut is not None else None}
        out = check_output_file(out, inputs)
    torch.manual_seed(train_config.seed)
    if start is not None:
        model, header = model_from_checkpoint(start, model_name, splits.name)
    else:
        model = build_model(model_name, splits.num_classes, splits.in_channels, splits.image_size)
        header = {
            "model": model_name,
            "num_classes": splits.num_classes,
            "in_channels": splits.in_channels,
            "image_size": splits.image_size,
        }
        train(model, splits.train, splits.test, train_config, progress=progress)
    model.cpu()  # train() moved it to its device; evaluation, NEAT and convert() start on the CPU
    header |= {"dataset": splits.name, "train": asdict(train_config)}
    result = RunResult(None, header, evaluate(model, splits.test))
    if neat is not None:
        if lut is None or v_gate is None:
            raise ConfigError("NEAT needs a LUT and a gate voltage (--lut, --vgate)")
        model, log = neat_train(
            model, lut, splits.train, splits.test, v_gate, neat, mapping, progress=progress
        )
        result.neat, result.software_accuracy = log, evaluate(model, splits.test)
        header |= {
            "neat": asdict(neat),
            "v_gate": log.gates,
            "weight_scales": log.scales,
            "neat_accuracy": log.accuracy,
            "linear_share": log.share[-1],
        }
    if lut is not None and v_gate is not None:
        gates = result.neat.gates if result.neat else v_gate
        scales = result.neat.scales if result.neat else None
        twin = convert(model, lut, mapping, v_gate=gates, weight_scales=scales)
        result.crossbar_accuracy = evaluate(twin, splits.test)
        header |= {
            "lut": str(lut.path),
            "v_gate": gates,
            "crossbar_accuracy": result.crossbar_accuracy,
        }
    header |= {"accuracy": result.software_accuracy}
    if distributed() and dist.is_initialized():
        header["world_size"] = dist.get_world_size()
        header["ddp_consistent"] = _replicas_agree(model)
    result.header = header
    if out is not None and (not distributed() or dist.get_rank() == 0):
        result.checkpoint = save_checkpoint(out, model, header)
    finish_distributed()
    return result


def _replicas_agree(model: nn.Module) -> bool:
    """Under DDP: do all processes hold the same weights? (checksum all-reduced, min and max)"""
    total = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum()
    if dist.get_backend() == "nccl":  # nccl reduces CUDA tensors only
        total = total.to(resolve_device("cuda"))
    low, high = total.clone(), total.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    return bool(low == high)
