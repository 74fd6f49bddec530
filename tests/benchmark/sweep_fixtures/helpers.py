"""Functions that sweep tests run in spawned processes (importable by module path)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace


def write_runs(worker: int, n_runs: int) -> list[str]:
    """Create ``n_runs`` complete runs through benchmark.tracking; return their ids."""
    from benchmark import tracking

    c = tracking.client()
    ids = []
    for j in range(n_runs):
        tags = {"modebench.kind": "seed", "modebench.seed": str(j),
                "modebench.method": f"writer{worker}"}
        rid = tracking.start_run(c, tags, {"worker": worker, "j": j}, f"w{worker}/r{j}")
        tracking.log_metrics(c, rid, {f"m{k}": worker * 1000 + j * 10 + k for k in range(25)},
                             tags={"modebench.mode_distribution": json.dumps({"w": worker})})
        tracking.log_text_artifact(c, rid, "episodes.csv", f"worker,run\n{worker},{j}\n")
        tracking.end_run(c, rid, "FINISHED")
        ids.append(rid)
    return ids


class SlowSaveMethod:
    """A minimal method for the runner's checkpoint cache.

    ``pretrain`` appends a line to ``<log_dir>/pretrain.log`` (so a test can count builds);
    ``save`` writes ``part1``, waits ``save_delay`` seconds, then writes ``part2`` (a writer
    killed in between leaves half a checkpoint); ``load`` refuses anything without both.
    """

    name = "slowsave"
    version = "0"
    description = "test method"

    def __init__(self, log_dir: str, save_delay: float = 0.0) -> None:
        self.log_dir, self.save_delay = Path(log_dir), save_delay

    def config(self):
        return {}

    def pretrain_key(self, ctx):
        return "slowsave-v0"

    def pretrain(self, dataset, ctx):
        with open(self.log_dir / "pretrain.log", "a") as f:
            f.write(f"{os.getpid()}\n")
        return {"weights": 42}

    def finetune(self, policy, ctx):
        return policy

    def save(self, policy, directory):
        directory = Path(directory)
        (directory / "part1").write_text(json.dumps(policy))
        (self.log_dir / f"saving-{os.getpid()}").write_text(str(directory))
        time.sleep(self.save_delay)
        (directory / "part2").write_text("end")

    def load(self, directory, ctx):
        directory = Path(directory)
        if not (directory / "part2").exists():
            raise RuntimeError(f"half-written checkpoint loaded from {directory}")
        return json.loads((directory / "part1").read_text())


def pretrained(log_dir: str, save_delay: float = 0.0) -> tuple[dict, str]:
    """Call the runner's cached pretraining (``runner._pretrained``) with SlowSaveMethod."""
    from benchmark.registry import get_task
    from benchmark.runner import _pretrained

    ctx = SimpleNamespace(tier="smoke", seed=0, device="cpu", spec=get_task("avoid").spec)
    dataset = SimpleNamespace(content_hash="d" * 16)
    policy, path = _pretrained(SlowSaveMethod(log_dir, save_delay), dataset, ctx)
    return policy, str(path)
