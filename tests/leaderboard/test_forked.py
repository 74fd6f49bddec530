"""The forked-call helper of the leaderboard build: value back, failures redone here."""

from __future__ import annotations

import os
import time

import pytest

import leaderboard.forked as forked_module
from leaderboard.forked import ForkedCall, fork_pays


def _pid_and_square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


def _raises(x: int) -> int:
    if os.getpid() != PARENT:
        os._exit(7)  # the child dies without a word
    raise ValueError(f"bad input {x}")


PARENT = os.getpid()


def test_the_value_comes_back_from_a_child():
    call = ForkedCall(_pid_and_square, 12)
    pid, value = call.result()
    assert value == 144 and pid != os.getpid()
    assert call.process.exitcode == 0


def test_a_dead_child_is_redone_here_and_a_real_error_surfaces_here():
    call = ForkedCall(_raises, 3)
    with pytest.raises(ValueError, match="bad input 3"):
        call.result()
    assert call.process.exitcode == 7


def test_cancel_ends_a_running_child():
    call = ForkedCall(time.sleep, 30)  # a child that would outlive the caller
    call.cancel()
    assert not call.process.is_alive()


def test_fork_pays_only_for_large_boards_on_two_cores(monkeypatch):
    monkeypatch.setattr(forked_module, "usable_cores", lambda: 2)
    assert fork_pays(2000, 2000) and not fork_pays(1999, 2000)
    monkeypatch.setattr(forked_module, "usable_cores", lambda: 1)
    assert not fork_pays(10**6, 2000)
