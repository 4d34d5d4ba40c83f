"""NEAT on the digits with the real `paper` LUT."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neatxbar.core.config import ConfigError
from neatxbar.lut import CellLUT
from neatxbar.mapping import MappingConfig, convert
from neatxbar.mapping.gates import resolve_gate_voltages
from neatxbar.training.data import load_dataset
from neatxbar.training.models import build_model
from neatxbar.training.neat import NeatConfig, bounds, neat_train, weight_scales
from neatxbar.training.trainer import TrainConfig, train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def trained(digits) -> nn.Module:
    torch.manual_seed(0)
    model = build_model("mlp", 10, 1, 8)
    train(model, digits.train, None, TrainConfig(epochs=8, device="cpu"), progress=False)
    return model


def test_clipping_leaves_every_weight_inside_its_bound(lut: CellLUT, digits, trained) -> None:
    gates = {"1": 0.8, "3": 0.9, "5": 1.0}
    model, log = neat_train(
        trained,
        lut,
        digits.train,
        digits.test,
        gates,
        NeatConfig(iterations=2, epochs_per_iteration=1, lr=1e-3, device="cpu"),
        progress=False,
    )
    assert log.initial_share["1"] < 1.0  # the software weights were not all inside
    for name, layer in (("1", model[1]), ("3", model[3]), ("5", model[5])):
        assert float(layer.weight.detach().abs().max()) <= log.bounds[name] * (1 + 1e-6)
        expected = float(lut.w_max[lut.gate_index(gates[name])]) * log.scales[name]
        assert log.bounds[name] == pytest.approx(expected)
    assert all(share == 1.0 for share in log.share[-1].values())
    # Deployed with NEAT's scales, every conductance is at or below g_max of its gate voltage.
    twin = convert(model, lut, MappingConfig(), v_gate=log.gates, weight_scales=log.scales)
    for name in ("1", "3", "5"):
        layer = dict(twin.named_modules())[name]
        gp, gn = layer.conductance_pair(layer.weight.detach())
        g_max = float(lut.g_max[lut.gate_index(gates[name])])
        assert float(torch.maximum(gp, gn).max()) <= g_max * (1 + 1e-6)  # float32 mapping
    assert trained[1].weight.abs().max() > log.bounds["1"]  # the input model is untouched
    # continuing from NEAT's model with the scales it is deployed with keeps its bounds (its own
    # max |w| would shrink them: its weights were clipped below the scales)
    _, log2 = neat_train(
        model,
        lut,
        digits.train,
        digits.test,
        gates,
        NeatConfig(iterations=1, epochs_per_iteration=1, lr=1e-4, device="cpu"),
        weight_scales=log.scales,
        progress=False,
    )
    assert log2.scales == log.scales and log2.bounds == log.bounds
    assert float(model[1].weight.detach().abs().max()) < log.scales["1"]


def test_training_through_the_emulation_lowers_the_emulated_loss_more(
    lut: CellLUT,
    digits,
    trained,
) -> None:
    """At 0.7 V the cell compresses large conductances (44 % at G_ON). Training through the
    emulation sees that and lowers the loss of the crossbar model; training the ideal model for
    the same steps does not know about it."""
    scales = weight_scales(trained)
    config = NeatConfig(
        iterations=1,
        epochs_per_iteration=3,
        lr=1e-3,
        clip=False,
        hardware_in_the_loop=True,
        device="cpu",
    )
    hil, _ = neat_train(trained, lut, digits.train, digits.test, 0.7, config, progress=False)
    ideal = build_model("mlp", 10, 1, 8)
    ideal.load_state_dict(trained.state_dict())
    train(
        ideal,
        digits.train,
        None,
        TrainConfig(epochs=3, lr=1e-3, schedule="none", device="cpu"),
        progress=False,
    )
    x = torch.stack([digits.train[i][0] for i in range(len(digits.train))])
    y = torch.stack([digits.train[i][1] for i in range(len(digits.train))])

    def emulated_loss(model: nn.Module) -> float:
        twin = convert(model, lut, MappingConfig(), v_gate=0.7, weight_scales=scales).eval()
        with torch.no_grad():
            return float(nn.functional.cross_entropy(twin(x), y))

    def ideal_loss(model: nn.Module) -> float:
        with torch.no_grad():
            return float(nn.functional.cross_entropy(model(x), y))

    before = emulated_loss(trained)
    assert emulated_loss(hil) < emulated_loss(ideal) < before * 1.5
    # and the emulation's loss is not the ideal model's: the non-linearity costs something
    assert emulated_loss(trained) > ideal_loss(trained)


def test_gate_voltage_mappings_and_bounds(lut: CellLUT, trained) -> None:
    assert resolve_gate_voltages(trained, 0.8) == {"1": 0.8, "3": 0.8, "5": 0.8}
    assert resolve_gate_voltages(trained, {"1": 1.0, "default": 0.8})["3"] == 0.8
    with pytest.raises(ValueError, match="does not have: 9"):
        resolve_gate_voltages(trained, {"9": 1.0})
    with pytest.raises(ValueError, match="no V_gate for layers"):
        resolve_gate_voltages(trained, {"1": 1.0})
    b = bounds(lut, {"1": 0.7, "3": 1.3}, {"1": 2.0, "3": 2.0})
    assert b["1"] == 0.0 and b["3"] == pytest.approx(2.0)


def test_neat_config_names_bad_fields() -> None:
    with pytest.raises(ConfigError, match="iterations"):
        NeatConfig(iterations=0).validate()
    with pytest.raises(ConfigError, match="nothing to do"):
        NeatConfig(clip=False).validate()
