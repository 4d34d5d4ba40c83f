"""``neat map`` / ``neat-map``: a trained model deployed on 1T-1R crossbars at one or many
gate-voltage settings; accuracy, linear share, fast-path K and energy per inference per setting.

- :mod:`~neatxbar.studies.neat_map.settings`: the gate-voltage settings to evaluate (``--vgate``,
  gate files, ``--sweep``, the checkpoint's V_gate), checked against the LUT's gate grid; the
  wires, the variation and the chips of a Monte Carlo (:class:`MonteCarlo`);
- :mod:`~neatxbar.studies.neat_map.run`: :func:`deploy`, the run (loading, evaluation, energy);
- :mod:`~neatxbar.studies.neat_map.results`: the result types;
- :mod:`~neatxbar.studies.neat_map.tables`: the per-setting and per-layer tables (console,
  CSV) and the JSON summary;
- :mod:`~neatxbar.studies.neat_map.figures`: the three figures;
- :mod:`~neatxbar.studies.neat_map.report`: the output folder's files, committed together.

Typical use::

    from neatxbar.studies.neat_map import deploy

    report = deploy("checkpoints/mlp.pt", "luts/paper.h5", sweep="0.7:1.3:0.1", out_dir="out")
    print(report.table())

    # accuracy over 20 sampled chips (5 % programming variation, the card's mismatch) at 85 C
    mapping = with_variation(MappingConfig(), programming_sigma=0.05, mismatch=1.0)
    report = deploy("checkpoints/mlp.pt", "luts/paper.h5", mapping=mapping,
                    monte_carlo=MonteCarlo(chips=20, seed=0), temperature_c=85.0)
"""

from __future__ import annotations

from neatxbar.studies.neat_map.report import FILES, write_report
from neatxbar.studies.neat_map.results import (
    FORMAT,
    ChipStats,
    LayerResult,
    MapReport,
    SettingResult,
)
from neatxbar.studies.neat_map.run import chunked_energy, deploy, merge_energy
from neatxbar.studies.neat_map.settings import (
    AUTO_HIGHEST_V,
    VARIATION_OPTIONS,
    GateSetting,
    GateSpec,
    MonteCarlo,
    check_temperature,
    gate_settings,
    parse_sweep,
    sweep_values,
    with_variation,
    with_wires,
)

__all__ = [
    "AUTO_HIGHEST_V",
    "FILES",
    "FORMAT",
    "VARIATION_OPTIONS",
    "ChipStats",
    "GateSetting",
    "GateSpec",
    "LayerResult",
    "MapReport",
    "MonteCarlo",
    "SettingResult",
    "check_temperature",
    "chunked_energy",
    "deploy",
    "gate_settings",
    "merge_energy",
    "parse_sweep",
    "sweep_values",
    "with_variation",
    "with_wires",
    "write_report",
]
