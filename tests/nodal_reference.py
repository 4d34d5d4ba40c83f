"""A dense nodal solve of a resistive crossbar with wires: the exact reference for linear cells."""

from __future__ import annotations

import numpy as np

from neatxbar.spice import Wires


def nodal_reference(g: np.ndarray, v: np.ndarray, wires: Wires) -> np.ndarray:
    """Column currents of a resistive crossbar with wires, by a dense nodal solve (reference)."""
    rows, cols = g.shape
    n = 2 * rows * cols
    row_node = lambda i, j: i * cols + j  # noqa: E731
    col_node = lambda i, j: rows * cols + i * cols + j  # noqa: E731
    a = np.zeros((n, n))
    b = np.zeros(n)

    def link(p: int, q: int, conductance: float) -> None:
        a[p, p] += conductance
        a[q, q] += conductance
        a[p, q] -= conductance
        a[q, p] -= conductance

    for i in range(rows):
        a[row_node(i, 0), row_node(i, 0)] += 1 / wires.r_driver
        b[row_node(i, 0)] += v[i] / wires.r_driver
        for j in range(cols):
            link(row_node(i, j), col_node(i, j), g[i, j])
            if j + 1 < cols:
                link(row_node(i, j), row_node(i, j + 1), 1 / wires.r_row)
            if i + 1 < rows:
                link(col_node(i, j), col_node(i + 1, j), 1 / wires.r_col)
    for j in range(cols):
        a[col_node(rows - 1, j), col_node(rows - 1, j)] += 1 / wires.r_sense
    nodes = np.linalg.solve(a, b)
    return np.array([nodes[col_node(rows - 1, j)] / wires.r_sense for j in range(cols)])
