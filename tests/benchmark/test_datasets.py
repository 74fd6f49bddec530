"""``bench datasets`` through typer's CliRunner: verify, build, pull/push exit codes."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmark import dvc
from benchmark.cli import app
from benchmark.registry import get_task

runner = CliRunner()
AVOID = get_task("avoid")


def test_verify_missing_dataset_exits_3(tmp_path, monkeypatch):
    monkeypatch.setenv("MODEBENCH_DATASETS", str(tmp_path))
    result = runner.invoke(app, ["datasets", "verify", "--task", "avoid"])
    assert result.exit_code == 3
    assert "missing" in result.output and "bench datasets build --task avoid-v0" in result.output


def test_verify_all_skips_a_task_this_machine_cannot_run_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("MODEBENCH_DATASETS", str(tmp_path))
    monkeypatch.delenv("MENAGERIE_ROOT", raising=False)
    monkeypatch.setenv("COLUMNS", "300")
    result = runner.invoke(app, ["datasets", "verify"])
    assert result.exit_code == 3  # the runnable tasks' datasets are missing here
    assert "skipped anymal-menagerie-v3" in result.output and "MENAGERIE_ROOT" in result.output
    assert "avoid-v0: dataset modebench/avoid/expert-v0 is missing" in result.output
    assert "anymal-menagerie-v3: dataset" not in result.output  # not counted as a problem
    # named explicitly, it is checked (and missing)
    result = runner.invoke(app, ["datasets", "verify", "--task", "anymal-menagerie"])
    assert result.exit_code == 3 and "anymal-menagerie-v3: dataset" in result.output


def test_verify_unknown_task_exits_2():
    result = runner.invoke(app, ["datasets", "verify", "--task", "kitchn"])
    assert result.exit_code == 2
    assert "Did you mean" in result.output


def test_build_then_verify_ok_and_corruption_exits_3(avoid_dataset, _session_datasets,
                                                     tmp_path, monkeypatch):
    # the session's dataset is reused (no --force): build only reports it
    result = runner.invoke(app, ["datasets", "build", "--task", "avoid", "--no-track"])
    assert result.exit_code == 0, result.output
    assert avoid_dataset.content_hash in result.output
    result = runner.invoke(app, ["datasets", "verify", "--task", "avoid"])
    assert result.exit_code == 0, result.output
    assert avoid_dataset.content_hash in result.output
    # a copy with two episodes swapped: valid files, wrong content
    copy = tmp_path / AVOID.spec.dataset_id
    shutil.copytree(_session_datasets / AVOID.spec.dataset_id, copy)
    monkeypatch.setenv("MODEBENCH_DATASETS", str(tmp_path))
    a, b = copy / "data" / "0" / "part-0.arrow", copy / "data" / "1" / "part-0.arrow"
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    spec = dataclasses.replace(AVOID.spec, dataset_hash=avoid_dataset.content_hash)
    monkeypatch.setattr(AVOID, "spec", spec)
    result = runner.invoke(app, ["datasets", "verify", "--task", "avoid"])
    assert result.exit_code == 3
    assert "--force" in result.output  # says how to fix it


@pytest.mark.slow
def test_push_and_pull_through_the_cli(avoid_dataset, _session_datasets, tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q"], ["config", "user.email", "t@example.com"],
                 ["config", "user.name", "t"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    dvc.init_repo(repo, str(tmp_path / "remote"))
    monkeypatch.chdir(repo)
    monkeypatch.setenv("MODEBENCH_DATASETS", str(repo / "datasets"))
    monkeypatch.delenv(dvc.ENV_REMOTE, raising=False)
    result = runner.invoke(app, ["datasets", "push"])
    assert result.exit_code == 3 and "no datasets.dvc" in result.output
    dst = repo / "datasets" / AVOID.spec.dataset_id
    shutil.copytree(_session_datasets / AVOID.spec.dataset_id, dst)
    result = runner.invoke(app, ["datasets", "push"])
    assert result.exit_code == 3 and "no datasets.dvc" in result.output
    # build (the dataset is in place, so this only loads it) tracks the folder with dvc add
    result = runner.invoke(app, ["datasets", "build", "--task", "avoid"])
    assert result.exit_code == 0, result.output
    assert (repo / "datasets.dvc").exists()
    result = runner.invoke(app, ["datasets", "push"])
    assert result.exit_code == 0, result.output
    shutil.rmtree(dst)
    result = runner.invoke(app, ["datasets", "push"])
    assert result.exit_code == 3 and "differs" in result.output  # refuses a stale workspace
    result = runner.invoke(app, ["datasets", "pull", "--task", "avoid"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["datasets", "verify", "--task", "avoid"])
    assert result.exit_code == 0, result.output
    assert avoid_dataset.content_hash in result.output


def test_pull_outside_a_repository_exits_3(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["datasets", "pull"])
    assert result.exit_code == 3 and "no DVC repository" in result.output


def _corrupt_hash_file(folder: Path) -> str:
    (folder / "modebench_content_hash.json").write_text("{not json")
    return "modebench_content_hash.json is corrupt"


def _drop_metadata(folder: Path) -> str:
    (folder / "data" / "metadata.json").unlink()
    return "data/metadata.json is missing"


def _delete_an_episode(folder: Path) -> str:
    shutil.rmtree(folder / "data" / "3")
    return "avoid"


@pytest.mark.parametrize("damage", [_corrupt_hash_file, _drop_metadata, _delete_an_episode])
@pytest.mark.parametrize("command", [["datasets", "verify", "--task", "avoid"],
                                     ["evaluate", "-m", "bc", "-t", "avoid", "--tier", "smoke",
                                      "-q"]])
def test_a_damaged_dataset_exits_3_with_the_fix(damage, command, avoid_dataset,
                                                _session_datasets, tmp_path, monkeypatch):
    """Issue 11: tracebacks (JSONDecodeError), no fix named, or a literal ``--task ...``."""
    copy = tmp_path / "datasets" / AVOID.spec.dataset_id
    shutil.copytree(_session_datasets / AVOID.spec.dataset_id, copy)
    monkeypatch.setenv("MODEBENCH_DATASETS", str(tmp_path / "datasets"))
    monkeypatch.setenv("COLUMNS", "400")
    expected = damage(copy)
    result = runner.invoke(app, command)
    assert result.exit_code == 3, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert expected in result.output
    assert "bench datasets build --task avoid-v0 --force" in result.output
    assert "--task ..." not in result.output
