"""Noise-aware training: training through the emulation with a new chip at every step."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import TensorDataset

from neatxbar.mapping import MappingConfig, Variation, convert
from neatxbar.mapping.variation import training_chip_seed
from neatxbar.training.neat import NeatConfig, neat_train
from neatxbar.training.trainer import TrainConfig, train

V_GATE = 0.8


def _data(n: int = 64) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 12, generator=g)
    return TensorDataset(x, (x[:, 0] > 0).long())


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 2))


def _twin(lut, **variation) -> nn.Module:
    config = MappingConfig(v_gate=V_GATE, variation=Variation(**variation))
    return convert(_model(), lut, config)


def _seen_chips(twin: nn.Module, chip_per_step: bool, steps: int = 3) -> list[int]:
    seen: list[int] = []
    config = TrainConfig(
        epochs=1,
        batch_size=16,
        schedule="none",
        device="cpu",
        max_steps=steps,
        chip_per_step=chip_per_step,
    )
    train(
        twin,
        _data(),
        None,
        config,
        progress=False,
        after_step=lambda m: seen.append(m[0].chip_seed),
    )
    return seen


def test_a_new_chip_at_every_step_and_the_own_chip_after(paper_lut):
    twin = _twin(paper_lut, programming_sigma=0.05, stuck_off=0.01, seed=7)
    before = twin[0].weight.detach().clone()
    seen = _seen_chips(twin, True)
    assert seen == [training_chip_seed(0, step) for step in range(3)]
    assert len(set(seen)) == 3 and 7 not in seen
    assert [m.chip_seed for m in (twin[0], twin[2])] == [7, 7]  # back on its own chip
    assert not torch.equal(before, twin[0].weight.detach())


def test_steps_see_different_chips(paper_lut):
    """The loss of one batch differs between two training chips: the draws reach the forward."""
    twin = _twin(paper_lut, programming_sigma=0.1)
    x, y = _data().tensors
    losses = []
    for step in range(2):
        twin[0].chip_seed = twin[2].chip_seed = training_chip_seed(0, step)
        with torch.no_grad():
            losses.append(float(nn.functional.cross_entropy(twin(x), y)))
    assert losses[0] != losses[1]


def test_off_keeps_the_mapping_chip(paper_lut):
    twin = _twin(paper_lut, programming_sigma=0.05, seed=7)
    assert _seen_chips(twin, False) == [7, 7, 7]


def test_without_variation_chip_per_step_changes_nothing(paper_lut):
    one, two = _twin(paper_lut), _twin(paper_lut)
    _seen_chips(one, True)
    _seen_chips(two, False)
    for a, b in zip(one.parameters(), two.parameters(), strict=True):
        assert torch.equal(a, b)


def test_neat_trains_noise_aware_through_the_emulation(paper_lut):
    data = _data()
    mapping = MappingConfig(v_gate=V_GATE, variation=Variation(programming_sigma=0.05))
    config = NeatConfig(
        iterations=1,
        epochs_per_iteration=1,
        lr=1e-3,
        batch_size=32,
        hardware_in_the_loop=True,
        device="cpu",
    )
    assert config.chip_per_step
    model, result = neat_train(
        _model(), paper_lut, data, data, V_GATE, config, mapping, progress=False
    )
    assert isinstance(model[0], nn.Linear)  # a plain model comes back
    assert 0 <= result.accuracy[0] <= 1
    assert not torch.equal(model[0].weight, _model()[0].weight)
