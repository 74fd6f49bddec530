"""``dppo``: Diffusion Policy Policy Optimization (Ren et al. 2024) on the shared backbone.

The adapter imports no torch; the algorithm lives in :mod:`baselines.dppo.ppo`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from baselines.common.config import DiffusionConfig
from baselines.common.method import DiffusionMethodBase
from baselines.dppo.config import DPPOConfig
from benchmark.errors import AdapterError

if TYPE_CHECKING:  # pragma: no cover
    from baselines.common.policy import DiffusionPolicy
    from baselines.dppo.ppo import DPPOTrainer
    from benchmark.adapter import RunContext


@dataclass(frozen=True)
class DPPOMethodConfig:
    """What ``bench`` logs and hashes for ``dppo``: backbone + fine-tuning configs."""

    diffusion: DiffusionConfig
    finetune: DPPOConfig


def checkpoint_iterations(ctx: RunContext, iterations: int) -> dict[int, Any]:
    """``{iteration: fn}`` for the runner's checkpoint fractions (strictly inside training)."""
    if ctx.checkpoint is None:
        return {}
    hook = ctx.checkpoint
    out = {}
    for fraction in ctx.checkpoint_fractions:
        itr = round(fraction * iterations)
        if 0 < itr < iterations:
            out[itr] = lambda policy, f=fraction: hook(f, policy)
    return out


class DPPOMethod(DiffusionMethodBase):
    """DPPO fine-tuning of the pretrained diffusion policy (the last K' steps of its chain).

    After :meth:`finetune`, ``last_trainer`` holds the trainer (per-iteration ``history``,
    ``timing`` split and ``env_steps``) for diagnostics and benchmarks.

    Args:
        diffusion: Backbone config.
        finetune: DPPO config (``-o`` options override its fields through
            :meth:`configure`).
    """

    name = "dppo"
    # 3: a DDPM-chain policy is evaluated ancestrally, as DPPO does (2: DDIM with eta = 0)
    # 4: evaluation draws per episode, not per batch (EpisodeStreams)
    version = "4"
    description = ("DPPO: PPO on the last 10 of 20 DDPM steps, DPPO's per-family configs "
                   "(Ren et al. 2024)")
    config_class: type = DPPOConfig
    ancestral_evaluation = True
    """Evaluate a policy fine-tuned on the DDPM chain ancestrally (DPPO's
    ``diffusion_vpg.py``); subclasses whose initial noise must select the chunk (BMD's
    steering) set False and evaluate with eta = 0."""

    def __init__(self, diffusion: DiffusionConfig | None = None,
                 finetune: Any | None = None) -> None:
        super().__init__(diffusion)
        self.finetune_config = finetune or self.config_class()

    def config(self) -> DPPOMethodConfig:
        """Backbone and fine-tuning configs."""
        return DPPOMethodConfig(self.diffusion, self.finetune_config)

    def option_configs(self) -> dict[str, Any]:
        """``finetune`` (this method's config) first, then the backbone."""
        return {"finetune": self.finetune_config, **super().option_configs()}

    def set_option_configs(self, configs: dict[str, Any]) -> None:
        """Install both configs."""
        super().set_option_configs(configs)
        self.finetune_config = configs["finetune"]

    def make_trainer(self, policy: DiffusionPolicy, cfg: Any, ctx: RunContext) -> DPPOTrainer:
        """The trainer class of this method (subclasses return theirs)."""
        from baselines.dppo.ppo import DPPOTrainer

        return DPPOTrainer(policy, cfg, ctx.device, ctx.seed)

    def finetune(self, policy: Any, ctx: RunContext) -> DiffusionPolicy:
        """Fine-tune within ``ctx.budget``: ``finetune_iterations`` x ``n_envs`` x
        ``finetune_steps_per_iter`` decisions; the returned policy is evaluated as
        :meth:`set_evaluation_sampler` says."""
        from baselines.common.policy import DiffusionPolicy

        if not isinstance(policy, DiffusionPolicy):
            raise AdapterError(f"{self.name} fine-tunes modebench diffusion policies, got "
                               f"{type(policy).__name__}")
        cfg = self.finetune_config
        budget = ctx.budget
        policy = self.prepare_policy(policy, cfg, ctx)
        trainer = self.make_trainer(policy, cfg, ctx)
        self.set_evaluation_sampler(policy, cfg)  # before training: checkpoints evaluate too
        venv = ctx.make_vector_env(budget.n_envs, ctx.seed)
        try:
            from benchmark.seeding import train_seed

            obs, _ = venv.reset(seed=[train_seed(ctx.seed, i) for i in range(budget.n_envs)])
            trainer.train(venv, obs, budget.finetune_iterations,
                          budget.finetune_steps_per_iter, ctx.progress,
                          checkpoint_iterations(ctx, budget.finetune_iterations),
                          ctx.log_iteration)
        finally:
            venv.close()
        self.last_trainer = trainer
        return trainer.policy

    @classmethod
    def set_evaluation_sampler(cls, policy: DiffusionPolicy, cfg: DPPOConfig) -> None:
        """How the fine-tuned ``policy`` samples at evaluation: ancestrally through its DDPM
        chain (``actor`` on the early steps, ``actor_ft`` on the last K'), as DPPO evaluates
        its DDPM-chain policies (``diffusion_vpg.py``: ``deterministic=True`` keeps the
        posterior noise, floored at 1e-3, and drops it at t = 0); with eta = 0 on a DDIM
        chain (DPPO's DDIM configs) or where :attr:`ancestral_evaluation` is off."""
        ancestral = cls.ancestral_evaluation and cfg.chain == "ddpm"
        policy.finetuned_sampler = "ddpm" if ancestral else "ddim"

    def reference_policy(self, pretrained: DiffusionPolicy, ctx: RunContext) -> DiffusionPolicy:
        """The pretrained policy sampling as the fine-tuned policy is evaluated: ancestral
        DDPM (``bc``'s sampler exactly) for an ancestrally evaluated DDPM chain, else the
        chain DPPO fine-tunes (all T steps for ``"ddpm"``) with eta = 0."""
        import dataclasses

        if self.ancestral_evaluation and self.finetune_config.chain == "ddpm":
            pretrained.model.cfg = dataclasses.replace(pretrained.model.cfg,
                                                       pretrained_sampler="ddpm")
            return pretrained
        ref = super().reference_policy(pretrained, ctx)
        if self.finetune_config.chain == "ddpm":
            ref.model.set_ddim_steps(ref.model.cfg.denoising_steps)
        return ref

    def for_task(self, spec: Any) -> DPPOMethod:
        """A copy whose backbone takes the family's defaults (the base class) and whose
        fine-tuning config takes DPPO's values for the task's family
        (:data:`baselines.dppo.config.FAMILY_DEFAULTS`; the class defaults elsewhere)."""
        import dataclasses

        from baselines.dppo.config import FAMILY_DEFAULTS

        out = super().for_task(spec)
        out.finetune_config = dataclasses.replace(self.finetune_config,
                                                  **FAMILY_DEFAULTS.get(spec.name, {}))
        return out

    def prepare_policy(self, policy: DiffusionPolicy, cfg: Any,
                       ctx: RunContext) -> DiffusionPolicy:
        """Hook before training (BMD discovers modes and wraps the policy here)."""
        return policy


__all__ = ["DPPOMethod", "DPPOMethodConfig"]
