"""The experiment's ``report.md``: the headline table and figure first, then what the paper
reported next to what this run measured, then the details (per-layer gates, energy by part,
the training logs, notes)."""

from __future__ import annotations

import statistics

from neatxbar.core.tables import frame, to_markdown
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping.config import Variation
from neatxbar.studies.experiment.results import ExperimentResult, Setting
from neatxbar.studies.experiment.settings import VARIABILITY_FIGURE, ExperimentConfig
from neatxbar.studies.experiment.tables import energy_frame, results_frame, variability_frame
from neatxbar.studies.neat_map.tables import variation_words

#: What the NEAT paper reports (arXiv:2012.00261, ResNet18 on CIFAR-10; secondary summaries of
#: the full text, see the project's paper facts): quoted, never computed here.
PAPER = {
    "neat_gain_0.75": "NEAT improves ResNet18's accuracy at V_gate = 0.75 V by more than 50 points",
    "homogeneous": "about 20 % energy saving at < 1 point accuracy loss (homogeneous gates)",
    "heterogeneous": "more than 10 % saving with per-layer (heterogeneous) gates",
    "share": "about 96 % of the first conv layer's weights linear after 30 iterations",
    "layers": "input layers need a high V_gate, intermediate layers tolerate a low one",
}


def _pp(value: float) -> str:
    return f"{100 * value:.1f}"


def _within_budget(result: ExperimentResult, settings: list[Setting]) -> Setting | None:
    """The setting with the largest naive-mapping energy saving whose best accuracy is within
    1 point of software."""
    fits = [s for s in settings if s.saving_naive is not None and s.best >= result.software - 0.01]
    return max(fits, key=lambda s: s.saving_naive or 0.0, default=None)


def _measured(result: ExperimentResult) -> dict[str, str]:
    """This run's numbers for each of the paper's statements."""
    out: dict[str, str] = {}
    at = {round(v, 2): s for v, s in zip(result.v_gates, result.homogeneous, strict=True)}
    s = at.get(0.75)
    if s is not None:
        parts = [f"naive mapping {_pp(s.naive)} % (software {_pp(result.software)} %)"]
        for attr, name in (
            ("naive_bn", "naive + BN re-estimated"),
            ("neat", "NEAT"),
            ("neat_bn", "NEAT + BN re-estimated"),
            ("emulation", "trained through the emulation"),
        ):
            value = getattr(s, attr)
            if value is not None:
                parts.append(f"{name} {_pp(value)} % ({100 * (value - s.naive):+.1f} points)")
        out["neat_gain_0.75"] = "; ".join(parts)
    best = _within_budget(result, result.homogeneous)
    out["homogeneous"] = (
        f"{_pp(best.saving_naive or 0)} % at {best.label} (best accuracy there {_pp(best.best)} %)"
        if best
        else "no homogeneous setting stays within 1 point"
    )
    per_layer = [s for s in result.settings[len(result.v_gates) :] if s.wires is None]
    out["heterogeneous"] = "; ".join(
        f"{s.label.split(':')[0]}: saving {_pp(s.saving_naive or 0)} %, best accuracy "
        f"{_pp(s.best)} %"
        for s in per_layer
    )
    logs = [log for log in result.logs if log.label.startswith("neat") and log.share]
    if logs:
        first = next(iter(logs[0].share[-1]))
        out["share"] = (
            f"first layer after {len(logs[0].share)} iterations of {logs[0].label}: "
            f"{_pp(logs[0].share[-1][first])} % (NEAT here clips after every step)"
        )
    if per_layer:
        gates = list(per_layer[0].gates.values())
        middle = statistics.median(gates[1:-1]) if len(gates) > 2 else gates[0]
        verdict = "agrees" if gates[0] > middle else "does not show it"
        out["layers"] = (
            f"data-free choice: input layer {gates[0]:.2f} V, median of the intermediate layers "
            f"{middle:.2f} V, last layer {gates[-1]:.2f} V: it {verdict}"
        )
        driven = next((s for s in per_layer if s.label.startswith("data-driven")), None)
        if driven is not None:
            values = list(driven.gates.values())
            out["layers"] += (
                f"; data-driven (greedy, input layer first): input layer {values[0]:.2f} V, "
                f"median {statistics.median(values):.2f} V (the first layers tried take the "
                "accuracy budget first)"
            )
    return out


def paper_table(result: ExperimentResult) -> str:
    """The paper's statements (reported) beside this run's measurements, as Markdown."""
    measured = _measured(result)
    rows = [
        {"the paper reports (ResNet18, CIFAR-10)": text, "this run measured": measured.get(k, "-")}
        for k, text in PAPER.items()
    ]
    return to_markdown(frame(rows))


def headline_table(result: ExperimentResult) -> str:
    """Software and every homogeneous gate voltage (Markdown)."""
    return to_markdown(results_frame(result.software, result.homogeneous))


def wire_table(result: ExperimentResult) -> str:
    """Per setting with wires: accuracy (%) without and with wires, naive and NEAT side by side,
    the wire resistance, the test images evaluated and the solver (Markdown)."""
    rows = []
    for s in result.wired:
        setup, plain = s.wires, result.without_wires(s)
        if setup is None:
            continue
        rows.append(
            {
                "setting": setup.without,
                "wires (ohm per segment)": setup.ohm,
                "naive, no wires (%)": _percent(plain.naive if plain else None),
                "naive, with wires (%)": _percent(s.naive),
                "NEAT, no wires (%)": _percent(plain.neat if plain else None),
                "NEAT, with wires (%)": _percent(s.neat),
                "test images": setup.images,
                "solver": setup.solver,
            }
        )
    return to_markdown(frame(rows))


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


def _wire_section(result: ExperimentResult) -> str:
    """The "Wire resistance" section ("" without wired settings)."""
    if not result.wired:
        return ""
    return f"""## Wire resistance

The same mappings with the row and column wires' resistance (IR drop) on every tile; NEAT's
models are the ones trained without wires. "No wires" is the setting above on the whole test set;
"with wires" on the images counted. Energy is not modelled with wires.

{wire_table(result)}

"""


def _variability_section(result: ExperimentResult, config: ExperimentConfig, lut: CellLUT) -> str:
    """The "Variability" section ("" without it): what each chip draws, the models, the table
    (nominal chip, mean, std, worst, best over the chips per gate voltage, temperature and model)
    and the figure."""
    section = result.variability
    if section is None:
        return ""
    exp, aware = config.experiment, config.noise_aware
    first, count = exp.variability_seed, exp.variability_chips
    drawn = variation_words(Variation(**section.variation))  # type: ignore[arg-type]
    sigma = f"{1e3 * section.sigma_vt_v:.3g} mV" if section.sigma_vt_v else "none in this LUT"
    notes = "\n".join(f"- {note}" for note in section.notes)
    clipped = "weights clipped into NEAT's bounds" if aware.clip else "no clipping"
    return f"""## Variability

Accuracy (%) on {count} sampled chips (seeds {first}..{first + count - 1}), each drawn with
{drawn} (the card's sigma_Vt: {sigma}), on {section.images} test images, at each temperature
named (the LUT's tables at that temperature). "Nominal chip": the same model without variation
at that temperature. NEAT's model is its checkpoint from above (reused, not retrained);
noise-aware: NEAT's model fine-tuned through the emulation with a new chip at every step
({aware.iterations} x {aware.epochs_per_iteration} epochs, Adam lr {aware.lr}, {clipped}, at
{lut.temperature_c:g} C, deployed with NEAT's weight scales). The standard deviation is over
the chips (N - 1); no BatchNorm re-estimation in these rows.

{to_markdown(variability_frame(section))}

{notes}

![accuracy over sampled chips]({VARIABILITY_FIGURE})

"""


def markdown(result: ExperimentResult, config: ExperimentConfig, lut: CellLUT) -> str:
    """The report as Markdown text; the figures are linked by their file names."""
    exp, neat, emu = config.experiment, config.neat, config.emulation
    notes = "\n".join(f"- {s.label}: {s.note}" for s in result.settings if s.note)
    energy = energy_frame(result.settings)
    return f"""# NEAT experiment: {exp.name}

`{exp.model}` on `{exp.dataset}`: test accuracy (%) with every layer on 1T-1R crossbars at one
gate voltage, and the energy saved per inference against 1.0 V. Computed in this run.

{headline_table(result)}

![accuracy and energy against the gate voltage](accuracy_vs_vgate.png)

{_wire_section(result)}{_variability_section(result, config, lut)}## The paper and this run

{paper_table(result)}

The paper's numbers are reported (ResNet18 on CIFAR-10, a different data set and training); this
run's are measured on `{exp.dataset}`. "BN re-estimated": the BatchNorm statistics re-measured
through the crossbar twin on {exp.calibration_samples} training images (no weight changes, no
labels; `neatxbar.training.calibration`).

## How it was run

LUT `{lut.path}` (tolerance {lut.tolerance:.1%}) at {lut.temperature_c:g} C. NEAT:
{neat.iterations} iterations x {neat.epochs_per_iteration} epochs, Adam lr {neat.lr}, weights
clipped into the linear region
{"after every step" if neat.clip else "never"}. Training through the emulation:
{emu.iterations} x {emu.epochs_per_iteration} epochs, Adam lr {emu.lr}, from the software
model{", with clipping" if emu.clip else ", without clipping"}. Energy: `docs/energy.md`, on the
same test inputs at every setting.

## Every setting

{result.table()}

{notes}

## Energy per inference by part (naive mapping, pJ)

{to_markdown(energy) if len(energy) else "(no energy rows)"}

![energy by part](energy_vs_vgate.png)

## Gate voltage per layer

![gate voltage per layer](gates_per_layer.png)

## NEAT iterations

![accuracy and linear share per iteration](neat_iterations.png)
"""
