"""Fine-tuners on a frozen diffusion base and the BMD regulariser composed with them.

* ``dsrl`` — DSRL (Wagenmaker et al. 2025): a Gaussian actor over the chunk's initial noise,
  bounded to ±``noise_bound``, with the base's chain run deterministically. Trained with PPO,
  as the BMD paper trains its steering policy (DSRL itself uses SAC; see the README).
* ``res`` — a residual policy on the frozen base (Policy Decorator, Yuan et al. 2024): a
  bounded Gaussian correction of the base's chunk, with controlled exploration.
* ``bmd`` (version 2) — DSRL[BMD] (Longhini et al., ICML 2026): the steering actor reads a
  latent z drawn once per episode; q_φ(z | s) and the reward λ (log q_φ(z|s') − log p(z));
  two stages and a short-to-long horizon curriculum. ``--mode k`` forces z.
* ``res-bmd`` — RES[BMD]: steering with z and a residual, trained together.
* ``dppo-bmd`` — DPPO[BMD]: DPPO on the denoiser's last steps plus z-conditioned steering
  (:mod:`baselines.steer.dppo_bmd`).

The adapters import no torch; the algorithms live in :mod:`baselines.steer.trainer`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from baselines.common.config import DiffusionConfig
from baselines.common.method import DiffusionMethodBase
from baselines.dppo import DPPOMethod
from baselines.steer.config import BMDConfig, SteerConfig
from benchmark.errors import AdapterError

if TYPE_CHECKING:  # pragma: no cover
    from baselines.steer.policy import SteeredPolicy
    from benchmark.adapter import RunContext


@dataclass(frozen=True)
class SteerMethodConfig:
    """What ``bench`` logs and hashes: backbone, fine-tuner and (for [BMD]) regulariser."""

    diffusion: DiffusionConfig
    finetune: SteerConfig
    bmd: BMDConfig | None


class SteerMethodBase(DiffusionMethodBase):
    """Shared adapter of the steering / residual fine-tuners (with or without BMD).

    Args:
        diffusion: Backbone config.
        finetune: Fine-tuner config (default: the class's).
        bmd: Regulariser config (default: the class's; None for plain DSRL / RES).
    """

    default_finetune = SteerConfig()
    default_bmd: BMDConfig | None = None

    def __init__(self, diffusion: DiffusionConfig | None = None,
                 finetune: SteerConfig | None = None, bmd: BMDConfig | None = None) -> None:
        super().__init__(diffusion)
        self.finetune_config = finetune or self.default_finetune
        self.bmd_config = bmd if bmd is not None else self.default_bmd

    def config(self) -> SteerMethodConfig:
        """Backbone, fine-tuner and regulariser configs."""
        return SteerMethodConfig(self.diffusion, self.finetune_config, self.bmd_config)

    def option_configs(self) -> dict[str, Any]:
        """``finetune``, ``bmd`` (for [BMD] methods) and the backbone."""
        out: dict[str, Any] = {"finetune": self.finetune_config}
        if self.bmd_config is not None:
            out["bmd"] = self.bmd_config
        return {**out, **super().option_configs()}

    def set_option_configs(self, configs: dict[str, Any]) -> None:
        """Install the configured configs."""
        super().set_option_configs(configs)
        self.finetune_config = configs["finetune"]
        self.bmd_config = configs.get("bmd", self.bmd_config)

    def selectable_modes(self) -> int | None:
        """K latent modes for [BMD] methods, else None."""
        return None if self.bmd_config is None else self.bmd_config.n_latent

    def finetune(self, policy: Any, ctx: RunContext) -> SteeredPolicy:
        """Add the actors to the frozen base and train them within ``ctx.budget``."""
        from baselines.common.policy import DiffusionPolicy
        from baselines.dppo import checkpoint_iterations
        from baselines.steer.policy import LatentSteeredPolicy, SteeredPolicy
        from baselines.steer.trainer import SteerTrainer
        from benchmark.seeding import train_seed

        if not isinstance(policy, DiffusionPolicy):
            raise AdapterError(f"{self.name} fine-tunes modebench diffusion policies, got "
                               f"{type(policy).__name__}")
        cfg, bmd, budget = self.finetune_config, self.bmd_config, ctx.budget
        steered = (LatentSteeredPolicy.wrap(policy, bmd.n_latent) if bmd is not None
                   else SteeredPolicy.wrap(policy))
        steered.add_actors(cfg.steer, cfg.residual, cfg.hidden_dims, cfg.init_log_std,
                           cfg.noise_bound, cfg.residual_scale, cfg.deterministic_eval)
        decisions = math.ceil(ctx.spec.max_episode_steps / ctx.spec.chunk.act_steps)
        trainer = SteerTrainer(steered, cfg, bmd, budget.n_envs, decisions, ctx.device,
                               ctx.seed)
        venv = ctx.make_vector_env(budget.n_envs, ctx.seed)
        try:
            obs, _ = venv.reset(seed=[train_seed(ctx.seed, i) for i in range(budget.n_envs)])
            trainer.train(venv, obs, budget.finetune_iterations, budget.finetune_steps_per_iter,
                          ctx.progress, checkpoint_iterations(ctx, budget.finetune_iterations),
                          ctx.log_iteration)
        finally:
            venv.close()
        self.last_trainer = trainer
        return steered


class DSRLMethod(SteerMethodBase):
    """DSRL: PPO over the frozen diffusion policy's bounded initial noise."""

    name = "dsrl"
    # 3: evaluation draws per episode (EpisodeStreams); 2: stability at 0 % under its sampler
    version = "3"
    description = "DSRL: steer a frozen diffusion policy's initial noise (PPO, bounded noise)"
    default_finetune = SteerConfig(steer=True, residual=False)


class RESMethod(SteerMethodBase):
    """A bounded residual policy on the frozen base (Policy Decorator)."""

    name = "res"
    # 3: evaluation draws per episode (EpisodeStreams); 2: stability at 0 % under its sampler
    version = "3"
    description = "Residual policy on a frozen diffusion policy (Policy Decorator, PPO)"
    default_finetune = SteerConfig(steer=False, residual=True)


class BMDMethod(SteerMethodBase):
    """BMD = DSRL[BMD]: latent-conditioned noise steering with the MI reward."""

    name = "bmd"
    # 4: evaluation draws per episode (EpisodeStreams); 3: stability at 0 % under its sampler
    version = "4"
    description = ("Behavioral Mode Discovery, DSRL[BMD]: z-conditioned noise steering, "
                   "q(z|s) MI reward, two stages, horizon curriculum (ICML 2026)")
    default_finetune = SteerConfig(steer=True, residual=False)
    default_bmd = BMDConfig()


class RESBMDMethod(SteerMethodBase):
    """RES[BMD]: z-conditioned steering and a residual, trained together."""

    name = "res-bmd"
    # 3: evaluation draws per episode (EpisodeStreams); 2: stability at 0 % under its sampler
    version = "3"
    description = "RES[BMD]: residual policy + z-conditioned noise steering with the MI reward"
    default_finetune = SteerConfig(steer=True, residual=True)
    default_bmd = BMDConfig()


@dataclass(frozen=True)
class DPPOBMDMethodConfig:
    """dppo-bmd's configs: backbone, DPPO, the steering actor and the regulariser."""

    diffusion: DiffusionConfig
    finetune: Any
    steer: SteerConfig
    bmd: BMDConfig


class DPPOBMDMethod(DPPOMethod):
    """DPPO[BMD]: DPPO fine-tuning with BMD's z-conditioned steering and MI reward."""

    name = "dppo-bmd"
    # 3: evaluation draws per episode (EpisodeStreams); 2: stability at 0 % under its sampler
    version = "3"
    # the steering actor's initial noise selects the chunk only on an eta = 0 chain
    ancestral_evaluation = False
    description = "DPPO[BMD]: DPPO on the last denoising steps + z-conditioned noise steering"

    def __init__(self, diffusion: DiffusionConfig | None = None, finetune: Any | None = None,
                 steer: SteerConfig | None = None, bmd: BMDConfig | None = None) -> None:
        super().__init__(diffusion, finetune)
        self.steer_config = steer or SteerConfig(steer=True, residual=False)
        self.bmd_config = bmd or BMDConfig()

    def config(self) -> DPPOBMDMethodConfig:
        """All four configs."""
        return DPPOBMDMethodConfig(self.diffusion, self.finetune_config, self.steer_config,
                                   self.bmd_config)

    def option_configs(self) -> dict[str, Any]:
        """``finetune`` (DPPO), ``steer``, ``bmd`` and the backbone."""
        base = super().option_configs()
        return {"finetune": base.pop("finetune"), "steer": self.steer_config,
                "bmd": self.bmd_config, **base}

    def set_option_configs(self, configs: dict[str, Any]) -> None:
        """Install the configured configs."""
        super().set_option_configs(configs)
        self.steer_config, self.bmd_config = configs["steer"], configs["bmd"]

    def selectable_modes(self) -> int | None:
        """K latent modes."""
        return self.bmd_config.n_latent

    def prepare_policy(self, policy: Any, cfg: Any, ctx: RunContext) -> Any:
        """Wrap the pretrained policy with a z-conditioned steering actor."""
        from baselines.steer.policy import LatentSteeredPolicy

        steered = LatentSteeredPolicy.wrap(policy, self.bmd_config.n_latent)
        s = self.steer_config
        steered.add_actors(True, False, s.hidden_dims, s.init_log_std, s.noise_bound,
                           s.residual_scale, s.deterministic_eval)
        return steered

    def make_trainer(self, policy: Any, cfg: Any, ctx: RunContext) -> Any:
        """The composed trainer."""
        from baselines.steer.dppo_bmd import DPPOBMDTrainer

        decisions = math.ceil(ctx.spec.max_episode_steps / ctx.spec.chunk.act_steps)
        return DPPOBMDTrainer(policy, cfg, self.steer_config, self.bmd_config,
                              ctx.budget.n_envs, decisions, ctx.device, ctx.seed)


__all__ = ["BMDMethod", "DPPOBMDMethod", "DSRLMethod", "RESBMDMethod", "RESMethod",
           "SteerMethodBase", "SteerMethodConfig"]
