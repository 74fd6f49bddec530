"""Demonstration collection: the parallel (speculative) build equals the one-process build."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmark.datasets import collect_demonstrations, dataset_workers
from benchmark.errors import UsageError
from benchmark.registry import get_task


class _Idle:
    """An expert that does nothing (the episode times out: a dropped demonstration)."""

    def __init__(self, mode: str, act_dim: int) -> None:
        self.mode, self._act = mode, np.zeros(act_dim, dtype=np.float32)

    def __call__(self, obs):
        return self._act


def _flaky_avoid():
    base = get_task("avoid")
    spec = dataclasses.replace(base.spec, max_episode_steps=60)

    class Flaky(type(base)):
        def make_expert(self, env, mode, rng):
            # about a third of the attempts fail, decided by the attempt's own stream
            if rng.random() < 0.35:
                return _Idle(mode, spec.act_dim)
            return super().make_expert(env, mode, rng)

    return Flaky(spec)


def _arrays(buffers):
    return [(b.seed, b.infos["mode_index"][0, 0], b.observations.tobytes(),
             b.actions.tobytes(), b.rewards.tobytes()) for b in buffers]


@pytest.mark.parametrize("workers", [2, 3])
def test_a_parallel_build_is_identical_to_the_one_process_build(workers):
    """Issue 18: building with several processes must not change one byte, also when
    attempts fail (their successors were started with the wrong mode and are re-run)."""
    task = _flaky_avoid()
    one, stats_one = collect_demonstrations(task, 16, workers=1)
    many, stats_many = collect_demonstrations(task, 16, workers=workers)
    assert stats_one["dropped"] > 0  # the case that needs the re-runs
    assert stats_many == stats_one
    assert _arrays(many) == _arrays(one)
    assert [b.id for b in many] == list(range(16))


def test_the_worker_count_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MODEBENCH_DATASET_WORKERS", "3")
    assert dataset_workers() == 3
    for bad in ("0", "-1", "two"):
        monkeypatch.setenv("MODEBENCH_DATASET_WORKERS", bad)
        with pytest.raises(UsageError, match="MODEBENCH_DATASET_WORKERS"):
            dataset_workers()



def test_the_build_workers_die_quietly_on_sigterm(tmp_path):
    """Bug: the CLI turns SIGTERM into an exception (benchmark.interrupts); forked pool
    workers inherited that handler, so ``pool.terminate()`` at the end of a parallel build
    could print a worker's ``Terminated`` traceback on the user's terminal (a race: when the
    signal met a worker waiting for its next job). A worker must take SIGTERM's default."""
    import os
    import signal

    from benchmark.interrupts import terminate_as_interrupt

    base = get_task("avoid")

    class Recording(type(base)):
        def make_expert(self, env, mode, rng):
            handler = signal.getsignal(signal.SIGTERM)
            (tmp_path / str(os.getpid())).write_text(str(handler == signal.SIG_DFL))
            return super().make_expert(env, mode, rng)

    previous = signal.getsignal(signal.SIGTERM)
    terminate_as_interrupt()
    try:
        collect_demonstrations(Recording(base.spec), 4, workers=2)
    finally:
        signal.signal(signal.SIGTERM, previous)
    seen = {f.name: f.read_text() for f in tmp_path.iterdir()}
    assert seen and str(os.getpid()) not in seen  # the attempts ran in the workers
    assert set(seen.values()) == {"True"}, seen
