"""The studies floor: what runs the whole pipeline and writes a report.

- :mod:`neatxbar.studies.neat_map`: ``neat map`` / ``neat-map``, a trained model deployed on
  crossbars at one or many gate voltages (accuracy, linear share, energy).
- :mod:`neatxbar.studies.experiment`: ``neat report experiment``, the NEAT experiment end to end.
- :mod:`neatxbar.studies.compare`: ``neat compare``, ngspice crossbars against the emulation.

Each study is a small folder of modules: settings, run, tables, figures. This floor sits above
``training`` and below ``cli``.
"""
