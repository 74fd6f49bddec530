"""``bc``: the pretrained diffusion policy, evaluated without fine-tuning."""

from __future__ import annotations

from typing import TYPE_CHECKING

from baselines.common.method import DiffusionMethodBase

if TYPE_CHECKING:  # pragma: no cover
    from benchmark.adapter import Policy, RunContext


class BCMethod(DiffusionMethodBase):
    """Behaviour cloning with the shared diffusion backbone (DDPM training; evaluated with
    the backbone's ``pretrained_sampler``, ancestral DDPM by default)."""

    name = "bc"
    version = "1"
    description = ("Diffusion policy behaviour cloning (DDPM training, ancestral DDPM "
                   "sampling), no RL")
    fine_tunes = False

    def finetune(self, policy: Policy, ctx: RunContext) -> Policy:
        """BC does not fine-tune: returns ``policy`` unchanged."""
        return policy


__all__ = ["BCMethod"]
