"""Provenance: git commit, package versions, host facts. Attached to every result."""

from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

TRACKED_PACKAGES = (
    "modebench", "torch", "numpy", "gymnasium", "gymnasium-robotics", "mujoco", "robosuite",
    "minari", "mlflow",
)


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the code being run (``"unknown"`` outside a git checkout).

    A ``+dirty`` suffix marks uncommitted changes, so such results are never confused with
    the commit's own.
    """
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, timeout=10).stdout
        return sha + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    """Installed versions of the packages results depend on (absent ones omitted)."""
    out = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def provenance_lock_tags() -> dict[str, str]:
    """Run tags naming the lock file's hash and the locked packages installed otherwise."""
    import json

    from benchmark import lockfile, schema

    return {schema.TAG_LOCK_HASH: lockfile.lock_hash(),
            schema.TAG_LOCK_DRIFT: json.dumps([str(d) for d in lockfile.drift()])}
