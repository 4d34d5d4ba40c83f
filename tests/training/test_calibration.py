"""BatchNorm re-estimation: it undoes a layer's gain error and leaves the weights alone."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from neatxbar.core.errors import ConfigError
from neatxbar.training.calibration import has_batchnorm, reestimate_batchnorm


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3)
    )


def _data(n: int = 256) -> TensorDataset:
    g = torch.Generator().manual_seed(1)
    return TensorDataset(torch.randn(n, 1, 4, 4, generator=g), torch.zeros(n, dtype=torch.long))


def test_a_gain_error_before_batchnorm_is_undone() -> None:
    data = _data()
    reference = _net()
    reestimate_batchnorm(reference, data, samples=256)
    x = data.tensors[0][:32]
    expected = reference(x)
    damaged = copy.deepcopy(reference)
    with torch.no_grad():
        damaged[0].weight.mul_(0.8)  # a 20 % gain error, as a compounding non-linearity gives
        damaged[0].bias.mul_(0.8)
    assert not torch.allclose(damaged(x), expected, atol=1e-2)
    weights = damaged[0].weight.clone()
    reestimate_batchnorm(damaged, data, samples=256)
    assert torch.allclose(damaged(x), expected, atol=1e-4)
    assert torch.equal(damaged[0].weight, weights)
    assert not damaged.training and damaged[1].momentum == 0.1


def test_statistics_are_the_plain_average_of_the_calibration_images() -> None:
    data = _data(200)
    model = _net()
    reestimate_batchnorm(model, data, samples=100, batch_size=100)
    with torch.no_grad():
        features = model[0](data.tensors[0][:100])
    assert torch.allclose(model[1].running_mean, features.mean(dim=(0, 2, 3)), atol=1e-5)


def test_a_model_without_batchnorm_is_left_as_it_is() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    before = copy.deepcopy(model.state_dict())
    assert not has_batchnorm(model) and has_batchnorm(_net())
    reestimate_batchnorm(model, _data())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("samples", [0, -1, 2.5])
def test_bad_sample_counts_are_refused(samples: object) -> None:
    with pytest.raises(ConfigError):
        reestimate_batchnorm(_net(), _data(), samples=samples)  # type: ignore[arg-type]
