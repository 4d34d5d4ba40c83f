"""Device variation, stuck cells, read noise and transistor mismatch in the crossbar layers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from neatxbar.core.config import ConfigError
from neatxbar.lut.separable import fit_separable_shifted
from neatxbar.mapping import (
    MappingConfig,
    MappingError,
    Variation,
    Wires,
    chips,
    convert,
    set_chip,
)
from neatxbar.mapping.crossbar import exact_column_sum
from neatxbar.mapping.variation import apply_chip, draw_chip, shifted_form

V_GATE = 0.8
#: The test LUT's delvto grid (V) and card mismatch (V): tests/mapping/conftest.py.
SHIFTS = np.linspace(-0.03, 0.03, 9)
SIGMA_VT_V = 0.01


def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(24, 12), nn.ReLU(), nn.Linear(12, 5))


def _cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 3, 3))


def _twin(model, lut, path="fast", **variation) -> nn.Module:
    config = MappingConfig(v_gate=V_GATE, path=path, variation=Variation(**variation))
    return convert(model, lut, config).eval()


def _run(twin: nn.Module, x: torch.Tensor, noise_seed: int = 0) -> torch.Tensor:
    torch.manual_seed(noise_seed)
    with torch.no_grad():
        return twin(x)


# ----------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"programming_sigma": -0.1}, "programming_sigma"),
        ({"programming_sigma": 1.5}, "programming_sigma"),
        ({"read_noise_sigma": float("nan")}, "read_noise_sigma"),
        ({"distribution": "uniform"}, "distribution"),
        ({"stuck_on": 1.2}, "stuck_on"),
        ({"stuck_on": 0.6, "stuck_off": 0.6}, r"stuck_on \+ stuck_off"),
        ({"mismatch": -1.0}, "mismatch"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_variation_is_one_line_config_error(fields, message):
    with pytest.raises(ConfigError, match=message) as error:
        MappingConfig(variation=Variation(**fields)).validate()
    assert "\n" not in str(error.value)


def test_mismatch_with_wires_is_refused():
    config = MappingConfig(wires=Wires(2.5, 2.5), variation=Variation(mismatch=1.0))
    with pytest.raises(ConfigError, match="mismatch with wires is not modelled"):
        config.validate()


def test_variation_from_toml(tmp_path):
    path = tmp_path / "mapping.toml"
    path.write_text(
        "[mapping]\nv_gate = 0.8\n[mapping.variation]\nprogramming_sigma = 0.05\n"
        'distribution = "lognormal"\nstuck_off = 0.01\nmismatch = 1.0\nseed = 7\n'
    )
    config = MappingConfig.from_toml(path)
    assert config.variation == Variation(
        programming_sigma=0.05, distribution="lognormal", stuck_off=0.01, mismatch=1.0, seed=7
    )
    assert config.variation.any and config.variation.per_chip
    path.write_text("[mapping.variation]\nstuck_on = 2.0\n")
    with pytest.raises(ConfigError, match="stuck_on"):
        MappingConfig.from_toml(path)


def test_mismatch_needs_a_shift_axis(paper_lut):
    from neatxbar.lut import CellLUT

    grids = (paper_lut.g_grid, paper_lut.v_grid, paper_lut.vg_grid, paper_lut.table)
    without = CellLUT(*(t.numpy() for t in grids))  # no delvto axis
    with pytest.raises(MappingError, match="threshold-shift axis"):
        _twin(_mlp(), without, mismatch=1.0)


# ----------------------------------------------------------------------------- the chip


@pytest.mark.parametrize("make", [_mlp, _cnn])
@pytest.mark.parametrize("path", ["fast", "exact"])
def test_no_variation_is_bit_identical(paper_lut, make, path):
    model = make()
    x = torch.randn(3, 24) if make is _mlp else torch.randn(3, 2, 6, 6)
    plain = convert(model, paper_lut, MappingConfig(v_gate=V_GATE, path=path))
    seeded = _twin(model, paper_lut, path, seed=123)
    assert torch.equal(_run(plain.eval(), x), _run(seeded, x))
    plain.train(), seeded.train()  # the training route (PairTable, gradients) too
    assert torch.equal(plain(x), seeded(x))


def test_the_test_lut_has_its_shift_axis(shifted_lut):
    assert np.allclose(shifted_lut.shift_grid.numpy(), SHIFTS)
    assert shifted_lut.sigma_vt_v == SIGMA_VT_V


def test_same_seed_same_chip_other_seed_other_chip(shifted_lut):
    x = torch.randn(4, 24)
    kwargs = dict(programming_sigma=0.05, stuck_off=0.02, mismatch=1.0)
    one, two = (_twin(_mlp(), shifted_lut, seed=3, **kwargs) for _ in range(2))
    assert torch.equal(_run(one, x), _run(two, x))
    other = _twin(_mlp(), shifted_lut, seed=4, **kwargs)
    assert not torch.allclose(_run(one, x), _run(other, x))
    ideal = _run(_twin(_mlp(), shifted_lut), x)
    assert not torch.allclose(_run(one, x), ideal)
    set_chip(one, 4)
    assert torch.equal(_run(one, x), _run(other, x))
    seen = [_run(one, x) for _ in chips(one, [3, 4])]
    assert torch.equal(seen[0], _run(two, x)) and torch.equal(seen[1], _run(other, x))
    assert all(m.chip_seed == 4 for m in one if hasattr(m, "chip_seed"))


def test_layer_indices_follow_module_order(paper_lut):
    twin = _twin(_mlp(), paper_lut, programming_sigma=0.1)
    assert [twin[0].layer_index, twin[2].layer_index] == [0, 1]
    a, b = (twin[i].physical_pair(twin[i].weight)[0] for i in (0, 2))
    ga, gb = (twin[i].conductance_pair(twin[i].weight)[0] for i in (0, 2))
    assert not torch.allclose((a / ga)[:5, :5], (b / gb)[:5, :5])


def test_chip_is_cached_until_the_seed_changes(paper_lut):
    twin = _twin(_mlp(), paper_lut, programming_sigma=0.05)
    x = torch.randn(2, 24)
    _run(twin, x)
    built = twin[0]._cached["fast_weights"][1]
    _run(twin, x)
    assert twin[0]._cached["fast_weights"][1] is built
    set_chip(twin, 9)
    _run(twin, x)
    assert twin[0]._cached["fast_weights"][1] is not built
    with pytest.raises(ConfigError, match="seed"):
        set_chip(twin, -2)


# ----------------------------------------------------------------------------- statistics


def test_programming_draws_have_the_asked_statistics(paper_lut):
    g_min, g_on = paper_lut.g_min_s, paper_lut.g_on_s
    g = torch.full((400, 500), 0.5 * (g_min + g_on), dtype=torch.float64)
    for distribution in ("gaussian", "lognormal"):
        variation = Variation(programming_sigma=0.05, distribution=distribution, seed=1)
        draws = draw_chip(variation, 0, g.shape)
        out = apply_chip(g, draws.programming[0], None, variation, g_min, g_on)
        ratio = out / g
        if distribution == "gaussian":
            assert abs(float(ratio.mean()) - 1) < 1e-3
            assert abs(float(ratio.std()) - 0.05) < 2e-3
        else:
            assert abs(float(ratio.median()) - 1) < 1e-3
            assert abs(float(ratio.log().std()) - 0.05) < 2e-3
    wide = Variation(programming_sigma=1.0, seed=2)
    clipped = apply_chip(g, draw_chip(wide, 0, g.shape).programming[0], None, wide, g_min, g_on)
    assert float(clipped.min()) == g_min and float(clipped.max()) == g_on
    assert 0.05 < float((clipped == g_on).double().mean()) < 0.5


def test_stuck_fractions_and_nesting(paper_lut):
    g_min, g_on = paper_lut.g_min_s, paper_lut.g_on_s
    n = 200_000
    g = torch.full((n,), 0.5 * (g_min + g_on), dtype=torch.float64)
    variation = Variation(stuck_on=0.02, stuck_off=0.05, seed=5)
    out = apply_chip(g, None, draw_chip(variation, 3, g.shape).stuck[0], variation, g_min, g_on)
    for value, fraction in ((g_on, 0.02), (g_min, 0.05)):
        share = float((out == value).double().mean())
        assert abs(share - fraction) < 4 * math.sqrt(fraction / n)
    more = Variation(stuck_on=0.04, stuck_off=0.05, seed=5)
    out_more = apply_chip(g, None, draw_chip(more, 3, g.shape).stuck[0], more, g_min, g_on)
    assert bool(((out == g_on) <= (out_more == g_on)).all())  # more stuck cells, same ones too


def test_threshold_shifts_statistics(shifted_lut):
    variation = Variation(mismatch=1.0, seed=11)
    plus, minus = draw_chip(variation, 0, (300, 300), shifted_lut).shift
    assert abs(float(plus.mean())) < 3 * SIGMA_VT_V / 300
    assert abs(float(plus.std()) / SIGMA_VT_V - 0.994) < 0.02  # N(0, sigma) clipped at 3 sigma
    assert not torch.equal(plus, minus)
    wide = draw_chip(Variation(mismatch=5.0), 0, (300, 300), shifted_lut).shift[0]
    assert float(wide.min()) == SHIFTS[0] and float(wide.max()) == SHIFTS[-1]


# ----------------------------------------------------------------------------- mismatch form


def _trilinear(lut, g, shift, v, v_gate):
    """Direct lookups of ``lut.shift_table`` (numpy, independent of the toolkit's code)."""
    from scipy.interpolate import RegularGridInterpolator

    table = lut.shift_table[..., lut.gate_index(v_gate)].numpy()
    grids = (lut.shift_grid.numpy(), lut.g_grid.numpy(), lut.v_grid.numpy())
    return RegularGridInterpolator(grids, table)(np.stack([shift, g, v], axis=-1))


def test_shifted_form_against_the_shift_table(shifted_lut):
    form = shifted_form(shifted_lut, V_GATE, 1e-3)
    rng = np.random.default_rng(0)
    n = 2000
    g = rng.uniform(shifted_lut.g_min_s, shifted_lut.g_on_s, n)
    shift = rng.uniform(SHIFTS[0], SHIFTS[-1], n)
    v = rng.uniform(0, shifted_lut.v_max, n)
    truth = _trilinear(shifted_lut, g, shift, v, V_GATE)
    a = form.a(torch.as_tensor(g), torch.as_tensor(shift))  # (K, n)
    u = torch.as_tensor(v / shifted_lut.v_max)
    w = form.weights(a)
    fast = sum(term * matrix for term, matrix in zip(form.terms(u), w, strict=True))
    full_scale = shifted_lut.g_on_s * shifted_lut.v_max
    error = np.abs(fast.numpy() - truth).max() / full_scale
    assert error <= form.error + 1e-9 <= 1e-3 + 1e-9
    assert float(np.abs(truth).max()) > 0.3 * full_scale  # not a trivial comparison
    # without shifts, the form is the unshifted slice
    zero = form.a(torch.as_tensor(g))
    assert torch.allclose(zero, form.a(torch.as_tensor(g), torch.zeros(n, dtype=torch.float64)))


def test_exact_path_with_shifts_against_the_shift_table(shifted_lut):
    rng = np.random.default_rng(1)
    g = rng.uniform(shifted_lut.g_min_s, shifted_lut.g_on_s, (6, 4))
    shift = rng.uniform(SHIFTS[0], SHIFTS[-1], (6, 4))
    v = rng.uniform(0, shifted_lut.v_max, (3, 6))
    got = exact_column_sum(
        shifted_lut,
        torch.as_tensor(g),
        torch.as_tensor(v),
        None,
        V_GATE,
        shift=torch.as_tensor(shift),
    )
    cells = _trilinear(
        shifted_lut,
        g[None].repeat(3, 0),
        shift[None].repeat(3, 0),
        v[..., None].repeat(4, -1),
        V_GATE,
    )
    assert np.allclose(got.numpy(), cells.sum(1), rtol=1e-12, atol=1e-18)
    squared = exact_column_sum(
        shifted_lut,
        torch.as_tensor(g),
        torch.as_tensor(v),
        None,
        V_GATE,
        shift=torch.as_tensor(shift),
        squared=True,
    )
    assert np.allclose(squared.numpy(), (cells**2).sum(1), rtol=1e-12, atol=1e-24)
    direct = shifted_lut.current(
        torch.as_tensor(g), torch.as_tensor(v[0])[:, None], V_GATE, shift=torch.as_tensor(shift)
    )
    assert np.allclose(direct.sum(0).numpy(), got[0].numpy(), rtol=1e-10)


def test_fit_separable_shifted_refuses_a_grid_without_zero(shifted_lut):
    table = shifted_lut.shift_table[..., 0].numpy()
    with pytest.raises(Exception, match="0 V"):
        fit_separable_shifted(
            table, SHIFTS + 0.001, shifted_lut.g_grid.numpy(), shifted_lut.v_grid.numpy(), 0.8
        )


# ----------------------------------------------------------------------------- fast vs exact


def _bound(twin_layer, x_scale: torch.Tensor, rows: int, lut, budget: float) -> torch.Tensor:
    """The fast path's largest output error: budget * G_ON * V_max per cell, two cells per row."""
    scale = twin_layer.output_scale().detach()
    return 2 * rows * budget * lut.g_on_s * lut.v_max * scale * x_scale


@pytest.mark.parametrize(
    "variation",
    [
        {"programming_sigma": 0.1, "stuck_on": 0.05, "stuck_off": 0.05},
        {"programming_sigma": 0.05, "distribution": "lognormal", "mismatch": 1.0},
        {"mismatch": 2.0},
    ],
)
def test_fast_against_exact_with_variation(shifted_lut, variation):
    torch.manual_seed(2)
    linear = nn.Sequential(nn.Linear(40, 6))
    x = torch.randn(8, 40, dtype=torch.float64)
    fast, exact = (
        _twin(linear, shifted_lut, path, seed=1, **variation).double() for path in ("fast", "exact")
    )
    y_fast, y_exact = _run(fast, x), _run(exact, x)
    ideal = _run(_twin(linear, shifted_lut, "exact").double(), x)
    x_scale = x.abs().amax(dim=1, keepdim=True)
    bound = _bound(fast[0], x_scale, 40, shifted_lut, 1e-3)
    assert bool(((y_fast - y_exact).abs() <= bound).all())
    # the chip matters, far beyond the fast path's own error
    assert float((y_exact - ideal).abs().max()) > 5 * float((y_fast - y_exact).abs().max())


def test_conv_fast_against_exact_with_mismatch(shifted_lut):
    model = _cnn()
    x = torch.randn(2, 2, 6, 6, dtype=torch.float64)
    variation = {"programming_sigma": 0.05, "mismatch": 1.0, "seed": 2}
    fast, exact = (
        _twin(model, shifted_lut, path, **variation).double() for path in ("fast", "exact")
    )
    y_fast, y_exact = _run(fast, x), _run(exact, x)
    assert torch.allclose(y_fast, y_exact, rtol=0, atol=0.01 * float(y_exact.abs().max()))
    ideal = _run(_twin(model, shifted_lut).double(), x)
    assert not torch.allclose(y_exact, ideal, rtol=0, atol=0.01 * float(y_exact.abs().max()))


def test_wired_path_takes_the_chip_conductances(paper_lut):
    torch.manual_seed(3)
    linear = nn.Sequential(nn.Linear(16, 4))
    x = torch.rand(3, 16)
    wires = Wires(1.0, 1.0)

    def wired(**variation):
        config = MappingConfig(v_gate=V_GATE, wires=wires, variation=Variation(**variation))
        return _run(convert(linear, paper_lut, config).eval(), x)

    plain, chip, again = wired(), wired(programming_sigma=0.1), wired(programming_sigma=0.1)
    assert torch.equal(chip, again) and not torch.allclose(plain, chip)
    noisy = wired(read_noise_sigma=0.05)
    assert not torch.allclose(plain, noisy)


# ----------------------------------------------------------------------------- read noise


@pytest.mark.parametrize("path", ["fast", "exact"])
def test_read_noise_std_follows_the_formula(shifted_lut, path):
    torch.manual_seed(4)
    linear = nn.Sequential(nn.Linear(16, 2, bias=False))
    sigma = 0.05
    twin = _twin(linear, shifted_lut, path, read_noise_sigma=sigma, mismatch=1.0).double()
    x = torch.rand(1, 16, dtype=torch.float64).repeat(4000, 1)
    x[:, :3] *= -1  # a second phase too
    clean = _run(_twin(linear, shifted_lut, path, mismatch=1.0).double(), x[:1])
    noisy = _run(twin, x)
    layer = twin[0]
    gp, gn = (g.t() for g in layer.physical_pair(layer.weight))
    dp, dn = (d.t() for d in layer.threshold_shifts(layer.weight))
    u = x[:1] / x[:1].abs().max()
    volts = u.abs() * shifted_lut.v_max
    ones = torch.ones_like(volts)
    total = sum(
        exact_column_sum(shifted_lut, g, volts, ones, V_GATE, shift=d, squared=True)
        for g, d in ((gp, dp), (gn, dn))
    )
    scale = layer.output_scale() * x[:1].abs().max()
    expected = (sigma * total.sqrt() * scale).detach()  # (1, 2)
    measured = noisy.std(dim=0)
    assert torch.allclose(measured, expected[0], rtol=0.06)
    assert torch.allclose(noisy.mean(dim=0), clean[0], atol=float(4 * expected.detach().max() / 60))
    assert not torch.equal(_run(twin, x[:2], 1), _run(twin, x[:2], 2))
    assert torch.equal(_run(twin, x[:2], 1), _run(twin, x[:2], 1))


def test_read_noise_on_conv_fast_path(paper_lut):
    model = _cnn()
    x = torch.randn(2, 2, 6, 6)
    twin = _twin(model, paper_lut, read_noise_sigma=0.02)
    clean = _run(_twin(model, paper_lut), x)
    one, two = _run(twin, x, 1), _run(twin, x, 2)
    assert not torch.equal(one, two)
    spread = float((one - clean).abs().max())
    assert 0 < spread < 0.2 * float(clean.abs().max())


# ----------------------------------------------------------------------------- gradients


@pytest.mark.parametrize(
    ("path", "variation"),
    [
        ("fast", {"programming_sigma": 0.05, "mismatch": 1.0}),
        ("exact", {"programming_sigma": 0.05, "mismatch": 1.0}),
        ("fast", {"stuck_off": 0.2, "read_noise_sigma": 0.05}),
    ],
)
def test_gradients_with_a_fixed_chip(shifted_lut, path, variation):
    torch.manual_seed(5)
    linear = nn.Linear(5, 3)
    twin = convert(
        nn.Sequential(linear),
        shifted_lut,
        MappingConfig(v_gate=V_GATE, path=path, w_cut=2.0, variation=Variation(**variation)),
    ).double()
    layer = twin[0]
    x = torch.randn(2, 5, dtype=torch.float64, requires_grad=True)

    weight = layer.weight.detach().clone().requires_grad_(True)

    def fn(w, inputs):
        layer._parameters["weight"] = w  # the chip stays: its draws do not depend on the weight
        torch.manual_seed(0)  # the same read noise at every call
        return twin(inputs)

    assert torch.autograd.gradcheck(fn, (weight, x), eps=1e-7, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize(("v_gate", "temperature_c"), [(0.8, 27.0), (1.0, 27.0), (0.8, 85.0)])
def test_mismatch_on_the_paper_cell_fast_against_exact(paper_axes_lut_path, v_gate, temperature_c):
    """The real delvto axis from ngspice (9 shifts, +-3 sigma_vt of the card), at 27 and 85 degC."""
    from neatxbar.lut import CellLUT

    lut = CellLUT.load(paper_axes_lut_path, temperature_c=temperature_c)
    assert lut.shift_grid.numel() == 9 and lut.sigma_vt_v > 0
    torch.manual_seed(6)
    linear = nn.Sequential(nn.Linear(32, 4))
    x = torch.randn(6, 32, dtype=torch.float64)
    config = {"v_gate": v_gate, "variation": Variation(programming_sigma=0.05, mismatch=1.0)}
    fast, exact = (
        convert(linear, lut, MappingConfig(path=path, **config)).double().eval()
        for path in ("fast", "exact")
    )
    y_fast, y_exact = _run(fast, x), _run(exact, x)
    bound = _bound(fast[0], x.abs().amax(dim=1, keepdim=True), 32, lut, 1e-3)
    assert bool(((y_fast - y_exact).abs() <= bound).all())
    assert fast[0].cell_form.error <= 1e-3
    nominal = _run(convert(linear, lut, MappingConfig(v_gate=v_gate, path="exact")).double(), x)
    assert not torch.allclose(y_exact, nominal)
