"""One rule for gate voltages per layer (resolve_gate_voltages) and one gate-file loader."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from torch import nn

from neatxbar.core.errors import ConfigError, NeatError
from neatxbar.lut import CellLUT
from neatxbar.mapping import MappingConfig, MappingError, convert, describe
from neatxbar.mapping.gates import load_gate_file, resolve_gate_voltages

NAN, INF = math.nan, math.inf


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 3)))


def test_a_number_applies_to_every_crossbar_layer() -> None:
    assert resolve_gate_voltages(_net(), 0.8) == {"0": 0.8, "2.0": 0.8}
    assert resolve_gate_voltages(_net(), None, default=1.0) == {"0": 1.0, "2.0": 1.0}


def test_a_mapping_names_layers_with_an_optional_default() -> None:
    assert resolve_gate_voltages(_net(), {"0": 0.7, "2.0": 1.1}) == {"0": 0.7, "2.0": 1.1}
    assert resolve_gate_voltages(_net(), {"0": 0.7, "default": 1.0}) == {"0": 0.7, "2.0": 1.0}
    # the caller's default covers what the mapping leaves out; the mapping's "default" wins
    assert resolve_gate_voltages(_net(), {"0": 0.7}, default=1.2) == {"0": 0.7, "2.0": 1.2}
    both = resolve_gate_voltages(_net(), {"0": 0.7, "default": 0.9}, default=1.2)
    assert both == {"0": 0.7, "2.0": 0.9}


def test_a_layer_without_a_gate_voltage_is_an_error_naming_it() -> None:
    with pytest.raises(MappingError, match=r"no V_gate for layers '2\.0'.*'default'"):
        resolve_gate_voltages(_net(), {"0": 0.7})
    with pytest.raises(MappingError, match="no V_gate given"):
        resolve_gate_voltages(_net(), None)


def test_unknown_names_list_the_model_s_crossbar_layers() -> None:
    with pytest.raises(
        MappingError, match=r"does not have: 2\.1; its crossbar layers are '0', '2\.0'"
    ):
        resolve_gate_voltages(_net(), {"2.1": 0.7, "default": 1.0})


@pytest.mark.parametrize(
    "bad",
    [NAN, INF, 0.0, -0.5, 6.0, "0.8", True, {"0": NAN, "default": 1.0}, {"default": -INF}],
)
def test_every_value_is_checked_as_a_gate_voltage(bad: object) -> None:
    with pytest.raises(ConfigError, match="V_gate"):
        resolve_gate_voltages(_net(), bad)  # type: ignore[arg-type]


def test_convert_and_neat_follow_the_same_rule(lut: CellLUT) -> None:
    """convert falls back to the config's V_gate; NEAT (no fallback) refuses the unnamed layer."""
    twin = convert(_net(), lut, MappingConfig(v_gate=1.0), v_gate={"0": 0.8})
    assert {row["layer"]: row["v_gate"] for row in describe(twin)} == {"0": 0.8, "2.0": 1.0}
    assert resolve_gate_voltages(_net(), {"0": 0.8, "default": 1.0}) == {"0": 0.8, "2.0": 1.0}
    with pytest.raises(MappingError, match=r"no V_gate for layers '2\.0'"):
        resolve_gate_voltages(_net(), {"0": 0.8})
    for call in (
        lambda: convert(_net(), lut, v_gate={"x": 0.8}),
        lambda: resolve_gate_voltages(_net(), {"x": 0.8}),
    ):
        with pytest.raises(MappingError, match=r"its crossbar layers are '0', '2\.0'"):
            call()


# --- the gate file -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("g.toml", '"0" = 0.8\ndefault = 1.0\n'),
        ("g.toml", '[v_gate]\n"0" = 0.8\ndefault = 1\n'),
        ("g.json", '{"0": 0.8, "default": 1.0}'),
        ("g.JSON", '{"v_gate": {"0": 0.8, "default": 1}}'),
    ],
)
def test_gate_files_in_toml_or_json(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    gates = load_gate_file(path)
    assert gates == {"0": 0.8, "default": 1.0}
    assert all(type(v) is float for v in gates.values())
    assert resolve_gate_voltages(_net(), gates) == {"0": 0.8, "2.0": 1.0}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("g.toml", "1 = nan\n", "must be finite"),
        ("g.toml", "[v_gate]\ndefault = inf\n", "must be finite"),
        ("g.json", '{"1": NaN}', "must be finite"),
        ("g.json", '{"1": -Infinity}', "must be finite"),
        ("g.toml", "1 = 9.0\n", r"in \(0, 5\] V"),
        ("g.toml", '1 = "0.8"\n', "is not a number"),
        ("g.toml", "1 = true\n", "is not a number"),
        ("g.json", "[0.8]", "expected layer = V_gate pairs"),
        ("g.toml", "", "expected layer = V_gate pairs"),
        ("g.toml", "1 = \n", "not valid TOML"),
        ("g.json", "{1: 0.8}", "not valid JSON"),
        ("g.json", "[" * 100_000, "not valid JSON"),
    ],
)
def test_bad_gate_files_give_one_clear_error(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as caught:
        load_gate_file(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_gate_files_that_are_not_text_or_too_large_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "g.toml"
    binary.write_bytes(b"\xff\xfe\x00 = 0.8")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_gate_file(binary)
    huge = tmp_path / "huge.toml"
    huge.write_text("# padding\n" * 200_000, encoding="utf-8")
    with pytest.raises(ConfigError, match="larger than"):
        load_gate_file(huge)


def test_a_missing_gate_file_is_open_s_own_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        load_gate_file(tmp_path / "missing.toml")
    assert caught.value.filename == str(tmp_path / "missing.toml")
    assert "cannot read gate-voltage file" in str(caught.value)
    assert not isinstance(caught.value, NeatError)
