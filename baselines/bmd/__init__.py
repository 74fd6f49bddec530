"""``bmd``: Behavioral Mode Discovery (Longhini et al., ICML 2026, arXiv 2605.11387).

Modes are a discrete latent z in the pretrained diffusion policy's initial-noise space,
discovered without labels (:mod:`baselines.bmd.discovery`); fine-tuning is DPPO
(:mod:`baselines.dppo`) on episodes whose noise comes from z's region, with the
mutual-information reward α (log q_φ(z | s') − log p(z)) of a discriminator trained
alongside (:mod:`baselines.bmd.trainer`). ``set_mode(k)`` fixes z at evaluation
(``bench evaluate --mode k``). Every choice the paper's summary leaves open is a documented
field of :class:`baselines.bmd.config.BMDConfig`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from baselines.bmd.config import BMDConfig
from baselines.dppo import DPPOMethod

if TYPE_CHECKING:  # pragma: no cover
    from baselines.common.policy import DiffusionPolicy
    from baselines.dppo.ppo import DPPOTrainer
    from benchmark.adapter import RunContext


class BMDMethod(DPPOMethod):
    """BMD: unsupervised mode discovery + MI-regularised DPPO fine-tuning."""

    name = "bmd"
    version = "1"
    description = "Behavioral Mode Discovery: latent modes in noise space + MI reward (ICML 2026)"
    config_class = BMDConfig

    def selectable_modes(self) -> int | None:
        """K latent modes (``--mode 0..K-1``)."""
        return self.finetune_config.n_modes

    def prepare_policy(self, policy: DiffusionPolicy, cfg: Any,
                       ctx: RunContext) -> DiffusionPolicy:
        """Discover modes with the pretrained policy and wrap it as a :class:`BMDPolicy`."""
        import torch

        from baselines.bmd.discovery import discover
        from baselines.bmd.policy import BMDPolicy
        from benchmark.seeding import train_seed

        n_envs = ctx.budget.n_envs
        venv = ctx.make_vector_env(n_envs, ctx.seed)
        try:
            # discovery uses its own slice of the seed's training env stream
            obs, _ = venv.reset(seed=[train_seed(ctx.seed, 500_000 + i) for i in range(n_envs)])
            gen = torch.Generator().manual_seed(31 * ctx.seed + 5)
            n_episodes = cfg.discovery_episode_count(ctx.budget, ctx.spec.chunk.act_steps,
                                                     ctx.spec.max_episode_steps)
            found = discover(policy, venv, obs, cfg, gen, ctx.seed, n_episodes)
        finally:
            venv.close()
        self.discovery = found
        bmd = BMDPolicy(policy.model, policy.obs_norm, policy.act_norm, policy.act_steps,
                        ctx.device, found.noises, found.labels, found.p_z, cfg.knn_k,
                        meta=found.stats, sampler=cfg.noise_sampler,
                        noise_per_episode=cfg.eval_noise_per_episode)
        return bmd

    def make_trainer(self, policy: DiffusionPolicy, cfg: Any, ctx: RunContext) -> DPPOTrainer:
        """The BMD trainer (discriminator + per-episode z)."""
        from baselines.bmd.trainer import BMDTrainer

        return BMDTrainer(policy, cfg, self.discovery, ctx.device, ctx.seed)  # type: ignore[arg-type]


__all__ = ["BMDMethod", "BMDConfig"]
