"""convert(..., conversion_map=...): a user's own layer types mapped onto crossbars."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neatxbar.lut import CellLUT
from neatxbar.mapping import (
    DEFAULT_CONVERSION_MAP,
    CrossbarConv2d,
    CrossbarLinear,
    MappingConfig,
    MappingError,
    convert,
    crossbar_layers,
)
from neatxbar.mapping.config import check_v_gate


class ScaledLinear(nn.Linear):
    """A user's nn.Linear subclass: the output times a fixed factor."""

    def __init__(self, n_in: int, n_out: int, factor: float = 2.0) -> None:
        super().__init__(n_in, n_out)
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) * self.factor


class ScaledTwin(nn.Module):
    """Its crossbar twin: a CrossbarLinear of the same weights, times the same factor."""

    def __init__(
        self,
        layer: ScaledLinear,
        lut: CellLUT,
        config: MappingConfig,
        v_gate: float,
        w_scale: float | None,
    ) -> None:
        super().__init__()
        self.inner = CrossbarLinear(layer, lut, config, v_gate, w_scale)
        self.factor = layer.factor
        self.v_gate = check_v_gate("v_gate", v_gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x) * self.factor


class Gain(nn.Module):
    """A layer type of the user's own, not an nn.Linear: y = x @ W^T."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in, dtype=torch.float64) * 0.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.t()


def gain_twin(
    layer: Gain, lut: CellLUT, config: MappingConfig, v_gate: float, w_scale: float | None
) -> nn.Module:
    linear = nn.Linear(layer.weight.shape[1], layer.weight.shape[0], bias=False)
    linear.weight.data = layer.weight.detach().clone()
    return CrossbarLinear(linear, lut, config, v_gate, w_scale)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        ScaledLinear(6, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(), Gain(4, 3)
    ).double()


def test_the_default_map_is_linear_and_conv2d_and_read_only() -> None:
    assert dict(DEFAULT_CONVERSION_MAP) == {nn.Linear: CrossbarLinear, nn.Conv2d: CrossbarConv2d}
    with pytest.raises(TypeError):
        DEFAULT_CONVERSION_MAP[nn.Conv1d] = CrossbarConv2d  # type: ignore[index]
    # subclasses match by isinstance: the user's ScaledLinear is a Linear; Gain is not mapped
    assert list(crossbar_layers(_model())) == ["0", "2"]


def test_a_user_map_converts_a_subclass_and_a_custom_layer(lut: CellLUT) -> None:
    model = _model()
    conversion_map = {
        ScaledLinear: ScaledTwin,
        Gain: gain_twin,
        **DEFAULT_CONVERSION_MAP,
        nn.Conv2d: CrossbarConv2d,
        nn.LSTM: CrossbarLinear,
    }
    assert list(crossbar_layers(model, conversion_map)) == ["0", "2", "4"]
    twin = convert(
        model, lut, MappingConfig(v_gate=1.3), v_gate={"4": 1.0}, conversion_map=conversion_map
    )
    assert isinstance(twin[0], ScaledTwin) and twin[0].v_gate == 1.3
    assert isinstance(twin[2], CrossbarLinear) and isinstance(twin[4], CrossbarLinear)
    assert twin[4].v_gate == 1.0
    assert isinstance(model[0], ScaledLinear) and isinstance(model[4], Gain)  # untouched
    # the crossbar twin computes what the model does, within the LUT's non-linearity
    x = torch.rand(8, 6, dtype=torch.float64)
    with torch.no_grad():
        ideal, emulated = model(x), twin(x)
    assert emulated.shape == ideal.shape == (8, 3)
    assert float((emulated - ideal).abs().max()) < 0.1 * float(ideal.abs().max())
    # the converted model's layers are found with the same map (twins of a class factory too)
    assert list(crossbar_layers(twin, conversion_map)) == ["0", "2", "4"]


def test_map_order_decides_and_a_layer_is_replaced_as_a_whole(lut: CellLUT) -> None:
    """The first type a layer is an instance of wins: a base listed first shadows a subclass.
    Inside a matched layer nothing else is matched."""

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(2, 3))
            self.inner = nn.Linear(3, 2)

    def block_twin(layer, lut, config, v_gate, w_scale) -> nn.Module:
        return gain_twin(Gain(3, 2), lut, config, v_gate, w_scale)

    model = nn.Sequential(ScaledLinear(3, 3), Block())
    shadowed = {nn.Linear: CrossbarLinear, ScaledLinear: ScaledTwin, Block: block_twin}
    assert list(crossbar_layers(model, shadowed)) == ["0", "1"]  # not 1.inner
    twin = convert(model, lut, conversion_map=shadowed)
    assert type(twin[0]) is CrossbarLinear and isinstance(twin[1], CrossbarLinear)
    first = {ScaledLinear: ScaledTwin, **shadowed}
    assert isinstance(convert(model, lut, conversion_map=first)[0], ScaledTwin)


def test_gate_voltages_and_unsupported_layers_follow_the_map(lut: CellLUT) -> None:
    model = _model()
    with pytest.raises(MappingError, match="does not have: 4; its crossbar layers are '0', '2'"):
        convert(model, lut, v_gate={"4": 1.0})  # Gain is not in the default map
    conv1d = nn.Sequential(nn.Conv1d(1, 1, 3))
    with pytest.raises(MappingError, match=r"'0' \(Conv1d\).*covers Linear, Conv2d"):
        convert(conv1d, lut)
    only_linear = {nn.Linear: CrossbarLinear}
    net = nn.Sequential(nn.Linear(4, 4), nn.Conv2d(1, 1, 3))
    twin = convert(net, lut, conversion_map=only_linear)  # a Conv2d left off the map stays digital
    assert isinstance(twin[0], CrossbarLinear) and type(twin[1]) is nn.Conv2d


@pytest.mark.parametrize(
    ("conversion_map", "message"),
    [
        ([(nn.Linear, CrossbarLinear)], "must map layer types"),
        ({"Linear": CrossbarLinear}, "not an nn.Module subclass"),
        ({int: CrossbarLinear}, "not an nn.Module subclass"),
        ({nn.Linear: "CrossbarLinear"}, "is not callable"),
        ({nn.Linear: lambda *args: "twin"}, "returned str, not an nn.Module"),
    ],
)
def test_bad_maps_are_refused(lut: CellLUT, conversion_map: object, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        convert(nn.Sequential(nn.Linear(2, 2)), lut, conversion_map=conversion_map)  # type: ignore[arg-type]


def test_errors_of_a_factory_name_the_layer_and_twins_are_not_converted_again(lut: CellLUT) -> None:
    circular = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular"))
    with pytest.raises(MappingError, match=r"layer '0': padding_mode"):
        convert(circular, lut)
    twin = convert(nn.Sequential(nn.Linear(2, 2)), lut)
    with pytest.raises(MappingError, match="already a crossbar twin"):
        convert(twin, lut)
    with pytest.raises(MappingError, match="wrap it in a container"):
        convert(nn.Linear(2, 2), lut)
