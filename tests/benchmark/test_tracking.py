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
