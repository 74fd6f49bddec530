"""A list of independent jobs shared between this process and one forked child.

The leaderboard build uses it on two or more cores for large boards: the rows' statistics
and the tier aggregates, then the pages, plots and exports. Both processes take the next
job from a shared counter until none is left, so the split balances itself whatever each
job costs. ``fork`` shares this process's memory with the child, so nothing is pickled on
the way in; only the child's values come back. Each job's value must depend on its own
inputs only (or each job writes its own files): then who runs it changes nothing.

A child that fails (or dies) is not an error of its own: the jobs it took are done again in
this process, so a real error surfaces here, with its own traceback.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from benchmark.envvars import usable_cores

Job = Callable[[], Any]


def fork_pays(n_runs: int, min_runs: int) -> bool:
    """Whether to share a board's work with a child: from ``min_runs`` runs on, with two or
    more usable cores and the ``fork`` start method (POSIX)."""
    return (n_runs >= min_runs and usable_cores() >= 2
            and "fork" in multiprocessing.get_all_start_methods())


def run_jobs(jobs: Sequence[Job], parallel: bool) -> list[Any]:
    """Every job's value, in order; with ``parallel``, shared with one forked child.

    Args:
        jobs: Argument-less callables, independent of each other (put the costly ones first:
            the last job taken decides when both are done). Their values must pickle.
        parallel: Share them with a forked child (see :func:`fork_pays`).

    Returns:
        ``[job() for job in jobs]``, whichever process ran each.
    """
    if not parallel or len(jobs) < 2:
        return [job() for job in jobs]
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("i", 0)  # the next job nobody has taken (with its own lock)
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, jobs, counter), name="modebench-jobs")
    # the objects that exist now move to the collector's permanent generation for the fork:
    # a collection in the child would otherwise touch (and so copy) every page of the heap
    gc.freeze()
    try:
        child.start()
    finally:
        gc.unfreeze()
    send.close()  # the child holds the only writer: a dead child is an EOF, not a hang
    values: dict[int, Any] = {}
    try:
        for i in _taken(counter, len(jobs)):
            values[i] = jobs[i]()
    except BaseException:
        receive.close()
        child.terminate()  # no orphan working on after this process failed
        child.join()
        raise
    try:
        values.update(receive.recv())
    except (EOFError, OSError):
        pass  # the child failed: its jobs are done below
    finally:
        receive.close()
        child.join()
    return [values[i] if i in values else jobs[i]() for i in range(len(jobs))]


def _taken(counter: Any, n: int) -> Iterator[int]:
    """Take job indices from the shared counter until all ``n`` are taken."""
    while True:
        with counter.get_lock():
            i = counter.value
            if i >= n:
                return
            counter.value = i + 1
        yield i


def _child(conn: Any, jobs: Sequence[Job], counter: Any) -> None:
    conn.send({i: jobs[i]() for i in _taken(counter, len(jobs))})
    conn.close()
