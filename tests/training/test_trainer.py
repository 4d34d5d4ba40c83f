"""The trainer on scikit-learn's digits: bit-identical reruns, max_steps, accuracy, config."""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from neatxbar.core.config import ConfigError
from neatxbar.training.data import DatasetSplits, load_dataset
from neatxbar.training.models import build_model
from neatxbar.training.trainer import History, TrainConfig, evaluate, loader, train

STEPS_PER_EPOCH = math.ceil(1437 / 64)  # digits train split, default batch size


@pytest.fixture(scope="module")
def digits() -> DatasetSplits:
    return load_dataset("digits")


def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model("mlp", num_classes=10, in_channels=1, image_size=8)


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_same_seed_gives_bit_identical_weights_another_seed_differs(digits: DatasetSplits) -> None:
    initial = _mlp()
    start = _weights(initial)
    config = TrainConfig(epochs=2, device="cpu", seed=3)
    runs = []
    for _ in range(2):
        model = copy.deepcopy(initial)
        history = train(model, digits.train, None, config, progress=False)
        assert history.steps == 2 * STEPS_PER_EPOCH
        assert len(history.loss) == 2 and history.accuracy == []
        runs.append(_weights(model))
    assert runs[0].keys() == runs[1].keys() == start.keys()
    for key in start:
        assert torch.equal(runs[0][key], runs[1][key]), key
        assert not torch.equal(runs[0][key], start[key]), f"{key} did not train"
    assert _weights(initial).keys() == start.keys()  # the deep copies trained, not the original
    assert all(torch.equal(v, start[k]) for k, v in _weights(initial).items())

    other = copy.deepcopy(initial)
    train(other, digits.train, None, replace(config, seed=4), progress=False)
    assert any(not torch.equal(v, runs[0][k]) for k, v in _weights(other).items())


def test_loader_shuffles_reproducibly_per_seed(digits: DatasetSplits) -> None:
    def first_labels(seed: int) -> torch.Tensor:
        return next(iter(loader(digits.train, 32, shuffle=True, seed=seed)))[1]

    assert torch.equal(first_labels(5), first_labels(5))
    assert not torch.equal(first_labels(5), first_labels(6))
    plain = next(iter(loader(digits.train, 32, shuffle=False, seed=5)))[1]
    assert torch.equal(plain, digits.train.labels[:32])


@pytest.mark.parametrize("max_steps", [5, STEPS_PER_EPOCH + 3])
def test_max_steps_stops_after_exactly_that_many_steps(
    digits: DatasetSplits, max_steps: int
) -> None:
    calls = []
    history = train(
        _mlp(),
        digits.train,
        digits.test,
        TrainConfig(epochs=4, max_steps=max_steps, device="cpu"),
        progress=False,
        after_step=lambda m: calls.append(1),
    )
    assert isinstance(history, History)
    assert history.steps == max_steps == len(calls)
    epochs = math.ceil(max_steps / STEPS_PER_EPOCH)
    assert len(history.loss) == len(history.accuracy) == epochs
    assert all(math.isfinite(x) for x in history.loss)


def test_max_steps_beyond_the_run_trains_every_epoch(digits: DatasetSplits) -> None:
    history = train(
        _mlp(),
        digits.train,
        None,
        TrainConfig(epochs=1, max_steps=10_000, device="cpu"),
        progress=False,
    )
    assert history.steps == STEPS_PER_EPOCH and len(history.loss) == 1


def test_a_few_epochs_reach_80_percent_on_digits(digits: DatasetSplits) -> None:
    model = _mlp()
    before = evaluate(model, digits.test)
    history = train(
        model, digits.train, digits.test, TrainConfig(epochs=4, device="cpu"), progress=False
    )
    assert len(history.accuracy) == 4
    assert history.accuracy[-1] > 0.8 > before
    assert history.loss[-1] < history.loss[0]
    model.train()
    assert evaluate(model, digits.test) == history.accuracy[-1]
    assert model.training  # evaluate restores the mode


@pytest.mark.parametrize(("optimizer", "schedule"), [("sgd", "step"), ("sgd", "none")])
def test_other_optimizers_and_schedules_train(
    digits: DatasetSplits, optimizer: str, schedule: str
) -> None:
    config = TrainConfig(epochs=2, optimizer=optimizer, schedule=schedule, lr=0.05, device="cpu")
    history = train(_mlp(), digits.train, None, config, progress=False)
    assert history.loss[-1] < history.loss[0]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", -1),
        ("batch_size", 0),
        ("optimizer", "rmsprop"),
        ("lr", 0.0),
        ("schedule", "linear"),
        ("device", "tpu"),
        ("max_steps", 0),
    ],
)
def test_validate_names_the_bad_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"^{field} "):
        TrainConfig(**{field: value}).validate()


def test_validate_returns_the_config_and_train_checks_it(digits: DatasetSplits) -> None:
    config = TrainConfig(epochs=1, device="cpu")
    assert config.validate() is config
    model = _mlp()
    start = _weights(model)
    with pytest.raises(ConfigError, match=r"^lr "):
        train(model, digits.train, None, replace(config, lr=-1.0), progress=False)
    assert all(torch.equal(v, start[k]) for k, v in _weights(model).items())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_validate_refuses_cuda_without_a_device() -> None:
    with pytest.raises(ConfigError, match="cuda"):
        TrainConfig(device="cuda").validate()
