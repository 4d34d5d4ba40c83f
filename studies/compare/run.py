"""SPICE against emulation: column currents of whole crossbars, ngspice vs the LUT-backed models.

For each array size n, :func:`compare` builds n x n crossbars and drives them with input vectors:

- ``"random"``: conductances uniform in [G_min, G_ON] and row voltages uniform in [0, V_max];
- ``"trained"``: the first crossbar layer of a trained model (a checkpoint, or by default a small
  MLP trained on the digits with the toolkit's trainer), mapped with the toolkit's default weight
  mapping, driven by that layer's own inputs on held-out data (:mod:`.inputs`).

Each crossbar is solved by ngspice in full (the LUT's own transistor, ideal wires unless
``wire_ohm``, columns at 0 V) and emulated by the fast path, the exact path and the ideal linear
model G^T V; with wires also by the circuit solver (``"circuit"``, the reference) and the wired
fast path (``"wired-fast"``, :mod:`neatxbar.mapping.wired_fast`). The report gives, per (size,
case, model), the relative error of the column currents against ngspice and the time each took;
the wired fast path's once-per-array reduction is timed apart from its per-vector evaluation.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from neatxbar.core.errors import ConfigError
from neatxbar.core.progress import progress_bar
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping.circuit import CircuitConfig, solve
from neatxbar.mapping.crossbar import Crossbar
from neatxbar.mapping.wired_fast import WiredTiles, column_currents, reduce_array
from neatxbar.spice import crossbar_column_currents_batch, ngspice_version
from neatxbar.spice.params import Wires
from neatxbar.studies.compare.inputs import (
    TrainedLayer,
    input_voltages,
    layer_from_checkpoint,
    train_digits_layer,
    trained_conductances,
)
from neatxbar.studies.compare.reference import spice_reference
from neatxbar.studies.compare.report import output_folder, write_report
from neatxbar.studies.compare.results import CaseResult, CompareReport
from neatxbar.studies.compare.settings import CompareConfig

#: The emulation's time per call: the best of ROUNDS rounds, each of enough calls to last
#: ROUND_SECONDS or more.
ROUNDS = 5
ROUND_SECONDS = 0.02

ModelCall = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class StagedModel:
    """A model with once-per-array work, timed apart from its per-vector evaluation.

    Attributes
    ----------
    reduce
        ``reduce(g)``: the work that depends on the conductances ``g`` (rows, cols) in S only,
        done once per crossbar.
    evaluate
        ``evaluate(reduced, v)``: column currents (vectors, cols) in A for row voltages ``v``
        (vectors, rows) in V.
    """

    reduce: Callable[[torch.Tensor], WiredTiles]
    evaluate: Callable[[WiredTiles, torch.Tensor], torch.Tensor]


def compare(
    lut_path: Path | str,
    config: CompareConfig | None = None,
    out_dir: Path | str | None = None,
    progress: bool = True,
    *,
    layer: TrainedLayer | None = None,
) -> CompareReport:
    """Column currents of whole crossbars: ngspice against the fast, exact and ideal models (and,
    with wires, the circuit solver and the wired fast path).

    Parameters
    ----------
    lut_path
        A complete ``neat-lut/2`` (or ``neat-lut/1``) file; its stored spec and model card give
        the transistor ngspice simulates, so both sides use the same cell.
    config
        Sizes, gate voltage, vectors, seed, the trained model; default :class:`CompareConfig`.
    out_dir
        If given, :func:`~neatxbar.studies.compare.report.write_report` writes the report and
        figures there (checked before any work).
    progress
        A progress bar on stderr (when it is a terminal), one step per (size, case).
    layer
        The trained layer of the ``"trained"`` case (see
        :func:`~neatxbar.studies.compare.inputs.layer_of`); None: from ``config.checkpoint``, or
        a small MLP trained on the digits.

    Returns
    -------
    CompareReport
        Per (size, case, model), the relative error against ngspice and the times (the wired fast
        path's reduction apart, in ``setup_seconds``).

    Raises
    ------
    ConfigError
        A bad config, or a trained layer whose inputs drive no row.
    LUTError
        A missing or incomplete LUT, or a ``v_gate`` not on its gate grid.
    CheckpointError, DatasetError, MappingError
        A checkpoint that cannot be read or compared.
    OutputError
        An output that would replace an input or a user's file.
    SpiceError
        ngspice missing, or a crossbar it cannot solve.
    """
    config = (config or CompareConfig()).validate()
    if not config.trained:
        layer = None
    lut_path = Path(lut_path)
    if out_dir is not None:
        output_folder(out_dir, (lut_path, config.checkpoint))  # before any work
    lut = CellLUT.load(lut_path)
    lut.gate_index(config.v_gate)
    transistor, options = spice_reference(lut)
    g_min, g_on, v_max = lut.g_min_s, lut.g_on_s, lut.v_max
    form = Crossbar(lut, config.v_gate, 1, 1).form
    wires = Wires(r_row=config.wire_ohm, r_col=config.wire_ohm) if config.wire_ohm > 0 else None
    results: list[CaseResult] = []
    total = len(config.sizes) * len(config.cases)
    with progress_bar(total, "compare", "case", None if progress else False, leave=False) as bar:
        if config.trained and layer is None:
            task = "loading the checkpoint" if config.checkpoint else "training the digits MLP"
            bar.set_postfix_str(task)
            layer = _trained_layer(config)
        bar.set_postfix_str("starting ngspice")
        # ngspice's first run in a process loads the library: keep it out of the timings.
        crossbar_column_currents_batch(
            np.full((1, 1), g_min), np.zeros((1, 1)), config.v_gate, transistor, wires, options
        )
        for size in config.sizes:
            count = config.vectors_for(size)
            calls = _model_calls(lut, config, size)
            for case in config.cases:
                bar.set_postfix_str(f"{size}x{size} {case}")
                if case == "random":
                    rng = np.random.default_rng((config.seed, size))
                    g = rng.uniform(g_min, g_on, (size, size))
                    v = rng.uniform(0.0, v_max, (count, size))
                else:
                    g = trained_conductances(layer.weight, size, g_min, g_on)
                    v = input_voltages(layer.inputs, size, count, v_max)
                    if v.shape[0] == 0:
                        raise ConfigError(
                            f"no held-out input of layer {layer.layer!r} drives any of its first "
                            f"{size} rows; use larger sizes or pass trained=False (--no-trained)"
                        )
                start = time.perf_counter()
                i_spice = crossbar_column_currents_batch(
                    g, v, config.v_gate, transistor, wires, options
                )
                spice_seconds = time.perf_counter() - start
                currents, seconds, setup = _emulate(calls, g, v)
                results.append(
                    CaseResult(size, case, g, v, i_spice, currents, spice_seconds, seconds, setup)
                )
                bar.update()
    trained = layer
    report = CompareReport(
        config=config,
        lut_path=lut_path,
        rank=form.rank,
        degree=form.degree,
        form_error=float(form.error),
        transistor=transistor,
        spice_options=options,
        ngspice_version=ngspice_version(),
        trained_accuracy=None if trained is None else trained.accuracy,
        rows=tuple(row for case in results for row in case.rows()),
        cases=tuple(results),
        trained_source=None if trained is None else trained.source,
        trained_layer=None if trained is None else trained.layer,
    )
    if out_dir is not None:
        report = dataclasses.replace(report, files=tuple(write_report(report, out_dir)))
    return report


def _trained_layer(config: CompareConfig) -> TrainedLayer:
    """The checkpoint's first crossbar layer, or a digits MLP's trained here."""
    if config.checkpoint is not None:
        return layer_from_checkpoint(config.checkpoint, config.data_dir, config.seed)
    return train_digits_layer(config.seed)


def _model_calls(
    lut: CellLUT, config: CompareConfig, size: int
) -> dict[str, ModelCall | StagedModel]:
    """Each model as a function of (G, V): the per-cell paths, the ideal model, and with wires the
    circuit solver; the wired fast path as a :class:`StagedModel` (reduce G, then evaluate V)."""
    calls: dict[str, ModelCall | StagedModel] = {
        path: Crossbar(lut, config.v_gate, size, size, path=path).column_currents
        for path in ("fast", "exact")
    }
    calls["ideal"] = lambda g, v: v @ g
    if config.wire_ohm > 0:
        wires = Wires(r_row=config.wire_ohm, r_col=config.wire_ohm)
        circuit = CircuitConfig(wires=wires)
        calls["circuit"] = lambda g, v: solve(lut, g, v, config.v_gate, circuit).column_currents
        calls["wired-fast"] = StagedModel(
            reduce=lambda g: reduce_array(lut, g, config.v_gate, wires),
            # the wired fast path takes the row voltages as fractions of V_max, (1, vectors, rows)
            evaluate=lambda reduced, v: column_currents(reduced, (v / lut.v_max).unsqueeze(0))[0],
        )
    return calls


def _seconds_per_call(fn: Callable[[], object]) -> float:
    """Wall-clock seconds of one ``fn()``: best of ROUNDS rounds, each lasting >= ROUND_SECONDS."""
    fn()  # warm-up: caches, allocations
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= ROUND_SECONDS:
            break
        calls *= 2 if elapsed <= 0 else max(2, math.ceil(1.2 * ROUND_SECONDS / elapsed))
    best = elapsed
    for _ in range(ROUNDS - 1):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / calls


def _emulate(
    calls: dict[str, ModelCall | StagedModel], g: np.ndarray, v: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, float]]:
    """Column currents (A) of each model, its time per vector (s) and, for a
    :class:`StagedModel`, its once-per-array time (s; 0 for the others), in float64."""
    g_t = torch.as_tensor(g, dtype=torch.float64)
    v_t = torch.as_tensor(v, dtype=torch.float64)
    currents, seconds, setup = {}, {}, {}
    with torch.inference_mode():
        for model, call in calls.items():
            if isinstance(call, StagedModel):
                setup[model] = _seconds_per_call(partial(call.reduce, g_t))
                run = partial(call.evaluate, call.reduce(g_t), v_t)
            else:
                setup[model] = 0.0
                run = partial(call, g_t, v_t)
            currents[model] = run().numpy().copy()
            seconds[model] = _seconds_per_call(run) / v.shape[0]
    return currents, seconds, setup
