"""Checkpoints: round trip, plain state_dicts, foreign files refused, models rebuilt from them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from neatxbar.training.checkpoint import (
    FORMAT,
    CheckpointError,
    git_revision,
    load_checkpoint,
    save_checkpoint,
)
from neatxbar.training.models import build_model
from neatxbar.training.run import model_from_checkpoint

DIGITS_SHAPE = {"num_classes": 10, "in_channels": 1, "image_size": 8}


def _model(name: str = "mlp", seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(name, **DIGITS_SHAPE)


def _assert_same_state(one: dict[str, torch.Tensor], two: dict[str, torch.Tensor]) -> None:
    assert one.keys() == two.keys()
    for key in one:
        assert torch.equal(one[key], two[key]), key


def test_round_trip_keeps_header_and_weights(tmp_path: Path) -> None:
    model = _model("cnn")
    header = {
        "model": "cnn",
        "dataset": "digits",
        "accuracy": 0.875,
        **DIGITS_SHAPE,
        "v_gate": {"0": 0.8, "2": 0.9},
        "train": {"epochs": 2, "max_steps": None},
    }
    path = tmp_path / "deep" / "folder" / "model.pt"
    before = datetime.now(UTC).replace(microsecond=0)
    assert save_checkpoint(path, model, header) == path
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temporary file left

    loaded, state = load_checkpoint(path)
    assert {k: loaded[k] for k in header} == header
    created = datetime.fromisoformat(loaded["created"])
    assert created.tzinfo is not None
    assert before <= created <= datetime.now(UTC) + timedelta(seconds=1)
    assert loaded["git_revision"] == git_revision()
    assert isinstance(loaded["git_revision"], str) and loaded["git_revision"]
    _assert_same_state(state, model.state_dict())
    assert all(t.device.type == "cpu" for t in state.values())

    raw = torch.load(path, weights_only=True)
    assert raw["format"] == FORMAT and json.loads(raw["header"]) == loaded


def test_a_carried_over_header_gets_a_fresh_time_and_revision(tmp_path: Path) -> None:
    old = {"model": "mlp", "created": "2001-01-01T00:00:00+00:00", "git_revision": "0ld"}
    path = save_checkpoint(tmp_path / "m.pt", _model(), old)  # as run_training does with --from
    header = load_checkpoint(path)[0]
    assert header["model"] == "mlp"
    assert datetime.fromisoformat(header["created"]).year > 2001
    assert header["git_revision"] == git_revision()


def test_a_plain_state_dict_loads_with_an_empty_header(tmp_path: Path) -> None:
    model = _model()
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    header, state = load_checkpoint(path)
    assert header == {}
    _assert_same_state(state, model.state_dict())


def _text(path: Path) -> None:
    path.write_text("model = mlp\naccuracy = 0.9\n", encoding="utf-8")


def _random_bytes(path: Path) -> None:
    path.write_bytes(np.random.default_rng(1).bytes(4096))


def _zip_garbage(path: Path) -> None:
    path.write_bytes(b"PK\x03\x04" + np.random.default_rng(2).bytes(256))


def _arbitrary_object(path: Path) -> None:
    torch.save({"a": object()}, path)  # refused by torch.load(weights_only=True)


def _empty_file(path: Path) -> None:
    path.write_bytes(b"")


def _list_of_tensors(path: Path) -> None:
    torch.save([torch.zeros(2)], path)


def _empty_dict(path: Path) -> None:
    torch.save({}, path)


def _dict_of_numbers(path: Path) -> None:
    torch.save({"weight": 1.0}, path)


@pytest.mark.parametrize(
    "write",
    [
        _text,
        _random_bytes,
        _zip_garbage,
        _arbitrary_object,
        _empty_file,
        _list_of_tensors,
        _empty_dict,
        _dict_of_numbers,
    ],
)
def test_foreign_files_are_refused_in_one_line(tmp_path: Path, write: object) -> None:
    path = tmp_path / "foreign.pt"
    write(path)  # type: ignore[operator]
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert "\n" not in message and "\x1b" not in message
    assert message.startswith(f"{path}: not a checkpoint (")
    assert len(message) < len(str(path)) + 200


def test_an_arbitrary_pickle_is_refused_by_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "object.pt"
    _arbitrary_object(path)
    with pytest.raises(CheckpointError, match=r"weights_only=True.*Unsupported global"):
        load_checkpoint(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "absent.pt")
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path)  # a folder


@pytest.mark.parametrize(
    "content",
    [
        {"format": FORMAT, "header": "{not json", "state_dict": {}},
        {"format": FORMAT, "state_dict": {}},
        {"format": FORMAT, "header": 3, "state_dict": {}},
    ],
)
def test_a_damaged_checkpoint_says_so(tmp_path: Path, content: dict[str, object]) -> None:
    path = tmp_path / "damaged.pt"
    torch.save(content, path)
    with pytest.raises(CheckpointError, match="damaged checkpoint") as caught:
        load_checkpoint(path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_model_from_checkpoint_rebuilds_the_model(tmp_path: Path, name: str) -> None:
    model = _model(name).eval()
    path = save_checkpoint(
        tmp_path / "m.pt", model, {"model": name, "dataset": "digits", **DIGITS_SHAPE}
    )
    rebuilt, header = model_from_checkpoint(path, "vgg11")  # the header's model wins
    assert header["model"] == name and header["dataset"] == "digits"
    assert {k: header[k] for k in DIGITS_SHAPE} == DIGITS_SHAPE
    _assert_same_state(rebuilt.state_dict(), model.state_dict())
    x = torch.randn(5, 1, 8, 8)
    assert torch.equal(rebuilt.eval()(x), model(x))


def test_a_plain_state_dict_needs_a_model_name(tmp_path: Path) -> None:
    model = _model()
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    with pytest.raises(CheckpointError, match=r"plain state_dict.*--model"):
        model_from_checkpoint(path)
    rebuilt, header = model_from_checkpoint(path, "mlp", "digits")
    assert header == {"model": "mlp", **DIGITS_SHAPE}
    _assert_same_state(rebuilt.state_dict(), model.state_dict())


def test_mismatched_weights_name_the_model(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.pt", _model("cnn"), {"model": "mlp", **DIGITS_SHAPE})
    with pytest.raises(CheckpointError, match="do not fit model 'mlp'") as caught:
        model_from_checkpoint(path)
    assert "\n" not in str(caught.value)

    plain = tmp_path / "cnn_weights.pt"
    torch.save(_model("cnn").state_dict(), plain)
    with pytest.raises(CheckpointError, match="do not fit model 'mlp'"):
        model_from_checkpoint(plain, "mlp", "digits")


def test_an_unknown_model_name_in_the_header_is_a_value_error(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.pt", _model(), {"model": "transformer", **DIGITS_SHAPE})
    with pytest.raises(ValueError, match="unknown model 'transformer'"):
        model_from_checkpoint(path)


# --- untrusted headers: shape, types, ranges, and sizes the stored weights must have -----------


def _with_header(path: Path, header_text: object, model: nn.Module | None = None) -> Path:
    state = (model or _model()).state_dict()
    torch.save({"format": FORMAT, "header": header_text, "state_dict": state}, path)
    return path


_GOOD = {"model": "mlp", "dataset": "digits", **DIGITS_SHAPE}

BAD_HEADERS = {
    "a list": "[1, 2, 3]",
    "a number": "3",
    "null": "null",
    "deep nesting": json.dumps({**_GOOD, "x": json.loads("[" * 50 + "]" * 50)}),
    "deeper than the parser": "[" * 100_000 + "]" * 100_000,
    "num_classes as text": json.dumps({**_GOOD, "num_classes": "10"}),
    "num_classes -1": json.dumps({**_GOOD, "num_classes": -1}),
    "in_channels 0": json.dumps({**_GOOD, "in_channels": 0}),
    "image_size 2.5": json.dumps({**_GOOD, "image_size": 2.5}),
    "image_size true": json.dumps({**_GOOD, "image_size": True}),
    "image_size 700 on digits weights": json.dumps({**_GOOD, "image_size": 700}),
    "image_size 10^9": json.dumps({**_GOOD, "image_size": 10**9}),
    "model a number": json.dumps({**_GOOD, "model": 3}),
    "model unknown": json.dumps({**_GOOD, "model": "transformer"}),
    "dataset a list": json.dumps({**_GOOD, "dataset": ["digits"]}),
    "v_gate NaN": '{"model": "mlp", "num_classes": 10, "in_channels": 1, "image_size": 8, '
    '"v_gate": NaN}',
    "v_gate Infinity in a layer": '{"model": "mlp", "v_gate": {"1": Infinity}}',
    "v_gate text": json.dumps({**_GOOD, "v_gate": "0.9"}),
    "v_gate negative": json.dumps({**_GOOD, "v_gate": {"1": -0.9}}),
    "v_gate a list": json.dumps({**_GOOD, "v_gate": [0.9, 1.0]}),
    "weight_scales NaN": '{"model": "mlp", "weight_scales": {"1": NaN}}',
    "weight_scales a list": json.dumps({**_GOOD, "weight_scales": [1.0]}),
    "header not text": b'{"model": "mlp"}',
    "header too long": json.dumps({**_GOOD, "note": "x" * 1_000_001}),
}


@pytest.mark.parametrize("case", list(BAD_HEADERS))
def test_bad_headers_are_refused_in_one_line(tmp_path: Path, case: str) -> None:
    path = _with_header(tmp_path / "bad.pt", BAD_HEADERS[case])
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path)), message
    assert len(message) < len(str(path)) + 300, message


def test_an_image_size_the_weights_do_not_have_is_refused_before_building(
    tmp_path: Path,
) -> None:
    """image_size 700 would make the MLP's first layer 490 000 x 256 (500 MB) before the
    weights failed to fit: the shapes are compared on the meta device first."""
    header = json.dumps({"model": "mlp", "num_classes": 10, "in_channels": 1, "image_size": 700})
    with pytest.raises(
        CheckpointError, match=r"do not fit model 'mlp'.*1\.weight of shape \(256, 490000\)"
    ):
        load_checkpoint(_with_header(tmp_path / "a.pt", header))
    # the same sizes without a model name: --model names it, still compared before building
    header = json.dumps({"num_classes": 10, "in_channels": 1, "image_size": 700})
    with pytest.raises(CheckpointError, match="do not fit model 'mlp'"):
        model_from_checkpoint(_with_header(tmp_path / "b.pt", header), "mlp")


def test_a_good_header_with_gates_and_scales_loads(tmp_path: Path) -> None:
    header = {**_GOOD, "v_gate": {"1": 0.8, "3": 1.0}, "weight_scales": {"1": 0.5, "3": 0.0}}
    path = save_checkpoint(tmp_path / "m.pt", _model(), header)
    assert {k: load_checkpoint(path)[0][k] for k in header} == header
    scalar = save_checkpoint(tmp_path / "s.pt", _model(), {**_GOOD, "v_gate": 0.9})
    assert load_checkpoint(scalar)[0]["v_gate"] == 0.9


def test_save_writes_strict_json(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.pt", _model(), {**_GOOD, "accuracy": float("nan")})
    text = torch.load(path, weights_only=True)["header"]
    assert "NaN" not in text and json.loads(text)["accuracy"] is None


@pytest.mark.parametrize(
    "case",
    [
        "a list",
        "num_classes as text",
        "image_size 700 on digits weights",
        "v_gate NaN",
        "deeper than the parser",
    ],
)
def test_neat_map_refuses_a_bad_header_in_one_line(
    tmp_path: Path, case: str, linear_lut: object
) -> None:
    from click.testing import CliRunner

    from neatxbar.cli.main import cli

    path = _with_header(tmp_path / "bad.pt", BAD_HEADERS[case])
    result = CliRunner().invoke(
        cli, ["map", "--no-progress", "--checkpoint", str(path), "--lut", str(linear_lut.path)]
    )
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith(f"error: {path}")
