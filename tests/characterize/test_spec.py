"""Sweep specifications: presets load, bad specs fail with one error naming the key."""

from __future__ import annotations

import numpy as np
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


# --- temperatures and threshold shifts -----------------------------------------------------

A_VT = '[transistor]\na_vt_mv_um = 1.5\na_vt_source = "test"\n'


def test_without_the_new_tables_a_spec_has_one_temperature_and_no_shift() -> None:
    spec = parse_spec(BASE)
    assert spec.temperatures_c.tolist() == [27.0] and spec.delvto_v.tolist() == [0.0]
    assert spec.sigma_vt_v == 0.0
    # the hash of a spec without the new tables is what it was (files made before them match)
    assert "temperature" not in spec.plain() and "mismatch" not in spec.plain()
    assert "a_vt_mv_um" not in spec.plain()["transistor"]


def test_axes_parse_into_the_pelgrom_shift_grid() -> None:
    text = BASE + A_VT + "[temperature]\nvalues_c = [-40, 27, 125]\n[mismatch]\nnum = 5\n"
    spec = parse_spec(text + "span_sigma = 2.0\n")
    sigma = 1.5e-9 / (450e-9 * 45e-9) ** 0.5  # A_Vt / sqrt(W L), V
    assert spec.sigma_vt_v == pytest.approx(sigma, rel=1e-12)
    assert spec.temperatures_c.tolist() == [-40.0, 27.0, 125.0]
    grid = spec.delvto_v
    assert grid.tolist() == pytest.approx([-2 * sigma, -sigma, 0.0, sigma, 2 * sigma], rel=1e-12)
    assert grid[2] == 0.0 and np.array_equal(grid, -grid[::-1])
    assert parse_spec(text + "span_sigma = 2.5\n").sha256() != spec.sha256()


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ("[temperature]\nvalues_c = []", "temperature.values_c must be a non-empty list"),
        ("[temperature]\nvalues_c = [85, 27]", "strictly increasing"),
        ("[temperature]\nvalues_c = [27, 27]", "strictly increasing"),
        ("[temperature]\nvalues_c = [27, 'hot']", r"temperature.values_c\[1\]"),
        ("[temperature]\nvalues_c = [27, 1000]", r"temperature.values_c\[1\]"),
        ("[temperature]\nvalues_c = 27", "non-empty list"),
        ("[temperature]\nvalue_c = [27]", "unknown key temperature.value_c"),
        (A_VT + "[mismatch]\nnum = 4\nspan_sigma = 3.0", "mismatch.num must be odd"),
        (A_VT + "[mismatch]\nnum = 0\nspan_sigma = 3.0", "mismatch.num"),
        (A_VT + "[mismatch]\nnum = 3\nspan_sigma = 0.0", "span_sigma > 0"),
        (A_VT + "[mismatch]\nnum = 1\nspan_sigma = 3.0", "span_sigma > 0"),
        (A_VT + "[mismatch]\nnum = 3\nspan_sigma = nan", "mismatch.span_sigma"),
        (A_VT + "[mismatch]\nnum = 3\nspan_sigma = 11.0", "mismatch.span_sigma"),
        ("[mismatch]\nnum = 9\nspan_sigma = 3.0", r"\[mismatch\] needs transistor.a_vt_mv_um"),
        ("[transistor]\na_vt_mv_um = 1.5", "a_vt_source must say where"),
        ('[transistor]\na_vt_mv_um = -1\na_vt_source = "x"', "transistor.a_vt_mv_um"),
        ('[transistor]\na_vt_mv_um = inf\na_vt_source = "x"', "transistor.a_vt_mv_um"),
        ("[transistor]\na_vt_mv_um = 1.5\na_vt_source = 3", "transistor.a_vt_source"),
        (
            '[transistor]\na_vt_mv_um = 90\na_vt_source = "x"\nw_m = 1e-8\nl_m = 1e-8\n'
            "[mismatch]\nnum = 3\nspan_sigma = 10.0",
            "more than the 1 V",
        ),
    ],
)
def test_bad_axes_are_refused_in_one_line(tables: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        parse_spec(BASE + tables)
    assert "\n" not in str(error.value)


def test_the_axes_count_in_the_size_limit() -> None:
    big = BASE.replace("num = 4", "num = 4000").replace("num = 6", "num = 101")
    parse_spec(big.replace("num = 3", "num = 40"))  # 16.2 M points: fine
    with pytest.raises(ConfigError, match="temperatures x shifts"):
        parse_spec(big.replace("num = 3", "num = 40") + "[temperature]\nvalues_c = [27, 85]")


def test_the_paper_preset_states_its_axes_and_the_source_of_a_vt() -> None:
    spec, _ = load_preset("paper")
    assert spec.temperatures_c.tolist() == [27.0, 85.0] and spec.delvto_v.size == 9
    assert spec.transistor.a_vt_mv_um == 1.25 and "Pelgrom" in spec.transistor.a_vt_source
    assert spec.sigma_vt_v == pytest.approx(1.25e-9 / (4.729e-7 * 45e-9) ** 0.5)
    assert spec.delvto_v[-1] == pytest.approx(3 * spec.sigma_vt_v)
