"""BMD's policy: the fine-tuned diffusion policy plus its latent modes in noise space."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from baselines.bmd.discovery import knn_predict
from baselines.common.diffusion import Diffusion
from baselines.common.normalizer import MinMaxNormalizer
from baselines.common.policy import DiffusionPolicy


class BMDPolicy(DiffusionPolicy):
    """A diffusion policy whose initial noise is drawn from a chosen mode's region.

    ``set_mode(k)`` makes every chunk's initial noise come from mode k's region p(ξ | z = k):
    the discovery noises labelled k (``sampler="bank"``), or N(ξ; 0, I) 1[c(ξ) = k] by
    rejection with the k-NN classifier c (``"knn"``); ``set_mode(None)`` draws z ~ p(z) first.

    With ``noise_per_episode`` (the default, as BMD fine-tunes), :meth:`act_episodes` draws z
    and its noise once per episode, from a generator keyed on the episode, and reuses the noise
    at every decision of that episode; plain :meth:`act` (no episode information) draws them
    per chunk.

    Args:
        model: Diffusion model.
        obs_norm: Observation normaliser.
        act_norm: Action normaliser.
        act_steps: Executed actions per decision.
        device: Torch device.
        bank: Discovery noises, (N, H * A).
        labels: Their modes, (N,).
        p_z: Mode prior, (K,).
        knn_k: Neighbours of the classifier.
        sampler: How a mode's noise is drawn (see :meth:`noise_for`).
        meta: JSON-able discovery summary (saved with the policy).
        noise_per_episode: One z and noise per episode in :meth:`act_episodes`.
    """

    kind = "bmd"

    def __init__(self, model: Diffusion, obs_norm: MinMaxNormalizer, act_norm: MinMaxNormalizer,
                 act_steps: int, device: str = "cpu", bank: np.ndarray | None = None,
                 labels: np.ndarray | None = None, p_z: np.ndarray | None = None,
                 knn_k: int = 5, meta: dict[str, Any] | None = None,
                 sampler: str = "knn", noise_per_episode: bool = True) -> None:
        super().__init__(model, obs_norm, act_norm, act_steps, device)
        if sampler not in ("bank", "knn"):
            raise ValueError("sampler must be 'bank' or 'knn'")
        self.mode: int | None = None
        self.noise_per_episode = noise_per_episode
        self._episode_noise: dict[int, torch.Tensor] = {}
        self.sampler = sampler
        self.knn_k = knn_k
        self.meta = dict(meta or {})
        if bank is not None and labels is not None and p_z is not None:
            self.set_modes(bank, labels, p_z)

    def set_modes(self, bank: np.ndarray, labels: np.ndarray, p_z: np.ndarray) -> None:
        """Install discovered modes (noise bank, labels (N,), prior (K,))."""
        self.bank = torch.as_tensor(np.asarray(bank, dtype=np.float32), device=self.device)
        self.labels = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=self.device)
        self.p_z = torch.as_tensor(np.asarray(p_z, dtype=np.float32), device=self.device)

    @property
    def n_modes(self) -> int:
        """K, the number of latent modes."""
        return int(len(self.p_z))

    def set_mode(self, mode: int | None) -> None:
        """Act in latent mode ``mode`` (0 <= mode < n_modes); ``None`` samples z per chunk."""
        if mode is not None and not 0 <= int(mode) < self.n_modes:
            raise ValueError(f"mode must be in [0, {self.n_modes - 1}] or None, got {mode}")
        self.mode = None if mode is None else int(mode)
        self._episode_noise.clear()  # episodes' noises were drawn for the old mode

    def classify_noise(self, noise: torch.Tensor) -> torch.Tensor:
        """c(ξ): the mode of each noise (B, H * A) -> (B,)."""
        return knn_predict(self.bank, self.labels, noise, self.knn_k, self.n_modes)

    def sample_z(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ p(z), (B,) int64."""
        return torch.multinomial(self.p_z.cpu(), batch, replacement=True,
                                 generator=generator).to(self.device)

    def noise_for(self, z: torch.Tensor, generator: torch.Generator | None = None,
                  max_rounds: int = 64) -> torch.Tensor:
        """Draw a noise from each row's mode region, (B,) -> (B, H * A).

        ``sampler == "bank"``: a uniformly chosen discovery noise of mode z_b (the empirical
        noise distribution of the mode). ``"knn"``: ξ ~ N(0, I) restricted to c(ξ) = z_b.
        """
        if self.sampler == "bank":
            return self._bank_noise(z, generator)
        return self._knn_noise(z, generator, max_rounds)

    def _bank_noise(self, z: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        counts = torch.bincount(self.labels, minlength=self.n_modes)
        if bool((counts[z] == 0).any()):
            raise ValueError("a requested mode has no discovery noises")
        # the j-th member of mode z: order the bank by label once, index by offset
        order = torch.argsort(self.labels, stable=True)
        starts = torch.cumsum(counts, 0) - counts
        u = torch.rand(len(z), generator=generator).to(self.device)
        pick = starts[z] + (u * counts[z]).long().clamp(max=counts[z] - 1)
        return self.bank[order[pick]]

    def _knn_noise(self, z: torch.Tensor, generator: torch.Generator | None,
                   max_rounds: int) -> torch.Tensor:
        """Draw ξ ~ N(0, I) restricted to c(ξ) = z_b for each row (rejection sampling).

        Args:
            z: Modes, (B,) int64.
            generator: Source of the draws (default: torch's global generator).
            max_rounds: After this many rounds a row still unfilled (a mode whose region is
                vanishingly small) takes a random bank noise of its mode.

        Returns:
            Noises, (B, H * A).
        """
        b, flat = len(z), self.model.flat_dim
        out = torch.empty(b, flat, device=self.device)
        todo = torch.ones(b, dtype=torch.bool, device=self.device)
        per_round = max(4 * self.n_modes, 8)
        for _ in range(max_rounds):
            rows = torch.nonzero(todo).squeeze(1)
            if len(rows) == 0:
                return out
            cand = torch.randn(len(rows), per_round, flat, generator=generator).to(self.device)
            lab = self.classify_noise(cand.view(-1, flat)).view(len(rows), per_round)
            hit = lab == z[rows][:, None]
            has = hit.any(1)
            first = hit.float().argmax(1)
            filled = rows[has]
            out[filled] = cand[has, first[has]]
            todo[filled] = False
        for r in torch.nonzero(todo).squeeze(1).tolist():
            members = torch.nonzero(self.labels == z[r]).squeeze(1)
            pick = members[torch.randint(len(members), (1,), generator=generator).item()]
            out[r] = self.bank[pick]
        return out

    def initial_noise(self, batch: int) -> torch.Tensor:
        """Initial noise of a chunk: from the set mode's region, or z ~ p(z) first."""
        if self.mode is None:
            z = self.sample_z(batch)
        else:
            z = torch.full((batch,), self.mode, dtype=torch.long, device=self.device)
        return self.noise_for(z)

    @property
    def uses_ancestral_sampling(self) -> bool:
        """Never: BMD's noise regions are defined through the deterministic DDIM chain."""
        return False

    @torch.no_grad()
    def act_episodes(self, obs: np.ndarray, episodes: np.ndarray,
                     deterministic: bool = True) -> np.ndarray:
        """Act with one initial noise per episode (see the class docstring).

        Args:
            obs: Observations, (B, obs_dim).
            episodes: Each row's episode key, (B,) int64 (the harness passes reset seeds).
            deterministic: As in :meth:`act`.

        Returns:
            Actions (B, act_steps, act_dim) in [-1, 1].
        """
        if not self.noise_per_episode:
            return self.act(obs, deterministic)
        cond = self.normalize_obs(obs)
        keys = [int(k) for k in np.asarray(episodes).reshape(-1)]
        if len(keys) != cond.shape[0]:
            raise ValueError(f"act_episodes: {cond.shape[0]} observations but {len(keys)} "
                             "episode keys")
        # keys absent from this call have ended: keep only the running episodes' noises
        self._episode_noise = {k: self._episode_noise[k] if k in self._episode_noise
                               else self._noise_of_episode(k) for k in keys}
        x0 = torch.stack([self._episode_noise[k] for k in keys])
        return self.act_from_noise(cond, x0, deterministic)

    def _noise_of_episode(self, key: int) -> torch.Tensor:
        """z (unless a mode is set) and its noise, (H * A,), from a generator keyed on ``key``."""
        gen = torch.Generator().manual_seed((int(key) * 1_000_003 + 0xB3D) % 2**63)
        z = (self.sample_z(1, gen) if self.mode is None
             else torch.full((1,), self.mode, dtype=torch.long, device=self.device))
        return self.noise_for(z, gen)[0]

    # ------------------------------------------------------------------ persistence
    def extra_json(self) -> dict[str, Any]:
        """Mode count, k-NN size, prior and the discovery summary."""
        return {"n_modes": self.n_modes, "knn_k": self.knn_k, "sampler": self.sampler,
                "p_z": self.p_z.cpu().tolist(), "meta": self.meta,
                "noise_per_episode": self.noise_per_episode}

    def extra_tensors(self) -> dict[str, torch.Tensor]:
        """The noise bank and its labels."""
        return {"bank": self.bank, "labels": self.labels}

    def restore_extras(self, extra: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        """Inverse of :meth:`extra_json` / :meth:`extra_tensors`."""
        self.knn_k = int(extra["knn_k"])
        self.sampler = str(extra.get("sampler", "knn"))
        # saved before episodes were signalled: those policies drew per chunk
        self.noise_per_episode = bool(extra.get("noise_per_episode", False))
        self.meta = dict(extra.get("meta", {}))
        self.set_modes(tensors["bank"].numpy(), tensors["labels"].numpy(),
                       np.asarray(extra["p_z"], dtype=np.float32))
