"""Min-max normalisation to [-1, 1] (DPPO's convention), fitted on the demonstrations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MinMaxNormalizer:
    """Maps each dimension's dataset range [low, high] affinely onto [-1, 1].

    Dimensions whose range is (nearly) zero are left centred (scale 1) so they do not blow
    up. Values outside the dataset's range map outside [-1, 1]; callers clip where needed.

    Attributes:
        low: Per-dimension minimum, shape (D,).
        high: Per-dimension maximum, shape (D,).
    """

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def fit(cls, data: np.ndarray) -> MinMaxNormalizer:
        """Fit on ``data`` of shape (N, D)."""
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2 or len(data) == 0:
            raise ValueError(f"normaliser needs a non-empty (N, D) array, got {data.shape}")
        return cls(data.min(0).astype(np.float32), data.max(0).astype(np.float32))

    @property
    def _half_range(self) -> np.ndarray:
        half = (self.high - self.low) / 2.0
        return np.where(half > 1e-6, half, 1.0).astype(np.float32)

    @property
    def _centre(self) -> np.ndarray:
        return ((self.high + self.low) / 2.0).astype(np.float32)

    def normalize(self, x: np.ndarray) -> np.ndarray:
        """Raw (..., D) -> normalised (..., D)."""
        return ((np.asarray(x, dtype=np.float32) - self._centre) / self._half_range).astype(
            np.float32)

    def unnormalize(self, x: np.ndarray) -> np.ndarray:
        """Normalised (..., D) -> raw (..., D)."""
        return (np.asarray(x, dtype=np.float32) * self._half_range + self._centre).astype(
            np.float32)

    def to_json(self) -> dict[str, list[float]]:
        """JSON form (lists of floats)."""
        return {"low": self.low.tolist(), "high": self.high.tolist()}

    @classmethod
    def from_json(cls, d: dict[str, list[float]]) -> MinMaxNormalizer:
        """Inverse of :meth:`to_json`."""
        return cls(np.asarray(d["low"], dtype=np.float32), np.asarray(d["high"], dtype=np.float32))
