"""bench sweep: unit keys, skipping finished units, fault tolerance, executors.

The expensive tests share one checkpoint cache (``shared_cache``) so each smoke pretraining
runs once per test module; every test has its own MLflow store (conftest), so "done" always
means done in *that* test's store.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmark import schema, tracking
from benchmark.cli import app
from benchmark.cli._common import console
from benchmark.errors import UnknownIdError, UsageError
from benchmark.sweep import SweepConfig, key_from_tags, plan_units, unit_key

FIXTURES = Path(__file__).parent / "sweep_fixtures"
cli = CliRunner()
_LOCAL_METRICS: dict[str, dict[str, float]] = {}  # bc smoke metrics per unit key, local executor


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def _wide_console(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich tables of subprocesses: no folded cells


@pytest.fixture(scope="module")
def _shared_cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("shared-cache")


@pytest.fixture
def shared_cache(_shared_cache_dir, monkeypatch):
    """One checkpoint cache for this module's sweeps (pretraining is shared across tests)."""
    monkeypatch.setenv("MODEBENCH_CACHE", str(_shared_cache_dir))
    return _shared_cache_dir


@pytest.fixture
def nan_plugin(tmp_path, monkeypatch):
    """The ``nanbc`` method as a real installed distribution (dist-info + entry point) on
    PYTHONPATH, so spawned sweep workers find it through importlib.metadata."""
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(FIXTURES / "nan_method.py", site / "nan_method.py")
    dist = site / "nan_method-0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nan-method\nVersion: 0\n")
    (dist / "entry_points.txt").write_text("[modebench.methods]\nnanbc = nan_method:NaNBCMethod\n"
                                           "crashbc = nan_method:CrashOnceBCMethod\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]))
    monkeypatch.syspath_prepend(str(site))
    from benchmark import registry

    registry.get_method_class.cache_clear()
    yield site
    registry.get_method_class.cache_clear()
    sys.modules.pop("nan_method", None)


def _bench(*args: str) -> list[str]:
    return [sys.executable, "-c", "from benchmark.cli import main; main()", *args]


def _valued(metrics: dict) -> dict:
    # a metric without a value (mode retention with no successes) is NaN in a worker's
    # outcome, null in JSON and absent in the store (not logged): compare without it
    return {k: v for k, v in metrics.items() if v is not None and v == v}


def _seed_runs() -> list:
    c = tracking.client()
    exp = c.get_experiment_by_name(schema.EXPERIMENT)
    if exp is None:
        return []
    return c.search_runs([exp.experiment_id], f"tags.`{schema.TAG_KIND}` = 'seed'",
                         max_results=1000)


def _by_key(runs) -> dict[str, list]:
    out: dict[str, list] = {}
    for r in runs:
        out.setdefault(r.data.tags.get(schema.TAG_UNIT), []).append(r)
    return out


# ----------------------------------------------------------------------------- fast tests
def test_importing_the_sweep_needs_neither_torch_mlflow_nor_ray():
    code = ("import sys, benchmark.sweep, benchmark.cli.sweep; heavy = [m for m in "
            "('torch', 'mlflow', 'ray') if m in sys.modules]; print(heavy); sys.exit(bool(heavy))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_all_tasks_leaves_out_a_task_this_machine_cannot_run_unless_named(monkeypatch):
    from benchmark.sweep.units import resolve_tasks

    monkeypatch.delenv("MENAGERIE_ROOT", raising=False)
    ids = [t.spec.id for t in resolve_tasks(["all"])]
    assert "avoid-v0" in ids and "anymal-v3" in ids and "anymal-menagerie-v3" not in ids
    named = [t.spec.id for t in resolve_tasks(["all", "anymal-menagerie"])]
    assert "anymal-menagerie-v3" in named


def test_unit_key_covers_every_component_and_is_recomputable_from_run_tags():
    base = dict(method="bc", task_id="avoid-v0", spec_hash="a" * 16, dataset_hash="b" * 16,
                seed=0, tier="smoke", config_hash="c" * 16, levels=("nominal",))
    k0 = unit_key(**base)
    variants = [dict(method="dppo"), dict(task_id="avoid-v1"), dict(spec_hash="x" * 16),
                dict(dataset_hash="y" * 16), dict(seed=1), dict(tier="small"),
                dict(config_hash="z" * 16), dict(levels=("nominal", "obs_noise_0.1"))]
    keys = {unit_key(**(base | v)) for v in variants}
    assert k0 not in keys and len(keys) == len(variants)
    tags = {schema.TAG_METHOD: "bc", schema.TAG_TASK: "avoid-v0",
            schema.TAG_SPEC_HASH: "a" * 16, schema.TAG_DATASET_HASH: "b" * 16,
            schema.TAG_SEED: "0", schema.TAG_TIER: "smoke", schema.TAG_CONFIG_HASH: "c" * 16,
            schema.TAG_PERTURBATIONS: json.dumps(["nominal"])}
    # a `bench evaluate` run (no unit tag) with the same hashes is the same unit
    assert key_from_tags(tags) == k0
    assert key_from_tags(tags | {schema.TAG_UNIT: "explicit"}) == "explicit"
    assert key_from_tags({schema.TAG_METHOD: "bc"}) is None


def test_plan_is_method_major_deduplicated_and_hashes_match_the_runner(avoid_dataset):
    from benchmark.registry import get_method_class, get_task
    from benchmark.runner import method_config_hash

    cfg = SweepConfig(("bc", "bc"), ("avoid", "avoid-v0"), (1, 0, 1), tier="smoke",
                      perturbations=("obs_noise_0.1",))
    units = plan_units(cfg)
    assert [u.label for u in units] == ["bc/avoid-v0/s0", "bc/avoid-v0/s1"]
    spec = get_task("avoid").spec
    u = units[0]
    assert u.spec_hash == spec.hash() and u.dataset_hash == avoid_dataset.content_hash
    assert u.config_hash == method_config_hash(get_method_class("bc")(), {}, None)
    assert u.levels == ("nominal", "obs_noise_0.1")
    assert len({x.key for x in units}) == 2


@pytest.mark.parametrize("args, message", [
    (["-m", "bcc", "-t", "avoid"], "Did you mean 'bc'"),
    (["-m", "bc", "-t", "avoidd"], "Did you mean 'avoid'"),
    (["-m", "bc", "-t", "avoid", "--tier", "huge"], "unknown tier"),
    (["-m", "bc", "-t", "avoid", "-p", "quake"], "no perturbation level"),
    (["-m", "bc", "-t", "avoid", "--executor", "slurm"], "unknown executor"),
    (["-m", "bc", "-t", "avoid", "--address", "auto"], "needs --executor ray"),
])
def test_bad_input_exits_2_with_a_clear_message(args, message):
    tier = [] if "--tier" in args else ["--tier", "smoke"]
    result = cli.invoke(app, ["sweep", *args, *tier, "-q"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not isinstance(result.exception, UnknownIdError)  # reported, not raised


def test_ray_executor_without_ray_installed_exits_2(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    result = cli.invoke(app, ["sweep", "-m", "bc", "-t", "avoid", "--tier", "smoke",
                              "--executor", "ray", "-q"])
    assert result.exit_code == 2, result.output
    assert "needs Ray, which is not installed" in result.output
    assert "pip install ray" in result.output


# ----------------------------------------------------------------------------- faults
@pytest.mark.slow
def test_failing_unit_is_marked_failed_the_rest_goes_on_and_rerun_skips_finished(
        nan_plugin, shared_cache, tmp_path, avoid_dataset, monkeypatch):
    out1, out2 = tmp_path / "first.json", tmp_path / "second.json"
    # the plan's table folds long cells to the console's width (80 without a terminal), and
    # where a fold falls depends on the temporary paths in the error; a wide console keeps
    # "last FAILED" on one line whatever the paths
    monkeypatch.setattr(console, "width", 400)
    # bc and nanbc share seed 0's pretraining: the two workers meet on one checkpoint
    args = ["sweep", "-m", "bc,nanbc", "-t", "avoid", "-s", "0", "--tier", "smoke", "-q"]
    cmd = _bench(*args, "-w", "2")
    first = subprocess.run(cmd + ["--json", str(out1)], capture_output=True, text=True,
                           timeout=400)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "1 unit(s) failed" in first.stderr
    assert "nanbc/avoid-v0/s0: TrainingError: fine-tuning diverged" in first.stderr
    res = {u["unit"]: u for u in json.loads(out1.read_text())["units"]}
    bc, nan = res["bc/avoid-v0/s0"], res["nanbc/avoid-v0/s0"]
    assert (bc["status"], nan["status"]) == ("FINISHED", "FAILED")
    assert nan["error"].startswith("TrainingError: fine-tuning diverged")
    assert 0.0 <= bc["metrics"][schema.SUCCESS_RATE] <= 1.0
    _LOCAL_METRICS[bc["key"]] = _valued(bc["metrics"])
    # pretrained once, shared: one checkpoint for seed 0
    assert len([d for d in (shared_cache / "pretrained").iterdir() if d.is_dir()]) == 1
    # the store agrees: bc FINISHED, nanbc FAILED with the error's first line
    runs = _by_key(_seed_runs())
    assert [r.info.status for r in runs[bc["key"]]] == ["FINISHED"]
    (failed,) = runs[nan["key"]]
    assert failed.info.status == "FAILED"
    assert failed.data.tags[schema.TAG_ERROR].startswith("TrainingError: fine-tuning diverged")

    # dry run (in process: the plugin is on sys.path too): bc done, nanbc to redo, and why
    dry = cli.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "1 done, 1 to run" in dry.output and "last FAILED" in dry.output

    second = subprocess.run(cmd + ["--json", str(out2)], capture_output=True, text=True,
                            timeout=400)
    assert second.returncode == 1, second.stdout + second.stderr
    res2 = {u["unit"]: u for u in json.loads(out2.read_text())["units"]}
    assert res2["bc/avoid-v0/s0"]["status"] == "DONE"  # skipped: same run
    assert res2["bc/avoid-v0/s0"]["run_id"] == bc["run_id"]
    assert res2["nanbc/avoid-v0/s0"]["status"] == "FAILED"  # redone
    runs = _by_key(_seed_runs())
    assert [r.info.status for r in runs[nan["key"]]] == ["FAILED", "FAILED"]
    assert [r.info.status for r in runs[bc["key"]]] == ["FINISHED"]


@pytest.mark.slow
def test_lost_worker_process_is_replaced_and_its_unit_rerun(nan_plugin, shared_cache, tmp_path,
                                                            monkeypatch, avoid_dataset):
    from benchmark.sweep import run_sweep

    marker = tmp_path / "crashed"
    monkeypatch.setenv("MODEBENCH_TEST_CRASH_MARKER", str(marker))
    cfg = SweepConfig(("crashbc",), ("avoid",), (0,), tier="smoke")
    result = run_sweep(cfg, executor="local", workers=1, retries=1)
    (unit,) = result.units
    out = result.outcome(unit)
    assert marker.exists(), "the first attempt did not crash its worker"
    assert out.status == "FINISHED" and out.attempts == 2, out
    assert out.worker.split(":")[1] != marker.read_text()  # a fresh process ran it
    runs = _by_key(_seed_runs())[unit.key]
    # the crashed attempt's run is closed as KILLED, not left RUNNING forever
    assert sorted(r.info.status for r in runs) == ["FINISHED", "KILLED"]


def _count_finished(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute("SELECT count(*) FROM runs WHERE status = 'FINISHED'"
                               ).fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


@pytest.mark.slow
def test_sweep_killed_with_sigkill_resumes_without_redoing_or_losing_units(
        shared_cache, tmp_path, avoid_dataset):
    db = Path(tracking.tracking_uri().removeprefix("sqlite:///"))
    cmd = _bench("sweep", "-m", "bc", "-t", "avoid", "-s", "0-2", "--tier", "smoke", "-w", "2",
                 "-q")
    log = (tmp_path / "killed.log").open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 400
    try:
        while _count_finished(db) < 1:
            assert proc.poll() is None, (tmp_path / "killed.log").read_text()
            assert time.monotonic() < deadline, "no unit finished in time"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers, mid-way
        proc.wait()
    before = {k: v for k, v in _by_key(_seed_runs()).items()}
    finished_before = {k: [r.info.run_id for r in v if r.info.status == "FINISHED"]
                       for k, v in before.items()}
    finished_before = {k: v for k, v in finished_before.items() if v}
    assert 1 <= len(finished_before) < 3, "the kill must land mid-way"

    out = tmp_path / "resumed.json"
    resumed = subprocess.run(cmd + ["--json", str(out)], capture_output=True, text=True,
                             timeout=400)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    units = json.loads(out.read_text())["units"]
    assert len(units) == 3
    after = _by_key(_seed_runs())
    for u in units:
        finished = [r.info.run_id for r in after[u["key"]] if r.info.status == "FINISHED"]
        assert len(finished) == 1, u["unit"]  # none lost, none done twice
        if u["key"] in finished_before:  # not redone
            assert u["status"] == "DONE" and finished == finished_before[u["key"]]
        else:
            assert u["status"] == "FINISHED"
        if u["key"] in _LOCAL_METRICS:  # same seed, same metrics, whichever run made it
            assert _valued(u["metrics"]) == _LOCAL_METRICS[u["key"]]
    # every checkpoint in place is complete (a killed writer leaves only .tmp-* folders)
    for d in (shared_cache / "pretrained").iterdir():
        if d.is_dir() and not d.name.startswith(".tmp-"):
            assert (d / "COMPLETE").exists(), d


def _statuses(db: Path) -> list[str]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return [r[0] for r in con.execute("SELECT status FROM runs")]
    except sqlite3.Error:  # not created yet
        return []


@pytest.mark.slow
def test_sweep_terminated_with_sigterm_stops_its_workers_and_marks_runs_killed(
        tmp_path, monkeypatch, avoid_dataset):
    """SIGTERM to the sweep alone (as a scheduler or ``kill`` sends it): no orphaned workers
    go on computing, no run stays RUNNING, exit code 143."""
    import psutil

    monkeypatch.setenv("MODEBENCH_CACHE", str(tmp_path / "cache"))  # units really train
    db = Path(tracking.tracking_uri().removeprefix("sqlite:///"))
    # small-tier units pretrain for minutes: the signal lands while a run is RUNNING (smoke
    # units finished between the poll that saw RUNNING and the signal on an idle machine,
    # leaving no run to mark KILLED); the test still ends within seconds of the first run
    cmd = _bench("sweep", "-m", "bc", "-t", "avoid", "-s", "0-3", "--tier", "small", "-w", "2",
                 "-q")
    log = tmp_path / "terminated.log"
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    try:
        while "RUNNING" not in _statuses(db):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no unit started in time"
            time.sleep(0.05)
        workers = psutil.Process(proc.pid).children(recursive=True)
        assert workers
        proc.send_signal(signal.SIGTERM)  # the sweep's process only, not its group
        assert proc.wait(timeout=120) == 143, log.read_text()
        gone, alive = psutil.wait_procs(workers, timeout=30)
        assert not alive, f"orphaned workers: {alive}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    statuses = _statuses(db)
    assert "RUNNING" not in statuses and "KILLED" in statuses, statuses
    assert "terminated" in log.read_text()


def test_checkpoint_cache_concurrent_builders_build_once(tmp_path):
    sys.path.insert(0, str(FIXTURES))
    try:
        from helpers import pretrained

        ctx = mp.get_context("spawn")
        with ctx.Pool(4) as pool:
            results = pool.starmap(pretrained, [(str(tmp_path), 0.5)] * 4)
    finally:
        sys.path.remove(str(FIXTURES))
    assert (tmp_path / "pretrain.log").read_text().count("\n") == 1  # built once
    assert {p for _, p in results} == {results[0][1]}
    assert all(policy == {"weights": 42} for policy, _ in results)


def test_checkpoint_half_written_by_a_killed_writer_is_never_loaded(tmp_path):
    sys.path.insert(0, str(FIXTURES))
    try:
        from helpers import pretrained

        ctx = mp.get_context("spawn")
        writer = ctx.Process(target=pretrained, args=(str(tmp_path), 60.0))
        writer.start()
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("saving-*")):  # part1 written, part2 not yet
            assert writer.is_alive() and time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(writer.pid, signal.SIGKILL)
        writer.join()
        policy, path = pretrained(str(tmp_path), 0.0)  # must rebuild, not load half of it
    finally:
        sys.path.remove(str(FIXTURES))
    assert policy == {"weights": 42}
    assert (tmp_path / "pretrain.log").read_text().count("\n") == 2
    assert (Path(path) / "part2").exists() and (Path(path) / "COMPLETE").exists()


@pytest.mark.slow
def test_eight_concurrent_writers_on_a_fresh_sqlite_store(tmp_path):
    # a fresh store: the writers also race to create its schema (tracking.client's lock)
    sys.path.insert(0, str(FIXTURES))
    try:
        from helpers import write_runs

        with mp.get_context("spawn").Pool(8) as pool:
            ids = pool.starmap(write_runs, [(w, 4) for w in range(8)])
    finally:
        sys.path.remove(str(FIXTURES))
    runs = {r.info.run_id: r for r in _seed_runs()}
    assert len(runs) == 32 and set(runs) == {i for w in ids for i in w}
    c = tracking.client()
    for w, worker_ids in enumerate(ids):
        for j, rid in enumerate(worker_ids):
            r = runs[rid]
            assert r.info.status == "FINISHED"
            assert r.data.metrics == {f"m{k}": w * 1000 + j * 10 + k for k in range(25)}
            assert r.data.params == {"worker": str(w), "j": str(j)}
            assert json.loads(r.data.tags["modebench.mode_distribution"]) == {"w": w}
            assert tracking.read_episodes(c, rid) == [{"worker": str(w), "run": str(j)}]


@pytest.mark.slow
def test_ray_local_cluster_gives_the_local_executors_metrics(shared_cache, avoid_dataset):
    ray = pytest.importorskip("ray")
    from benchmark.sweep import run_sweep

    cfg = SweepConfig(("bc",), ("avoid",), (0,), tier="smoke")
    (unit,) = plan_units(cfg)
    if unit.key not in _LOCAL_METRICS:  # this test alone: get the local executor's figure
        local = run_sweep(cfg, executor="local", workers=1)
        _LOCAL_METRICS[unit.key] = _valued(local.outcome(unit).metrics)
        tracking_db = Path(tracking.tracking_uri().removeprefix("sqlite:///"))
        tracking_db.unlink()  # a fresh store, so the Ray sweep runs the unit again
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             logging_level="WARNING")
    try:
        result = run_sweep(cfg, executor="ray")
    finally:
        ray.shutdown()
    out = result.outcome(unit)
    assert out.status == "FINISHED", out.error
    assert _valued(out.metrics) == _LOCAL_METRICS[unit.key]
    (run,) = _seed_runs()
    assert run.info.status == "FINISHED" and run.data.tags[schema.TAG_UNIT] == unit.key


def test_an_option_grid_makes_one_unit_per_value_and_config(tmp_path, monkeypatch):
    from benchmark.sweep import SweepConfig, plan_sweep

    monkeypatch.setenv("MODEBENCH_DATASETS", str(tmp_path / "datasets"))
    cfg = SweepConfig(methods=("bc-cvae",), tasks=("radial",), seeds=(0, 1), tier="smoke",
                      grid=(("beta", (0.1, 10.0, 100.0)),))
    units, _ = plan_sweep(cfg, build_datasets=True)
    assert len(units) == 6
    assert {u.options for u in units} == {(("beta", b),) for b in (0.1, 10.0, 100.0)}
    assert len({u.config_hash for u in units}) == 3 and len({u.key for u in units}) == 6
    with pytest.raises(UsageError, match="both"):
        SweepConfig(methods=("bc-cvae",), tasks=("radial",), seeds=(0,),
                    options=(("beta", 1.0),), grid=(("beta", (0.1,)),))
    # the default value on a grid is the method's default unit (no option, its plain row);
    # given as an --option it is still refused
    with_default = SweepConfig(methods=("bc-cvae",), tasks=("radial",), seeds=(0,),
                               tier="smoke", grid=(("beta", (0.1, 1.0)),))
    units, _ = plan_sweep(with_default, build_datasets=True)
    plain, _ = plan_sweep(SweepConfig(methods=("bc-cvae",), tasks=("radial",), seeds=(0,),
                                      tier="smoke"), build_datasets=True)
    assert sorted(u.options for u in units) == [(), (("beta", 0.1),)]
    assert {u.key for u in units if not u.options} == {plain[0].key}
    with pytest.raises(UsageError, match="is the default"):
        plan_sweep(SweepConfig(methods=("bc-cvae",), tasks=("radial",), seeds=(0,),
                               tier="smoke", options=(("beta", 1.0),)), build_datasets=True)
