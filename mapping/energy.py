"""Energy of crossbar inference: array read energy from the LUT, word-line charging, DAC and ADC.

For one batch of a crossbar layer's inputs, per inference (divided by the batch size):

- read: t_read * sum over every cell read of V_in * I(G, V_in, V_gate), the energy the row
  drivers deliver through the cells, from the LUT's currents (both columns of each differential
  pair; each input element is read in the phase of its sign, at |u| * V_max);
- gate: C_row * V_gate^2 per row activation, C_row = cells on the row in that tile *
  (C_ox * W * L + C_wire per cell); a row is activated in a phase only when its input is
  non-zero in that phase, once in every tile (column group) that it spans;
- DAC: one conversion per row activation; ADC: one per column pair per tile per phase read.

The read energy is exact with respect to the LUT's (bi)linear interpolation at the layer's gate
voltage, with no (batch, rows, cols) tensor: linear interpolation along G is linear in the
table, so sum_j I(G_ij, V) = sum_g h_ig T(g, V) with h_i the "hat" weights of row i's
conductances on the grid (a (rows, n_g) matrix built by scatter-add). Each row's column sum
F_i(V) is then a (rows, n_v) table, and the energy is t_read * sum V * F_i(V) over the inputs.
A convolution sums it per kernel offset over the strided input window that offset reads (no
unfold). See docs/energy.md for what is modelled and what is not.

Typical use::

    report = model_energy(convert(model, lut, MappingConfig(v_gate=0.8)), x, EnergyConfig())
    print(report.table())
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from neatxbar.core.config import ConfigError, from_toml_file
from neatxbar.core.tables import frame, to_text
from neatxbar.lut.interp import CellLUT
from neatxbar.lut.separable import interval
from neatxbar.mapping.config import check_v_gate
from neatxbar.mapping.errors import MappingError
from neatxbar.mapping.layers import CrossbarConv2d, CrossbarLinear

#: Vacuum permittivity (F/m).
EPS0_F_M = 8.8541878128e-12
#: The 45 nm card's (netlists/nmos45_bsim4.lib) electrical oxide thickness and its permittivity.
TOXE_M, EPSROX = 1.25e-9, 3.9
#: Gate oxide capacitance per area of that card: eps_ox / toxe, about 0.0276 F/m^2.
GATE_CAP_PER_AREA_F_M2 = EPSROX * EPS0_F_M / TOXE_M

CrossbarLayer = CrossbarLinear | CrossbarConv2d


@dataclass(frozen=True)
class EnergyConfig:
    """Constants of the energy model, SI units.

    Attributes
    ----------
    read_time_s
        Duration of one read (one phase of one input vector), s; 10 ns as the LUT specs.
    gate_cap_per_area_f_m2
        Gate oxide capacitance per area, F/m^2: eps0 * 3.9 / 1.25 nm of the 45 nm card
        (``toxe``, ``epsrox`` of netlists/nmos45_bsim4.lib), about 0.0276 F/m^2.
    transistor_w_m, transistor_l_m
        Access transistor width and length, m: the ``paper`` preset's 472.9 nm and 45 nm
        (:meth:`from_lut` reads them from the LUT file instead).
    wire_cap_per_cell_f
        Word-line wire capacitance per cell, F. 0.1 fF is an assumption, not a measured or
        reported value: about 0.2 fF/um of minimum-pitch 45 nm-class interconnect times a cell
        pitch of about 0.5 um.
    dac_energy_j, adc_energy_j
        Energy per DAC / ADC conversion, J; 0 (not counted) unless set.
    baseline_v_gate
        Gate voltage of the baseline every layer is compared against, V (the paper's 1.0 V).
    charge_full_tile
        False (default): a word line charges the cells it has mapped (2 x outputs, split by
        tiles of ``cols``); True: all ``cols`` cells of every tile it spans, used or not.
    """

    read_time_s: float = 10e-9
    gate_cap_per_area_f_m2: float = GATE_CAP_PER_AREA_F_M2
    transistor_w_m: float = 472.9e-9
    transistor_l_m: float = 45e-9
    wire_cap_per_cell_f: float = 0.1e-15
    dac_energy_j: float = 0.0
    adc_energy_j: float = 0.0
    baseline_v_gate: float = 1.0
    charge_full_tile: bool = False

    @property
    def gate_cap_per_cell_f(self) -> float:
        """C_gate of one cell's transistor, F: gate_cap_per_area * W * L."""
        return self.gate_cap_per_area_f_m2 * self.transistor_w_m * self.transistor_l_m

    @property
    def cell_cap_f(self) -> float:
        """Word-line capacitance per cell, F: C_gate + C_wire."""
        return self.gate_cap_per_cell_f + self.wire_cap_per_cell_f

    def validate(self) -> EnergyConfig:
        """Raise ConfigError naming the first bad field; return self."""
        positive = ("read_time_s", "transistor_w_m", "transistor_l_m", "baseline_v_gate")
        non_negative = (
            "gate_cap_per_area_f_m2",
            "wire_cap_per_cell_f",
            "dac_energy_j",
            "adc_energy_j",
        )
        for name in positive + non_negative:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ConfigError(f"{name} must be finite, got {value}")
            if name in positive and value <= 0:
                raise ConfigError(f"{name} must be > 0, got {value}")
            if value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value}")
        check_v_gate("baseline_v_gate", self.baseline_v_gate)
        if not isinstance(self.charge_full_tile, bool):
            raise ConfigError(
                f"charge_full_tile must be true or false, got {self.charge_full_tile!r}"
            )
        return self

    @classmethod
    def from_lut(cls, lut: CellLUT, **overrides: float) -> EnergyConfig:
        """Defaults with the transistor's W and L from the LUT file's root attribute
        ``transistor`` (JSON with ``w_m``, ``l_m``) and the read time from
        ``energy/read_energy``'s ``read_time_s``, where the file has them (as checked by
        :meth:`CellLUT.load`); then ``overrides``.
        """
        values: dict[str, float] = {}
        for key, field in (("w_m", "transistor_w_m"), ("l_m", "transistor_l_m")):
            if key in lut.transistor:
                values[field] = float(lut.transistor[key])
        if lut.read_time_s is not None:
            values["read_time_s"] = lut.read_time_s
        return replace(cls(), **{**values, **overrides}).validate()

    @classmethod
    def from_toml(cls, path: Path | str) -> EnergyConfig:
        """Load ``[energy]`` (or the whole file) from a TOML file, validated."""
        return from_toml_file(cls, path, "energy")


@dataclass(frozen=True)
class LayerEnergy:
    """One crossbar layer's energy per inference (J) and its event counts per inference.

    ``row_activations`` counts a row once per phase it is driven in, in every tile (column
    group) it spans; ``dac_conversions`` equals it; ``adc_conversions`` counts one per column
    pair per tile per phase read; ``input_vectors`` are the layer's input vectors (a Linear's
    rows, a convolution's output positions); ``calls`` is how often the layer ran.
    """

    name: str
    kind: str
    v_gate: float
    read_j: float
    gate_j: float
    dac_j: float
    adc_j: float
    row_activations: float
    dac_conversions: float
    adc_conversions: float
    input_vectors: float
    calls: int = 1

    @property
    def total_j(self) -> float:
        return self.read_j + self.gate_j + self.dac_j + self.adc_j

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "total_j": self.total_j}

    def __add__(self, other: LayerEnergy) -> LayerEnergy:
        """The energy of two calls of the same layer (same name, kind and V_gate)."""
        sums = {
            name: getattr(self, name) + getattr(other, name)
            for name in (
                "read_j",
                "gate_j",
                "dac_j",
                "adc_j",
                "row_activations",
                "dac_conversions",
                "adc_conversions",
                "input_vectors",
                "calls",
            )
        }
        return replace(self, **sums)


@dataclass(frozen=True)
class _Tally:
    """Sums over a batch: sum V * I (W) per gate voltage asked for, non-zero (input, row) reads,
    (vector, phase, group) reads, input vectors; and the layer's geometry."""

    power_w: tuple[float, ...]
    active_rows: int
    phase_reads: int
    vectors: int
    cells_per_row: int  # mapped cells on one row (2 x outputs of its group)
    row_tiles: int  # row tiles per group
    outputs_per_group: int


def _row_tables(lut: CellLUT, g: torch.Tensor, v_gates: tuple[float, ...]) -> torch.Tensor:
    """F_i(V) = sum_j I(g[i, j], V) on the V grid at each gate voltage, shape
    (n_gates, rows, n_v), A: exact for the LUT's linear interpolation in G (the hat weights of
    each row's conductances on the G grid, times the table's gate slice)."""
    g_grid = lut.g_grid.to(dtype=torch.float64, device=g.device)
    i, t = interval(g_grid, g)
    hat = g.new_zeros((g.shape[0], g_grid.numel()))
    hat.scatter_add_(1, i, 1 - t)
    hat.scatter_add_(1, i + 1, t)
    slices = torch.stack([lut.gate_slice(v) for v in v_gates])
    return hat @ slices.to(dtype=torch.float64, device=g.device)


def _power_sums(
    tables: torch.Tensor, v_grid: torch.Tensor, volts: torch.Tensor, rows: torch.Tensor
) -> list[float]:
    """sum V * F_row(V) (W) per gate, for voltages ``volts`` whose row indices (into
    ``tables``, shape (n_gates, rows, n_v)) are ``rows`` (broadcast against ``volts``)."""
    if volts.numel() == 0:
        return [0.0] * tables.shape[0]
    n_v = v_grid.numel()
    i, t = interval(v_grid, volts)
    index = rows * n_v + i
    sums = []
    for table in tables:
        flat = table.reshape(-1)
        sums.append(float((volts * torch.lerp(flat[index], flat[index + 1], t)).sum()))
    return sums


def _linear_tally(
    layer: CrossbarLinear,
    x: torch.Tensor,
    gp: torch.Tensor,
    gn: torch.Tensor,
    v_gates: tuple[float, ...],
) -> _Tally:
    lut = layer.lut
    u, _ = layer.normalized_inputs(x.reshape(-1, layer.in_features), dims=(1,))
    tables = _row_tables(lut, torch.cat([gp.t(), gn.t()], dim=1), v_gates)
    rows = torch.arange(layer.in_features, device=u.device)
    v_grid = lut.v_grid.to(dtype=torch.float64, device=u.device)
    power = _power_sums(tables, v_grid, u.abs() * lut.v_max, rows)
    phase_reads = int((u > 0).any(dim=1).sum()) + int((u < 0).any(dim=1).sum())
    return _Tally(
        power_w=tuple(power),
        active_rows=int(torch.count_nonzero(u)),
        phase_reads=phase_reads,
        vectors=u.shape[0],
        cells_per_row=2 * layer.out_features,
        row_tiles=math.ceil(layer.in_features / layer.config.rows),
        outputs_per_group=layer.out_features,
    )


def _conv_tally(
    layer: CrossbarConv2d,
    x: torch.Tensor,
    gp: torch.Tensor,
    gn: torch.Tensor,
    v_gates: tuple[float, ...],
) -> _Tally:
    lut = layer.lut
    if x.dim() == 3:
        x = x.unsqueeze(0)
    u, _ = layer.normalized_inputs(x, dims=(1, 2, 3))
    n, c, h, w = u.shape
    (kh, kw), (sh, sw) = layer.kernel_size, layer.stride
    (ph, pw), (dh, dw), groups = layer.padding, layer.dilation, layer.groups
    c_g, o_g = c // groups, layer.out_channels // groups

    def by_row(g: torch.Tensor) -> torch.Tensor:  # (out, c_g, kh, kw) -> (c, kh, kw, o_g)
        g = g.reshape(groups, o_g, c_g, kh, kw).permute(0, 2, 3, 4, 1)
        return g.reshape(c, kh, kw, o_g)

    cells = torch.cat([by_row(gp), by_row(gn)], dim=-1).reshape(c * kh * kw, 2 * o_g)
    tables = _row_tables(lut, cells, v_gates).reshape(len(v_gates), c, kh, kw, -1)
    v_grid = lut.v_grid.to(dtype=torch.float64, device=u.device)
    h_out = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    w_out = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    padded = F.pad(u, (pw, pw, ph, ph))
    rows = torch.arange(c, device=u.device).view(1, c, 1, 1)
    power, active = [0.0] * len(v_gates), 0
    for ki in range(kh):  # every output position reads the input under each kernel offset
        for kj in range(kw):
            top, left = ki * dh, kj * dw
            window = padded[
                :, :, top : top + sh * (h_out - 1) + 1 : sh, left : left + sw * (w_out - 1) + 1 : sw
            ]
            sums = _power_sums(
                tables[:, :, ki, kj].contiguous(), v_grid, window.abs() * lut.v_max, rows
            )
            power = [a + b for a, b in zip(power, sums, strict=True)]
            active += int(torch.count_nonzero(window))
    phase_reads = 0
    ones = u.new_ones((groups, 1, kh, kw))
    for mask in (u > 0, u < 0):  # a (position, group) is read in a phase if any input is on
        per_group = mask.to(u.dtype).reshape(n, groups, c_g, h, w).sum(dim=2)
        hits = F.conv2d(per_group, ones, None, layer.stride, layer.padding, layer.dilation, groups)
        phase_reads += int(torch.count_nonzero(hits))
    per_tile = layer.config.rows // (kh * kw)
    if per_tile >= 1:
        row_tiles = math.ceil(c_g / per_tile)
    else:  # a kernel larger than a tile (fast path without ADC only): tiles per channel
        row_tiles = c_g * math.ceil(kh * kw / layer.config.rows)
    return _Tally(
        power_w=tuple(power),
        active_rows=active,
        phase_reads=phase_reads,
        vectors=n * h_out * w_out,
        cells_per_row=2 * o_g,
        row_tiles=row_tiles,
        outputs_per_group=o_g,
    )


def layer_energy(
    layer: CrossbarLayer,
    x: torch.Tensor,
    config: EnergyConfig,
    *,
    v_gate: float | None = None,
    name: str = "",
    batch_size: int | None = None,
) -> LayerEnergy:
    """Energy per inference of ``layer`` for one batch of its inputs ``x``.

    Parameters
    ----------
    layer
        A :class:`CrossbarLinear` or :class:`CrossbarConv2d`; its weights, mapping (conductance
        pairs, input normalization and DAC), tiles and LUT are used as they are.
    x
        The layer's input, as its ``forward`` takes it.
    v_gate
        Gate voltage (V) to evaluate at, on the LUT's gate grid; None: the layer's ``v_gate``.
        The conductances do not depend on it, so only the currents and the gate energy change.
    name
        The layer's name in the report.
    batch_size
        Inferences in ``x``; None: ``x.shape[0]`` (1 for an unbatched input).

    Raises
    ------
    TypeError
        ``layer`` is not a crossbar layer.
    LUTError
        ``v_gate`` is not on the LUT's gate grid.
    ConfigError
        An invalid ``config``.
    """
    return layer_energies(layer, x, config, v_gates=(v_gate,), name=name, batch_size=batch_size)[0]


def layer_energies(
    layer: CrossbarLayer,
    x: torch.Tensor,
    config: EnergyConfig,
    v_gates: tuple[float | None, ...],
    *,
    name: str = "",
    batch_size: int | None = None,
) -> list[LayerEnergy]:
    """:func:`layer_energy` at several gate voltages (None: the layer's) for the same inputs,
    sharing the work that does not depend on V_gate (the mapping, interpolation weights and
    counts)."""
    config.validate()
    if not isinstance(layer, CrossbarLinear | CrossbarConv2d):
        raise TypeError(f"not a crossbar layer: {type(layer).__name__} (convert the model first)")
    gates = tuple(float(layer.v_gate if v is None else v) for v in v_gates)
    for v in gates:
        layer.lut.gate_index(v)  # LUTError when it is not on the gate grid
    if batch_size is None:
        unbatched = x.dim() == (1 if isinstance(layer, CrossbarLinear) else 3)
        batch_size = 1 if unbatched else int(x.shape[0])
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    with torch.no_grad():
        x = x.detach().to(torch.float64)
        gp, gn = layer.conductance_pair(layer.weight.detach().to(torch.float64))
        tally = (_linear_tally if isinstance(layer, CrossbarLinear) else _conv_tally)(
            layer, x, gp, gn, gates
        )
    cols = layer.config.cols
    col_groups = math.ceil(tally.cells_per_row / cols)
    cells_charged = col_groups * cols if config.charge_full_tile else tally.cells_per_row
    row_activations = tally.active_rows * col_groups
    adc_conversions = tally.phase_reads * tally.row_tiles * tally.outputs_per_group
    per = 1.0 / batch_size
    return [
        LayerEnergy(
            name=name,
            kind=type(layer).__name__,
            v_gate=v_gate,
            read_j=config.read_time_s * power * per,
            gate_j=tally.active_rows * cells_charged * config.cell_cap_f * v_gate**2 * per,
            dac_j=row_activations * config.dac_energy_j * per,
            adc_j=adc_conversions * config.adc_energy_j * per,
            row_activations=row_activations * per,
            dac_conversions=row_activations * per,
            adc_conversions=adc_conversions * per,
            input_vectors=tally.vectors * per,
        )
        for v_gate, power in zip(gates, tally.power_w, strict=True)
    ]


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


@dataclass(frozen=True)
class EnergyReport:
    """Per-layer energy per inference at each layer's V_gate and at the baseline V_gate.

    Both use the same captured inputs of every layer (those of the run at the layers' own gate
    voltages), so the comparison isolates the effect of V_gate on the arrays.
    """

    layers: tuple[LayerEnergy, ...]
    baseline: tuple[LayerEnergy, ...]
    baseline_v_gate: float
    batch_size: int

    def _sum(self, rows: tuple[LayerEnergy, ...], field: str) -> float:
        return sum(getattr(row, field) for row in rows)

    @property
    def read_j(self) -> float:
        return self._sum(self.layers, "read_j")

    @property
    def gate_j(self) -> float:
        return self._sum(self.layers, "gate_j")

    @property
    def dac_j(self) -> float:
        return self._sum(self.layers, "dac_j")

    @property
    def adc_j(self) -> float:
        return self._sum(self.layers, "adc_j")

    @property
    def total_j(self) -> float:
        return self._sum(self.layers, "total_j")

    @property
    def baseline_total_j(self) -> float:
        return self._sum(self.baseline, "total_j")

    @property
    def relative_to_baseline(self) -> float | None:
        """Total / baseline total (None when the baseline is 0 J)."""
        return _ratio(self.total_j, self.baseline_total_j)

    @property
    def saving(self) -> float | None:
        """1 - relative_to_baseline (None when the baseline is 0 J)."""
        relative = self.relative_to_baseline
        return None if relative is None else 1.0 - relative

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable: per-layer rows (with their baseline), totals, the comparison."""
        totals = {f: getattr(self, f) for f in ("read_j", "gate_j", "dac_j", "adc_j", "total_j")}
        base = {f: self._sum(self.baseline, f) for f in totals}
        layers = [
            {
                **row.to_dict(),
                "baseline_total_j": b.total_j,
                "relative_to_baseline": _ratio(row.total_j, b.total_j),
            }
            for row, b in zip(self.layers, self.baseline, strict=True)
        ]
        return {
            "units": "J per inference",
            "batch_size": self.batch_size,
            "baseline_v_gate": self.baseline_v_gate,
            "layers": layers,
            "baseline_layers": [row.to_dict() for row in self.baseline],
            "totals": totals,
            "baseline_totals": base,
            "relative_to_baseline": self.relative_to_baseline,
            "saving": self.saving,
        }

    def table(self) -> str:
        """A short text table in pJ per inference, with the baseline comparison."""
        pj = ("read", "gate", "DAC", "ADC", "total", "baseline")

        def row(
            name: str, kind: str, v_gate: float | None, values: tuple[float, ...], rel: float | None
        ) -> dict[str, object]:
            return {
                "layer": name,
                "kind": kind,
                "V_gate": v_gate,
                **{k: v * 1e12 for k, v in zip(pj, values, strict=True)},
                "rel": rel,
            }

        rows = [
            row(
                r.name or "-",
                r.kind.removeprefix("Crossbar"),
                r.v_gate,
                (r.read_j, r.gate_j, r.dac_j, r.adc_j, r.total_j, b.total_j),
                _ratio(r.total_j, b.total_j),
            )
            for r, b in zip(self.layers, self.baseline, strict=True)
        ]
        totals = (self.read_j, self.gate_j, self.dac_j, self.adc_j, self.total_j)
        rows.append(
            row("total", "", None, (*totals, self.baseline_total_j), self.relative_to_baseline)
        )
        formats = {"V_gate": ".2f", "rel": ".3f", **dict.fromkeys(pj, ".4g")}
        saving = self.saving
        summary = (
            f"energy per inference in pJ; baseline: every layer at {self.baseline_v_gate:g} V "
            "with the same inputs; "
            + ("saving -" if saving is None else f"saving {saving * 100:.1f} %")
        )
        return to_text(frame(rows), formats=formats, align_right=True) + "\n" + summary


def model_energy(model: nn.Module, x: torch.Tensor, config: EnergyConfig) -> EnergyReport:
    """Run ``model`` once on ``x`` (no gradient, in eval mode, restored after) and report the
    energy per inference of every crossbar layer, at its own V_gate and at
    ``config.baseline_v_gate``, both from the same captured inputs.

    A layer called several times adds up its calls; a layer never called has a row of zeros
    with ``calls = 0``. The batch size is ``x.shape[0]``.

    Raises
    ------
    ValueError
        The model has no crossbar layers (convert it first).
    LUTError
        The baseline V_gate is not on a layer's LUT gate grid.
    """
    config.validate()
    layers = [
        (n, m) for n, m in model.named_modules() if isinstance(m, CrossbarLinear | CrossbarConv2d)
    ]
    if not layers:
        raise MappingError(
            "the model has no crossbar layers: convert it with neatxbar.mapping.convert"
        )
    for _, module in layers:
        module.lut.gate_index(config.baseline_v_gate)
    batch = int(x.shape[0]) if x.dim() > 0 else 1
    own: dict[str, list[LayerEnergy]] = {n: [] for n, _ in layers}
    base: dict[str, list[LayerEnergy]] = {n: [] for n, _ in layers}

    def hook(name: str) -> Callable[[nn.Module, tuple, object], None]:
        def capture(module: nn.Module, args: tuple, output: object) -> None:
            inputs = args[0]
            at_own, at_base = layer_energies(
                module, inputs, config, (None, config.baseline_v_gate), name=name, batch_size=batch
            )
            own[name].append(at_own)
            base[name].append(at_base)

        return capture

    modes = {m: m.training for m in model.modules()}
    handles = [module.register_forward_hook(hook(name)) for name, module in layers]
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes.items():
            module.train(mode)

    def merged(calls: dict[str, list[LayerEnergy]], v_gates: dict[str, float]) -> tuple:
        rows = []
        for name, module in layers:
            if calls[name]:
                total = calls[name][0]
                for more in calls[name][1:]:
                    total = total + more
            else:
                total = LayerEnergy(
                    name,
                    type(module).__name__,
                    v_gates[name],
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    calls=0,
                )
            rows.append(total)
        return tuple(rows)

    own_gates = {name: float(module.v_gate) for name, module in layers}
    base_gates = dict.fromkeys(own_gates, float(config.baseline_v_gate))
    return EnergyReport(
        layers=merged(own, own_gates),
        baseline=merged(base, base_gates),
        baseline_v_gate=float(config.baseline_v_gate),
        batch_size=batch,
    )
