"""Per-episode noise streams: evaluation draws that depend on the episode, not on the batch.

At evaluation the harness tells an :class:`~benchmark.adapter.EpisodicPolicy` each row's
episode key (its reset seed) and decision index. A policy that draws its noise from
:class:`EpisodeStreams` gives row (episode e, decision d) the d-th block of e's own Gaussian
stream, so which episodes share a batch, how many envs run side by side and the order in
which episodes end no longer change the noise an episode sees. (The network's batched
arithmetic can still differ in the last bits between batch sizes: BLAS libraries pick
kernels by shape. Such a difference reaches a metric only through an episode's outcome.)

Keys are seeds of torch's Mersenne Twister, which takes 32 bits: keys must lie in
[0, 2**32), where XOR with a constant maps distinct keys to distinct seeds (and keeps the
streams apart from torch's global generator seeded with the same numbers).
"""

from __future__ import annotations

import numpy as np
import torch

# XOR-ed into every key: episode streams differ from a global generator seeded with the key
STREAM_SALT = 0x5EED_E915
KEY_LIMIT = 2**32


class EpisodeStreams:
    """One Gaussian stream per running episode, advanced one block per decision.

    A key's stream starts afresh at its decision 0 (an evaluation repeated with the same keys
    sees the same noise) and is forgotten once a call does not mention it (the episode
    ended).
    """

    def __init__(self) -> None:
        self._streams: dict[int, tuple[torch.Generator, int]] = {}

    def normal(self, episodes: np.ndarray, decisions: np.ndarray, size: int) -> torch.Tensor:
        """Standard normal draws for one decision of each row's episode.

        Args:
            episodes: Episode keys, shape (B,), integers in [0, 2**32), distinct.
            decisions: Each row's decision index in its episode, shape (B,): 0 at the
                episode's first decision, then 1, 2, ... without gaps.
            size: Draws per row (the same at every decision of a policy).

        Returns:
            Draws, shape (B, size), float32 on the CPU.

        Raises:
            ValueError: Keys out of range or repeated, or a decision out of order (a stream
                cannot skip or repeat a decision).
        """
        keys = np.asarray(episodes).astype(np.int64).tolist()
        steps = np.asarray(decisions).astype(np.int64).tolist()
        if len(keys) != len(steps):
            raise ValueError(f"{len(keys)} episode keys but {len(steps)} decision indices")
        if len(set(keys)) != len(keys):
            raise ValueError("episode keys repeat within one call: one row per episode")
        out = torch.empty(len(keys), int(size))
        live: dict[int, tuple[torch.Generator, int]] = {}
        for row, (key, step) in enumerate(zip(keys, steps, strict=True)):
            if not 0 <= key < KEY_LIMIT:
                raise ValueError(f"episode key {key} is outside [0, 2**32)")
            if step == 0:
                gen = torch.Generator().manual_seed(key ^ STREAM_SALT)
            else:
                gen, expected = self._streams.get(key, (None, 0))
                if gen is None or step != expected:
                    raise ValueError(
                        f"episode {key}: decision {step} asked for, but its stream is at "
                        f"decision {expected} (decisions run 0, 1, 2, ... in every episode)")
            out[row].normal_(generator=gen)
            live[key] = (gen, step + 1)
        self._streams = live
        return out
