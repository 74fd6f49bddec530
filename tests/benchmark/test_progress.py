"""Progress: plain lines when the output is not a terminal (nohup, CI, pipes)."""

import io

from benchmark.progress import Progress


def test_plain_lines_at_start_periodically_and_at_the_end():
    out = io.StringIO()  # not a TTY, as under nohup or in CI
    progress = Progress(stream=out, interval=0.0)
    assert progress.plain
    with progress.task("discovery", total=3) as advance:
        advance(1)
        advance(2, loss=0.25)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[start] discovery: 0/3")
    assert any(line.startswith("[....] discovery: 1/3") for line in lines)
    assert lines[-1].startswith("[done ] discovery: 3/3") and "loss=0.25" in lines[-1]


def test_plain_lines_are_throttled():
    out = io.StringIO()
    with Progress(stream=out, interval=3600).task("evaluate", total=1000) as advance:
        for _ in range(1000):
            advance(1)
    assert len(out.getvalue().splitlines()) == 2  # start and done only


def test_disabled_progress_prints_nothing():
    out = io.StringIO()
    with Progress(enabled=False, stream=out).task("x", total=2) as advance:
        advance(2)
    assert out.getvalue() == ""
