"""The diffusion policy: normalisers + DDIM sampler, and its on-disk format.

On-disk format (one folder, no pickles)::

    policy.json          format/version, kind, shapes, backbone config, normalisers, extras
    weights.safetensors  the denoiser (``actor.*``), the fine-tuned copy (``actor_ft.*``) when
                         present, and any extra tensors of a subclass (``extra.*``)

Every method writes its *pretrained* stage in this format with kind ``"diffusion"``, so a
checkpoint pretrained by one built-in method is loaded by any other.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from baselines.common.config import DiffusionConfig
from baselines.common.diffusion import Diffusion
from baselines.common.episode_noise import EpisodeStreams
from baselines.common.normalizer import MinMaxNormalizer
from benchmark.errors import AdapterError

FORMAT = "modebench-diffusion-policy"
FORMAT_VERSION = 1


class DiffusionPolicy:
    """A (possibly fine-tuned) diffusion policy over action chunks.

    ``act`` normalises observations, denoises Gaussian initial noise, un-normalises, and
    returns the first ``act_steps`` actions of each chunk. At evaluation a policy that is not
    fine-tuned samples as its config's ``pretrained_sampler`` says (DDPM ancestral by
    default); a fine-tuned one as its ``finetuned_sampler`` says: its DDIM chain with eta = 0
    (``"ddim"``, the default), or ancestrally through its DDPM chain (``"ddpm"``: DPPO's
    evaluation of its DDPM-chain policies).

    Args:
        model: The diffusion model (denoiser(s) + schedule).
        obs_norm: Observation normaliser.
        act_norm: Action normaliser.
        act_steps: Actions executed per decision.
        device: Torch device.
    """

    kind = "diffusion"

    def __init__(self, model: Diffusion, obs_norm: MinMaxNormalizer, act_norm: MinMaxNormalizer,
                 act_steps: int, device: str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.obs_norm = obs_norm
        self.act_norm = act_norm
        self.act_steps = int(act_steps)
        self.device = device
        self.eta = 1.0  # DDIM eta of non-deterministic sampling
        self.min_sampling_std = 0.1
        # how a fine-tuned policy samples at evaluation ("ddim": eta = 0; "ddpm": ancestral
        # through the DDPM chain, the fine-tuned copy on the last K' steps)
        self.finetuned_sampler = "ddim"
        self.streams = EpisodeStreams()  # act_episodes' per-episode draws

    # ------------------------------------------------------------------ shapes
    @property
    def obs_dim(self) -> int:
        """Observation size."""
        return self.model.obs_dim

    @property
    def act_dim(self) -> int:
        """Action size."""
        return self.model.act_dim

    @property
    def horizon(self) -> int:
        """Chunk length H."""
        return self.model.horizon

    # ------------------------------------------------------------------ acting
    def normalize_obs(self, obs: np.ndarray) -> torch.Tensor:
        """Raw observations (B, obs_dim) -> normalised tensor (B, obs_dim) on the device."""
        obs = np.asarray(obs, dtype=np.float32)
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"act expects observations of shape (B, {self.obs_dim}), "
                             f"got {obs.shape}")
        return torch.as_tensor(self.obs_norm.normalize(obs), device=self.device)

    def initial_noise(self, batch: int) -> torch.Tensor:
        """Initial DDIM noise (B, H * A) from torch's global generator (seeded by the runner)."""
        return torch.randn(batch, self.model.flat_dim).to(self.device)

    def chunk_to_actions(self, x: torch.Tensor) -> np.ndarray:
        """Normalised chunks (B, H * A) -> executed raw actions (B, act_steps, A) in [-1, 1]."""
        chunks = x.detach().cpu().numpy().reshape(-1, self.horizon, self.act_dim)
        actions = self.act_norm.unnormalize(chunks[:, : self.act_steps])
        return np.clip(actions, -1.0, 1.0).astype(np.float32)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Predict action chunks.

        Args:
            obs: Observations, (B, obs_dim) float32.
            deterministic: Evaluation sampling: the pretrained sampler or, once
                fine-tuned, the ``finetuned_sampler`` (see the class docstring; with DDIM's
                eta = 0 the initial noise is still random, so the policy stays multimodal).
                False: the stochastic
                (eta = 1, std-floored) DDIM chain that fine-tuning explores with.

        Returns:
            Actions (B, act_steps, act_dim) in [-1, 1].
        """
        cond = self.normalize_obs(obs)
        return self.act_from_noise(cond, self.initial_noise(cond.shape[0]), deterministic)

    def episode_draws(self, episodes: np.ndarray, decisions: np.ndarray,
                      blocks: int) -> torch.Tensor:
        """This decision's Gaussian draws of each row's episode (:class:`EpisodeStreams`).

        Args:
            episodes: Episode keys, (B,).
            decisions: Decision indices within the episodes, (B,).
            blocks: Draws per row, in units of a chunk (H * A).

        Returns:
            Draws (B, blocks, H * A) on the policy's device.
        """
        flat = self.model.flat_dim
        draws = self.streams.normal(episodes, decisions, blocks * flat)
        return draws.view(len(draws), blocks, flat).to(self.device)

    @torch.no_grad()
    def act_episodes(self, obs: np.ndarray, episodes: np.ndarray, decisions: np.ndarray,
                     deterministic: bool = True) -> np.ndarray:
        """As :meth:`act`, every draw from the row's episode stream (evaluation).

        The initial noise and, for a stochastic chain, every step's draw of decision d of
        episode e come from e's stream, so an episode's actions do not depend on the other
        rows of the batch (see :class:`benchmark.adapter.EpisodicPolicy`).

        Args:
            obs: Observations, (B, obs_dim) float32.
            episodes: Episode keys, (B,).
            decisions: Decision indices within the episodes, (B,).
            deterministic: As in :meth:`act`.

        Returns:
            Actions (B, act_steps, act_dim) in [-1, 1].
        """
        cond = self.normalize_obs(obs)
        cfg = self.model.cfg
        if deterministic and self.uses_ancestral_sampling:
            steps = cfg.denoising_steps - 1  # the last step (t = 0) draws nothing
        else:
            steps = 0 if deterministic else cfg.ddim_steps
        draws = self.episode_draws(episodes, decisions, 1 + steps)
        return self.act_from_noise(cond, draws[:, 0], deterministic,
                                   step_noise=draws[:, 1:] if steps else None)

    @torch.no_grad()
    def act_from_noise(self, cond: torch.Tensor, x0: torch.Tensor,
                       deterministic: bool = True,
                       step_noise: torch.Tensor | None = None) -> np.ndarray:
        """Denoise given initial noise (the sampler of :meth:`act`).

        Args:
            cond: Normalised observations, (B, obs_dim).
            x0: Initial noise, (B, H * A).
            deterministic: As in :meth:`act`.
            step_noise: The stochastic steps' draws, (B, steps, H * A) (the ancestral
                sampler's T - 1 or the stochastic DDIM chain's ``ddim_steps``); default:
                torch's global generator.

        Returns:
            Actions (B, act_steps, act_dim) in [-1, 1].
        """
        if deterministic and self.uses_ancestral_sampling:
            return self.chunk_to_actions(self.model.sample_ancestral(cond, x0,
                                                                     step_noise=step_noise))
        x, _ = self.model.sample(cond, x0, deterministic=deterministic, eta=self.eta,
                                 min_sampling_std=self.min_sampling_std, step_noise=step_noise)
        return self.chunk_to_actions(x)

    @property
    def uses_ancestral_sampling(self) -> bool:
        """Whether evaluation samples with DDPM over all steps: a pretrained policy whose
        ``pretrained_sampler`` is ``"ddpm"``, or a fine-tuned one whose ``finetuned_sampler``
        is."""
        if self.model.actor_ft is None:
            return self.model.cfg.pretrained_sampler == "ddpm"
        return self.finetuned_sampler == "ddpm"

    # ------------------------------------------------------------------ fine-tuning helpers
    def enable_finetuning(self, ft_denoising_steps: int) -> None:
        """Add a trainable copy ``actor_ft`` of the denoiser used on the last K' DDIM steps.

        The base ``actor`` is frozen (DPPO: ``actor`` kept for the early steps and as the
        reference, ``actor_ft`` initialised from it).
        """
        k = int(ft_denoising_steps)
        if not 1 <= k <= self.model.cfg.ddim_steps:
            raise ValueError(f"ft_denoising_steps must be in [1, {self.model.cfg.ddim_steps}]")
        if self.model.actor_ft is None:
            self.model.actor_ft = copy.deepcopy(self.model.actor)
        for p in self.model.actor_ft.parameters():  # trainable even if the base was frozen first
            p.requires_grad_(True)
        self.model.ft_denoising_steps = k
        for p in self.model.actor.parameters():
            p.requires_grad_(False)

    # ------------------------------------------------------------------ persistence
    def extra_json(self) -> dict[str, Any]:
        """Subclass hook: JSON-able extras saved in ``policy.json``."""
        return {}

    def extra_tensors(self) -> dict[str, torch.Tensor]:
        """Subclass hook: tensors saved as ``extra.<name>``."""
        return {}

    def save(self, directory: Path) -> None:
        """Write the policy into ``directory`` (see the module docstring)."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {f"actor.{k}": v.detach().cpu().contiguous()
                   for k, v in self.model.actor.state_dict().items()}
        if self.model.actor_ft is not None:
            tensors.update({f"actor_ft.{k}": v.detach().cpu().contiguous()
                            for k, v in self.model.actor_ft.state_dict().items()})
        tensors.update({f"extra.{k}": v.detach().cpu().contiguous()
                        for k, v in self.extra_tensors().items()})
        save_file(tensors, str(directory / "weights.safetensors"))
        meta = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "kind": self.kind,
            "obs_dim": self.obs_dim, "act_dim": self.act_dim, "horizon": self.horizon,
            "act_steps": self.act_steps,
            "diffusion_config": dataclasses.asdict(self.model.cfg),
            "obs_norm": self.obs_norm.to_json(), "act_norm": self.act_norm.to_json(),
            "ft_denoising_steps": self.model.ft_denoising_steps,
            "eta": self.eta, "min_sampling_std": self.min_sampling_std,
            "finetuned_sampler": self.finetuned_sampler,
            "extra": self.extra_json(),
        }
        (directory / "policy.json").write_text(json.dumps(meta, indent=1, sort_keys=True))

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> DiffusionPolicy:
        """Read a policy written by :meth:`save` (any kind; subclasses restore extras).

        Raises:
            AdapterError: The folder holds no modebench diffusion policy or one of another
                format version.
        """
        from safetensors.torch import load_file

        directory = Path(directory)
        meta_file = directory / "policy.json"
        if not meta_file.exists() or not (directory / "weights.safetensors").exists():
            raise AdapterError(f"{directory} holds no diffusion policy (policy.json and "
                               "weights.safetensors expected)")
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise AdapterError(f"{directory}: unsupported policy format "
                               f"{meta.get('format')} v{meta.get('format_version')}")
        cfg_d = {k: tuple(v) if isinstance(v, list) else v
                 for k, v in meta["diffusion_config"].items()}
        cfg_d.setdefault("pretrained_sampler", "ddim")  # saved before the field existed
        cfg = DiffusionConfig(**cfg_d)
        model = Diffusion(meta["obs_dim"], meta["horizon"], meta["act_dim"], cfg)
        tensors = load_file(str(directory / "weights.safetensors"))
        model.actor.load_state_dict(
            {k[len("actor."):]: v for k, v in tensors.items() if k.startswith("actor.")})
        ft = {k[len("actor_ft."):]: v for k, v in tensors.items() if k.startswith("actor_ft.")}
        if ft:
            model.actor_ft = copy.deepcopy(model.actor)
            model.actor_ft.load_state_dict(ft)
            model.ft_denoising_steps = int(meta["ft_denoising_steps"])
        policy = cls(model, MinMaxNormalizer.from_json(meta["obs_norm"]),
                     MinMaxNormalizer.from_json(meta["act_norm"]), meta["act_steps"], device)
        policy.eta = float(meta.get("eta", 1.0))
        policy.min_sampling_std = float(meta.get("min_sampling_std", 0.1))
        # policies saved before the field existed were evaluated with eta = 0
        policy.finetuned_sampler = str(meta.get("finetuned_sampler", "ddim"))
        extras = {k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}
        policy.restore_extras(meta.get("extra", {}), extras)
        return policy

    def restore_extras(self, extra: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        """Subclass hook: restore what :meth:`extra_json` / :meth:`extra_tensors` saved."""


def read_kind(directory: Path) -> str:
    """The ``kind`` recorded in a saved policy folder (``"diffusion"``, ``"bmd"`` ...)."""
    meta_file = Path(directory) / "policy.json"
    if not meta_file.exists():
        raise AdapterError(f"{directory} holds no diffusion policy (no policy.json)")
    return str(json.loads(meta_file.read_text()).get("kind", ""))
