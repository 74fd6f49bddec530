"""Executors: where units run. A local process pool, a Ray cluster, or this process.

All three take the units still to run and report through two callbacks, ``on_start(unit)``
and ``on_done(unit, outcome)``, called in the sweep's process. At most ``workers`` units are
dispatched at a time, so "running" in the progress bar means running, not queued.

* :class:`LocalExecutor` — ``concurrent.futures.ProcessPoolExecutor`` with the ``spawn``
  context (``fork`` after torch has started threads can deadlock a child). A worker process
  that dies (OOM killer, SIGKILL) breaks the pool: the units it had in flight are
  re-dispatched to a fresh pool up to ``retries`` times, then reported FAILED.
* :class:`RayExecutor` — ``@ray.remote(num_cpus=1, max_retries=retries)`` tasks; Ray itself
  re-runs a task whose worker or node was lost. Ray is optional: it is imported only here,
  and only when this executor runs.
* :class:`InlineExecutor` — units one after another in this process (debugging: pdb and
  tracebacks work; one unit that crashes the interpreter takes the sweep with it).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from benchmark.errors import BenchError
from benchmark.sweep.units import Unit
from benchmark.sweep.worker import UnitOutcome, first_line, init_worker, run_unit

OnStart = Callable[[Unit], None]
OnDone = Callable[[Unit, UnitOutcome], None]


class ExecutorError(BenchError):
    """The executor cannot run (Ray not installed, cluster unreachable): a usage error."""

    exit_code = 2


class InlineExecutor:
    """Run units sequentially in this process."""

    name = "inline"

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads
        self.workers = 1

    def run(self, units: Sequence[Unit], env: dict[str, str], on_start: OnStart,
            on_done: OnDone) -> None:
        """Run ``units`` one by one, calling back before and after each."""
        import os

        import torch

        old = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        saved = {k: os.environ.get(k) for k in env}
        try:
            for u in units:
                on_start(u)
                on_done(u, run_unit(u, env, self.threads or old))
        finally:
            torch.set_num_threads(old)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


class LocalExecutor:
    """A pool of ``workers`` spawned processes on this machine.

    Args:
        workers: Parallel worker processes.
        retries: Re-dispatches of a unit whose worker process died.
        threads: torch threads per worker.
        start_method: ``"spawn"`` (default) or ``"forkserver"``.
    """

    name = "local"

    def __init__(self, workers: int, retries: int = 1, threads: int = 1,
                 start_method: str = "spawn") -> None:
        if workers < 1:
            raise BenchError(f"--workers must be >= 1, got {workers}")
        if start_method not in ("spawn", "forkserver"):
            raise BenchError("start_method must be 'spawn' or 'forkserver' (fork is unsafe "
                             "with torch)")
        self.workers, self.retries, self.threads = workers, retries, threads
        self.start_method = start_method

    def _pool(self) -> Any:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(self.workers, mp_context=mp.get_context(self.start_method),
                                   initializer=init_worker, initargs=(self.threads,))

    def run(self, units: Sequence[Unit], env: dict[str, str], on_start: OnStart,
            on_done: OnDone) -> None:
        """Run ``units`` on the pool; returns when every unit has an outcome."""
        from concurrent.futures.process import BrokenProcessPool

        pending: deque[tuple[Unit, int]] = deque((u, 1) for u in units)
        inflight: dict[Future, tuple[Unit, int]] = {}
        pool = None
        try:
            while pending or inflight:
                if pool is None:
                    pool = self._pool()
                while pending and len(inflight) < self.workers:
                    u, attempt = pending.popleft()
                    inflight[pool.submit(run_unit, u, env, self.threads)] = (u, attempt)
                    if attempt == 1:
                        on_start(u)
                done, _ = wait(list(inflight), timeout=1.0, return_when=FIRST_COMPLETED)
                lost = False
                for fut in done:
                    u, attempt = inflight.pop(fut)
                    try:
                        out = fut.result()
                    except BrokenProcessPool:
                        lost = True
                        self._lost(u, attempt, pending, on_done)
                        continue
                    except Exception as exc:  # e.g. an unpicklable result
                        out = UnitOutcome("FAILED", error=first_line(exc))
                    out.attempts = attempt
                    on_done(u, out)
                if lost:
                    # every unit still in flight went down with the pool: re-dispatch them
                    for u, attempt in inflight.values():
                        self._lost(u, attempt, pending, on_done)
                    inflight.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = None
        except KeyboardInterrupt:
            if pool is not None:
                _interrupt_workers(pool)
                _stop_workers(pool)
                pool = None
            raise
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _lost(self, u: Unit, attempt: int, pending: deque, on_done: OnDone) -> None:
        if attempt <= self.retries:
            pending.appendleft((u, attempt + 1))
        else:
            on_done(u, UnitOutcome(
                "FAILED", attempts=attempt,
                error=f"WorkerLost: the worker process running it died ({attempt} attempts)"))


def _interrupt_workers(pool: Any) -> None:
    """Pass a Ctrl-C on to the pool's workers (SIGINT), so the runner marks their runs KILLED.

    A terminal sends SIGINT to the whole foreground process group anyway; this covers a
    SIGINT sent to the sweep's process alone (``kill -INT``), where the workers would
    otherwise finish their units before the pool shuts down.
    """
    import os
    import signal

    for pid in list(getattr(pool, "_processes", None) or {}):  # {pid: Process}
        try:
            os.kill(pid, signal.SIGINT)
        except OSError:
            pass  # already gone


INTERRUPT_GRACE_S = 20.0
"""How long interrupted workers get to mark their runs KILLED and exit before they are
terminated (then killed)."""


def _stop_workers(pool: Any, grace: float = INTERRUPT_GRACE_S) -> None:
    """Shut the pool down without waiting on its units: workers that are still alive after
    ``grace`` seconds get SIGTERM (their runner marks the run KILLED), then SIGKILL.

    ``shutdown(wait=True)`` alone waited for whatever a worker was running when the SIGINT
    did not reach Python code in time (a sweep sent SIGTERM kept computing for minutes: the
    SIGTERM test timed out in CI with small-tier units).
    """
    import time

    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for stop, wait_s in ((None, grace), ("terminate", 10.0), ("kill", 5.0)):
        if stop is not None:
            for p in procs:
                if p.is_alive():
                    getattr(p, stop)()
        deadline = time.monotonic() + wait_s
        for p in procs:
            p.join(timeout=max(0.0, deadline - time.monotonic()))
        if not any(p.is_alive() for p in procs):
            return


class RayExecutor:
    """Ray tasks on an existing cluster (``address``) or a local one Ray starts.

    Args:
        address: ``ray.init`` address (``"auto"``, ``"ray://host:10001"``); None starts a
            local cluster unless this process is already connected to one.
        workers: Units in flight at once (default: the cluster's CPUs).
        retries: Ray's ``max_retries``: re-runs of a task whose worker or node was lost.
        threads: torch threads per task.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None,
                 retries: int = 1, threads: int = 1) -> None:
        try:
            import ray  # noqa: F401
        except ImportError:
            # no square brackets in the message: the CLI prints errors as rich markup
            raise ExecutorError(
                "--executor ray needs Ray, which is not installed: install modebench's "
                "optional 'ray' extra (pip install ray), or use the default --executor local"
            ) from None
        self.address, self.retries, self.threads = address, retries, threads
        self.workers = workers or 0

    def run(self, units: Sequence[Unit], env: dict[str, str], on_start: OnStart,
            on_done: OnDone) -> None:
        """Submit ``units`` as Ray tasks; returns when every unit has an outcome."""
        import ray

        started_here = False
        if not ray.is_initialized():
            try:
                ray.init(address=self.address, include_dashboard=False,
                         logging_level="WARNING", log_to_driver=False)
            except Exception as exc:  # ConnectionError, bad address ...
                raise ExecutorError(
                    f"cannot start or reach a Ray cluster at {self.address or 'local'}: "
                    f"{first_line(exc)}") from None
            started_here = True
        try:
            capacity = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            self.workers = capacity
            task = ray.remote(num_cpus=1, max_retries=self.retries)(run_unit)
            pending = deque(units)
            inflight: dict[Any, Unit] = {}
            while pending or inflight:
                while pending and len(inflight) < capacity:
                    u = pending.popleft()
                    inflight[task.remote(u, env, self.threads)] = u
                    on_start(u)
                ready, _ = ray.wait(list(inflight), num_returns=1, timeout=1.0)
                for ref in ready:
                    u = inflight.pop(ref)
                    try:
                        out = ray.get(ref)
                    except ray.exceptions.RayError as exc:  # lost beyond max_retries
                        out = UnitOutcome("FAILED", error=first_line(exc),
                                          attempts=self.retries + 1)
                    on_done(u, out)
        finally:
            if started_here:
                ray.shutdown()


def make_executor(name: str, workers: int | None = None, address: str | None = None,
                  retries: int = 1, threads: int = 1) -> Any:
    """Build the executor called ``name`` (``local``, ``ray`` or ``inline``).

    Raises:
        ExecutorError: Unknown name, an address without Ray, or Ray requested but not
            installed (exit code 2).
    """
    if address and name != "ray":
        raise ExecutorError(f"--address is a Ray cluster address; it needs --executor ray "
                            f"(got --executor {name})")
    if name == "local":
        from benchmark.envvars import usable_cores

        return LocalExecutor(workers or usable_cores(), retries=retries, threads=threads)
    if name == "ray":
        return RayExecutor(address, workers, retries=retries, threads=threads)
    if name == "inline":
        return InlineExecutor(threads)
    raise ExecutorError(f"unknown executor {name!r}; known: local, ray, inline")

