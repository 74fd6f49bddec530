"""MLflow tracking: a run interrupted while it is being started never stays RUNNING."""

import pytest

from benchmark import schema, tracking


@pytest.mark.parametrize("exc, status", [(KeyboardInterrupt, "KILLED"),
                                         (RuntimeError, "FAILED")])
def test_an_interrupt_while_params_are_written_ends_the_run(exc, status, monkeypatch):
    """A sweep's SIGTERM could land after create_run and before start_run returned: the
    caller never had the run id, so its own handler could not end the run (the SIGTERM sweep
    test caught it under load: a run left RUNNING)."""
    c = tracking.client()

    def interrupted(*args, **kwargs):
        raise exc("stop")

    monkeypatch.setattr(c, "log_batch", interrupted)
    with pytest.raises(exc):
        tracking.start_run(c, {schema.TAG_KIND: "seed"}, {"seed": 0}, "interrupted")
    (run,) = c.search_runs([tracking.experiment_id(c)])
    assert run.info.status == status
    assert "while the run was being started" in run.data.tags[schema.TAG_ERROR]


def test_an_interrupt_inside_create_run_after_the_run_exists_ends_the_run(monkeypatch):
    """The run's row is committed before MLflow's create_run returns (it reads the run back):
    a SIGINT handled in that window raised out of create_run with the run RUNNING and its id
    unknown to everyone (the SIGTERM sweep test failed so under load, the worker interrupted
    right after the poll saw RUNNING). A real signal, delivered inside create_run."""
    import os
    import signal
    import time

    c = tracking.client()
    real_create_run = c.create_run

    def create_then_interrupted(*args, **kwargs):
        run = real_create_run(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # the handler runs here, inside create_run
        return run

    monkeypatch.setattr(c, "create_run", create_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        tracking.start_run(c, {schema.TAG_KIND: "seed"}, {"seed": 0}, "interrupted")
    (run,) = c.search_runs([tracking.experiment_id(c)])
    assert run.info.status == "KILLED"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
