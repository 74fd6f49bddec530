"""Evaluation env slots, stepped in this process or in worker processes.

:func:`benchmark.rollout.evaluate_policy` keeps ``n_envs`` chunked envs ("slots"), each with
its own queue of evaluation episodes. Stepping them one after another leaves the other cores
idle while a slow simulator (kitchen's 40 MuJoCo substeps and IK per step) runs; with
``workers`` > 1 the slots live in that many forked processes and a decision's chunks run in
parallel. Each slot is still one env driven by the same calls in the same order, so the
episodes are identical whatever the number of workers.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmark.envvars import positive_int


def env_workers() -> int:
    """Processes that step evaluation envs: ``MODEBENCH_ENV_WORKERS`` (default 1: in process).

    Raises:
        UsageError: Not a positive integer.
    """
    return positive_int("MODEBENCH_ENV_WORKERS")


def _serve(conn: Any, make_env: Any, slots: Sequence[int]) -> None:
    """Worker loop: own the envs of ``slots``; answer reset/step/close messages."""
    envs = {i: make_env() for i in slots}
    try:
        while True:
            msg = conn.recv()
            if msg[0] == "reset":
                _, i, seed = msg
                conn.send(envs[i].reset(seed=seed)[0])
            elif msg[0] == "step":
                conn.send([envs[i].step(a) for i, a in msg[1]])
            else:
                break
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        for env in envs.values():
            env.close()
        conn.close()


class EnvSlots:
    """``n`` envs from ``make_env``, stepped in process or in ``workers`` forked processes.

    Args:
        make_env: Builds one env (called in the worker that owns it).
        n: Number of slots.
        workers: Processes (1: every env in this process). Without ``fork`` (not Linux or
            macOS) the envs stay in this process.
    """

    def __init__(self, make_env: Any, n: int, workers: int = 1) -> None:
        self.n = n
        workers = max(1, min(workers, n))
        if workers > 1 and "fork" not in multiprocessing.get_all_start_methods():
            workers = 1
        self._local = [make_env() for _ in range(n)] if workers == 1 else None
        self._owner = [i % workers for i in range(n)]
        self._conns: list[Any] = []
        self._procs: list[Any] = []
        if workers > 1:
            ctx = multiprocessing.get_context("fork")
            for w in range(workers):
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_serve, daemon=True,
                                   args=(child, make_env, [i for i in range(n)
                                                            if self._owner[i] == w]))
                proc.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(proc)

    def reset(self, i: int, seed: int) -> np.ndarray:
        """Reset slot ``i`` with ``seed``; its first observation."""
        if self._local is not None:
            return self._local[i].reset(seed=seed)[0]
        conn = self._conns[self._owner[i]]
        conn.send(("reset", i, seed))
        return conn.recv()

    def step(self, actions: Sequence[tuple[int, np.ndarray]]) -> list[tuple[Any, ...]]:
        """Step each listed slot with its action; results in the same order.

        Args:
            actions: ``(slot, action)`` pairs.

        Returns:
            ``(obs, reward, terminated, truncated, info)`` per pair.
        """
        if self._local is not None:
            return [self._local[i].step(a) for i, a in actions]
        per_worker: dict[int, list[tuple[int, np.ndarray]]] = {}
        for i, a in actions:
            per_worker.setdefault(self._owner[i], []).append((i, a))
        for w, batch in per_worker.items():  # all workers start before any answer is read
            self._conns[w].send(("step", batch))
        answers = {w: iter(self._conns[w].recv()) for w in per_worker}
        return [next(answers[self._owner[i]]) for i, _ in actions]

    def close(self) -> None:
        """Close the envs and stop the workers."""
        if self._local is not None:
            for env in self._local:
                env.close()
        for conn in self._conns:
            try:
                conn.send(("close",))
            except (BrokenPipeError, OSError):
                pass
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
        self._conns, self._procs = [], []
