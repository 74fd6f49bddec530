"""A BC-family policy: normalisers + a generator; saved as safetensors + JSON (no pickles)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from baselines.common.episode_noise import EpisodeStreams
from baselines.common.normalizer import MinMaxNormalizer
from baselines.pretrain import config as configs
from baselines.pretrain.models import MODELS
from benchmark.errors import AdapterError

FORMAT = "modebench-generator-policy"
FORMAT_VERSION = 1
CONFIGS = {"bc-flow": configs.FlowConfig, "bc-cvae": configs.CVAEConfig,
           "bc-mlp": configs.MLPConfig}


class GeneratorPolicy:
    """Acts by ``generator.sample(s, w)``, w ~ N(0, I): at evaluation from each episode's own
    stream (``act_episodes``), otherwise from torch's global generator.

    Args:
        kind: ``"bc-flow"``, ``"bc-cvae"`` or ``"bc-mlp"``.
        model: The generator.
        obs_norm: Observation normaliser.
        act_norm: Action normaliser.
        horizon: Chunk length H.
        act_dim: Action size A.
        act_steps: Actions executed per decision.
        device: Torch device.
    """

    def __init__(self, kind: str, model: torch.nn.Module, obs_norm: MinMaxNormalizer,
                 act_norm: MinMaxNormalizer, horizon: int, act_dim: int, act_steps: int,
                 device: str = "cpu") -> None:
        self.kind, self.model = kind, model.to(device).eval()
        self.obs_norm, self.act_norm = obs_norm, act_norm
        self.horizon, self.act_dim, self.act_steps = int(horizon), int(act_dim), int(act_steps)
        self.device = device
        self.streams = EpisodeStreams()  # act_episodes' per-episode draws

    @torch.no_grad()
    def chunks(self, obs: np.ndarray, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Normalised chunks (B, H * A) for observations (B, obs_dim) (noise drawn if None)."""
        cond = torch.as_tensor(self.obs_norm.normalize(np.asarray(obs, np.float32)),
                               device=self.device)
        if noise is None:
            noise = torch.randn(cond.shape[0], self.model.noise_dim).to(self.device)
        return self.model.sample(cond, noise)

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Action chunks (B, act_steps, act_dim) in [-1, 1] for observations (B, obs_dim)."""
        return self._to_actions(self.chunks(obs))

    def act_episodes(self, obs: np.ndarray, episodes: np.ndarray, decisions: np.ndarray,
                     deterministic: bool = True) -> np.ndarray:
        """As :meth:`act`, w drawn from each row's episode stream (see
        :class:`benchmark.adapter.EpisodicPolicy`): actions (B, act_steps, act_dim)."""
        noise = self.streams.normal(episodes, decisions, self.model.noise_dim)
        return self._to_actions(self.chunks(obs, noise.to(self.device)))

    def _to_actions(self, x: torch.Tensor) -> np.ndarray:
        """Normalised chunks (B, H * A) -> executed actions (B, act_steps, A) in [-1, 1]."""
        chunks = x.cpu().numpy().reshape(-1, self.horizon, self.act_dim)
        actions = self.act_norm.unnormalize(chunks[:, : self.act_steps])
        return np.clip(actions, -1.0, 1.0).astype(np.float32)

    def save(self, directory: Path) -> None:
        """Write ``policy.json`` and ``weights.safetensors``."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()},
                  str(directory / "weights.safetensors"))
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": self.kind,
                "obs_dim": int(self.obs_norm.low.shape[0]), "horizon": self.horizon,
                "act_dim": self.act_dim, "act_steps": self.act_steps,
                "config": dataclasses.asdict(self.model.cfg),
                "obs_norm": self.obs_norm.to_json(), "act_norm": self.act_norm.to_json()}
        (directory / "policy.json").write_text(json.dumps(meta, indent=1, sort_keys=True))

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> GeneratorPolicy:
        """Read a policy written by :meth:`save`.

        Raises:
            AdapterError: Not a generator policy, or another format version.
        """
        from safetensors.torch import load_file

        directory = Path(directory)
        try:
            meta = json.loads((directory / "policy.json").read_text())
        except (OSError, ValueError) as exc:
            raise AdapterError(f"{directory} holds no readable generator policy: {exc}") from None
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise AdapterError(f"{directory}: unsupported policy format {meta.get('format')} "
                               f"v{meta.get('format_version')}")
        kind = meta["kind"]
        cfg = CONFIGS[kind](**{k: tuple(v) if isinstance(v, list) else v
                               for k, v in meta["config"].items()})
        model = MODELS[kind](meta["obs_dim"], meta["horizon"] * meta["act_dim"], cfg)
        model.load_state_dict(load_file(str(directory / "weights.safetensors")))
        return cls(kind, model, MinMaxNormalizer.from_json(meta["obs_norm"]),
                   MinMaxNormalizer.from_json(meta["act_norm"]), meta["horizon"],
                   meta["act_dim"], meta["act_steps"], device)


def train_generator(kind: str, cfg: Any, observations: list[np.ndarray],
                    actions: list[np.ndarray], *, horizon: int, act_steps: int, steps: int,
                    batch_size: int, seed: int, device: str = "cpu",
                    progress: Any = None) -> GeneratorPolicy:
    """Train a BC family's generator on demonstrations with the shared pretraining loop.

    Args:
        kind: The family (a key of :data:`baselines.pretrain.models.MODELS`).
        cfg: Its config.
        observations: Per episode, (T + 1, obs_dim).
        actions: Per episode, (T, act_dim).
        horizon: Chunk length H.
        act_steps: Actions executed per decision.
        steps: Gradient steps (the tier's pretraining budget, as ``bc``).
        batch_size: Minibatch size.
        seed: Training seed.
        device: Torch device.
        progress: Progress reporter.

    Returns:
        The trained policy (EMA weights).
    """
    from baselines.common.pretrain import fit_module, normalized_chunks
    from benchmark.progress import SILENT

    obs_t, x_t, obs_norm, act_norm = normalized_chunks(observations, actions, horizon, device)
    torch.manual_seed(seed)
    model = MODELS[kind](obs_t.shape[1], x_t.shape[1], cfg).to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    fit_module(model, lambda idx: model.loss(x_t[idx], obs_t[idx], generator=gen), len(obs_t),
               cfg, steps=steps, batch_size=batch_size, generator=gen,
               progress=progress or SILENT, label=kind)
    return GeneratorPolicy(kind, model, obs_norm, act_norm, horizon, x_t.shape[1] // horizon,
                           act_steps, device)
