"""NEAT: Non-linearity Aware Training (arXiv:2012.00261), iterative linear-region training.

Each crossbar layer l gets a weight scale s_l (its max |w| before NEAT: the weight that maps to
G_max) and a bound B_l = w_max(V_gate_l) * s_l from the LUT's ``linear_region/w_max``. NEAT then
repeats N times: clip every layer's weights into [-B_l, B_l], retrain for E epochs (clipping after
every step). Mapped with the same scales s_l, every weight lands on a conductance <= g_max, where
the cell is linear within the LUT's tolerance.

- homogeneous: one V_gate for every layer; heterogeneous: a V_gate per layer (its own bound);
- hardware in the loop (beyond the paper): the forward pass runs through the LUT emulation (fast
  path), so the loss sees the real non-linearity; combinable with clipping. With device variation
  in the mapping (``MappingConfig.variation``) it is noise-aware training: a new chip at every
  step (``chip_per_step``), read noise at every forward.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import Dataset

from neatxbar.core.errors import ConfigError
from neatxbar.lut.errors import LUTError
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping import MappingConfig, convert
from neatxbar.mapping.config import check_config_numbers
from neatxbar.mapping.convert import crossbar_layers
from neatxbar.mapping.gates import resolve_gate_voltages
from neatxbar.training.trainer import TrainConfig, evaluate, resolve_device, train


@dataclass(frozen=True)
class NeatConfig:
    """NEAT's settings; defaults are the paper's (N = 30, Adam, lr = 1e-5).

    Attributes
    ----------
    iterations, epochs_per_iteration, lr, batch_size
        N clip-and-retrain rounds of E epochs each, Adam at ``lr``.
    clip
        Clip the weights into the linear region (the method); off only with hardware in the loop.
    hardware_in_the_loop
        Train through the LUT emulation (fast path) instead of the ideal model.
    chip_per_step
        Noise-aware training, with hardware in the loop and a mapping with per-chip variation
        (``MappingConfig.variation``: programming variation, stuck cells, mismatch): a new chip at
        every optimizer step (:attr:`TrainConfig.chip_per_step`). False: every step on the
        mapping's own chip (its ``variation.seed``). Read noise, when configured, is drawn at
        every forward either way. No effect without hardware in the loop or without variation.
    """

    iterations: int = 30
    epochs_per_iteration: int = 1
    lr: float = 1e-5
    batch_size: int = 64
    clip: bool = True
    hardware_in_the_loop: bool = False
    chip_per_step: bool = True
    seed: int = 0
    device: str = "auto"

    def validate(self) -> NeatConfig:
        """Raise ConfigError naming the first bad field (NaN and infinities included)."""
        check_config_numbers(self, "neat")
        if self.iterations < 1:
            raise ConfigError(f"iterations must be >= 1, got {self.iterations}")
        if self.epochs_per_iteration < 1:
            raise ConfigError(f"epochs_per_iteration must be >= 1, got {self.epochs_per_iteration}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if not (self.clip or self.hardware_in_the_loop):
            raise ConfigError("clip is off and hardware_in_the_loop is off: nothing to do")
        return self


#: The paper's defaults, and the digits defaults of this toolkit (about a minute on 2 cores).
DIGITS_DEFAULTS = NeatConfig(iterations=10, epochs_per_iteration=2, lr=1e-3)


def weight_scales(model: nn.Module) -> dict[str, float]:
    """Each crossbar layer's max |w|: the scale NEAT's bounds and the deployed mapping use."""
    return {
        name: float(m.weight.detach().abs().max()) for name, m in crossbar_layers(model).items()
    }


#: :func:`weight_scales` under a name that ``neat_train``'s keyword of that name leaves visible.
_weight_scales = weight_scales


def bounds(
    lut: CellLUT, gates: Mapping[str, float], scales: Mapping[str, float]
) -> dict[str, float]:
    """B_l = w_max(V_gate_l) * s_l per layer (the layer's units)."""
    if lut.w_max is None:
        raise LUTError(f"{lut.path}: the LUT has no linear_region; run 'neat fit' on it")
    return {name: float(lut.w_max[lut.gate_index(gates[name])]) * scales[name] for name in gates}


@torch.no_grad()
def clip_weights(model: nn.Module, limits: Mapping[str, float]) -> None:
    """Clip every named layer's weights into [-B_l, B_l] in place."""
    layers = crossbar_layers(model)
    for name, limit in limits.items():
        layers[name].weight.clamp_(-limit, limit)


@torch.no_grad()
def linear_share(model: nn.Module, limits: Mapping[str, float]) -> dict[str, float]:
    """Share of each layer's weights inside its linear-region bound (fraction)."""
    layers = crossbar_layers(model)
    return {
        name: float((layers[name].weight.abs() <= limit * (1 + 1e-6)).float().mean())
        for name, limit in limits.items()
    }


@dataclass
class NeatResult:
    """What NEAT did, per iteration: test accuracy (of the model trained) and linear share."""

    gates: dict[str, float]
    scales: dict[str, float]
    bounds: dict[str, float]
    accuracy: list[float] = field(default_factory=list)
    share: list[dict[str, float]] = field(default_factory=list)
    initial_share: dict[str, float] = field(default_factory=dict)


def neat_train(
    model: nn.Module,
    lut: CellLUT,
    train_set: Dataset,
    test_set: Dataset,
    v_gate: float | Mapping[str, float],
    config: NeatConfig = DIGITS_DEFAULTS,
    mapping: MappingConfig | None = None,
    *,
    weight_scales: Mapping[str, float] | None = None,
    progress: bool = True,
) -> tuple[nn.Module, NeatResult]:
    """Run NEAT on a software-trained ``model``; return the trained model and the log.

    ``weight_scales`` (layer units: the weight mapped to G_max per layer): None takes each
    layer's max |w| of ``model`` (a software model); give the scales a model is already deployed
    with to continue training it (e.g. noise-aware fine-tuning of a NEAT model, whose clipped
    weights no longer reach its scales).

    The returned model is a plain model (Linear/Conv2d) holding the NEAT weights; deploy it with
    ``convert(model, lut, mapping, v_gate=result.gates, weight_scales=result.scales)``. With
    hardware in the loop, the training runs on the crossbar twin and the weights are copied back.
    """
    config.validate()
    model = copy.deepcopy(model)
    gates = resolve_gate_voltages(model, v_gate)
    scales = _weight_scales(model) if weight_scales is None else dict(weight_scales)
    limits = bounds(lut, gates, scales)
    result = NeatResult(gates, scales, limits, initial_share=linear_share(model, limits))
    subject = model
    if config.hardware_in_the_loop:
        subject = convert(
            model, lut, mapping or MappingConfig(), v_gate=gates, weight_scales=scales
        )
    step = (lambda m: clip_weights(m, limits)) if config.clip else None
    device = resolve_device(config.device)
    for iteration in range(config.iterations):
        if config.clip:
            clip_weights(subject, limits)
        train_config = TrainConfig(
            epochs=config.epochs_per_iteration,
            batch_size=config.batch_size,
            optimizer="adam",
            lr=config.lr,
            schedule="none",
            seed=config.seed + iteration,
            device=config.device,
            chip_per_step=config.chip_per_step and config.hardware_in_the_loop,
        )
        train(
            subject,
            train_set,
            None,
            train_config,
            progress=progress,
            after_step=step,
            description=f"NEAT {iteration + 1}/{config.iterations}",
        )
        result.accuracy.append(evaluate(subject, test_set, device=device))
        result.share.append(linear_share(subject, limits))
    if subject is not model:
        model.load_state_dict(subject.state_dict())
    return model.cpu(), result
