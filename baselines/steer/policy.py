"""A frozen diffusion policy driven by learned actors: steering (DSRL) and/or a residual.

``act``: the steering actor π_ψ(w | s [, z]) picks the chunk's initial noise
w = bound · tanh(u) (or w ~ N(0, I) without one), the base turns (s, w) into a chunk with its
DDIM chain run deterministically (eta = 0, so (s, w) -> chunk is a function, as DSRL needs),
and a residual actor may add scale · tanh(v). The base's weights never change here (``dppo-
bmd`` adds DPPO's fine-tuned copy of the last denoising steps, which the chain then uses).

:class:`LatentSteeredPolicy` adds BMD's latent mode z: drawn once per episode (keyed on the
episode, so evaluation is reproducible whatever the batching) or forced with ``set_mode``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from baselines.common.policy import DiffusionPolicy
from baselines.common.ppo import GaussianActor


class SteeredPolicy(DiffusionPolicy):
    """The base diffusion policy plus optional steering and residual actors.

    Attributes (besides :class:`DiffusionPolicy`'s):
        steer_actor: π_ψ over u (w = bound · tanh(u)); None samples w ~ N(0, I).
        residual_actor: Residual over v on (s, base chunk); None adds nothing.
        noise_bound: DSRL's bound of w.
        residual_scale: Largest residual (normalised action units).
        deterministic_eval: Act with the actors' means when ``deterministic``.
    """

    kind = "steered"
    n_latent = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.steer_actor: GaussianActor | None = None
        self.residual_actor: GaussianActor | None = None
        self.noise_bound = 1.5
        self.residual_scale = 0.2
        self.deterministic_eval = True
        self.hidden_dims: tuple[int, ...] = (256, 256, 256)

    @classmethod
    def wrap(cls, base: DiffusionPolicy) -> SteeredPolicy:
        """A steered policy sharing ``base``'s model and normalisers (no actors yet)."""
        out = cls(base.model, base.obs_norm, base.act_norm, base.act_steps, base.device)
        out.eta, out.min_sampling_std = base.eta, base.min_sampling_std
        return out

    def add_actors(self, steer: bool, residual: bool, hidden_dims: tuple[int, ...],
                   init_log_std: float, noise_bound: float, residual_scale: float,
                   deterministic_eval: bool) -> None:
        """Create the learned actors (steering input: s [+ one-hot z]; residual: s + chunk)."""
        flat = self.model.flat_dim
        self.hidden_dims = tuple(hidden_dims)
        self.noise_bound, self.residual_scale = float(noise_bound), float(residual_scale)
        self.deterministic_eval = bool(deterministic_eval)
        self.steer_actor = (GaussianActor(self.obs_dim + self.n_latent, flat, self.hidden_dims,
                                          init_log_std).to(self.device) if steer else None)
        self.residual_actor = (GaussianActor(self.obs_dim + flat, flat, self.hidden_dims,
                                             init_log_std).to(self.device)
                               if residual else None)
        for p in self.model.actor.parameters():  # the base stays frozen
            p.requires_grad_(False)

    # ------------------------------------------------------------------ the map
    def steer_input(self, cond: torch.Tensor, latent: torch.Tensor | None) -> torch.Tensor:
        """The steering actor's input: (B, obs_dim [+ K])."""
        return cond if latent is None else torch.cat([cond, latent], dim=-1)

    def noise(self, u: torch.Tensor) -> torch.Tensor:
        """Steering action u (B, H * A) -> bounded initial noise w."""
        return self.noise_bound * torch.tanh(u)

    def base_chunk(self, cond: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """The base's normalised chunk (B, H * A) from initial noise w: DDIM with eta = 0."""
        x, _ = self.model.sample(cond, w, deterministic=True)
        return x

    def add_residual(self, x_base: torch.Tensor, v: torch.Tensor,
                     use: torch.Tensor | None = None) -> torch.Tensor:
        """base + scale · tanh(v) (rows with ``use`` 0 keep the base), clipped as the base."""
        r = self.residual_scale * torch.tanh(v)
        if use is not None:
            r = r * use.view(-1, 1)
        clip = self.model.cfg.final_action_clip_value
        return (x_base + r).clamp(-clip, clip)

    @torch.no_grad()
    def chunk(self, cond: torch.Tensor, latent: torch.Tensor | None,
              deterministic: bool, draws: torch.Tensor | None = None) -> torch.Tensor:
        """Normalised chunks (B, H * A) for evaluation (means when deterministic).

        Args:
            cond: Normalised observations, (B, obs_dim).
            latent: One-hot latent modes, (B, K), or None.
            deterministic: Act with the actors' means (when ``deterministic_eval``).
            draws: The decision's Gaussian draws, (B, 2, H * A): block 0 for the initial
                noise (or the steering actor's sample), block 1 for the residual actor's
                sample; default: torch's global generator.
        """
        mean = deterministic and self.deterministic_eval

        def sample(d: torch.distributions.Normal, block: int) -> torch.Tensor:
            if mean:
                return d.mean
            return d.sample() if draws is None else d.mean + d.stddev * draws[:, block]

        if self.steer_actor is not None:
            w = self.noise(sample(self.steer_actor.dist(self.steer_input(cond, latent)), 0))
        else:
            w = self.initial_noise(cond.shape[0]) if draws is None else draws[:, 0]
        x = self.base_chunk(cond, w)
        if self.residual_actor is not None:
            x = self.add_residual(
                x, sample(self.residual_actor.dist(torch.cat([cond, x], dim=-1)), 1))
        return x

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Action chunks (B, act_steps, act_dim) in [-1, 1] for observations (B, obs_dim)."""
        cond = self.normalize_obs(obs)
        return self.chunk_to_actions(self.chunk(cond, None, deterministic))

    @torch.no_grad()
    def act_episodes(self, obs: np.ndarray, episodes: np.ndarray, decisions: np.ndarray,
                     deterministic: bool = True) -> np.ndarray:
        """As :meth:`act`, every draw from the row's episode stream (evaluation)."""
        cond = self.normalize_obs(obs)
        return self.chunk_to_actions(self.chunk(
            cond, self.episode_latent(episodes), deterministic,
            self.episode_draws(episodes, decisions, 2)))

    def episode_latent(self, episodes: np.ndarray) -> torch.Tensor | None:
        """The steering actor's latent input of each episode, (B, K); None without z."""
        return None

    # ------------------------------------------------------------------ persistence
    def extra_json(self) -> dict[str, Any]:
        """Actor shapes and the map's constants."""
        return {"steer": self.steer_actor is not None,
                "residual": self.residual_actor is not None,
                "hidden_dims": list(self.hidden_dims), "noise_bound": self.noise_bound,
                "residual_scale": self.residual_scale,
                "deterministic_eval": self.deterministic_eval, "n_latent": self.n_latent}

    def extra_tensors(self) -> dict[str, torch.Tensor]:
        """The actors' weights (``steer.*``, ``residual.*``)."""
        out = {}
        for prefix, actor in (("steer", self.steer_actor), ("residual", self.residual_actor)):
            if actor is not None:
                out.update({f"{prefix}.{k}": v for k, v in actor.state_dict().items()})
        return out

    def restore_extras(self, extra: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        """Rebuild the actors saved by :meth:`extra_tensors`."""
        self.n_latent = int(extra.get("n_latent", 0))
        self.add_actors(bool(extra["steer"]), bool(extra["residual"]),
                        tuple(extra["hidden_dims"]), 0.0, extra["noise_bound"],
                        extra["residual_scale"], extra["deterministic_eval"])
        for prefix, actor in (("steer", self.steer_actor), ("residual", self.residual_actor)):
            if actor is not None:
                actor.load_state_dict({k[len(prefix) + 1:]: v for k, v in tensors.items()
                                       if k.startswith(prefix + ".")})


class LatentSteeredPolicy(SteeredPolicy):
    """A steered policy whose steering actor reads BMD's latent mode z.

    z is drawn once per episode, keyed on the episode (its reset seed at evaluation), or
    forced with :meth:`set_mode`; ``act`` without episode keys draws z per row.
    """

    kind = "steered-latent"

    def __init__(self, *args: Any, n_latent: int = 8, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.n_latent = int(n_latent)
        self.mode: int | None = None

    @classmethod
    def wrap(cls, base: DiffusionPolicy, n_latent: int = 8) -> LatentSteeredPolicy:  # type: ignore[override]
        """A latent steered policy sharing ``base``'s model and normalisers."""
        out = cls(base.model, base.obs_norm, base.act_norm, base.act_steps, base.device,
                  n_latent=n_latent)
        out.eta, out.min_sampling_std = base.eta, base.min_sampling_std
        return out

    @property
    def n_modes(self) -> int:
        """K, the number of latent modes (``--mode 0..K-1``)."""
        return self.n_latent

    def set_mode(self, mode: int | None) -> None:
        """Act in latent mode ``mode`` (0 <= mode < K); None draws z per episode again."""
        if mode is not None and not 0 <= int(mode) < self.n_latent:
            raise ValueError(f"mode must be in [0, {self.n_latent - 1}] or None, got {mode}")
        self.mode = None if mode is None else int(mode)

    def episode_codes(self, episodes: np.ndarray) -> torch.Tensor:
        """z of each episode key (B,): the forced mode, or a uniform draw seeded by the key."""
        if self.mode is not None:
            z = np.full(len(episodes), self.mode)
        else:
            z = np.array([np.random.default_rng(int(e)).integers(self.n_latent)
                          for e in episodes])
        return torch.as_tensor(z, dtype=torch.long, device=self.device)

    def episode_latent(self, episodes: np.ndarray) -> torch.Tensor:
        """One-hot z of each episode, (B, K): one z per episode (:meth:`episode_codes`)."""
        from baselines.steer.latent import one_hot

        return one_hot(self.episode_codes(np.asarray(episodes)), self.n_latent)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Action chunks; z is the forced mode or drawn per row from torch's generator."""
        from baselines.steer.latent import one_hot

        cond = self.normalize_obs(obs)
        if self.mode is not None:
            z = torch.full((cond.shape[0],), self.mode, dtype=torch.long)
        else:
            z = torch.randint(self.n_latent, (cond.shape[0],))
        latent = one_hot(z.to(self.device), self.n_latent)
        return self.chunk_to_actions(self.chunk(cond, latent, deterministic))

    def restore_extras(self, extra: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        """As the base class; the mode starts unforced."""
        super().restore_extras(extra, tensors)
        self.mode = None
