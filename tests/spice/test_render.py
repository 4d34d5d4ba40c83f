"""Rendering netlists: parameters are validated before any text reaches ngspice."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neatxbar.spice import Transistor, Wires, render_cell, render_cell_sweep, render_crossbar
from neatxbar.spice.render import uniform_step
from neatxbar.spice.templates import SpiceText, fill, fragments


@pytest.mark.parametrize("g", [-1e-5, 0.0, math.nan, math.inf])
def test_bad_conductance_is_a_value_error_naming_it(g: float) -> None:
    with pytest.raises(ValueError, match="conductance"):
        render_cell(g, 0.1, 1.0, Transistor())


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"v_in": math.nan}, "v_in"),
        ({"v_gate": math.inf}, "v_gate"),
        ({"v_in": "0.1; .include x"}, "v_in"),
    ],
)
def test_bad_voltage_is_a_value_error_naming_it(kwargs: dict, name: str) -> None:
    args = {"g_siemens": 1e-5, "v_in": 0.1, "v_gate": 1.0} | kwargs
    with pytest.raises(ValueError, match=name):
        render_cell(transistor=Transistor(), **args)


@pytest.mark.parametrize(
    ("transistor", "field"),
    [
        (Transistor(model="nmos\n.include /etc/passwd"), "transistor.model"),
        (Transistor(model="no_such_card"), "transistor.model"),
        (Transistor(w_m=-1e-9), "transistor.w_m"),
        (Transistor(l_m=math.nan), "transistor.l_m"),
    ],
)
def test_bad_transistor_is_a_value_error_naming_the_field(
    transistor: Transistor, field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        render_cell(1e-5, 0.1, 1.0, transistor)


def test_negative_wire_resistance_is_refused() -> None:
    with pytest.raises(ValueError, match=r"wires\.r_col"):
        render_crossbar(np.full((2, 2), 1e-5), [0.1, 0.2], 1.0, None, Wires(r_col=-1.0))


def test_crossbar_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="one voltage per row"):
        render_crossbar(np.full((3, 2), 1e-5), [0.1, 0.2], 1.0, None)


def test_fill_refuses_raw_text_but_takes_rendered_text() -> None:
    with pytest.raises(ValueError, match="identifier"):
        fill("${x}", {"x": "a b"})
    assert fill("${x}", {"x": SpiceText("a b")}) == "a b"
    with pytest.raises(KeyError):
        fill("${missing}", {})


def test_numbers_keep_full_precision() -> None:
    g = 1.0 / 3e4
    text = render_cell(g, 0.1, 1.0, None).text
    assert repr(1.0 / g) in text


def test_rendered_netlists_end_with_end_and_carry_the_model_card() -> None:
    netlist = render_cell(1e-5, 0.1, 1.0, Transistor())
    assert netlist.text.rstrip().endswith(".end")
    assert ".model nmos45_bsim4 nmos level=54" in netlist.text
    assert "lpe0=0" in netlist.text
    assert netlist.probes == ("vcol",)


def test_sweep_netlist_has_one_ammeter_per_cell_and_a_padded_nested_dc() -> None:
    netlist = render_cell_sweep([1e-5, 2e-5, 3e-5], [0.0, 0.25, 0.5], [0.8, 1.0], Transistor())
    assert netlist.probes == ("vam0", "vam1", "vam2")
    dc = next(line for line in netlist.text.splitlines() if line.startswith(".dc"))
    # stop values padded by half a step
    words = dc.split()
    assert words[1] == "vin" and words[5] == "vg"
    np.testing.assert_allclose([float(w) for w in words[2:5]], [0.0, 0.625, 0.25])
    np.testing.assert_allclose([float(w) for w in words[6:9]], [0.8, 1.1, 0.2])


@pytest.mark.parametrize(
    ("grid", "message"),
    [([], "non-empty"), ([0.0, 0.2, 0.1], "increasing"), ([0.0, 0.1, 0.3], "evenly")],
)
def test_sweep_grids_must_be_uniform_and_increasing(grid: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        uniform_step("v_in", grid)


def test_every_fragment_is_named() -> None:
    assert {"cell_transistor", "cell_short", "voltage_source", "resistor", "op"} <= set(fragments())


def test_model_params_are_appended_to_the_card_and_checked() -> None:
    transistor = Transistor(model_params=(("vth0", 0.68),))
    assert "+ vth0=0.68" in render_cell(1e-5, 0.1, 1.0, transistor).text
    with pytest.raises(ValueError, match="model_params"):
        render_cell(1e-5, 0.1, 1.0, Transistor(model_params=(("vth0;x", 0.68),)))


def test_user_card_file_is_checked_line_by_line(tmp_path) -> None:
    good = tmp_path / "mine.lib"
    good.write_text("* my card\n.model mine nmos level=1 vto=0.5\n+ kp=2e-4\n")
    netlist = render_cell(1e-5, 0.1, 1.0, Transistor(model="mine", card_file=str(good)))
    assert ".model mine nmos level=1" in netlist.text
    bad = tmp_path / "bad.lib"
    bad.write_text(".model mine nmos level=1\n.include /etc/passwd\n")
    with pytest.raises(ValueError, match="line 2"):
        render_cell(1e-5, 0.1, 1.0, Transistor(model="mine", card_file=str(bad)))
    with pytest.raises(ValueError, match="exactly one"):
        render_cell(1e-5, 0.1, 1.0, Transistor(model="other", card_file=str(good)))


def test_unknown_ngspice_option_is_refused() -> None:
    with pytest.raises(ValueError, match="not supported"):
        render_cell(1e-5, 0.1, 1.0, None, options={"klu": 1})
    assert ".options reltol=1e-06" in render_cell(1e-5, 0.1, 1.0, None, {"reltol": 1e-6}).text
