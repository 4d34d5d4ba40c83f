"""Tiles: how a layer's inputs are cut into crossbars of ``rows`` rows."""

from __future__ import annotations

from neatxbar.mapping.errors import MappingError


def row_tiles(n_inputs: int, rows: int, block: int = 1) -> list[slice]:
    """Slices of the input dimension, one per crossbar tile.

    ``block`` inputs always stay together (a convolution keeps each input channel's kh*kw
    kernel inputs in one tile), so a tile holds ``rows // block`` blocks.

    Raises
    ------
    MappingError
        When one block does not fit into a tile.
    """
    if block > rows:
        raise MappingError(f"a block of {block} inputs does not fit into a tile of {rows} rows")
    step = (rows // block) * block
    return [slice(start, min(start + step, n_inputs)) for start in range(0, n_inputs, step)]
