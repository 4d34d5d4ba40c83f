"""The gate-voltage settings ``neat map`` evaluates: from ``--vgate``, a gate file, ``--sweep``,
or the checkpoint's own V_gate, each resolved per crossbar layer and checked against the LUT's
gate grid.

A setting is a gate voltage (V) per crossbar layer. The settings evaluated are, in this order:

- the one given: a number (every layer), ``"auto"`` (the paper's data-free Algorithm 1 at a
  coverage, choosing among the LUT's offered gate voltages up to the highest one <=
  :data:`AUTO_HIGHEST_V`) or a mapping layer -> V_gate with an optional ``"default"``
  (:func:`~neatxbar.mapping.gates.load_gate_file` reads one from TOML or JSON);
- a sweep ``"start:stop:step"``: start, start + step, ... up to stop, each as "every layer at v";
  every value must be one of the LUT's offered gate voltages;
- with neither: the checkpoint's own V_gate (NEAT records one per layer), else 1.0 V.

The LUT's *offered* gate voltages (:attr:`~neatxbar.lut.CellLUT.offered_gates`) are those a
setting is chosen among (``auto``, sweeps): the file's ``grid/v_gate_offered``, else its whole gate
grid. A gate voltage given explicitly (a number, a gate mapping, the checkpoint's) may be any
value of the grid.

Every setting is evaluated with one mapping; :func:`with_wires` gives it wire resistance
(``--wires``) and :func:`with_variation` device variation and mismatch (``--programming-sigma``,
``--mismatch``, ...). :class:`MonteCarlo` says over which sampled chips each setting's accuracy is
measured (``--chips``, ``--seed``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from torch import nn

from neatxbar.core.checks import check_integer, check_number
from neatxbar.core.errors import ConfigError
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping.config import MappingConfig, check_v_gate
from neatxbar.mapping.convert import crossbar_layers
from neatxbar.mapping.errors import MappingError
from neatxbar.mapping.gates import resolve_gate_voltages
from neatxbar.mapping.vgate import data_free
from neatxbar.spice.params import Wires

#: ``"auto"`` never picks a gate voltage above this (V).
AUTO_HIGHEST_V = 1.3
#: The gate voltage (V) of every layer when neither the user nor the checkpoint gives one.
DEFAULT_V_GATE = 1.0

#: What ``v_gate`` may be: volts for every layer, ``"auto"``, or layer -> volts (``"default"``).
GateSpec = float | str | Mapping[str, float]
#: A sweep: ``"start:stop:step"`` or the tuple, in volts.
SweepSpec = str | tuple[float, float, float]

_SWEEP_EXAMPLE = "start:stop:step in volts, e.g. 0.7:1.3:0.05"


@dataclass(frozen=True)
class GateSetting:
    """One gate-voltage setting.

    Attributes
    ----------
    label
        How reports name it (``"0.80 V"``, ``"auto"``, ``"per-layer"``, ``"checkpoint"``).
    v_gate
        Crossbar layer -> V_gate (V), each a value of the LUT's gate grid.
    """

    label: str
    v_gate: dict[str, float]

    @property
    def uniform(self) -> float | None:
        """The V_gate (V) of every layer when they are all equal, else None."""
        values = set(self.v_gate.values())
        return values.pop() if len(values) == 1 else None


def parse_sweep(text: str) -> tuple[float, float, float]:
    """``"0.7:1.3:0.05"`` -> (start, stop, step) in V.

    Raises
    ------
    ConfigError
        Not three numbers, or values :func:`checked_sweep` refuses.
    """
    parts = text.split(":")
    if len(parts) != 3:
        raise ConfigError(f"sweep {text!r}: expected {_SWEEP_EXAMPLE}")
    try:
        start, stop, step = (float(p) for p in parts)
    except ValueError:
        raise ConfigError(f"sweep {text!r}: not three numbers; expected {_SWEEP_EXAMPLE}") from None
    return checked_sweep(start, stop, step, text)


def checked_sweep(start: float, stop: float, step: float, text: str) -> tuple[float, float, float]:
    """(start, stop, step) in V, checked: finite, start and stop gate voltages, step > 0 V,
    stop >= start. ``text`` names the sweep in messages. ConfigError otherwise."""
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise ConfigError(f"sweep {text!r}: start, stop and step must be finite numbers")
    start = check_v_gate(f"sweep {text!r}: start", start)
    stop = check_v_gate(f"sweep {text!r}: stop", stop)
    if step <= 0:
        raise ConfigError(f"sweep {text!r}: the step must be > 0 V")
    if stop < start:
        raise ConfigError(f"sweep {text!r}: stop {stop:g} V is below start {start:g} V")
    return start, stop, step


def sweep_values(lut: CellLUT, sweep: SweepSpec) -> list[float]:
    """The gate voltages (V) of a sweep: start, start + step, ... <= stop, each one of the LUT's
    offered gate voltages.

    A step below the smallest spacing of the offered gate voltages, or more points than the LUT
    offers, is refused before any value is looked at (a sweep never gives more settings than the
    LUT offers gate voltages).

    Raises
    ------
    ConfigError
        A malformed sweep (:func:`parse_sweep`, :func:`checked_sweep`).
    MappingError
        A step below the offered spacing, too many points, or a value not offered (named, with
        the offered gate voltages).
    """
    if isinstance(sweep, str):
        text = sweep
        start, stop, step = parse_sweep(sweep)
    else:
        text = ":".join(f"{float(v):g}" for v in sweep)
        start, stop, step = checked_sweep(*(float(v) for v in sweep), text)
    points = list(lut.offered_gates)
    offered = ", ".join(f"{v:.3g}" for v in points)
    spacing = min((b - a for a, b in itertools.pairwise(points)), default=math.inf)
    if stop > start and step < spacing * (1 - 1e-6):
        raise MappingError(
            f"sweep {text}: the step {step:g} V is below the spacing of the LUT's offered gate "
            f"voltages ({spacing:.3g} V; offered {offered} V)"
        )
    count = math.floor((stop - start) / step + 1e-6) + 1
    if count > len(points):
        raise MappingError(
            f"sweep {text}: {count} gate voltages, more than the LUT's {len(points)} offered "
            f"gate voltages ({offered} V)"
        )
    values: list[float] = []
    for v in (start + i * step for i in range(count)):
        m = next((k for k, w in enumerate(points) if abs(w - v) <= 1e-9), None)
        if m is None:
            raise MappingError(
                f"sweep {text}: {v:.4g} V is not one of the LUT's offered gate voltages "
                f"({offered} V); choose a start and step that land on them (any value of the "
                "gate grid may be given explicitly, with --vgate)"
            )
        values.append(round(points[m], 9))
    return values


def on_grid(lut: CellLUT, v_gate: float) -> float:
    """The LUT's grid value (V) for ``v_gate``, rounded to 1 nV for reports; LUTError when it is
    not on the grid."""
    return round(float(lut.vg_grid[lut.gate_index(v_gate)]), 9)


def auto_highest(lut: CellLUT) -> float:
    """The highest gate voltage (V) ``"auto"`` may choose: the highest offered gate voltage <=
    :data:`AUTO_HIGHEST_V`; MappingError when the LUT offers none."""
    below = [v for v in lut.offered_gates if v <= AUTO_HIGHEST_V + 1e-9]
    if not below:
        raise MappingError(
            f"{lut.path}: no gate voltage the LUT offers is <= {AUTO_HIGHEST_V} V, so 'auto' "
            "has nothing to choose from; give --vgate"
        )
    return below[-1]


def _auto_gates(
    model: nn.Module, lut: CellLUT, scales: Mapping[str, float], coverage: float
) -> dict[str, float]:
    """The data-free per-layer V_gate (V) covering ``coverage`` of each layer's |w|."""
    weights = {name: m.weight for name, m in crossbar_layers(model).items()}
    return data_free(weights, scales, lut, coverage, highest=auto_highest(lut))


def _given(
    model: nn.Module,
    lut: CellLUT,
    scales: Mapping[str, float],
    v_gate: GateSpec,
    coverage: float,
) -> tuple[str, float | Mapping[str, float]]:
    """(label, gates) of the setting the user gave."""
    if isinstance(v_gate, str):
        if v_gate.strip().lower() != "auto":
            raise ConfigError(f"V_gate {v_gate!r}: give a number in volts or 'auto'")
        return "auto", _auto_gates(model, lut, scales, coverage)
    if isinstance(v_gate, Mapping):
        return "per-layer", v_gate
    return f"{float(v_gate):.2f} V", float(v_gate)


def _fallback(checkpoint_v_gate: float | Mapping[str, float] | None) -> tuple[str, object]:
    """(label, gates) when nothing is given: the checkpoint's V_gate, else every layer at
    :data:`DEFAULT_V_GATE`."""
    if checkpoint_v_gate is None:
        return f"{DEFAULT_V_GATE:.2f} V", DEFAULT_V_GATE
    if isinstance(checkpoint_v_gate, Mapping):
        return "checkpoint", checkpoint_v_gate
    return f"{float(checkpoint_v_gate):.2f} V", float(checkpoint_v_gate)


def gate_settings(
    model: nn.Module,
    lut: CellLUT,
    scales: Mapping[str, float],
    v_gate: GateSpec | None = None,
    sweep: SweepSpec | None = None,
    checkpoint_v_gate: float | Mapping[str, float] | None = None,
    coverage: float = 0.995,
) -> list[GateSetting]:
    """The settings to evaluate, in the order of the module's docstring, each on the LUT's grid.

    Parameters
    ----------
    model
        The trained model (its Linear and Conv2d layers are the crossbar layers).
    lut
        The cell LUT; every V_gate must be on its gate grid.
    scales
        Each layer's weight scale (the weight that maps to G_max), for ``"auto"``.
    v_gate, sweep
        What the user gave (see :data:`GateSpec`, :data:`SweepSpec`), or None.
    checkpoint_v_gate
        The checkpoint's recorded V_gate (V; one value or per layer), used when neither is given.
    coverage
        Share of each layer's |w| the ``"auto"`` bound must cover.

    Returns
    -------
    list of GateSetting
        A setting equal to an earlier one is left out.

    Raises
    ------
    ConfigError, MappingError, LUTError
        Not a gate voltage, a gate mapping that names unknown layers or leaves some out, a value
        off the grid, a model without crossbar layers.
    """
    if not crossbar_layers(model):
        raise MappingError("the model has no Linear or Conv2d layer to map onto crossbars")
    wanted: list[tuple[str, object]] = []
    if v_gate is not None:
        wanted.append(_given(model, lut, scales, v_gate, coverage))
    if sweep is not None:
        wanted.extend((f"{v:.2f} V", v) for v in sweep_values(lut, sweep))
    if not wanted:
        wanted.append(_fallback(checkpoint_v_gate))
    settings: list[GateSetting] = []
    for label, gates in wanted:
        setting = _resolved(model, lut, label, gates)
        if all(s.v_gate != setting.v_gate for s in settings):
            settings.append(setting)
    return settings


def _resolved(model: nn.Module, lut: CellLUT, label: str, gates: object) -> GateSetting:
    """The setting ``label``: ``gates`` resolved per layer
    (:func:`~neatxbar.mapping.gates.resolve_gate_voltages`) and snapped to the LUT's grid."""
    try:
        per_layer = resolve_gate_voltages(model, gates)  # type: ignore[arg-type]
    except MappingError as error:  # unknown or missing layers: say which setting
        raise MappingError(f"{label} setting: {error}") from None
    return GateSetting(label, {name: on_grid(lut, v) for name, v in per_layer.items()})


def with_wires(mapping: MappingConfig, ohm: float | None, name: str = "wires") -> MappingConfig:
    """``mapping`` with wire resistance ``ohm`` per row and per column wire segment.

    The whole of ``mapping.wires`` (a ``[mapping.wires]`` table of a TOML file included) is
    replaced by ``Wires(r_row=ohm, r_col=ohm)``: the driver and sense resistances are 0 ohm.
    ``ohm = 0`` means ideal wires; None leaves ``mapping`` as it is. The layers then take the
    mapping's wired path: ``path = "fast"`` the reduced circuit
    (:mod:`neatxbar.mapping.wired_fast`), ``"exact"`` the reference circuit solver.

    Parameters
    ----------
    mapping
        The mapping to start from.
    ohm
        Resistance of one row-wire and of one column-wire segment (ohm), finite and >= 0; None:
        keep ``mapping.wires``.
    name
        How error messages name ``ohm`` (the CLI passes ``"--wires"``).

    Returns
    -------
    MappingConfig
        A new config (``mapping`` itself when ``ohm`` is None).

    Raises
    ------
    ConfigError
        ``ohm`` is not a finite number >= 0 (named by ``name``).
    """
    if ohm is None:
        return mapping
    ohm = check_number(f"{name} (ohm)", ohm, nonnegative=True)
    return replace(mapping, wires=Wires(r_row=ohm, r_col=ohm))


#: The options of :class:`~neatxbar.mapping.config.Variation` a user may set per run, with how
#: the CLI names them.
VARIATION_OPTIONS = {
    "programming_sigma": "--programming-sigma",
    "distribution": "--distribution",
    "read_noise_sigma": "--read-noise",
    "stuck_on": "--stuck-on",
    "stuck_off": "--stuck-off",
    "mismatch": "--mismatch",
}


def with_variation(
    mapping: MappingConfig, names: Mapping[str, str] | None = None, **given: object
) -> MappingConfig:
    """``mapping`` with the variation fields ``given`` replaced (None values are left as they
    are, e.g. those of a ``[mapping.variation]`` table).

    Parameters
    ----------
    mapping
        The mapping to start from.
    names
        How messages name the fields (the CLI passes :data:`VARIATION_OPTIONS`); default
        ``variation.<field>``.
    **given
        Fields of :class:`~neatxbar.mapping.config.Variation` (:data:`VARIATION_OPTIONS`'
        keys, ``seed`` too): relative sigmas and fractions >= 0, ``mismatch`` in multiples of the
        LUT's card sigma_vt.

    Returns
    -------
    MappingConfig
        ``mapping`` itself when nothing is given, else a new, validated config.

    Raises
    ------
    ConfigError
        An unknown field, or a value the variation refuses (a negative sigma, a fraction above
        1, an unknown distribution, NaN), named.
    """
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes:
        return mapping
    variation = mapping.variation
    unknown = sorted(set(changes) - {f.name for f in fields(variation)})
    if unknown:
        raise ConfigError(f"no variation option {', '.join(unknown)}")
    try:
        variation = replace(variation, **changes).validate()
    except ConfigError as error:
        message = str(error)
        for field_name, option in (names or {}).items():
            message = message.replace(f"variation.{field_name}", option)
        raise ConfigError(message) from None
    return replace(mapping, variation=variation)


@dataclass(frozen=True)
class MonteCarlo:
    """Which sampled chips each setting is evaluated on: ``chips`` chips, seeds ``seed``,
    ``seed + 1``, ... (:func:`neatxbar.mapping.set_chip`).

    Attributes
    ----------
    chips
        How many chips (>= 1).
    seed
        The first chip's seed (>= 0).
    """

    chips: int
    seed: int = 0

    @classmethod
    def checked(
        cls, chips: object, seed: object = 0, names: tuple[str, str] = ("chips", "seed")
    ) -> MonteCarlo:
        """A MonteCarlo of checked values; ``names`` name them in messages (the CLI passes
        ``("--chips", "--seed")``). ConfigError: not integers, fewer than 1 chip, a negative
        seed."""
        return cls(check_integer(names[0], chips, low=1), check_integer(names[1], seed, low=0))

    @classmethod
    def from_options(
        cls,
        mapping: MappingConfig,
        chips: int | None,
        seed: int | None,
        names: tuple[str, str] = ("chips", "seed"),
    ) -> tuple[MappingConfig, MonteCarlo | None]:
        """The mapping and the Monte Carlo of ``--chips`` and ``--seed``: with ``chips``, chips
        from ``seed`` (default the mapping's variation seed); without, None and the mapping's
        variation drawn from ``seed`` when given. ConfigError for bad values (:meth:`checked`)."""
        if chips is not None:
            first = mapping.variation.seed if seed is None else seed
            return mapping, cls.checked(chips, first, names)
        if seed is None:
            return mapping, None
        return with_variation(mapping, seed=cls.checked(1, seed, names).seed), None

    @property
    def seeds(self) -> tuple[int, ...]:
        """The chips' seeds, in order."""
        return tuple(range(self.seed, self.seed + self.chips))


def check_temperature(value: object, name: str = "temperature") -> float:
    """A temperature (degC) from a user: a finite number above absolute zero; ConfigError
    otherwise. Whether the LUT holds it is the LUT's check (``CellLUT.load``)."""
    return check_number(f"{name} (C)", value, low=-273.15)
