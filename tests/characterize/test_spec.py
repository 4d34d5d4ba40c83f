"""Sweep specifications: presets load, bad specs fail with one error naming the key."""

from __future__ import annotations

import pytest

from neatxbar.characterize.spec import load_preset, load_spec, parse_spec, preset_names
from neatxbar.core.config import ConfigError

BASE = """
name = "t"
[conductance]
num = 4
[v_in]
start_v = 0.0
stop_v = 0.5
num = 6
[v_gate]
start_v = 0.8
stop_v = 1.0
num = 3
"""


def test_presets_load_and_the_paper_grid_holds_the_papers_gate_voltages() -> None:
    assert {"paper", "quick"} <= set(preset_names())
    spec, text = load_preset("paper")
    assert "calibrate" in text
    gates = spec.v_gate.values()
    for v in (0.75, 0.8, 1.0, 1.3):
        assert min(abs(gates - v)) < 1e-12
    assert spec.conductances[0] == pytest.approx(1 / 300e3)
    assert spec.conductances[-1] == pytest.approx(1 / 30e3)
    assert spec.tolerance == 0.025


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        ("bogus = 1", "bogus"),
        ("[memristor]\nr_on_ohm = 30e3\nr_of_ohm = 3e5", "memristor.r_of_ohm"),
        ("tolerance = -0.1", "tolerance"),
        ("read_time_s = -1e-9", "read_time_s"),
        ("[transistor]\nmodel = 'nmos_missing'", "transistor.model"),
        ("[transistor]\nw_m = -4e-7", "transistor.w_m"),
        ("[transistor]\nmodel_params = {vth0 = 'high'}", "transistor.model_params.vth0"),
        ("[ngspice]\nklu = 1", "klu"),
        ("metric = 'curvy'", "metric"),
        ("chunk_size = 0", "chunk_size"),
    ],
)
def test_bad_values_and_unknown_keys_name_the_key(edit: str, key: str) -> None:
    text = edit + "\n" + BASE if not edit.startswith("[") else BASE + "\n" + edit
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_spec(text)


@pytest.mark.parametrize(
    ("section", "body", "message"),
    [
        ("v_in", "start_v = 0.5\nstop_v = 0.1\nnum = 5", "v_in"),
        ("v_gate", "start_v = 0.8\nstop_v = 1.0\nnum = 0", "v_gate.num"),
        ("conductance", "num = 1", "conductance.num"),
        ("v_in", "start_v = -0.1\nstop_v = 0.5\nnum = 5", "v_in.start_v"),
    ],
)
def test_empty_or_non_increasing_grids_are_refused(section: str, body: str, message: str) -> None:
    lines = BASE.splitlines()
    start = lines.index(f"[{section}]")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    text = "\n".join([*lines[:start], f"[{section}]", body, *lines[end:]])
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_spec(text)


def test_hash_ignores_comments_but_not_values() -> None:
    a = parse_spec(BASE)
    b = parse_spec("# a comment\n" + BASE)
    c = parse_spec(BASE.replace("num = 4", "num = 5"))
    assert a.sha256() == b.sha256() != c.sha256()


def test_missing_spec_file_and_bad_toml_are_config_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_spec(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_spec(bad)


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="quick"):
        load_preset("nope")


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        ("read_time_s = nan", "read_time_s"),
        ("tolerance = nan", "tolerance"),
        ("[v_gate]\nstart_v = 0.8\nstop_v = 1.0\nnum = 1", "v_gate.num"),
        ("[v_gate]\nstart_v = 0.8\nstop_v = 1e300\nnum = 3", "v_gate.stop_v"),
        ("[v_in]\nstart_v = 0.0\nstop_v = inf\nnum = 3", "v_in.stop_v"),
        ("[v_in]\nstart_v = nan\nstop_v = 0.5\nnum = 3", "v_in.start_v"),
        ("[memristor]\nr_on_ohm = nan\nr_off_ohm = 3e5", "memristor.r_on_ohm"),
        ("[memristor]\nr_on_ohm = 3e4\nr_off_ohm = inf", "memristor.r_off_ohm"),
        ("[transistor]\nw_m = 1e300", "transistor.w_m"),
        ("[transistor]\nl_m = 1e-12", "transistor.l_m"),
        ('[transistor]\nmodel_params = {"vth0\\n" = 0.7}', "transistor.model_params"),
        ('[transistor]\nmodel = "nmos_level1\\n"', "transistor.model"),
    ],
)
def test_values_outside_their_physical_range_are_refused(edit: str, key: str) -> None:
    lines = BASE.splitlines()
    if edit.startswith("["):
        section = edit.splitlines()[0]
        if section in lines:  # replace the section
            start = lines.index(section)
            end = next(
                (i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines)
            )
            lines = [*lines[:start], *lines[end:]]
        text = "\n".join(lines) + "\n" + edit
    else:
        text = edit + "\n" + BASE
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_spec(text)


def test_a_grid_too_large_is_refused_up_front_with_the_limit_and_how_to_split() -> None:
    text = BASE.replace("num = 4", "num = 100000000")
    with pytest.raises(ConfigError, match=r"conductance\.num"):
        parse_spec(text)
    text = BASE.replace("num = 4", "num = 20000").replace("num = 6", "num = 2001")
    with pytest.raises(ConfigError, match="limit of 20,000,000") as refused:
        parse_spec(text)
    assert "split" in str(refused.value)
    with pytest.raises(ConfigError, match="chunk_size"):
        parse_spec(
            "chunk_size = 4096\n"
            + BASE.replace("num = 4", "num = 2000").replace("num = 6", "num = 2001")
        )
