"""The bottom floor: what every other floor shares, torch-free.

- :mod:`neatxbar.core.errors`: the toolkit's error root and the configuration error.
- :mod:`neatxbar.core.checks`: number checks (finite, in range) where values enter.
- :mod:`neatxbar.core.config`: TOML tables to typed, frozen dataclasses.
- :mod:`neatxbar.core.files`: atomic file writing and PNG figures.
- :mod:`neatxbar.core.jsonout`: strict JSON (no NaN or Infinity: non-finite floats become null).
- :mod:`neatxbar.core.outputs`: output folders that replace only files the toolkit wrote.
- :mod:`neatxbar.core.progress`: the progress bar (tqdm, quiet when stderr is not a terminal).
- :mod:`neatxbar.core.tables`: result tables as pandas DataFrames (CSV, Markdown, console text).
"""
