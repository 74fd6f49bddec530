"""Jobs shared with a forked child: values in order, failures redone here."""

from __future__ import annotations

import functools
import os
import time

import pytest

import leaderboard.forked as forked_module
from leaderboard.forked import fork_pays, run_jobs

PARENT = os.getpid()


def _slow_square(x: int) -> tuple[int, int]:
    time.sleep(0.05)  # long enough for the child to start and take jobs too
    return os.getpid(), x * x


def _fails_in_the_child_only(x: int) -> int:
    if os.getpid() != PARENT:
        os._exit(7)  # the child dies without a word
    if x == 3:
        raise ValueError(f"bad input {x}")
    return x


def test_values_come_back_in_order_from_both_processes():
    got = run_jobs([functools.partial(_slow_square, i) for i in range(20)], parallel=True)
    assert [v for _, v in got] == [i * i for i in range(20)]
    assert {pid for pid, _ in got} - {PARENT}  # the child took some jobs
    assert PARENT in {pid for pid, _ in got}


def test_serial_runs_here():
    got = run_jobs([functools.partial(_slow_square, i) for i in range(3)], parallel=False)
    assert got == [(PARENT, 0), (PARENT, 1), (PARENT, 4)]


def test_a_dead_childs_jobs_are_redone_here_and_a_real_error_surfaces_here():
    jobs = [functools.partial(_fails_in_the_child_only, i) for i in range(6)]
    with pytest.raises(ValueError, match="bad input 3"):
        run_jobs(jobs, parallel=True)
    jobs = [functools.partial(_fails_in_the_child_only, i) for i in (0, 1, 2, 4, 5, 6)]
    assert run_jobs(jobs, parallel=True) == [0, 1, 2, 4, 5, 6]


def test_a_failing_job_here_ends_the_child():
    import multiprocessing

    def boom():
        raise KeyError("here")

    jobs = [boom, *(functools.partial(time.sleep, 1) for _ in range(4))]
    with pytest.raises(KeyError):
        run_jobs(jobs, parallel=True)
    assert not multiprocessing.active_children()  # no child left working (or a zombie)


def test_fork_pays_only_for_large_boards_on_two_cores(monkeypatch):
    monkeypatch.setattr(forked_module, "usable_cores", lambda: 2)
    assert fork_pays(2000, 2000) and not fork_pays(1999, 2000)
    monkeypatch.setattr(forked_module, "usable_cores", lambda: 1)
    assert not fork_pays(10**6, 2000)
