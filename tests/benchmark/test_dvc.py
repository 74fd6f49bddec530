"""DVC versioning of datasets with the real ``dvc``, in a temporary git repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from benchmark import dvc
from benchmark.datasets import dataset_path, ensure_dataset, load_dataset
from benchmark.errors import DatasetError
from benchmark.registry import get_task

AVOID = get_task("avoid")


@pytest.fixture
def dvc_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git + DVC repository whose ``datasets/`` is the datasets folder in use."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q"], ["config", "user.email", "t@example.com"],
                 ["config", "user.name", "t"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    (repo / ".gitignore").write_text("/datasets/\n")  # as in modebench's own .gitignore
    dvc.init_repo(repo, str(tmp_path / "remote"))
    monkeypatch.chdir(repo)
    monkeypatch.setenv("MODEBENCH_DATASETS", str(repo / "datasets"))
    monkeypatch.delenv(dvc.ENV_REMOTE, raising=False)
    return repo


def _copy_avoid(avoid_dataset, session_root: Path, repo: Path) -> Path:
    src = session_root / AVOID.spec.dataset_id
    dst = repo / "datasets" / AVOID.spec.dataset_id
    shutil.copytree(src, dst)
    return dst


def test_init_writes_modebench_settings(dvc_repo: Path, tmp_path: Path):
    config = (dvc_repo / ".dvc" / "config").read_text()
    assert "analytics = false" in config and "check_update = false" in config
    assert "remote = local" in config
    assert dvc.remote_url(dvc_repo) == str(tmp_path / "remote")
    assert all(line in (dvc_repo / ".dvcignore").read_text() for line in dvc.DVCIGNORE_LINES)
    env = dvc.dvc_env()
    assert env["DVC_NO_ANALYTICS"] == "1"
    assert env["DVC_SITE_CACHE_DIR"].startswith(str(dvc.cache_root()))


def test_a_long_remote_path_is_read_back_whole(dvc_repo: Path, tmp_path: Path):
    """`dvc remote list` wraps long lines for humans; the URL must not depend on the width."""
    long_remote = tmp_path / ("a-remote-folder-with-a-long-name-" * 4) / "remote"
    dvc.init_repo(dvc_repo, str(long_remote))
    assert dvc.remote_url(dvc_repo) == str(long_remote)


def test_push_pull_round_trip_and_ensure_dataset_pulls(dvc_repo, avoid_dataset,
                                                       _session_datasets, tmp_path,
                                                       monkeypatch):
    dst = _copy_avoid(avoid_dataset, _session_datasets, dvc_repo)
    (dvc_repo / "datasets" / ".modebench__x.lock").write_text("")  # ignored by .dvcignore
    md5 = dvc.add(dvc_repo)
    assert md5.endswith(".dir") and dvc.tracked_md5(dvc_repo) == md5
    assert "/datasets/" in (dvc_repo / ".gitignore").read_text()
    dvc.push(dvc_repo)
    assert dvc.status(dvc_repo, cloud=True) == {}
    assert any((tmp_path / "remote").rglob("*"))
    shutil.rmtree(dst)
    assert dvc.status(dvc_repo) != {}  # the workspace lost a dataset

    def no_build(*args, **kwargs):
        raise AssertionError("built although the remote has the dataset")

    # a missing dataset is pulled from the remote, not rebuilt
    monkeypatch.setattr("benchmark.datasets.build_dataset", no_build)
    assert ensure_dataset(AVOID).content_hash == avoid_dataset.content_hash
    assert dataset_path(AVOID.spec.dataset_id) == dst and dst.exists()
    assert load_dataset(AVOID).content_hash == avoid_dataset.content_hash
    assert dvc.status(dvc_repo) == {}


@pytest.mark.slow
def test_env_remote_overrides_the_default(dvc_repo, avoid_dataset, _session_datasets, tmp_path,
                                          monkeypatch):
    other = tmp_path / "other-remote"
    monkeypatch.setenv(dvc.ENV_REMOTE, str(other))
    _copy_avoid(avoid_dataset, _session_datasets, dvc_repo)
    dvc.add(dvc_repo)
    dvc.push(dvc_repo)
    assert any(other.rglob("*")) and not (tmp_path / "remote").exists()
    # written to config.local (never committed), not to the shared config
    assert "other-remote" not in (dvc_repo / ".dvc" / "config").read_text()


def test_pull_without_anything_tracked_falls_back(dvc_repo):
    assert dvc.pull_dataset(AVOID.spec.dataset_id) is False
    with pytest.raises(DatasetError, match="no datasets.dvc"):
        dvc.pull(dvc_repo)


def test_other_datasets_folder_is_refused(dvc_repo, tmp_path, monkeypatch):
    monkeypatch.setenv("MODEBENCH_DATASETS", str(tmp_path / "elsewhere"))
    with pytest.raises(DatasetError, match="Unset MODEBENCH_DATASETS"):
        dvc.add(dvc_repo)
    assert dvc.pull_dataset(AVOID.spec.dataset_id) is False


def test_no_repository_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert dvc.find_repo() is None
    with pytest.raises(DatasetError, match="no DVC repository"):
        dvc.require_repo()
    with pytest.raises(DatasetError, match="not a git repository"):
        dvc.init_repo(tmp_path)


@pytest.mark.slow
def test_rebuild_leaves_dvc_status_clean(dvc_repo):
    """A deterministic rebuild writes the same bytes: datasets.dvc stays up to date."""
    from benchmark.datasets import build_dataset

    first = build_dataset(AVOID)
    dvc.add(dvc_repo)
    again = build_dataset(AVOID, force=True)
    assert again.content_hash == first.content_hash
    assert dvc.status(dvc_repo) == {}


def test_a_pull_the_remote_cannot_serve_loses_no_local_dataset(dvc_repo, avoid_dataset,
                                                                _session_datasets):
    """Found on a fresh machine: ``datasets.dvc`` tracked a version that neither the DVC cache
    nor the (absent) remote held; ``ensure_dataset`` of a missing dataset ran a granular
    ``dvc pull``, whose failed checkout deleted the whole datasets folder, every dataset
    built there included. A pull that cannot be served now changes nothing."""
    kept = _copy_avoid(avoid_dataset, _session_datasets, dvc_repo)
    other = dvc_repo / "datasets" / "modebench" / "other" / "expert-v0"
    other.mkdir(parents=True)
    (other / "data.txt").write_text("tracked, then lost")
    dvc.add(dvc_repo)  # never pushed
    shutil.rmtree(dvc_repo / ".dvc" / "cache")  # a fresh clone has no cache either
    shutil.rmtree(other)
    assert dvc.pull_dataset("modebench/other/expert-v0") is False
    assert kept.exists() and any(kept.rglob("*"))
    with pytest.raises(DatasetError, match="remote"):
        dvc.pull(dvc_repo)
    assert kept.exists() and any(kept.rglob("*"))
    assert load_dataset(AVOID).content_hash == avoid_dataset.content_hash
