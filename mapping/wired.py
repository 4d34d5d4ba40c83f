"""The circuit path of the crossbar layers: physical tiles with wire resistance, solved as circuits.

A layer's weights become tiles of ``rows x cols`` physical cells, the G+ and G- columns of each
output side by side (padding cells at G_min, padding rows at 0 V). Each phase of the input (the
positive and the negative parts) is a separate read of every tile; the circuit solver
(:mod:`neatxbar.mapping.circuit`) gives the column currents with IR drop, and each output is the
difference of its two columns, digitized per tile when the ADC is on, summed over the tiles.

Memory: the solver holds a few dozen float64 values per cell of every (tile, input vector) it
solves at once (about 450 bytes per cell, measured), so the batch and the tiles are solved in
chunks of at most :data:`WIRED_CHUNK_CELLS` cells: the solver's peak stays near
450 B x 2**19 = 240 MB whatever the batch size and layer size (one input vector of one tile,
rows x cols cells, is the smallest chunk). Without autograd that is the peak; with autograd the
graph of every chunk is kept for the backward pass.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from neatxbar.lut.interp import CellLUT
from neatxbar.mapping.circuit import CircuitConfig, solve
from neatxbar.mapping.config import MappingConfig
from neatxbar.mapping.quantize import quantize_symmetric

#: Cells (tiles x input vectors x rows x cols) solved at once; bounds the solver's memory.
WIRED_CHUNK_CELLS = 1 << 19


def pair_tiles(
    gp: torch.Tensor, gn: torch.Tensor, rows: int, pairs: int, g_min: float
) -> torch.Tensor:
    """(in, out) conductance pairs -> (t_in * t_out, rows, 2 * pairs) physical tiles."""
    n_in, n_out = gp.shape
    t_in, t_out = math.ceil(n_in / rows), math.ceil(n_out / pairs)
    both = torch.stack([gp, gn], dim=-1).reshape(n_in, 2 * n_out)  # G+, G- side by side
    padded = F.pad(both, (0, 2 * (t_out * pairs - n_out), 0, t_in * rows - n_in), value=g_min)
    tiles = padded.reshape(t_in, rows, t_out, 2 * pairs).permute(0, 2, 1, 3)
    return tiles.reshape(t_in * t_out, rows, 2 * pairs)


def solve_in_chunks(
    lut: CellLUT,
    tiles: torch.Tensor,
    volts: torch.Tensor,
    v_gate: float,
    solver: CircuitConfig,
    chunk_cells: int | None = None,
) -> torch.Tensor:
    """Column currents (A), shape (tiles, n, cols), of ``tiles`` (tiles, rows, cols) in S driven
    by ``volts`` (tiles, n, rows) in V, solved at most ``chunk_cells`` cells at a time (input
    vectors first, then tiles when one vector of every tile is already more; None:
    :data:`WIRED_CHUNK_CELLS`)."""
    chunk_cells = WIRED_CHUNK_CELLS if chunk_cells is None else chunk_cells
    n_tiles, rows, cols = tiles.shape
    n = volts.shape[1]
    per_tile = rows * cols
    if n_tiles * per_tile <= chunk_cells:
        tile_step, vector_step = n_tiles, max(1, chunk_cells // (n_tiles * per_tile))
    else:
        tile_step, vector_step = max(1, chunk_cells // per_tile), 1
    if tile_step >= n_tiles and vector_step >= n:
        return solve(lut, tiles, volts, v_gate, solver).column_currents
    parts = []
    for t in range(0, n_tiles, tile_step):
        g, v = tiles[t : t + tile_step], volts[t : t + tile_step]
        block = [
            solve(lut, g, v[:, s : s + vector_step], v_gate, solver).column_currents
            for s in range(0, n, vector_step)
        ]
        parts.append(torch.cat(block, dim=1))
    return torch.cat(parts, dim=0)


def wired_sum(
    lut: CellLUT,
    config: MappingConfig,
    v_gate: float,
    gp: torch.Tensor,
    gn: torch.Tensor,
    u: torch.Tensor,
) -> torch.Tensor:
    """Differential current (A) of every output, shape (n, out), from signed normalized inputs
    ``u`` (n, in) and conductance pairs ``gp``, ``gn`` (in, out), with IR drop; solved in chunks
    of at most :data:`WIRED_CHUNK_CELLS` cells (see the module docstring)."""
    rows, pairs = config.rows, config.cols // 2
    n, n_in = u.shape
    n_out = gp.shape[1]
    t_in, t_out = math.ceil(n_in / rows), math.ceil(n_out / pairs)
    g_min, g_max = lut.g_min_s, lut.g_on_s
    tiles = pair_tiles(gp, gn, rows, pairs, g_min)
    solver = CircuitConfig(wires=config.wires)
    out = None
    for positive in (True, False):
        mask = (u > 0) if positive else (u < 0)
        if not bool(mask.any()):
            continue
        volts = u.abs() * mask.to(u.dtype) * lut.v_max
        volts = F.pad(volts, (0, t_in * rows - n_in)).reshape(n, t_in, rows)
        per_tile = volts.permute(1, 0, 2).repeat_interleave(t_out, dim=0)  # (t_in*t_out, n, rows)
        currents = solve_in_chunks(lut, tiles, per_tile, v_gate, solver)
        diff = (currents[..., 0::2] - currents[..., 1::2]).reshape(t_in, t_out, n, pairs)
        if config.adc_bits is not None:
            full_scale = config.adc_full_scale(rows, g_max - g_min, lut.v_max)
            diff = quantize_symmetric(diff, full_scale, config.adc_bits)
        total = diff.sum(dim=0).permute(1, 0, 2).reshape(n, t_out * pairs)[:, :n_out]
        total = total if positive else -total
        out = total if out is None else out + total
    return out if out is not None else u.new_zeros((n, n_out))
