"""The adapter base class the built-in diffusion methods share (no torch at import time).

All built-in methods pretrain the *same* diffusion policy: :meth:`pretrain_key` depends only
on the backbone config, and the pretrained stage is saved in one format
(:mod:`baselines.common.policy`), so the runner trains it once per (task, dataset, seed, tier)
and any of ``bc``, ``dppo``, ``entropy-rl`` and ``bmd`` loads it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baselines.common.config import DiffusionConfig
from benchmark.errors import BenchError
from benchmark.spec import config_hash

if TYPE_CHECKING:  # pragma: no cover
    from baselines.common.policy import DiffusionPolicy
    from benchmark.adapter import RunContext
    from benchmark.datasets import DemoDataset


def apply_options(config: Any, options: dict[str, Any]) -> Any:
    """Return ``config`` (a frozen dataclass) with CLI ``--option key=value`` overrides.

    Raises:
        BenchError: An unknown key or a value of the wrong type (exit code 2 is not used:
            this is a bad value, not an unknown id).
    """
    if not options:
        return config
    fields = {f.name: f for f in dataclasses.fields(config)}
    hints = typing.get_type_hints(type(config))
    changes = {}
    for key, value in options.items():
        if key not in fields:
            raise BenchError(f"unknown option {key!r} for {type(config).__name__}; known: "
                             f"{', '.join(sorted(fields))}")
        changes[key] = _coerce(key, value, hints[key])
    return dataclasses.replace(config, **changes)


def _coerce(key: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() == "none"):
            if type(None) in args:
                return None
        hint = next(a for a in args if a is not type(None))
    try:
        if hint is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                return value.lower() in ("true", "1")
            return bool(value)
        if hint in (int, float, str):
            return hint(value)
    except (TypeError, ValueError):
        raise BenchError(f"option {key}={value!r}: expected {hint.__name__}") from None
    return value


class DiffusionMethodBase:
    """Shared pretraining, saving and loading of the built-in diffusion methods.

    Args:
        diffusion: Backbone config (defaults: :class:`DiffusionConfig`).
    """

    name = ""
    version = ""
    description = ""

    def __init__(self, diffusion: DiffusionConfig | None = None) -> None:
        self.diffusion = diffusion or DiffusionConfig()

    def config(self) -> Any:
        """The method's frozen config (subclasses add their fine-tuning config)."""
        return self.diffusion

    def pretrain_key(self, ctx: RunContext) -> str:
        """``diffusion-<hash of the backbone config>``: equal for every built-in method."""
        return f"diffusion-v1-{config_hash(self.diffusion)}"

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
        if kind == "bmd":
            from baselines.bmd.policy import BMDPolicy

            return BMDPolicy.load(Path(directory), ctx.device)
        return DiffusionPolicy.load(Path(directory), ctx.device)
