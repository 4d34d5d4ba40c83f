"""``neat map`` / ``neat-map``: a trained model deployed on 1T-1R crossbars at one or many
gate-voltage settings; accuracy, linear share, fast-path K and energy per inference per setting.

- :mod:`~neatxbar.studies.neat_map.settings`: the gate-voltage settings to evaluate (``--vgate``,
  gate files, ``--sweep``, the checkpoint's V_gate), checked against the LUT's gate grid;
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
"""

from __future__ import annotations

from neatxbar.studies.neat_map.report import FILES, write_report
from neatxbar.studies.neat_map.results import FORMAT, LayerResult, MapReport, SettingResult
from neatxbar.studies.neat_map.run import chunked_energy, deploy, merge_energy
from neatxbar.studies.neat_map.settings import (
    AUTO_HIGHEST_V,
    GateSetting,
    GateSpec,
    gate_settings,
    parse_sweep,
    sweep_values,
    with_wires,
)

__all__ = [
    "AUTO_HIGHEST_V",
    "FILES",
    "FORMAT",
    "GateSetting",
    "GateSpec",
    "LayerResult",
    "MapReport",
    "SettingResult",
    "chunked_energy",
    "deploy",
    "gate_settings",
    "merge_energy",
    "parse_sweep",
    "sweep_values",
    "with_wires",
    "write_report",
]
