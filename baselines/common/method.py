"""The adapter base class the built-in diffusion methods share (no torch at import time).

All built-in methods pretrain the *same* diffusion policy: :meth:`pretrain_key` depends only
on the backbone config, and the pretrained stage is saved in one format
(:mod:`baselines.common.policy`), so the runner trains it once per (task, dataset, seed, tier)
and any of ``bc``, ``dppo``, ``entropy-rl`` and ``bmd`` loads it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baselines.common.config import DiffusionConfig
from benchmark.errors import BenchError
from benchmark.options import apply_options
from benchmark.spec import config_hash

if TYPE_CHECKING:  # pragma: no cover
    from baselines.common.policy import DiffusionPolicy
    from benchmark.adapter import RunContext
    from benchmark.datasets import DemoDataset


class DiffusionMethodBase:
    """Shared pretraining, saving and loading of the built-in diffusion methods.

    Args:
        diffusion: Backbone config (defaults: :class:`DiffusionConfig`).
    """

    name = ""
    version = ""
    description = ""
    fine_tunes = True
    """False for a method whose ``finetune`` returns the pretrained policy unchanged (``bc``):
    the runner then reuses the reference episodes instead of evaluating twice."""

    def __init__(self, diffusion: DiffusionConfig | None = None) -> None:
        self.diffusion = diffusion or DiffusionConfig()
        self.applied_options: dict[str, Any] = {}

    def config(self) -> Any:
        """The method's frozen config (subclasses add their fine-tuning config)."""
        return self.diffusion

    def for_task(self, spec: Any) -> DiffusionMethodBase:
        """A copy whose backbone takes the task family's defaults
        (:data:`baselines.common.config.BACKBONE_FAMILY_DEFAULTS`; the class defaults
        elsewhere)."""
        import dataclasses

        from baselines.common.config import BACKBONE_FAMILY_DEFAULTS

        out = copy.copy(self)
        out.diffusion = dataclasses.replace(self.diffusion,
                                            **BACKBONE_FAMILY_DEFAULTS.get(spec.name, {}))
        return out

    def option_configs(self) -> dict[str, Any]:
        """The configs ``-o`` can set, by prefix (bare keys resolve to the one that has them).

        ``diffusion.<field>`` sets the backbone (a different backbone is a different
        pretrained checkpoint); subclasses add ``finetune``.
        """
        return {"diffusion": self.diffusion}

    def set_option_configs(self, configs: dict[str, Any]) -> None:
        """Install configs returned by :func:`benchmark.options.apply_options`."""
        self.diffusion = configs["diffusion"]

    def configure(self, options: dict[str, Any]) -> DiffusionMethodBase:
        """A copy of this method with ``-o`` options applied and validated.

        Raises:
            benchmark.errors.UsageError: Unknown, ambiguous, ill-typed, out-of-range or
                default-valued options.
        """
        configs, applied = apply_options(self.option_configs(), options)
        out = copy.copy(self)
        out.set_option_configs(configs)
        out.applied_options = applied
        return out

    def reference_policy(self, pretrained: DiffusionPolicy, ctx: RunContext) -> DiffusionPolicy:
        """The pretrained policy sampling as this method's fine-tuned policy is evaluated.

        Success gained and modes retained by fine-tuning are measured against it, so that
        they are the algorithm's and not the sampler's (``bc``'s 20-step ancestral DDPM is
        not what a fine-tuned policy samples with, except for ``dppo`` and ``entropy-rl``,
        which are evaluated ancestrally as DPPO is). Here: the backbone's DDIM chain with
        eta = 0 from random initial noise.
        """
        import dataclasses

        pretrained.model.cfg = dataclasses.replace(pretrained.model.cfg,
                                                   pretrained_sampler="ddim")
        return pretrained

    def selectable_modes(self) -> int | None:
        """How many latent modes ``--mode`` may force (None: the method has none)."""
        return None

    def pretrain_key(self, ctx: RunContext) -> str:
        """``diffusion-v2-<hash of the backbone's training fields>``: equal for every built-in
        diffusion method; sampling fields (:data:`SAMPLING_FIELDS`) are left out, so a
        sampler ablation reuses the checkpoint."""
        import dataclasses

        from baselines.common.config import SAMPLING_FIELDS

        defaults = DiffusionConfig()
        training = dataclasses.replace(
            self.diffusion, **{f: getattr(defaults, f) for f in SAMPLING_FIELDS})
        return f"diffusion-v2-{config_hash(training)}"

    def pretrain(self, dataset: DemoDataset, ctx: RunContext) -> DiffusionPolicy:
        """Train the diffusion policy on ``dataset`` within ``ctx.budget``."""
        from baselines.common.pretrain import pretrain_policy

        spec, budget = ctx.spec, ctx.budget
        if len(dataset) == 0:
            raise BenchError("pretraining needs at least one demonstration")
        return pretrain_policy(
            dataset.observations, dataset.actions, horizon=spec.chunk.horizon,
            act_steps=spec.chunk.act_steps, cfg=self.diffusion, steps=budget.pretrain_steps,
            batch_size=budget.batch_size, seed=ctx.seed, device=ctx.device,
            progress=ctx.progress)

    def save(self, policy: DiffusionPolicy, directory: Path) -> None:
        """Write ``policy`` (safetensors + JSON)."""
        policy.save(Path(directory))

    def load(self, directory: Path, ctx: RunContext) -> DiffusionPolicy:
        """Read a policy saved by any built-in method (pretrained or this method's own)."""
        from baselines.common.policy import DiffusionPolicy, read_kind

        kind = read_kind(Path(directory))
        if kind == "steered":
            from baselines.steer.policy import SteeredPolicy

            return SteeredPolicy.load(Path(directory), ctx.device)
        if kind == "steered-latent":
            from baselines.steer.policy import LatentSteeredPolicy

            return LatentSteeredPolicy.load(Path(directory), ctx.device)
        policy = DiffusionPolicy.load(Path(directory), ctx.device)
        if policy.model.actor_ft is None:  # a pretrained checkpoint: sample as configured
            policy.model.set_sampling(self.diffusion)
        return policy
