"""``bc``: the pretrained diffusion policy, evaluated without fine-tuning."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from baselines.common.method import DiffusionMethodBase

if TYPE_CHECKING:  # pragma: no cover
    from benchmark.adapter import Policy, RunContext


class BCMethod(DiffusionMethodBase):
    """Behaviour cloning with the shared diffusion backbone (DDPM training; evaluated with
    the backbone's ``pretrained_sampler``, ancestral DDPM by default)."""

    name = "bc"
    version = "2"  # 2: evaluation draws per episode, not per batch (EpisodeStreams)
    description = ("Diffusion policy behaviour cloning (DDPM training, ancestral DDPM "
                   "sampling), no RL")
    fine_tunes = False

    def diagnostics(self, policy: Any, dataset: Any, ctx: RunContext) -> dict[str, float]:
        """Off-support rate and Lipschitz estimate of the DDIM (eta = 0) map from initial noise
        to chunk: the deterministic counterpart of the ancestral sampler ``bc`` evaluates
        with (:mod:`baselines.common.diagnostics`)."""
        from baselines.common.diagnostics import demo_starts, generator_diagnostics

        starts, chunks = demo_starts(dataset, policy.obs_norm, policy.act_norm,
                                     policy.horizon, policy.device)
        return generator_diagnostics(
            lambda cond, w: policy.model.sample(cond, w, deterministic=True)[0],
            policy.model.flat_dim, starts, chunks, seed=ctx.seed)

    def finetune(self, policy: Policy, ctx: RunContext) -> Policy:
        """BC does not fine-tune: returns ``policy`` unchanged."""
        return policy


__all__ = ["BCMethod"]
