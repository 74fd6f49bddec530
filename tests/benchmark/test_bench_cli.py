"""The `bench` CLI through typer's CliRunner (and one real subprocess for start-up cost)."""

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from benchmark import schema, tracking
from benchmark.cli import app

runner = CliRunner()


def test_help_lists_commands_and_imports_no_heavy_modules():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("evaluate", "tasks", "methods", "ui"):
        assert cmd in result.output
    code = ("import sys, benchmark.cli; heavy = [m for m in ('torch', 'mlflow', 'mujoco', "
            "'minari', 'gymnasium') if m in sys.modules]; print(heavy); sys.exit(bool(heavy))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_tasks_and_methods_list():
    result = runner.invoke(app, ["tasks", "list"])
    assert result.exit_code == 0
    assert "avoid-v0" in result.output
    from benchmark.registry import get_task

    assert get_task("avoid").spec.hash() in result.output
    result = runner.invoke(app, ["methods", "list"])
    assert result.exit_code == 0
    assert "bc" in result.output


def test_unknown_method_exits_2_with_known_ids_and_closest_match():
    result = runner.invoke(app, ["evaluate", "--method", "bcc", "--task", "avoid"])
    assert result.exit_code == 2
    assert "Did you mean 'bc'" in result.output and "dppo" in result.output


def test_unknown_task_exits_2():
    result = runner.invoke(app, ["evaluate", "--method", "bc", "--task", "kitchn"])
    assert result.exit_code == 2
    assert "Did you mean 'kitchen'" in result.output


def test_bad_seeds_tier_and_level_exit_2():
    for args in (["--seeds", "4-1"], ["--tier", "huge"], ["--perturbation", "earthquake"]):
        result = runner.invoke(app, ["evaluate", "-m", "bc", "-t", "avoid", *args])
        assert result.exit_code == 2, (args, result.output)


def test_evaluate_smoke_end_to_end_logs_a_run_that_reads_back(avoid_dataset):
    result = runner.invoke(app, ["evaluate", "--method", "bc", "--task", "avoid", "--tier",
                                 "smoke", "--seeds", "0-1", "--perturbation", "obs_noise_0.1",
                                 "--quiet"])
    assert result.exit_code == 0, result.output
    assert "success_rate" in result.output and "logged to" in result.output

    c = tracking.client()
    exp = tracking.experiment_id(c)
    runs = c.search_runs([exp], max_results=100)
    groups = [r for r in runs if r.data.tags[schema.TAG_KIND] == "group"]
    seeds = [r for r in runs if r.data.tags[schema.TAG_KIND] == "seed"]
    assert len(groups) == 1 and len(seeds) == 2
    g = groups[0]
    assert g.info.status == "FINISHED"
    for name in (schema.SUCCESS_RATE, schema.MODE_COUNT, schema.MODE_ENTROPY,
                 schema.MODE_STABILITY, schema.ROBUSTNESS):
        assert name in g.data.metrics
        assert g.data.metrics[schema.ci_low(name)] <= g.data.metrics[name] \
            <= g.data.metrics[schema.ci_high(name)]
    for r in seeds:
        assert r.info.status == "FINISHED"
        assert r.data.tags[schema.TAG_PARENT] == g.info.run_id
        for tag in schema.REQUIRED_TAGS:
            assert r.data.tags.get(tag), tag
        assert r.data.tags[schema.TAG_DATASET_HASH] == avoid_dataset.content_hash
        assert "success_rate/obs_noise_0.1" in r.data.metrics
        rows = tracking.read_episodes(c, r.info.run_id)
        from benchmark.registry import get_task

        assert len(rows) == 2 * get_task("avoid").spec.budget("smoke").eval_episodes
        assert {row["level"] for row in rows} == {"nominal", "obs_noise_0.1"}
    assert {r.data.tags[schema.TAG_SEED] for r in seeds} == {"0", "1"}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ui_serves_the_projects_store(tmp_path):
    """`bench ui` starts MLflow's server on loopback over the configured store."""
    import json
    import os
    import time
    import urllib.request

    c = tracking.client()
    tracking.experiment_id(c)  # the store exists and holds the modebench experiment
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "benchmark.cli", "ui", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=dict(os.environ), start_new_session=True)
    try:
        body = None
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/search",
                    data=b'{"max_results": 10}', headers={"Content-Type": "application/json"})
                body = json.loads(urllib.request.urlopen(req, timeout=5).read())
                break
            except OSError:
                time.sleep(1)
        assert body is not None, proc.stdout.read().decode() if proc.poll() is not None else ""
        assert schema.EXPERIMENT in [e["name"] for e in body["experiments"]]
    finally:
        import signal

        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _evaluate_smoke(*extra: str):
    return runner.invoke(app, ["evaluate", "-m", "bc", "-t", "avoid", "--tier", "smoke", "-q",
                               *extra])


@pytest.mark.parametrize("args, message", [
    (["-o", "unknown_key=1"], "unknown option 'unknown_key'"),
    (["-o", "actor_lr=abc"], "unknown option 'actor_lr'"),  # bc has no fine-tuning config
    (["-o", "pretrained_sampler=bogus"], "pretrained_sampler must be"),
    (["--mode", "1"], "no selectable modes"),
    (["--device", "gpu"], "unknown device 'gpu'"),
    (["--perturbation", "all,bogus"], "bogus"),
    (["--seeds", "-1"], "'-1' is not a seed"),
    (["--seeds", "0-1000000000"], "seed 1000000000 in '0-1000000000' is out of range"),
])
def test_bad_input_exits_2_with_a_short_message_and_no_traceback(args, message, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setenv("MODEBENCH_DATASETS", str(tmp_path / "datasets"))
    monkeypatch.setenv("COLUMNS", "400")
    result = _evaluate_smoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and len(result.output) < 1000
    assert not (tmp_path / "datasets").exists()  # refused before any work


def test_an_unwritable_store_exits_3_naming_the_variable(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a folder cannot be made under a file, even by root
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setenv("MODEBENCH_DATASETS", str(blocker / "datasets"))
    result = _evaluate_smoke()
    assert result.exit_code == 3 and "MODEBENCH_DATASETS" in result.output, result.output
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker / 'mlflow.db'}")
    result = _evaluate_smoke()
    assert result.exit_code == 3 and "MLFLOW_TRACKING_URI" in result.output, result.output
    assert "Traceback" not in result.output


def test_an_unreachable_tracking_server_fails_fast_and_says_so(tmp_path, monkeypatch):
    """A server that accepts connections but never answers (was: minutes of silence, then a
    claim that the run was marked KILLED in a store that was never reached)."""
    import socket
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MODEBENCH_DATASETS", str(tmp_path / "datasets"))
    monkeypatch.setenv("COLUMNS", "400")
    t0 = time.monotonic()
    try:
        result = _evaluate_smoke()
    finally:
        silent.close()
    assert result.exit_code == 3, result.output
    assert time.monotonic() - t0 < 30
    assert "did not answer" in result.output and "nothing was run" in result.output
    assert "KILLED" not in result.output
    assert not (tmp_path / "datasets").exists()


def test_first_evaluate_prints_no_third_party_noise(tmp_path):
    """Issue 11: MLflow's INFO lines on a fresh store, and gymnasium-robotics' Adroit notice."""
    import os

    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'fresh.db'}",
               MODEBENCH_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run(["bench", "evaluate", "-m", "bc", "-t", "avoid", "--tier", "smoke"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "[done ] evaluate nominal: 16/16" in proc.stdout  # plain progress off a terminal
    code = "from benchmark.registry import get_task; get_task('kitchen').make_env(None).close()"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0 and "Adroit" not in proc.stderr, proc.stderr
