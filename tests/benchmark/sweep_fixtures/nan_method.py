"""A test-only method plugin: ``bc`` whose fine-tuning diverges (NaN loss).

Published through a real entry point (a ``*.dist-info/entry_points.txt`` in a temporary
folder on ``PYTHONPATH``), so sweep worker processes find it the way they find a
researcher's package.
"""

from __future__ import annotations

from baselines.bc import BCMethod
from benchmark.errors import TrainingError


class NaNBCMethod(BCMethod):
    """Pretrains exactly like ``bc`` (same pretrain key: shares its checkpoint), then
    fine-tunes with a loss that is NaN and stops the way a real divergence check does."""

    name = "nanbc"
    version = "0"
    description = "bc with a fine-tuning loss that turns NaN (sweep fault-injection test)"

    def finetune(self, policy, ctx):
        import torch

        # a real torch computation whose loss is NaN: 0 * inf, the classic overflow
        x = torch.tensor([float("inf")], requires_grad=True)
        loss = (x * 0.0).mean()
        if not torch.isfinite(loss):
            raise TrainingError(f"fine-tuning diverged: loss is {loss.item()} at iteration 0 "
                                f"(seed {ctx.seed})")
        return policy


class CrashOnceBCMethod(BCMethod):
    """``bc`` whose worker process dies (SIGKILL, as from the OOM killer) the first time it
    fine-tunes; the marker file named by ``MODEBENCH_TEST_CRASH_MARKER`` records the crash."""

    name = "crashbc"
    version = "0"
    description = "bc whose first fine-tuning kills its own process (worker-loss test)"

    def finetune(self, policy, ctx):
        import os
        import signal
        from pathlib import Path

        marker = Path(os.environ["MODEBENCH_TEST_CRASH_MARKER"])
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return policy
