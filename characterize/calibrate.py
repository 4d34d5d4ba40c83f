"""Calibrate the transistor so the linear-region cut-offs match target values (the paper's).

The paper (arXiv:2012.00261) reports, for a 45 nm PTM NMOS and a 2.5 % tolerance, cut-offs of
about 12.5 uS at V_gate = 0.8 V, 33.4 uS at 1.0 V and none (the whole range linear) at 1.3 V; it
does not report the transistor's width or threshold. Width alone cannot reproduce the ratio of
the first two, so this fits the width ``w_m`` and the BSIM4 threshold ``vth0`` together, with
``vth0`` kept in a plausible range for 45 nm bulk devices (0.40-0.75 V). Within that range the
two alone reach a ratio of about 2.35 where the paper reports 2.7 (measured here), so the
source/drain series resistance ``rdsw`` (ohm*um; 210 in the PTM card) is fitted too, held near
its card value by a weak prior: the result is the calibration closest to the card that matches.

The cut-off here is continuous (:attr:`LinearRegion.crossing_s`), computed on a conductance grid
that extends past the memristor's G_ON so that "33.4 uS" and "none" can be told apart.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from neatxbar.characterize.fit import fit_linear_region
from neatxbar.characterize.spec import SweepSpec
from neatxbar.spice import Transistor, sweep_cells

#: Cut-offs reported by the paper (S) at V_gate (V); at 1.3 V it reports no cut-off.
PAPER_CUTOFFS_S: dict[float, float] = {0.8: 12.5e-6, 1.0: 33.4e-6}
PAPER_NO_CUTOFF_V: tuple[float, ...] = (1.3,)
VTH0_BOUNDS_V = (0.40, 0.75)
WIDTH_BOUNDS_M = (90e-9, 2e-6)
RDSW_CARD = 210.0
RDSW_BOUNDS = (0.0, 2 * RDSW_CARD)
PRIOR_WEIGHT = 1e-3


@dataclass(frozen=True)
class CalibrationResult:
    """The fitted transistor and the cut-offs it gives.

    Attributes
    ----------
    w_m, vth0_v, rdsw
        Width (m), threshold voltage (V) and source/drain resistance per width (ohm*um).
    cutoffs_s
        Continuous cut-off (S) per V_gate (V), ``inf`` for none in the extended range.
    g_on_s
        The memristor's largest conductance (S): a cut-off above it means "none" in the LUT.
    """

    w_m: float
    vth0_v: float
    rdsw: float
    cutoffs_s: dict[float, float]
    g_on_s: float

    def transistor(self, base: Transistor) -> Transistor:
        params = dict(base.model_params) | {
            "vth0": round(self.vth0_v, 4),
            "rdsw": round(self.rdsw, 2),
        }
        return dataclasses.replace(
            base, w_m=round(self.w_m, 10), model_params=tuple(sorted(params.items()))
        )


def cutoffs(
    spec: SweepSpec, transistor: Transistor, v_gates: list[float], g_extend: float = 2.0
) -> dict[float, float]:
    """Continuous cut-off (S) at each V_gate, on conductances up to ``g_extend * G_ON``."""
    g_on = 1.0 / spec.memristor.r_on_ohm
    g = np.linspace(1.0 / spec.memristor.r_off_ohm, g_extend * g_on, 64)
    v_in = spec.v_in.values()
    table = sweep_cells(g, v_in, sorted(v_gates), transistor, spec.ngspice or None)
    region = fit_linear_region(table, g, v_in, spec.tolerance, spec.metric)
    return dict(zip(sorted(v_gates), region.crossing_s.tolist(), strict=True))


def calibrate(
    spec: SweepSpec,
    targets_s: dict[float, float] | None = None,
    no_cutoff_v: tuple[float, ...] = PAPER_NO_CUTOFF_V,
) -> CalibrationResult:
    """Fit (w_m, vth0) so the cut-offs at the target gate voltages match ``targets_s``.

    Minimises the squared log-ratio of cut-off to target, plus a penalty when a gate voltage of
    ``no_cutoff_v`` has a cut-off inside the memristor's range. The V_gate values must be evenly
    spaced together (they share one ngspice sweep).
    """
    targets_s = targets_s or PAPER_CUTOFFS_S
    base = spec.cell_transistor()
    g_on = 1.0 / spec.memristor.r_on_ohm
    gates = sorted({*targets_s, *no_cutoff_v})
    grid = np.round(np.arange(gates[0], gates[-1] + 1e-9, 0.05), 10).tolist()
    cap = 2.0 * g_on

    def candidate(x: np.ndarray) -> Transistor:
        w = float(np.exp(np.clip(x[0], *np.log(WIDTH_BOUNDS_M))))
        vth0 = float(np.clip(x[1], *VTH0_BOUNDS_V))
        rdsw = float(np.clip(x[2] * RDSW_CARD, *RDSW_BOUNDS))
        return CalibrationResult(w, vth0, rdsw, {}, g_on).transistor(base)

    def loss(x: np.ndarray) -> float:
        found = cutoffs(spec, candidate(x), grid)
        error = sum(np.log(min(found[v], cap) / t) ** 2 for v, t in targets_s.items())
        error += sum(max(0.0, np.log(1.05 * g_on / min(found[v], cap))) ** 2 for v in no_cutoff_v)
        error += PRIOR_WEIGHT * (x[2] - 1.0) ** 2
        return float(error)

    start = np.array([np.log(500e-9), 0.70, 1.0])
    result = minimize(
        loss, start, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-8, "maxiter": 400}
    )
    best = candidate(result.x)
    found = cutoffs(spec, best, grid)
    params = dict(best.model_params)
    return CalibrationResult(best.w_m, params["vth0"], params["rdsw"], found, g_on)
