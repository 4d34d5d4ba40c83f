"""What a SPICE-against-emulation comparison simulates: :class:`CompareConfig`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neatxbar.core.checks import check_integer, check_number
from neatxbar.core.errors import ConfigError

CASES = ("random", "trained")
MODELS = ("fast", "exact", "ideal")
#: The models that simulate the wires too, compared only when ``wire_ohm`` > 0: the reference
#: circuit solver and the wired fast path (:mod:`neatxbar.mapping.wired_fast`).
WIRED_MODELS = ("circuit", "wired-fast")

#: Sizes up to this many rows get ``CompareConfig.vectors`` input vectors; larger ones fewer.
FULL_VECTORS_UP_TO = 64
#: The fewest vectors a large size is cut down to (unless ``vectors`` itself is smaller).
MIN_VECTORS = 5
MAX_SIZE = 512


@dataclass(frozen=True)
class CompareConfig:
    """What :func:`~neatxbar.studies.compare.compare` simulates.

    Attributes
    ----------
    sizes
        Array sizes n: each crossbar is n rows x n columns.
    v_gate
        Gate voltage of every cell (V); must be on the LUT's gate grid.
    vectors
        Input vectors per crossbar for sizes up to 64 rows. Larger arrays get fewer, see
        :meth:`vectors_for`.
    seed
        Seeds the random crossbars, the default trained model and the choice of held-out inputs.
    trained
        Also compare the ``"trained"`` case: the first crossbar layer of a trained model, driven
        by its own inputs on held-out data.
    checkpoint
        The trained model of the ``"trained"`` case (a ``neat train`` checkpoint); None: a small
        MLP is trained on the digits here (about a second, see
        :func:`~neatxbar.studies.compare.inputs.train_digits_layer`).
    data_dir
        Where the checkpoint's dataset lives (CIFAR); ignored for the digits.
    wire_ohm
        Resistance of every row and column wire segment (ohm); above 0, ngspice simulates the
        wires, and the circuit solver (model ``"circuit"``, the reference) and the wired fast
        path (model ``"wired-fast"``) join the per-cell models.
    """

    sizes: tuple[int, ...] = (16, 32, 64)
    v_gate: float = 1.0
    vectors: int = 20
    seed: int = 0
    trained: bool = True
    checkpoint: str | None = None
    data_dir: str | None = None
    wire_ohm: float = 0.0

    @property
    def models(self) -> tuple[str, ...]:
        """The models compared against ngspice."""
        return (*MODELS, *WIRED_MODELS) if self.wire_ohm > 0 else MODELS

    @property
    def cases(self) -> tuple[str, ...]:
        """The cases compared: ``"random"``, and ``"trained"`` when :attr:`trained`."""
        return CASES if self.trained else CASES[:1]

    def validate(self) -> CompareConfig:
        """Raise :class:`ConfigError` naming the first bad field; return self."""
        sizes = tuple(int(n) if isinstance(n, np.integer) else n for n in self.sizes)
        if not sizes:
            raise ConfigError("sizes must name at least one array size")
        for n in sizes:
            check_integer("sizes", n, low=2, high=MAX_SIZE)
        if len(set(sizes)) != len(sizes):
            raise ConfigError(f"sizes must not repeat, got {', '.join(map(str, sizes))}")
        check_number("v_gate (V)", self.v_gate, positive=True)
        check_integer("vectors", self.vectors, low=1)
        check_integer("seed", self.seed, low=0)
        check_number("wire_ohm (ohm)", self.wire_ohm, nonnegative=True)
        if self.checkpoint is not None and not self.trained:
            raise ConfigError("checkpoint is for the trained case: drop it or drop --no-trained")
        return self

    def vectors_for(self, size: int) -> int:
        """Input vectors for an array of ``size`` rows.

        ``vectors`` up to 64 rows; above, ``vectors * (64 / size)**2``, but not below
        ``min(vectors, 5)``. ngspice's time per vector grows faster than the number of cells
        (measured on one core: ~9 ms at 16 x 16, ~45 ms at 64 x 64, ~0.3 s at 128 x 128), so the
        default 20 vectors cost about a second of ngspice at 64 x 64 and the cut keeps larger
        arrays at a few seconds.
        """
        if size <= FULL_VECTORS_UP_TO:
            return self.vectors
        scaled = round(self.vectors * (FULL_VECTORS_UP_TO / size) ** 2)
        return max(min(self.vectors, MIN_VECTORS), scaled)
