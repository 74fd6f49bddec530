"""Seed streams. Dataset, training and evaluation seeds live in disjoint integer ranges.

* demonstration episode ``i`` of a dataset: ``DATASET_BASE + i`` (the dataset is a fixed
  artifact, independent of any training seed);
* fine-tuning env resets of training seed ``s``: ``TRAIN_BASE + s * TRAIN_STRIDE + k``;
* evaluation episode ``e`` at perturbation level ``l``: ``EVAL_BASE + l * EVAL_STRIDE + e`` —
  the same episodes for every method and training seed (common random numbers, so methods
  are compared on identical initial states).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

DATASET_BASE = 0
DATASET_MAX = 10_000_000
TRAIN_BASE = 100_000_000
TRAIN_STRIDE = 1_000_000
MAX_TRAIN_SEED = 999
EVAL_BASE = 2_000_000_000
EVAL_STRIDE = 1_000_000


def dataset_seed(episode: int) -> int:
    """Reset seed of demonstration episode ``episode``."""
    if not 0 <= episode < DATASET_MAX:
        raise ValueError(f"demonstration index {episode} out of range")
    return DATASET_BASE + episode


def train_seed(seed: int, k: int = 0) -> int:
    """The ``k``-th env seed derived from training seed ``seed``."""
    if not 0 <= seed <= MAX_TRAIN_SEED:
        raise ValueError(f"training seed must be in [0, {MAX_TRAIN_SEED}], got {seed}")
    if not 0 <= k < TRAIN_STRIDE:
        raise ValueError(f"training env index {k} out of range")
    return TRAIN_BASE + seed * TRAIN_STRIDE + k


def eval_seed(level_index: int, episode: int) -> int:
    """Reset seed of evaluation episode ``episode`` at perturbation level ``level_index``."""
    if not 0 <= episode < EVAL_STRIDE:
        raise ValueError(f"evaluation episode {episode} out of range")
    return EVAL_BASE + level_index * EVAL_STRIDE + episode


def seed_everything(seed: int) -> None:
    """Seed python, numpy and (if imported) torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    import sys

    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)


@contextmanager
def preserved_rng() -> Iterator[None]:
    """Restore python's, numpy's and torch's global generators on exit.

    A mid-training evaluation (checkpoint stability) draws from them; restoring them keeps
    the training that follows identical to a run without that evaluation.
    """
    import sys

    py, np_state = random.getstate(), np.random.get_state()
    torch = sys.modules.get("torch")
    torch_state = torch.get_rng_state() if torch is not None else None
    cuda_state = (torch.cuda.get_rng_state_all()
                  if torch is not None and torch.cuda.is_available() else None)
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(np_state)
        if torch_state is not None:
            torch.set_rng_state(torch_state)
        if cuda_state is not None:
            torch.cuda.set_rng_state_all(cuda_state)


def parse_seeds(text: str) -> list[int]:
    """Parse ``"0-4"``, ``"0,2,5"`` or ``"3"`` into a sorted list of distinct seeds.

    Bounds are checked before a range is expanded, so ``0-1000000000`` fails at once.

    Raises:
        ValueError: On malformed text or a seed outside [0, MAX_TRAIN_SEED] (the message
            names the part at fault and the accepted forms).
    """
    forms = f"seeds are integers in [0, {MAX_TRAIN_SEED}], written as 0-4, 0,2,5 or 3"

    def seed(part: str, token: str) -> int:
        token = token.strip()
        if not token.isdigit():
            raise ValueError(f"{part!r} is not a seed or a seed range; {forms}")
        value = int(token)
        if value > MAX_TRAIN_SEED:
            raise ValueError(f"seed {value} in {part!r} is out of range; {forms}")
        return value

    seeds: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part[1:]:  # "3-5"; a leading "-" is a negative number, refused below
            lo_s, _, hi_s = part.partition("-")
            lo, hi = seed(part, lo_s), seed(part, hi_s)
            if hi < lo:
                raise ValueError(f"empty seed range {part!r}; {forms}")
            seeds.update(range(lo, hi + 1))
        else:
            seeds.add(seed(part, part))
    if not seeds:
        raise ValueError(f"no seeds in {text!r}; {forms}")
    return sorted(seeds)
