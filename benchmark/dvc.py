"""Versioned datasets with DVC: ``datasets/`` is tracked by ``datasets.dvc``.

The repository's ``.dvc/config`` names a default remote, a local directory
(``.dvc-remote/`` next to ``.dvc/``, git-ignored). ``MODEBENCH_DVC_REMOTE`` (a path or any URL
DVC understands) replaces it for one checkout: it is written to ``.dvc/config.local`` (never
committed) as the remote ``env`` and used for push and pull.

Everything goes through the real ``dvc`` command line (``python -m dvc``) in a subprocess,
with ``DVC_NO_ANALYTICS=1`` and ``DVC_SITE_CACHE_DIR`` under modebench's cache root (DVC's
default, ``/var/tmp/dvc``, is shared by every user of the machine).

DVC needs git: the functions here work on the git + DVC repository that holds the datasets
folder (found by walking up from the working directory), and refuse, with a message, when
the datasets folder in use (``MODEBENCH_DATASETS``) is not the one ``datasets.dvc`` tracks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmark.errors import DatasetError
from benchmark.paths import cache_root, datasets_root
from benchmark.progress import SILENT, Progress

DVC_FILE = "datasets.dvc"
TRACKED_DIR = "datasets"
DEFAULT_REMOTE = "local"
DEFAULT_REMOTE_URL = ".dvc-remote"  # relative to the repository root (dvc stores ../.dvc-remote)
ENV_REMOTE = "MODEBENCH_DVC_REMOTE"
ENV_REMOTE_NAME = "env"
# what is never data: build scratch folders and the inter-process lock files
DVCIGNORE_LINES = (f"/{TRACKED_DIR}/.build-*", f"/{TRACKED_DIR}/.*.lock")
TIMEOUT_S = 600


def dvc_env() -> dict[str, str]:
    """The environment ``dvc`` runs with (analytics off, site cache under the cache root)."""
    env = dict(os.environ)
    env["DVC_NO_ANALYTICS"] = "1"
    env.setdefault("DVC_SITE_CACHE_DIR", str(cache_root() / "dvc-site"))
    return env


def find_repo(start: Path | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: cwd) with a ``.dvc`` directory."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return None


def require_repo(start: Path | None = None) -> Path:
    """Like :func:`find_repo`, but raise a :class:`DatasetError` that says what to do."""
    repo = find_repo(start)
    if repo is None:
        raise DatasetError(
            f"no DVC repository at or above {(start or Path.cwd()).resolve()}: run bench "
            "from the modebench checkout (it holds .dvc/ and datasets.dvc)")
    return repo


def run_dvc(args: list[str], repo: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``dvc <args>`` in ``repo``.

    Raises:
        DatasetError: ``dvc`` failed (with its message) and ``check`` is true.
    """
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, env=dvc_env(),
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    if check and proc.returncode != 0:
        msg = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        tail = " | ".join(line.strip() for line in msg[-6:] if line.strip())
        raise DatasetError(f"`dvc {' '.join(args)}` failed (exit {proc.returncode}): {tail}")
    return proc


def init_repo(repo: Path, remote_url: str = DEFAULT_REMOTE_URL) -> None:
    """``dvc init`` a git repository with modebench's settings (idempotent).

    Sets ``core.analytics false``, ``core.check_update false``, the default local-directory
    remote ``local`` at ``remote_url`` (a path relative to ``repo``, an absolute path or a
    URL) and the ``.dvcignore`` lines for build scratch and lock files.

    Raises:
        DatasetError: ``repo`` is not a git repository, or ``dvc init`` failed.
    """
    if not (repo / ".git").exists():
        raise DatasetError(f"{repo} is not a git repository; DVC needs git (run `git init`)")
    if not (repo / ".dvc").is_dir():
        run_dvc(["init", "-q"], repo)
    url = remote_url
    if "://" not in url and not Path(url).is_absolute():
        # DVC resolves a relative remote path against the config file's folder (.dvc/)
        url = os.path.relpath(repo / url, repo / ".dvc")
    # the file `dvc config` / `dvc remote add -d` would write; one write instead of four
    # dvc start-ups (seconds each on a busy machine)
    (repo / ".dvc" / "config").write_text(
        "[core]\n    analytics = false\n    check_update = false\n"
        f"    remote = {DEFAULT_REMOTE}\n"
        f"['remote \"{DEFAULT_REMOTE}\"']\n    url = {url}\n")
    ignore = repo / ".dvcignore"
    lines = ignore.read_text().splitlines() if ignore.exists() else []
    missing = [line for line in DVCIGNORE_LINES if line not in lines]
    if missing:
        ignore.write_text("\n".join([*lines, *missing]) + "\n")


def _remote_args(repo: Path) -> list[str]:
    """``["-r", "env"]`` when ``MODEBENCH_DVC_REMOTE`` is set (after registering it locally)."""
    url = os.environ.get(ENV_REMOTE)
    if not url:
        return []
    run_dvc(["remote", "add", "--local", "-f", ENV_REMOTE_NAME, url], repo)
    return ["-r", ENV_REMOTE_NAME]


def remote_url(repo: Path) -> str | None:
    """The remote push/pull use (``MODEBENCH_DVC_REMOTE`` or the default), None if none."""
    if os.environ.get(ENV_REMOTE):
        return os.environ[ENV_REMOTE]
    proc = run_dvc(["remote", "default"], repo, check=False)
    name = proc.stdout.strip()
    if proc.returncode != 0 or not name:
        return None
    # `dvc config` prints the one value; `dvc remote list` wraps long lines to the terminal
    url = run_dvc(["config", f"remote.{name}.url"], repo, check=False)
    if url.returncode != 0:
        return None
    return url.stdout.strip() or None


def check_tracked_root(repo: Path) -> Path:
    """The tracked datasets folder; refuse when ``MODEBENCH_DATASETS`` points elsewhere."""
    tracked = (repo / TRACKED_DIR).resolve()
    if datasets_root() != tracked:
        raise DatasetError(
            f"{DVC_FILE} tracks {tracked}, but the datasets in use are at {datasets_root()} "
            f"(MODEBENCH_DATASETS). Unset MODEBENCH_DATASETS (or point it at {tracked}) to "
            "version datasets with DVC")
    return tracked


def add(repo: Path) -> str:
    """``dvc add datasets``: record the datasets folder's current content in ``datasets.dvc``.

    Returns:
        The folder's DVC md5 (ends in ``.dir``).
    """
    check_tracked_root(repo)
    if not (repo / TRACKED_DIR).is_dir():
        raise DatasetError(f"nothing to track: {repo / TRACKED_DIR} does not exist")
    run_dvc(["add", "-q", TRACKED_DIR], repo)
    return tracked_md5(repo) or ""


def _require_dvc_file(repo: Path) -> None:
    if not (repo / DVC_FILE).exists():
        raise DatasetError(f"no {DVC_FILE} in {repo}: build a dataset first "
                           "(`bench datasets build`), it runs `dvc add datasets`")


def tracked_md5(repo: Path) -> str | None:
    """The md5 that ``datasets.dvc`` records (None when there is no datasets.dvc)."""
    path = repo / DVC_FILE
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        line = line.strip().lstrip("- ")
        if line.startswith("md5:"):
            return line.split(":", 1)[1].strip()
    return None


def push(repo: Path, progress: Progress = SILENT) -> None:
    """``dvc push datasets.dvc`` to the remote (``MODEBENCH_DVC_REMOTE`` or the default)."""
    _require_dvc_file(repo)
    with progress.task(f"dvc push ({remote_url(repo)})", total=None):
        run_dvc(["push", "-q", *_remote_args(repo), DVC_FILE], repo)


def _cache_object(cache: Path, md5: str) -> Path:
    """Where DVC 3 keeps the object ``md5`` in the cache folder ``cache``."""
    return cache / "files" / "md5" / md5[:2] / md5[2:]


def missing_from_cache(repo: Path, targets: list[str] | None = None) -> list[str]:
    """The files of the tracked version (or of ``targets`` under ``datasets/``) that DVC's
    local cache lacks; the folder's manifest (``<md5>.dir``) stands for all of them while it
    is missing itself. Empty when a checkout can restore them."""
    md5 = tracked_md5(repo)
    if md5 is None:
        return [DVC_FILE]
    out = run_dvc(["cache", "dir"], repo).stdout.strip()
    cache = Path(out) if out else repo / ".dvc" / "cache"
    manifest = _cache_object(cache, md5)
    if not manifest.exists():
        return [f"{md5} (the manifest of {TRACKED_DIR}/)"]
    prefixes = [t[len(TRACKED_DIR) + 1:].rstrip("/") + "/" for t in targets or []
                if t.startswith(f"{TRACKED_DIR}/")]
    return [entry["relpath"] for entry in json.loads(manifest.read_text())
            if (not prefixes or any(entry["relpath"].startswith(p) for p in prefixes))
            and not _cache_object(cache, entry["md5"]).exists()]


def pull(repo: Path, targets: list[str] | None = None, force: bool = False,
         progress: Progress = SILENT) -> None:
    """Fetch the tracked datasets (or only ``targets``, paths under ``datasets/``) from the
    remote into DVC's cache, then check them out, only once the cache holds all of them.

    ``dvc pull`` whose data the remote cannot serve deletes the whole tracked folder, local
    datasets included (DVC 3.67: "Checkout failed for following targets: datasets"), so the
    fetch and the checkout are separate and the cache is checked in between.

    Args:
        repo: The repository.
        targets: Sub-paths to fetch (granular pull), e.g. ``["datasets/modebench/kitchen"]``;
            None pulls all of ``datasets.dvc``.
        force: Overwrite local files that differ from the tracked version.
        progress: Progress reporter.

    Raises:
        DatasetError: Nothing tracked, or the remote lacks part of it (nothing is changed).
    """
    if not (repo / DVC_FILE).exists():
        raise DatasetError(f"no {DVC_FILE} in {repo}: there is no tracked dataset version "
                           "to pull; build one with `bench datasets build`")
    check_tracked_root(repo)
    what = targets or [DVC_FILE]
    with progress.task(f"dvc pull ({remote_url(repo)})", total=None):
        run_dvc(["fetch", "-q", *_remote_args(repo), *what], repo)
        missing = missing_from_cache(repo, targets)
        if missing:
            raise DatasetError(
                f"the DVC remote ({remote_url(repo)}) does not hold the tracked datasets "
                f"({len(missing)} missing, e.g. {missing[0]}); nothing was changed. Push them "
                "from a checkout that has them (`bench datasets push`), or build them here "
                "(`bench datasets build`).")
        run_dvc(["checkout", "-q", *(["--force"] if force else []), *what], repo)


def status(repo: Path, cloud: bool = False) -> dict[str, Any]:
    """``dvc status [--cloud] --json`` of ``datasets.dvc`` (empty dict = up to date)."""
    _require_dvc_file(repo)
    args = ["status", "--json", *(["--cloud", *_remote_args(repo)] if cloud else []), DVC_FILE]
    out = run_dvc(args, repo).stdout.strip()
    return json.loads(out) if out else {}


def pull_dataset(dataset_id: str, progress: Progress = SILENT) -> bool:
    """Fetch one dataset from the DVC remote if it can be had; never raises.

    Used by :func:`benchmark.datasets.ensure_dataset` before falling back to a build. It
    tries only when the datasets folder in use is the tracked one, ``datasets.dvc`` exists
    and a remote is configured.

    Returns:
        True when the dataset is now in place.
    """
    from benchmark.datasets import dataset_lock, dataset_path

    repo = find_repo()
    if repo is None or not (repo / DVC_FILE).exists():
        return False
    try:
        check_tracked_root(repo)
        if remote_url(repo) is None:
            return False
        with dataset_lock(dataset_id):
            if dataset_path(dataset_id).exists():
                return True
            pull(repo, [f"{TRACKED_DIR}/{dataset_id}"], progress=progress)
    except (DatasetError, OSError, subprocess.SubprocessError):
        return False  # not in the tracked version, remote unreachable ...: build instead
    return dataset_path(dataset_id).exists()
