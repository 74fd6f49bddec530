"""Work done by a forked child process while this one does something else.

The leaderboard build uses it on two or more cores for large boards: the rows' statistics and
the tier aggregates while the other rows' statistics are computed, the exports while the
pages render. ``fork`` shares this process's memory with the child, so nothing is pickled
on the way in; only the value comes back. A child that fails (or dies) is not an error of
its own: its work is done again in this process, so a real error surfaces here, with its own
traceback.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

from benchmark.envvars import usable_cores


def fork_pays(n_runs: int, min_runs: int) -> bool:
    """Whether to fork for a board of ``n_runs`` runs: from ``min_runs`` on, with two or more
    usable cores and the ``fork`` start method (POSIX)."""
    return (n_runs >= min_runs and usable_cores() >= 2
            and "fork" in multiprocessing.get_all_start_methods())


class ForkedCall:
    """``fn(*args)`` computed by a forked child process; :meth:`result` returns its value.

    Args:
        fn: A function whose value pickles (``None`` for work done for its side effects).
        *args: Its arguments (shared with the child by the fork, never pickled).
    """

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.fn, self.args = fn, args
        ctx = multiprocessing.get_context("fork")
        self._receive, send = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_send_result, args=(send, fn, args),
                                   name=f"modebench-{fn.__name__.strip('_')}")
        self.process.start()
        send.close()  # the child holds the only writer: a dead child is an EOF, not a hang

    def result(self) -> Any:
        """The child's value (waiting for it), or ``fn(*args)`` computed here if it failed."""
        try:
            value, failed = self._receive.recv(), False
        except (EOFError, OSError):
            value, failed = None, True
        finally:
            self._receive.close()
            self.process.join()
        return self.fn(*self.args) if failed else value

    def cancel(self) -> None:
        """Stop the child if it still runs (after an error here: no orphan, no zombie)."""
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        self._receive.close()


def _send_result(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    conn.send(fn(*args))
    conn.close()
