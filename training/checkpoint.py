"""Checkpoints: a model's state_dict with a JSON header, loaded with ``weights_only=True`` only.

Format ``neat-checkpoint/1``: ``{"format": ..., "header": <JSON text>, "state_dict": {...}}``
saved by :func:`torch.save`. The header says what the weights are (model name, dataset, shapes,
accuracy, git revision, the LUT and gate voltages used, NEAT's weight scales) so ``neat map`` can
rebuild the model without the code that trained it.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neatxbar.core.checks import check_integer, check_number
from neatxbar.core.errors import NeatError
from neatxbar.core.jsonout import dumps_strict
from neatxbar.mapping.config import check_v_gate
from neatxbar.training.models import MODELS, build_model

FORMAT = "neat-checkpoint/1"
#: Longest header accepted (characters) and deepest nesting of its JSON.
MAX_HEADER_CHARS = 1_000_000
MAX_HEADER_DEPTH = 16
#: Ranges of the header's shape fields (the stored weights must then match them exactly).
SHAPE_RANGES = {"num_classes": (1, 100_000), "in_channels": (1, 1024), "image_size": (1, 4096)}


class CheckpointError(NeatError, ValueError):
    """A file that is not a checkpoint of this toolkit (or a plain state_dict) or is damaged."""


def git_revision() -> str:
    """The git revision of the toolkit's checkout, or "unknown" outside one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def save_checkpoint(path: Path | str, model: nn.Module, header: dict[str, Any]) -> Path:
    """Write ``model``'s state_dict and ``header`` (JSON-serialisable) to ``path`` atomically."""
    path = Path(path)
    # after the header: one carried over from another checkpoint (--from) must not keep its time
    full = {
        **header,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_revision": git_revision(),
    }
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"format": FORMAT, "header": dumps_strict(full), "state_dict": state}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: Path | str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(header, state_dict) of a checkpoint, or ({}, state_dict) of a plain state_dict file.

    Raises
    ------
    CheckpointError
        Missing file, not loadable with ``weights_only=True``, not a checkpoint, or a header
        that :func:`check_header` refuses (wrong shape or types, values out of range, shapes the
        stored weights do not have).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for foreign files
        raise CheckpointError(f"{path}: not a checkpoint ({_load_failure(error)[:160]})") from None
    if isinstance(data, dict) and data.get("format") == FORMAT:
        try:
            text, state = data["header"], data["state_dict"]
            if not isinstance(text, str):
                raise TypeError(f"the header is a {type(text).__name__}, not JSON text")
            if len(text) > MAX_HEADER_CHARS:
                raise ValueError(f"the header is longer than {MAX_HEADER_CHARS} characters")
            header = json.loads(text)
        except (KeyError, TypeError, ValueError, RecursionError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise CheckpointError(f"{path}: damaged checkpoint ({reason[:160]})") from None
        state = _check_state(state, path)
        return check_header(header, state, path), state
    if isinstance(data, dict) and data and all(torch.is_tensor(v) for v in data.values()):
        return {}, _check_state(data, path)
    raise CheckpointError(
        f"{path}: not a checkpoint (expected a {FORMAT} file from 'neat train' or a state_dict)"
    )


def _load_failure(error: Exception) -> str:
    """One plain line on why torch.load failed (its weights_only message spans lines, with ANSI
    codes and advice to load the file unsafely)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()
    if "Weights only load failed" in text:
        unsupported = re.search(r"Unsupported [^.\n]*", text)
        detail = f": {unsupported.group(0).strip()}" if unsupported else ""
        return f"refused by torch.load(weights_only=True){detail}"
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


def _check_state(state: object, path: Path) -> dict[str, torch.Tensor]:
    if not (
        isinstance(state, dict)
        and all(isinstance(k, str) for k in state)
        and all(torch.is_tensor(v) for v in state.values())
    ):
        raise CheckpointError(f"{path}: damaged checkpoint (state_dict is not names to tensors)")
    return state


def _depth(value: object, limit: int) -> int:
    """Nesting depth of parsed JSON, counting no further than ``limit + 1``."""
    if limit < 0 or not isinstance(value, dict | list):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(item, limit - 1) for item in items), default=0)


def check_header(
    header: object, state: Mapping[str, torch.Tensor], path: Path | str
) -> dict[str, Any]:
    """Check a checkpoint's JSON header (untrusted) against its stored weights; return it.

    The header must be a JSON object nested at most :data:`MAX_HEADER_DEPTH` deep. The fields
    the toolkit reads are checked for type and range: ``model`` (a known model name),
    ``dataset`` and ``lut`` (text), ``num_classes``, ``in_channels``, ``image_size`` (integers in
    :data:`SHAPE_RANGES`), ``v_gate`` (a gate voltage or names to gate voltages, finite, in V),
    ``weight_scales`` (names to finite numbers >= 0). When the header names its model, the
    model it describes is built without memory (torch's ``meta`` device) and its parameter
    shapes must equal the stored tensors': a header cannot make the loader allocate more than
    the file holds.

    Raises
    ------
    CheckpointError
        One line naming the field.
    """
    where = f"{path}: checkpoint header"
    if not isinstance(header, dict):
        kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
        kind = kinds.get(type(header), "a number")
        raise CheckpointError(f"{where} is {kind}, expected a JSON object")
    if _depth(header, MAX_HEADER_DEPTH) > MAX_HEADER_DEPTH:
        raise CheckpointError(f"{where} is nested more than {MAX_HEADER_DEPTH} levels deep")
    for key in ("model", "dataset", "lut"):
        if key in header and not isinstance(header[key], str):
            raise CheckpointError(f"{where}: {key} must be text, got {header[key]!r}"[:200])
    if "model" in header and header["model"] not in MODELS:
        raise CheckpointError(
            f"{where}: unknown model {header['model'][:40]!r}; "
            f"choose one of {', '.join(sorted(MODELS))}"
        )
    shape = {}
    for key, (low, high) in SHAPE_RANGES.items():
        if key in header:
            shape[key] = check_integer(
                f"{where}: {key}", header[key], low=low, high=high, error=CheckpointError
            )
    _check_gates(header.get("v_gate"), where)
    scales = header.get("weight_scales")
    if scales is not None:
        if not isinstance(scales, dict):
            raise CheckpointError(f"{where}: weight_scales must map layer names to numbers")
        for name, value in scales.items():
            _json_number(value, f"{where}: weight_scales[{name!r}]")
            check_number(
                f"{where}: weight_scales[{name!r}]", value, nonnegative=True, error=CheckpointError
            )
    if "model" in header and shape:
        check_model_fits(header["model"], shape, state, path)
    return header


def _json_number(value: object, name: str) -> None:
    """A JSON number (text such as "0.9" is refused, though float() would take it)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CheckpointError(f"{name} must be a number, got {value!r}"[:200])


def _check_gates(gates: object, where: str) -> None:
    if gates is None:
        return
    named = gates.items() if isinstance(gates, dict) else [(None, gates)]
    for name, value in named:
        label = f"{where}: v_gate" if name is None else f"{where}: v_gate[{name!r}]"
        _json_number(value, label)
        check_v_gate(label, value, error=CheckpointError)


def check_model_fits(
    name: str, shape: Mapping[str, int], state: Mapping[str, torch.Tensor], path: Path | str
) -> None:
    """Refuse, before any memory is allocated, a model whose parameters the stored weights do
    not have: ``build_model(name, **shape)`` is built on the ``meta`` device (no storage) and
    its state_dict's names and shapes compared with ``state``'s.

    Raises
    ------
    CheckpointError
        Naming the first tensor that differs; ValueError for an unknown model name.
    """
    with torch.device("meta"):
        expected = build_model(name, **shape).state_dict()
    for key, tensor in expected.items():
        stored = state.get(key)
        if stored is None or tuple(stored.shape) != tuple(tensor.shape):
            got = "missing" if stored is None else f"of shape {tuple(stored.shape)}"
            described = ", ".join(f"{k} = {v}" for k, v in shape.items())
            size = math.prod(tensor.shape)
            raise CheckpointError(
                f"{path}: weights do not fit model {name!r} ({described}): it needs {key} of "
                f"shape {tuple(tensor.shape)} ({size} values), the stored tensor is {got}"
            )
