"""Float64 vector arithmetic whose bits do not depend on the CPU.

numpy sends 1-D float64 dot products (``np.linalg.norm(v)``, ``a @ b``) to OpenBLAS, whose
kernel is chosen per CPU (AVX2 ``Haswell``, AVX-512 ``SkylakeX``, ...) and rounds
differently (FMA, accumulation order). A task whose demonstrations keep such a value at
float64 (radial's rewards) then builds a different dataset hash on another machine. These
helpers use elementwise products and numpy's sequential sum of a few elements: IEEE
multiplications and additions, the same bits everywhere.
"""

from __future__ import annotations

import numpy as np


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Dot product of two short float64 vectors, (D,) x (D,) -> scalar."""
    return float(np.sum(np.multiply(a, b, dtype=np.float64)))


def norm(v: np.ndarray, axis: int | None = None) -> float | np.ndarray:
    """Euclidean norm of a vector (D,) -> scalar, or of rows along ``axis`` ((N, D) -> (N,))."""
    sq = np.square(np.asarray(v, dtype=np.float64))
    if axis is None:
        return float(np.sqrt(np.sum(sq)))
    return np.sqrt(np.sum(sq, axis=axis))

