"""The trainer: SGD or Adam, learning-rate schedules, seeds, progress, evaluation, DDP.

``train(model, splits, config)`` trains in place and returns the history. Runs are reproducible
on CPU for a given seed (shuffling from a seeded generator, no worker processes). Under
``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in DistributedDataParallel (gloo on CPU,
nccl on CUDA) and each process trains on its shard.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from neatxbar.core.config import ConfigError
from neatxbar.core.progress import ProgressBar, progress_bar
from neatxbar.mapping.config import check_config_numbers
from neatxbar.mapping.convert import chips_kept, draws_chips, set_chip
from neatxbar.mapping.variation import training_chip_seed

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("none", "cosine", "step")


@dataclass(frozen=True)
class TrainConfig:
    """How to train.

    Attributes
    ----------
    epochs, batch_size
        Passes over the training split and samples per step.
    optimizer, lr, momentum, weight_decay
        ``"adam"`` or ``"sgd"`` (with momentum); learning rate; L2 weight decay.
    schedule
        ``"none"``, ``"cosine"`` (to 0 over the run) or ``"step"`` (x0.1 at 50 % and 75 %).
    seed
        Seeds the model's initialisation (when built after it), shuffling and augmentation.
    device
        ``"auto"`` (cuda when present), ``"cpu"`` or ``"cuda"``.
    max_steps
        Stop after this many optimizer steps (None: all epochs); for smoke tests.
    chip_per_step
        Noise-aware training: when the model holds crossbar twins whose mapping has per-chip
        variation (programming variation, stuck cells or mismatch: ``MappingConfig.variation``),
        draw a new chip before every optimizer step (seed
        :func:`~neatxbar.mapping.variation.training_chip_seed` of (``seed``, step)), so the network
        learns weights that work on any chip; every twin is back on its own chip afterwards. No
        effect on a model without such twins. Read noise needs no option: it is drawn at every
        forward whenever it is configured.
    """

    epochs: int = 20
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    seed: int = 0
    device: str = "auto"
    max_steps: int | None = None
    chip_per_step: bool = False

    def validate(self) -> TrainConfig:
        """Raise ConfigError naming the first bad field (NaN and infinities included); return
        self."""
        check_config_numbers(self, "train")
        if self.epochs < 0:
            raise ConfigError(f"epochs must be >= 0, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("device cuda asked for, but torch sees no CUDA device")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps must be >= 1, got {self.max_steps}")
        return self


@dataclass
class History:
    """Per epoch: mean training loss, test accuracy (fraction)."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    steps: int = 0


def resolve_device(name: str) -> torch.device:
    """``auto``: cuda when present (the local rank's device under torchrun), else cpu."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device(name)


def distributed() -> bool:
    """True under ``torchrun`` with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device: torch.device) -> None:
    """Join the process group (gloo on CPU, nccl on CUDA) when running under torchrun."""
    if distributed() and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def finish_distributed() -> None:
    """Leave the process group after a barrier (every rank done, rank 0's checkpoint written).

    A gloo group still alive when the interpreter exits can abort a rank in C++ ("terminate called
    without an active exception"); destroying it first makes the exit clean.
    """
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def loader(dataset: Dataset, batch_size: int, *, shuffle: bool, seed: int) -> DataLoader:
    """A reproducible loader: seeded shuffling, no workers; sharded under DDP."""
    if distributed() and dist.is_initialized():
        sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed)
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    dataset: Dataset,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    *,
    progress: bool | None = False,
    desc: str = "evaluate",
) -> float:
    """Top-1 accuracy (fraction) of ``model`` on ``dataset``, in eval mode and without
    gradients (so crossbar twins reuse their weight-side work across batches); with
    ``progress``, a bar over the images (None: on a terminal)."""
    was_training = model.training
    model.eval()
    correct = total = 0
    bar = progress_bar(len(dataset), desc, unit="image", enabled=progress)
    with bar, torch.no_grad():
        for x, y in DataLoader(dataset, batch_size=batch_size):
            x, y = x.to(device), y.to(device)
            correct += int((model(x).argmax(dim=1) == y).sum())
            total += y.numel()
            bar.update(y.numel())
    model.train(was_training)
    return correct / max(total, 1)


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(
        params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )


def _schedule(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / max(steps, 1)))
        )
    if config.schedule == "step":
        return torch.optim.lr_scheduler.MultiStepLR(
            optimizer, [int(0.5 * steps), int(0.75 * steps)], gamma=0.1
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)


def train(
    model: nn.Module,
    train_set: Dataset,
    test_set: Dataset | None,
    config: TrainConfig,
    *,
    progress: bool = True,
    after_step: Callable[[nn.Module], None] | None = None,
    description: str = "train",
) -> History:
    """Train ``model`` in place (on the config's device) and return its history.

    ``after_step(model)`` runs after every optimizer step (NEAT clips weights there). The test
    accuracy is evaluated after every epoch when ``test_set`` is given (on rank 0 under DDP).
    """
    config.validate()
    device = resolve_device(config.device)
    init_distributed(device)
    model.to(device)
    net: nn.Module = model
    if distributed():
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=None if device.type == "cpu" else [device.index]
        )
    data = loader(train_set, config.batch_size, shuffle=True, seed=config.seed)
    steps_total = config.epochs * len(data)
    if config.max_steps is not None:
        steps_total = min(steps_total, config.max_steps)
    optimizer = _optimizer(model, config)
    schedule = _schedule(optimizer, config, steps_total)
    history = History()
    rank0 = not distributed() or dist.get_rank() == 0
    bar = ProgressBar(
        total=steps_total, desc=description, disable=not (progress and rank0), unit="step"
    )
    loss_fn = nn.CrossEntropyLoss()
    per_step = config.chip_per_step and draws_chips(model)
    with chips_kept(model):
        for epoch in range(config.epochs):
            if isinstance(data.sampler, DistributedSampler):
                data.sampler.set_epoch(epoch)
            if hasattr(train_set, "set_epoch"):
                train_set.set_epoch(epoch)
            net.train()
            losses = []
            for x, y in data:
                if history.steps >= steps_total:
                    break
                if per_step:
                    set_chip(model, training_chip_seed(config.seed, history.steps))
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(net(x.to(device)), y.to(device))
                loss.backward()
                optimizer.step()
                schedule.step()
                if after_step is not None:
                    after_step(model)
                history.steps += 1
                losses.append(loss.detach().item())
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
            history.loss.append(sum(losses) / max(len(losses), 1))
            if test_set is not None and rank0:
                history.accuracy.append(evaluate(model, test_set, device=device))
                bar.set_postfix(loss=f"{history.loss[-1]:.3f}", acc=f"{history.accuracy[-1]:.3f}")
            if history.steps >= steps_total:
                break
    bar.close()
    return history
