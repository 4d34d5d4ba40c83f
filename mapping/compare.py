"""SPICE against emulation: column currents of whole crossbars, ngspice vs the LUT-backed models.

For each array size n, :func:`compare` builds n x n crossbars and drives them with input vectors:

- ``"random"``: conductances uniform in [G_min, G_ON] and row voltages uniform in [0, V_max];
- ``"trained"``: the first layer (64 inputs, 64 outputs) of a small MLP trained on sklearn's bundled
  8x8 digits, mapped with the toolkit's default weight mapping (see :func:`trained_conductances`),
  driven by held-out digit images (see :func:`digit_voltages`).

Each crossbar is solved by ngspice in full (the LUT's own transistor, ideal wires, columns at 0 V)
and emulated by the fast path, the exact path and the ideal linear model G^T V. The report gives,
per (size, case, model), the relative error of the column currents against ngspice and the time
each took.

Typical use::

    from neatxbar.mapping.compare import CompareConfig, compare

    report = compare("luts/paper.h5", CompareConfig(sizes=(16, 32)), out_dir="reports/compare")
    print(report.row(32, "random", "fast").rel_err_max)
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from neatxbar.characterize.spec import parse_spec
from neatxbar.core.config import ConfigError
from neatxbar.lut.errors import LUTError
from neatxbar.lut.interp import CellLUT
from neatxbar.lut.schema import open_lut
from neatxbar.mapping.crossbar import Crossbar
from neatxbar.spice import Transistor, Wires, crossbar_column_currents_batch, ngspice_version

if TYPE_CHECKING:
    pass

CASES = ("random", "trained")
MODELS = ("fast", "exact", "ideal")

#: ngspice accuracy for the reference: each vector's Newton solve converged to ~1e-11 relative
#: (see :func:`neatxbar.spice.crossbar_column_currents_batch`); the LUT spec's own options are
#: kept, and tightened to these where they are looser.
SPICE_ACCURACY = {"reltol": 1e-6, "vntol": 1e-9}

#: Sizes up to this many rows get ``CompareConfig.vectors`` input vectors; larger ones fewer.
FULL_VECTORS_UP_TO = 64
#: The fewest vectors a large size is cut down to (unless ``vectors`` itself is smaller).
MIN_VECTORS = 5
MAX_SIZE = 512

#: The trained layer: an MLP 64 -> HIDDEN -> 10 on the 8x8 digits, Adam, a few epochs.
HIDDEN = 64
EPOCHS = 8
BATCH = 32
LEARNING_RATE = 3e-3
TEST_FRACTION = 0.2
PIXEL_MAX = 16.0  # digits' pixel values run 0..16

#: The emulation's time per call: the best of ROUNDS rounds, each of enough calls to last
#: ROUND_SECONDS or more.
ROUNDS = 5
ROUND_SECONDS = 0.02


@dataclass(frozen=True)
class CompareConfig:
    """What :func:`compare` simulates.

    Attributes
    ----------
    sizes
        Array sizes n: each crossbar is n rows x n columns.
    v_gate
        Gate voltage of every cell (V); must be on the LUT's gate grid.
    vectors
        Input vectors per crossbar for sizes up to 64 rows. Larger arrays get fewer, see
        :meth:`vectors_for`.
    seed
        Seeds the random crossbars, the training and the choice of digit images.
    trained
        Also compare the ``"trained"`` case (trains a small MLP on the digits, about a second).
    wire_ohm
        Resistance of every row and column wire segment (ohm); above 0, ngspice simulates the
        wires and the circuit solver (model ``"circuit"``) joins the per-cell models.
    """

    sizes: tuple[int, ...] = (16, 32, 64)
    v_gate: float = 1.0
    vectors: int = 20
    seed: int = 0
    trained: bool = True
    wire_ohm: float = 0.0

    @property
    def models(self) -> tuple[str, ...]:
        """The models compared against ngspice."""
        return (*MODELS, "circuit") if self.wire_ohm > 0 else MODELS

    def validate(self) -> CompareConfig:
        """Raise :class:`ConfigError` naming the first bad field; return self."""
        sizes = tuple(self.sizes)
        if not sizes:
            raise ConfigError("sizes must name at least one array size")
        for n in sizes:
            if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 2 <= n <= MAX_SIZE:
                raise ConfigError(f"sizes must be whole numbers from 2 to {MAX_SIZE}, got {n!r}")
        if len(set(sizes)) != len(sizes):
            raise ConfigError(f"sizes must not repeat, got {', '.join(map(str, sizes))}")
        if not (math.isfinite(self.v_gate) and self.v_gate > 0):
            raise ConfigError(f"v_gate must be > 0 V, got {self.v_gate}")
        if isinstance(self.vectors, bool) or self.vectors < 1:
            raise ConfigError(f"vectors must be >= 1, got {self.vectors}")
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        if not (math.isfinite(self.wire_ohm) and self.wire_ohm >= 0):
            raise ConfigError(f"wire_ohm must be a resistance >= 0 ohm, got {self.wire_ohm}")
        return self

    def vectors_for(self, size: int) -> int:
        """Input vectors for an array of ``size`` rows.

        ``vectors`` up to 64 rows; above, ``vectors * (64 / size)**2``, but not below
        ``min(vectors, 5)``. ngspice's time per vector grows faster than the number of cells
        (measured on one core: ~9 ms at 16 x 16, ~45 ms at 64 x 64, ~0.3 s at 128 x 128), so the
        default 20 vectors cost about a second of ngspice at 64 x 64 and the cut keeps larger
        arrays at a few seconds.
        """
        if size <= FULL_VECTORS_UP_TO:
            return self.vectors
        scaled = round(self.vectors * (FULL_VECTORS_UP_TO / size) ** 2)
        return max(min(self.vectors, MIN_VECTORS), scaled)


@dataclass(frozen=True)
class CompareRow:
    """One (size, case, model): its error against ngspice and its speed.

    Relative errors are ``|I_model - I_spice| / |I_spice|`` over all columns and vectors
    (fractions, not percent). Times are wall-clock seconds on this machine: ``spice_seconds`` is
    the one ngspice run over all the case's vectors (rendering and parsing included);
    ``emulation_seconds_per_vector`` is one call of the model over the same vectors (its per-call
    set-up included: range checks, the fast path's weight matrices), best of several rounds,
    divided by the vectors; ``speedup`` is the ratio of the two per vector.
    """

    size: int
    case: str
    model: str
    vectors: int
    rel_err_rms: float
    rel_err_median: float
    rel_err_p99: float
    rel_err_max: float
    spice_seconds: float
    spice_seconds_per_vector: float
    emulation_seconds_per_vector: float
    speedup: float


@dataclass(frozen=True)
class CaseResult:
    """One crossbar and its input vectors, solved by ngspice and by each model.

    ``g_siemens``: (n, n) S; ``v_in``: (vectors, n) V; ``i_spice`` and each ``i_model[m]``:
    (vectors, n) A; ``seconds_per_vector[m]``: the model's emulation time per vector (s).
    """

    size: int
    case: str
    g_siemens: np.ndarray = field(repr=False)
    v_in: np.ndarray = field(repr=False)
    i_spice: np.ndarray = field(repr=False)
    i_model: dict[str, np.ndarray] = field(repr=False)
    spice_seconds: float
    seconds_per_vector: dict[str, float]

    def relative_error(self, model: str) -> np.ndarray:
        """``|I_model - I_spice| / |I_spice|`` per vector and column, shape (vectors, n)."""
        return np.abs(self.i_model[model] - self.i_spice) / np.abs(self.i_spice)


@dataclass(frozen=True)
class CompareReport:
    """The outcome of :func:`compare`.

    Attributes
    ----------
    config, lut_path
        What was compared.
    rank, degree, form_error
        The fast path's separable form at ``config.v_gate``: K, the polynomial degree (None:
        interpolated), its largest cell error against the LUT (fraction of G_ON * V_max).
    transistor
        The access transistor ngspice simulated (from the LUT's spec).
    spice_options
        The ngspice options of the reference runs.
    ngspice_version
        The ngspice that ran them.
    trained_accuracy
        Held-out accuracy of the MLP whose layer the ``"trained"`` case uses (None: not run).
    rows
        One per (size, case, model), in that order.
    cases
        The raw currents behind the rows.
    files
        What :func:`~neatxbar.mapping.compare_report.write_report` wrote (empty when nothing was
        written).
    """

    config: CompareConfig
    lut_path: Path
    rank: int
    degree: int | None
    form_error: float
    transistor: Transistor
    spice_options: dict[str, float]
    ngspice_version: str
    trained_accuracy: float | None
    rows: tuple[CompareRow, ...]
    cases: tuple[CaseResult, ...] = field(repr=False)
    files: tuple[Path, ...] = ()

    def row(self, size: int, case: str, model: str) -> CompareRow:
        """The row of one (size, case, model); KeyError if there is none."""
        for row in self.rows:
            if (row.size, row.case, row.model) == (size, case, model):
                return row
        raise KeyError((size, case, model))

    def to_dict(self) -> dict[str, object]:
        """Everything but the raw currents, as plain JSON-able data."""
        config = dataclasses.asdict(self.config)
        config["sizes"] = list(self.config.sizes)
        return {
            "lut": str(self.lut_path),
            "config": config,
            "vectors_per_size": {str(n): self.config.vectors_for(n) for n in self.config.sizes},
            "fast_path": {"rank": self.rank, "degree": self.degree, "error": self.form_error},
            "transistor": dataclasses.asdict(self.transistor),
            "spice_options": self.spice_options,
            "ngspice_version": self.ngspice_version,
            "trained_accuracy": self.trained_accuracy,
            "relative_error": "|I_model - I_spice| / |I_spice| over all columns and vectors",
            "rows": [dataclasses.asdict(row) for row in self.rows],
            "files": [str(path) for path in self.files],
        }


@dataclass(frozen=True)
class TrainedLayer:
    """The first layer of an MLP trained on the digits, and the images it was not trained on.

    ``weight``: (64 inputs, HIDDEN outputs), the crossbar's orientation (rows are inputs);
    ``images``: held-out images, (n_images, 64), pixel values 0..16, in a seeded random order;
    ``accuracy``: the MLP's accuracy on them.
    """

    weight: np.ndarray
    images: np.ndarray
    accuracy: float


def train_digits_layer(seed: int = 0) -> TrainedLayer:
    """Train an MLP 64 -> 64 -> 10 (ReLU) on sklearn's bundled 8x8 digits; return its first layer.

    Adam (learning rate 3e-3), 8 epochs of batches of 32 on 80 % of the 1797 images, on the CPU
    in float32: about a second, the same weights for the same seed. The global torch random
    state is left as it was.
    """
    from sklearn.datasets import load_digits  # ~0.5 s of imports, only for the trained case

    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    n_test = round(TEST_FRACTION * order.size)
    test, train = order[:n_test], order[n_test:]
    x = torch.as_tensor(digits.data / PIXEL_MAX, dtype=torch.float32)
    y = torch.as_tensor(digits.target, dtype=torch.long)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = torch.nn.Sequential(
            torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10)
        )
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        train_t = torch.as_tensor(train)
        for _ in range(EPOCHS):
            for batch in train_t[torch.randperm(train_t.numel())].split(BATCH):
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
                loss.backward()
                optimizer.step()
    with torch.no_grad():
        predicted = model(x[torch.as_tensor(test)]).argmax(dim=1)
        accuracy = float((predicted == y[torch.as_tensor(test)]).float().mean())
    weight = model[0].weight.detach().double().numpy().T.copy()
    return TrainedLayer(
        weight=weight, images=digits.data[test].astype(np.float64), accuracy=accuracy
    )


def _tile(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` repeated along each axis as often as needed, then cropped to ``shape``."""
    reps = [math.ceil(s / d) for s, d in zip(shape, a.shape, strict=True)]
    return np.tile(a, reps)[tuple(slice(0, s) for s in shape)]


def trained_conductances(weight: np.ndarray, size: int, g_min: float, g_on: float) -> np.ndarray:
    """Conductances (S), shape (size, size), of the G+ column set of a trained layer.

    The toolkit's default mapping (:class:`neatxbar.mapping.MappingConfig` with ``w_cut``
    unset): G+ = G_min + (G_ON - G_min) * max(w, 0) / max|w|, with max|w| over the whole layer.
    The crossbar holds the layer's top-left size x size block (inputs 0..size-1, outputs
    0..size-1); a layer smaller than that is tiled. Only G+ is simulated: the G- set is the same
    kind of array (its weights' negative parts), so it adds no new case.
    """
    scale = max(float(np.abs(weight).max()), np.finfo(float).tiny)
    fraction = np.clip(weight, 0.0, None) / scale
    return g_min + (g_on - g_min) * _tile(fraction, (size, size))


def digit_voltages(images: np.ndarray, size: int, count: int, v_max: float) -> np.ndarray:
    """Row voltages (V), shape (<= count, size), from digit images.

    Each image is scaled as the toolkit scales a layer's input: divided by its own largest pixel
    (per-sample x_scale), times V_max. Rows take the image's first ``size`` pixels (row-major),
    the 64 pixels repeated when ``size`` > 64. Images whose first pixels are all 0 (no current to
    compare) are skipped; fewer than ``count`` come back only if the images run out.
    """
    scaled = images / np.maximum(images.max(axis=1, keepdims=True), np.finfo(float).tiny)
    rows = _tile(scaled, (images.shape[0], size)) * v_max
    return rows[rows.max(axis=1) > 0][:count]


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


def stored_card(netlist: str) -> str:
    """The model card at the head of a LUT's stored cell netlist (``cell_netlist``).

    The rendered cell netlist starts with comments and the model card (``.model`` and its ``+``
    lines); the card ends at the first line that is neither. What is returned still has to pass
    :func:`neatxbar.spice.params.check_card_text`; the rest of the netlist is never used.
    """
    head = []
    for line in netlist.split("\n"):
        body = line.strip(" \t\r")
        if body and not body.startswith(("*", "+", ".model", ".MODEL", ".Model")):
            break
        head.append(line)
    return "\n".join(head)


def _lut_transistor(lut_path: Path) -> tuple[Transistor, dict[str, float]]:
    """The transistor and ngspice options of the spec the LUT was made from.

    The model card is the one stored in the LUT (``cell_netlist``), passed through the same gate
    as a card file; a ``card_file`` named in the LUT's stored spec is never opened.
    """
    with open_lut(lut_path) as f:
        text = f.attrs.get("spec")
        netlist = f.attrs.get("cell_netlist")
    if text is None or netlist is None:
        raise LUTError(
            f"{lut_path}: no 'spec' or 'cell_netlist' attribute; remake it with 'neat characterize'"
        )
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if isinstance(netlist, bytes):
        netlist = netlist.decode("utf-8", errors="replace")
    if not isinstance(text, str) or not isinstance(netlist, str):
        raise LUTError(f"{lut_path}: its 'spec' and 'cell_netlist' attributes must be text")
    try:
        spec = parse_spec(text, card_text=stored_card(netlist))
    except ValueError as error:
        raise LUTError(f"{lut_path}: its stored spec or model card is refused ({error})") from None
    options = dict(spec.ngspice)
    for name, value in SPICE_ACCURACY.items():
        options[name] = min(options.get(name, value), value)
    return spec.cell_transistor(), options


def _emulate(
    calls: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]],
    g: np.ndarray,
    v: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Column currents (A) of each model and its time per vector (s), in float64."""
    g_t = torch.as_tensor(g, dtype=torch.float64)
    v_t = torch.as_tensor(v, dtype=torch.float64)
    currents, seconds = {}, {}
    with torch.inference_mode():
        for model, call in calls.items():
            currents[model] = call(g_t, v_t).numpy().copy()
            seconds[model] = _seconds_per_call(lambda call=call: call(g_t, v_t)) / v.shape[0]
    return currents, seconds


def _rows(case: CaseResult) -> list[CompareRow]:
    vectors = case.v_in.shape[0]
    spice_per_vector = case.spice_seconds / vectors
    rows = []
    for model in case.i_model:
        err = case.relative_error(model).ravel()
        emu = case.seconds_per_vector[model]
        rows.append(
            CompareRow(
                size=case.size,
                case=case.case,
                model=model,
                vectors=vectors,
                rel_err_rms=float(np.sqrt(np.mean(err**2))),
                rel_err_median=float(np.median(err)),
                rel_err_p99=float(np.percentile(err, 99)),
                rel_err_max=float(err.max()),
                spice_seconds=case.spice_seconds,
                spice_seconds_per_vector=spice_per_vector,
                emulation_seconds_per_vector=emu,
                speedup=spice_per_vector / emu if emu > 0 else math.inf,
            )
        )
    return rows


class _ProgressBar(tqdm):
    """tqdm without its monitor thread, so a Ctrl-C reaches the main thread (see
    ``neatxbar.spice.session``)."""

    monitor_interval = 0


def _model_calls(
    lut: CellLUT, config: CompareConfig, size: int
) -> dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]:
    """Each model as a function of (G, V): the per-cell paths, the ideal model, the circuit."""
    calls = {
        path: Crossbar(lut, config.v_gate, size, size, path=path).column_currents
        for path in ("fast", "exact")
    }
    calls["ideal"] = lambda g, v: v @ g
    if config.wire_ohm > 0:
        from neatxbar.mapping.circuit import CircuitConfig, solve

        wires = CircuitConfig(r_row=config.wire_ohm, r_col=config.wire_ohm)
        calls["circuit"] = lambda g, v: solve(lut, g, v, config.v_gate, wires).column_currents
    return calls


def compare(
    lut_path: Path | str,
    config: CompareConfig | None = None,
    out_dir: Path | str | None = None,
    progress: bool = True,
) -> CompareReport:
    """Column currents of whole crossbars: ngspice against the fast, exact and ideal models.

    Parameters
    ----------
    lut_path
        A complete ``neat-lut/1`` file; its ``spec`` attribute names the transistor ngspice
        simulates, so both sides use the same cell.
    config
        Sizes, gate voltage, vectors, seed; default :class:`CompareConfig`.
    out_dir
        If given, :func:`~neatxbar.mapping.compare_report.write_report` writes the report and
        figures there.
    progress
        A progress bar on stderr, one step per (size, case).

    Returns
    -------
    CompareReport
        Per (size, case, model), the relative error against ngspice and the times.

    Raises
    ------
    ConfigError
        A bad config.
    LUTError
        A missing or incomplete LUT, or a ``v_gate`` not on its gate grid.
    SpiceError
        ngspice missing, or a crossbar it cannot solve.
    """
    config = (config or CompareConfig()).validate()
    lut_path = Path(lut_path)
    lut = CellLUT.load(lut_path)
    lut.gate_index(config.v_gate)
    transistor, options = _lut_transistor(lut_path)
    cases = ("random", "trained") if config.trained else ("random",)
    g_min, g_on, v_max = lut.g_min_s, lut.g_on_s, lut.v_max
    form = Crossbar(lut, config.v_gate, 1, 1).form
    results: list[CaseResult] = []
    with _ProgressBar(
        total=len(config.sizes) * len(cases),
        desc="compare",
        unit="case",
        disable=not progress,
        leave=False,
    ) as bar:
        bar.set_postfix_str("training the digits MLP" if config.trained else "starting ngspice")
        layer = train_digits_layer(config.seed) if config.trained else None
        # ngspice's first run in a process loads the library: keep it out of the timings.
        wires = Wires(config.wire_ohm, config.wire_ohm) if config.wire_ohm > 0 else None
        crossbar_column_currents_batch(
            np.full((1, 1), g_min), np.zeros((1, 1)), config.v_gate, transistor, wires, options
        )
        for size in config.sizes:
            count = config.vectors_for(size)
            calls = _model_calls(lut, config, size)
            for case in cases:
                bar.set_postfix_str(f"{size}x{size} {case}")
                if case == "random":
                    rng = np.random.default_rng((config.seed, size))
                    g = rng.uniform(g_min, g_on, (size, size))
                    v = rng.uniform(0.0, v_max, (count, size))
                else:
                    g = trained_conductances(layer.weight, size, g_min, g_on)
                    v = digit_voltages(layer.images, size, count, v_max)
                    if v.shape[0] == 0:
                        raise ValueError(
                            f"no digit image has a non-zero pixel among its first {size}; "
                            "use larger sizes or pass trained=False"
                        )
                start = time.perf_counter()
                i_spice = crossbar_column_currents_batch(
                    g, v, config.v_gate, transistor, wires, options
                )
                spice_seconds = time.perf_counter() - start
                currents, seconds = _emulate(calls, g, v)
                results.append(
                    CaseResult(size, case, g, v, i_spice, currents, spice_seconds, seconds)
                )
                bar.update()
    report = CompareReport(
        config=config,
        lut_path=lut_path,
        rank=form.rank,
        degree=form.degree,
        form_error=float(form.error),
        transistor=transistor,
        spice_options=options,
        ngspice_version=ngspice_version(),
        trained_accuracy=None if layer is None else layer.accuracy,
        rows=tuple(row for case in results for row in _rows(case)),
        cases=tuple(results),
    )
    if out_dir is not None:
        from neatxbar.mapping.compare_report import write_report

        report = dataclasses.replace(report, files=tuple(write_report(report, Path(out_dir))))
    return report
