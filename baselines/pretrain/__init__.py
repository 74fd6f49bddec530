"""BC families behind the adapter (the second paper: Mazza et al. 2026, "Understanding
Multimodal Failure in Action-Chunking Behavioral Cloning"):

* ``bc-flow`` — conditional flow matching, N Euler/Heun steps from noise to chunk;
* ``bc-cvae`` — a conditional VAE over chunks, KL weight β, Gaussian or learned prior;
* ``bc-mlp`` — unimodal regression of the chunk: the collapse floor.

Each trains on the same demonstrations, chunks and normalisers as ``bc`` with the same
pretraining loop (:func:`baselines.common.pretrain.fit_module`) and budget, and is evaluated
like ``bc``: no fine-tuning. ``-o`` sets its config (e.g. ``-o beta=0.1``, ``-o steps=1``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baselines.pretrain.config import CVAEConfig, FlowConfig, MLPConfig
from benchmark.errors import BenchError
from benchmark.options import apply_options
from benchmark.spec import config_hash

if TYPE_CHECKING:  # pragma: no cover
    from baselines.pretrain.policy import GeneratorPolicy
    from benchmark.adapter import RunContext
    from benchmark.datasets import DemoDataset


class GeneratorMethodBase:
    """The adapter shared by the BC families (``kind`` and ``config_class`` differ)."""

    name = ""
    version = "2"  # 2: evaluation draws per episode, not per batch (EpisodeStreams)
    description = ""
    config_class: type = MLPConfig
    fine_tunes = False

    def __init__(self, cfg: Any | None = None) -> None:
        self.cfg = cfg or self.config_class()
        self.applied_options: dict[str, Any] = {}

    def config(self) -> Any:
        """The family's frozen config."""
        return self.cfg

    def configure(self, options: dict[str, Any]) -> GeneratorMethodBase:
        """A copy with ``-o`` options applied to the family's config (validated)."""
        configs, applied = apply_options({"model": self.cfg}, options)
        out = copy.copy(self)
        out.cfg, out.applied_options = configs["model"], applied
        return out

    def pretrain_key(self, ctx: RunContext) -> str:
        """``<kind>-<config hash>``: one checkpoint per family config."""
        return f"{self.name}-v{self.version}-{config_hash(self.cfg)}"

    def pretrain(self, dataset: DemoDataset, ctx: RunContext) -> GeneratorPolicy:
        """Train the generator within the tier's pretraining budget."""
        from baselines.pretrain.policy import train_generator

        if len(dataset) == 0:
            raise BenchError("pretraining needs at least one demonstration")
        spec, budget = ctx.spec, ctx.budget
        return train_generator(self.name, self.cfg, dataset.observations, dataset.actions,
                               horizon=spec.chunk.horizon, act_steps=spec.chunk.act_steps,
                               steps=budget.pretrain_steps, batch_size=budget.batch_size,
                               seed=ctx.seed, device=ctx.device, progress=ctx.progress)

    def finetune(self, policy: Any, ctx: RunContext) -> Any:
        """BC families are evaluated as pretrained: ``policy`` unchanged."""
        return policy

    def diagnostics(self, policy: GeneratorPolicy, dataset: DemoDataset,
                    ctx: RunContext) -> dict[str, float]:
        """Off-support rate and Lipschitz estimate of the sampler
        (:mod:`baselines.common.diagnostics`)."""
        from baselines.common.diagnostics import demo_starts, generator_diagnostics

        starts, chunks = demo_starts(dataset, policy.obs_norm, policy.act_norm,
                                     policy.horizon, policy.device)
        return generator_diagnostics(policy.model.sample, policy.model.noise_dim, starts,
                                     chunks, seed=ctx.seed)

    def save(self, policy: GeneratorPolicy, directory: Path) -> None:
        """Write the policy (safetensors + JSON)."""
        policy.save(Path(directory))

    def load(self, directory: Path, ctx: RunContext) -> GeneratorPolicy:
        """Read a policy written by :meth:`save`."""
        from baselines.pretrain.policy import GeneratorPolicy

        return GeneratorPolicy.load(Path(directory), ctx.device)


class BCFlowMethod(GeneratorMethodBase):
    """Flow-matching BC."""

    name = "bc-flow"
    description = "BC with conditional flow matching (rectified flow), N Euler steps"
    config_class = FlowConfig


class BCCVAEMethod(GeneratorMethodBase):
    """CVAE BC (ACT-style latent-variable policy)."""

    name = "bc-cvae"
    description = "BC with a conditional VAE over action chunks (KL weight beta)"
    config_class = CVAEConfig


class BCMLPMethod(GeneratorMethodBase):
    """Unimodal regression BC (the collapse floor)."""

    name = "bc-mlp"
    description = "BC by regression of the action chunk (MSE): unimodal by construction"
    config_class = MLPConfig


__all__ = ["BCCVAEMethod", "BCFlowMethod", "BCMLPMethod", "GeneratorMethodBase"]
