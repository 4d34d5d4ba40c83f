"""Checkpoints: a model's state_dict with a JSON header, loaded with ``weights_only=True`` only.

Format ``neat-checkpoint/1``: ``{"format": ..., "header": <JSON text>, "state_dict": {...}}``
saved by :func:`torch.save`. The header says what the weights are (model name, dataset, shapes,
accuracy, git revision, the LUT and gate voltages used, NEAT's weight scales) so ``neat map`` can
rebuild the model without the code that trained it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neatxbar.core.errors import NeatError

FORMAT = "neat-checkpoint/1"


class CheckpointError(NeatError, ValueError):
    """A file that is not a checkpoint of this toolkit (or a plain state_dict) or is damaged."""


def git_revision() -> str:
    """The git revision of the toolkit's checkout, or "unknown" outside one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
            capture_output=True, text=True, timeout=5, check=True,
        )  # fmt: skip
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def save_checkpoint(path: Path | str, model: nn.Module, header: dict[str, Any]) -> Path:
    """Write ``model``'s state_dict and ``header`` (JSON-serialisable) to ``path`` atomically."""
    path = Path(path)
    # after the header: one carried over from another checkpoint (--from) must not keep its time
    full = {**header, "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "git_revision": git_revision()}  # fmt: skip
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"format": FORMAT, "header": json.dumps(full), "state_dict": state}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: Path | str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(header, state_dict) of a checkpoint, or ({}, state_dict) of a plain state_dict file.

    Raises
    ------
    CheckpointError
        Missing file, not loadable with ``weights_only=True``, or not a checkpoint.
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
            header = json.loads(data["header"])
            state = data["state_dict"]
        except (KeyError, TypeError, json.JSONDecodeError) as error:
            raise CheckpointError(f"{path}: damaged checkpoint ({error})") from None
        return header, state
    if isinstance(data, dict) and data and all(torch.is_tensor(v) for v in data.values()):
        return {}, data
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
