"""requirements.lock: it agrees with pyproject.toml, and a drifted install warns and is tagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from typer.testing import CliRunner

from benchmark import lockfile, schema, tracking
from benchmark.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_the_lock_satisfies_every_requirement_of_pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+, the locked interpreter
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = lockfile.read_pins()
    requirements = list(project["dependencies"])
    for extra in ("dev", "ray"):
        requirements += project["optional-dependencies"][extra]
    problems = []
    for text in requirements:
        req = Requirement(text)
        version = pins.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name} is not in requirements.lock")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}=={version} does not satisfy {text!r}")
    assert not problems, "run `bash scripts/lock.sh`:\n" + "\n".join(problems)
    assert pins["torch"].endswith("+cpu")  # never a CUDA build by accident


def test_this_environment_is_the_locked_one():
    """CI installs from the lock (scripts/install.sh): a green CI means the lock works."""
    assert [str(d) for d in lockfile.drift()] == []


def test_a_drifted_package_warns_and_is_tagged(tmp_path, monkeypatch, avoid_dataset):
    """An older scipy 'installed by hand' = the installed scipy differs from its pin."""
    pins = lockfile.read_pins()
    drifted = (ROOT / "requirements.lock").read_text().replace(
        f"scipy=={pins['scipy']}", "scipy==1.10.0")
    lock = tmp_path / "requirements.lock"
    lock.write_text(drifted)
    monkeypatch.setattr(lockfile, "LOCK_FILE", lock)
    monkeypatch.setenv("COLUMNS", "400")
    result = CliRunner().invoke(app, ["evaluate", "-m", "bc", "-t", "avoid", "--tier", "smoke",
                                      "-q"])
    assert result.exit_code == 0, result.output  # a warning, not a failure
    assert f"scipy {pins['scipy']} (locked 1.10.0)" in result.output
    c = tracking.client()
    runs = c.search_runs([tracking.experiment_id(c)])
    assert runs and all(json.loads(r.data.tags[schema.TAG_LOCK_DRIFT])
                        == [f"scipy {pins['scipy']} (locked 1.10.0)"] for r in runs)
    assert {r.data.tags[schema.TAG_LOCK_HASH] for r in runs} == {lockfile.lock_hash(lock)}
