"""Demonstration datasets: build with the task's scripted expert, store as Minari, verify.

Datasets are real Minari datasets (``EpisodeBuffer`` + ``create_dataset_from_buffers``, arrow
format) under :func:`benchmark.paths.datasets_root`, loadable with ``minari.load_dataset``
once ``MINARI_DATASETS_PATH`` points there. Each has a *content hash*: SHA-256 over every
episode's observations, actions, rewards, terminations, truncations and mode label, in episode
order. It does not depend on file bytes or metadata, so it is the same on every machine that
builds the same data; the task spec records it and loading refuses a mismatch.

Builds are atomic: written into a temporary folder and renamed into place under a file lock,
so concurrent workers never build one twice and never read a half-written one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.blas import kernel_hint
from benchmark.envvars import positive_int
from benchmark.errors import DatasetError
from benchmark.interrupts import restore_default_sigterm
from benchmark.paths import datasets_root, writable_dir
from benchmark.progress import SILENT, Progress
from benchmark.seeding import dataset_seed
from benchmark.task import Task

HASH_FILE = "modebench_content_hash.json"


@dataclass
class DemoDataset:
    """Demonstrations as numpy arrays, what a method's ``pretrain`` receives.

    Attributes:
        observations: Per episode, shape (T + 1, obs_dim), float32.
        actions: Per episode, shape (T, act_dim), float32.
        rewards: Per episode, shape (T,), float64.
        modes: Per episode, the mode label demonstrated.
        content_hash: The dataset's content hash.
        dataset_id: The Minari id.
    """

    observations: list[np.ndarray]
    actions: list[np.ndarray]
    rewards: list[np.ndarray]
    modes: list[str]
    content_hash: str
    dataset_id: str
    stats: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.actions)

    def subset(self, n: int) -> DemoDataset:
        """The first ``n`` episodes (tiers use a prefix of the full dataset)."""
        if n > len(self):
            raise DatasetError(f"{self.dataset_id} has {len(self)} episodes, {n} requested")
        return DemoDataset(
            self.observations[:n], self.actions[:n], self.rewards[:n], self.modes[:n],
            self.content_hash, self.dataset_id, dict(self.stats),
        )

    @property
    def n_transitions(self) -> int:
        """Total number of (obs, action) pairs."""
        return int(sum(len(a) for a in self.actions))


def content_hash(
    observations: list[np.ndarray],
    actions: list[np.ndarray],
    rewards: list[np.ndarray],
    terminations: list[np.ndarray],
    truncations: list[np.ndarray],
    modes: list[str],
) -> str:
    """SHA-256 (first 16 hex chars) of the episodes' arrays and mode labels, in order."""
    h = hashlib.sha256()
    for obs, act, rew, term, trunc, mode in zip(
        observations, actions, rewards, terminations, truncations, modes, strict=True
    ):
        for arr, dtype in ((obs, np.float32), (act, np.float32), (rew, np.float64),
                           (term, np.bool_), (trunc, np.bool_)):
            a = np.ascontiguousarray(np.asarray(arr, dtype=dtype))
            h.update(str(a.shape).encode())
            h.update(a.tobytes())
        h.update(mode.encode() + b"\0")
    return h.hexdigest()[:16]


def dataset_path(dataset_id: str) -> Path:
    """Folder of a Minari dataset under the datasets root."""
    return datasets_root() / dataset_id


@contextmanager
def _minari_root(root: Path) -> Iterator[None]:
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


@contextmanager
def dataset_lock(dataset_id: str) -> Iterator[None]:
    """Inter-process lock for building or pulling ``dataset_id``."""
    from filelock import FileLock

    root = writable_dir(datasets_root(), "MODEBENCH_DATASETS")
    lock = root / f".{dataset_id.replace('/', '__')}.lock"
    with FileLock(str(lock)):
        yield


def mode_schedule(weights: tuple[float, ...], index: int) -> int:
    """Mode index of the ``index``-th kept demonstration.

    A deterministic quota schedule: after ``n`` kept episodes, mode ``k`` has been assigned
    within one episode of ``n * w_k / sum(w)`` times, so every prefix of the dataset (tiers
    use prefixes) holds the modes in the spec's proportions. A failed attempt is retried for
    the same mode, so drops do not skew the proportions.
    """
    return _schedule(tuple(weights), index + 1)[index]


@lru_cache(maxsize=16)
def _schedule_prefix(weights: tuple[float, ...], n: int) -> tuple[int, ...]:
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    counts = np.zeros(len(w))
    out = []
    for _ in range(n):
        deficit = (counts.sum() + 1) * w - counts
        choice = int(np.argmax(deficit))  # ties go to the lowest index: deterministic
        counts[choice] += 1
        out.append(choice)
    return tuple(out)


def _schedule(weights: tuple[float, ...], n: int) -> tuple[int, ...]:
    # grow in powers of two so building a dataset costs O(n), not O(n^2)
    size = 1
    while size < n:
        size *= 2
    return _schedule_prefix(weights, max(size, 64))


def _attempt(task: Task, env: Any, attempt: int, wanted: int) -> dict[str, Any] | None:
    """Roll out demonstration attempt ``attempt`` of mode index ``wanted``.

    Reset with :func:`benchmark.seeding.dataset_seed` ``(attempt)``; the expert draws from
    ``np.random.default_rng([attempt, 0xE8])``. Returns the episode's arrays, or None for a
    failed or off-mode episode.
    """
    spec = task.spec
    seed = dataset_seed(attempt)
    obs, _ = env.reset(seed=seed)
    expert = task.make_expert(env, spec.modes[wanted], np.random.default_rng([attempt, 0xE8]))
    obs_list, act_list, rew, term, trunc = [obs], [], [], [], []
    info: dict[str, Any] = {}
    for _ in range(spec.max_episode_steps):
        action = np.asarray(expert(obs), dtype=np.float32)
        obs, r, te, tr, info = env.step(action)
        obs_list.append(obs)
        act_list.append(action)
        rew.append(r)
        term.append(te)
        trunc.append(tr)
        if te or tr:
            break
    if not (info.get("success") and info.get("mode") == expert.mode):
        return None
    return {"seed": seed, "mode": expert.mode,
            "observations": np.asarray(obs_list, dtype=np.float32),
            "actions": np.asarray(act_list, dtype=np.float32),
            "rewards": np.asarray(rew, dtype=np.float64),
            "terminations": np.asarray(term, dtype=bool),
            "truncations": np.asarray(trunc, dtype=bool)}


_WORKER: dict[str, Any] = {}


def _worker_init(task: Task) -> None:
    restore_default_sigterm()  # the pool ends its workers with SIGTERM: no tracebacks
    _WORKER["task"], _WORKER["env"] = task, task.make_env(None)


def _worker_attempt(job: tuple[int, int]) -> dict[str, Any] | None:
    return _attempt(_WORKER["task"], _WORKER["env"], *job)


def dataset_workers() -> int:
    """Processes that build a dataset: ``MODEBENCH_DATASET_WORKERS`` (default 1).

    Raises:
        UsageError: Not a positive integer.
    """
    return positive_int("MODEBENCH_DATASET_WORKERS")


def collect_demonstrations(task: Task, n_episodes: int, progress: Progress = SILENT,
                           workers: int | None = None):
    """Roll out the task's expert; keep successful episodes, count the dropped ones.

    Attempt ``i`` is reset with :func:`benchmark.seeding.dataset_seed` ``(i)``, its expert
    draws from ``np.random.default_rng([i, 0xE8])`` and demonstrates the mode
    :func:`mode_schedule` gives for the number of demonstrations kept before it, so the
    result is deterministic.

    With ``workers`` > 1 the attempts run in that many processes (fork), *speculatively*:
    a window of attempts is started with the modes they get if none before them fails; the
    results are taken in attempt order up to the first failure, whose successors (started
    with the wrong mode) are discarded and run again. The dataset is byte-identical to the
    one-process build whatever the number of workers (failures cost a re-run, and are rare).

    Args:
        task: The task.
        n_episodes: Demonstrations to keep.
        progress: Progress reporter.
        workers: Processes (default :func:`dataset_workers`).

    Returns:
        (buffers, stats): Minari ``EpisodeBuffer`` list and a dict with ``attempted``,
        ``kept``, ``dropped`` and ``mode_counts``.

    Raises:
        DatasetError: The expert failed too often.
    """
    import multiprocessing

    from minari.data_collector import EpisodeBuffer

    spec = task.spec
    workers = dataset_workers() if workers is None else workers
    buffers = []
    modes: Counter[str] = Counter()
    attempted = 0
    env = pool = None
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        # fork: the workers inherit the registry (tasks registered in-process included)
        pool = multiprocessing.get_context("fork").Pool(workers, _worker_init, (task,))
    else:
        env = task.make_env(None)
    try:
        with progress.task(f"demonstrations {spec.id}", total=n_episodes) as advance:
            while len(buffers) < n_episodes:
                if attempted >= 2 * n_episodes + 20:
                    raise DatasetError(
                        f"the {spec.id} expert failed too often ({attempted - len(buffers)} "
                        f"of {attempted} episodes); the dataset cannot be built")
                window = 1 if pool is None else min(
                    2 * workers, n_episodes - len(buffers), 2 * n_episodes + 20 - attempted)
                jobs = [(attempted + j, mode_schedule(spec.mode_weights, len(buffers) + j))
                        for j in range(window)]
                results = ([_attempt(task, env, *jobs[0])] if pool is None
                           else pool.map(_worker_attempt, jobs, chunksize=1))
                for result in results:
                    attempted += 1
                    if result is None:
                        break  # a failed or off-mode attempt: the rest assumed it was kept
                    n = len(result["actions"])
                    buffers.append(EpisodeBuffer(
                        id=len(buffers), seed=result["seed"],
                        observations=result["observations"], actions=result["actions"],
                        rewards=result["rewards"], terminations=result["terminations"],
                        truncations=result["truncations"],
                        # minari's arrow reader needs per-step infos of rank >= 2
                        infos={"mode_index": np.full((n + 1, 1),
                                                     spec.modes.index(result["mode"]),
                                                     dtype=np.int64)},
                    ))
                    modes[result["mode"]] += 1
                    advance(1)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        if env is not None:
            env.close()
    stats = {"attempted": attempted, "kept": len(buffers), "dropped": attempted - len(buffers),
             "mode_counts": dict(sorted(modes.items()))}
    return buffers, stats


def write_minari_dataset(**kwargs: Any) -> Path:
    """``minari.create_dataset_from_buffers(**kwargs)`` in time linear in the episodes.

    Minari 0.5.3's arrow writer recomputes the dataset's size (a glob and a ``stat`` of every
    file written so far) after *each* episode, to store it in the metadata: O(n²) in
    episodes (avoid, 400 episodes: 7.8 s of 9.2 s in ``MinariStorage.get_size``). Here that
    per-episode size is skipped while the episodes are written and the real size is stored
    once at the end, iterated to the same fixed point Minari reaches (the size counts the
    metadata file that holds it), so the files are byte-identical to Minari's own (tested).

    Args:
        **kwargs: ``create_dataset_from_buffers``'s arguments (``dataset_id``, ``buffer`` ...),
            written under ``$MINARI_DATASETS_PATH``.

    Returns:
        The dataset's ``data`` folder.
    """
    import minari
    from minari.dataset.minari_storage import MinariStorage

    real_size = MinariStorage.get_size
    MinariStorage.get_size = lambda self: 0.0  # type: ignore[method-assign]
    try:
        dataset = minari.create_dataset_from_buffers(**kwargs)
    finally:
        MinariStorage.get_size = real_size  # type: ignore[method-assign]
    storage = MinariStorage.read(dataset.storage.data_path)
    size = None
    for _ in range(5):  # converges in one or two rounds: the size is rounded to 0.1 MB
        new = storage.get_size()
        if new == size:
            break
        size = new
        storage.update_metadata({"dataset_size": size})
    return Path(storage.data_path)


def _code_permalink(task: Task) -> str:
    """``git:<sha>`` of the last commit that changed the task's code (expert, env).

    Not the checkout's HEAD: that changes with every commit anywhere in the repository, and
    the Minari metadata would then change the dataset's bytes (and make ``dvc status`` report
    a rebuilt, identical dataset as modified). The commit that last touched the code which
    generates the data is stable across unrelated commits and still says where it came from.
    The package's ``__init__.py`` (the spec) is left out: recording the dataset's hash there
    must not change the dataset's bytes. Uncommitted edits are not marked: the content hash,
    not this field, guards the data.
    """
    import inspect
    import subprocess

    folder = Path(inspect.getfile(type(task))).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "log", "-1", "--format=%H", "--", ".", ":(exclude)__init__.py"],
            cwd=folder, capture_output=True,
            text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"git:{sha or 'unknown'}"


def build_dataset(task: Task, progress: Progress = SILENT, force: bool = False) -> DemoDataset:
    """Build the task's dataset with its expert and write it atomically as Minari/arrow.

    Args:
        task: The task.
        progress: Progress reporter.
        force: Rebuild even if a dataset is already in place.

    Returns:
        The loaded dataset (verified against the spec's hash when the spec has one).
    """
    spec = task.spec
    final = dataset_path(spec.dataset_id)
    with dataset_lock(spec.dataset_id):
        if final.exists() and not force:
            return load_dataset(task)
        buffers, stats = collect_demonstrations(task, spec.dataset_episodes, progress)
        env = task.make_env(None)
        tmp_root = datasets_root() / f".build-{uuid.uuid4().hex}"
        try:
            with _minari_root(tmp_root), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # minari's advice about eval_env etc.
                kwargs = {"env": env} if env.spec is not None else {
                    "observation_space": env.observation_space,
                    "action_space": env.action_space}
                write_minari_dataset(
                    dataset_id=spec.dataset_id,
                    buffer=buffers,
                    algorithm_name=f"modebench scripted expert ({spec.id})",
                    author="modebench",
                    author_email="modebench@users.noreply.github.com",
                    code_permalink=_code_permalink(task),
                    description=(f"{spec.description}. Modes: {spec.mode_rule}. "
                                 f"Stats: {json.dumps(stats, sort_keys=True)}"),
                    data_format="arrow",
                    **kwargs,
                )
            built = tmp_root / spec.dataset_id
            loaded = _read(built, spec.dataset_id, spec.modes, spec.id)
            (built / HASH_FILE).write_text(json.dumps(
                {"content_hash": loaded.content_hash, "stats": stats}, sort_keys=True, indent=1))
            if final.exists():
                shutil.rmtree(final)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(built, final)
        finally:
            env.close()
            shutil.rmtree(tmp_root, ignore_errors=True)
    return load_dataset(task)


def _rebuild_hint(task_id: str) -> str:
    return (f"Fix: `bench datasets build --task {task_id} --force` rebuilds it "
            "deterministically (or `bench datasets pull` fetches the tracked version).")


def _read(path: Path, dataset_id: str, modes: tuple[str, ...], task_id: str) -> DemoDataset:
    import minari

    if not (path / "data" / "metadata.json").exists():
        raise DatasetError(f"{dataset_id}: no Minari dataset at {path} (data/metadata.json is "
                           f"missing). {_rebuild_hint(task_id)}")
    try:
        with _minari_root(path.parents[len(Path(dataset_id).parts) - 1]), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = minari.load_dataset(dataset_id)
            obs, act, rew, term, trunc, labels = [], [], [], [], [], []
            for ep in ds.iterate_episodes():
                obs.append(np.asarray(ep.observations, dtype=np.float32))
                act.append(np.asarray(ep.actions, dtype=np.float32))
                rew.append(np.asarray(ep.rewards, dtype=np.float64))
                term.append(np.asarray(ep.terminations, dtype=bool))
                trunc.append(np.asarray(ep.truncations, dtype=bool))
                labels.append(modes[int(np.asarray(ep.infos["mode_index"])[0, 0])])
    except DatasetError:
        raise
    except Exception as exc:  # arrow/json errors of a damaged dataset
        raise DatasetError(
            f"{dataset_id} at {path} cannot be read ({type(exc).__name__}: {exc}): it is "
            f"corrupt. {_rebuild_hint(task_id)}"
        ) from exc
    digest = content_hash(obs, act, rew, term, trunc, labels)
    return DemoDataset(obs, act, rew, labels, digest, dataset_id)


def load_dataset(task: Task) -> DemoDataset:
    """Load the task's dataset and verify its content hash against the spec.

    Raises:
        DatasetError: Missing, unreadable, or hash mismatch (the message says how to fix it).
    """
    spec = task.spec
    path = dataset_path(spec.dataset_id)
    if not path.exists():
        raise DatasetError(
            f"dataset {spec.dataset_id} is missing at {path}; run "
            f"`bench datasets build --task {spec.id}` (or `bench datasets pull`)"
        )
    ds = _read(path, spec.dataset_id, spec.modes, spec.id)
    if len(ds) != spec.dataset_episodes:
        what = "episodes are missing (a damaged or partial copy)" if len(
            ds) < spec.dataset_episodes else "it holds extra episodes (built by other code)"
        raise DatasetError(
            f"dataset {spec.dataset_id} at {path} has {len(ds)} episodes, task {spec.id} "
            f"specifies {spec.dataset_episodes}: {what}. {_rebuild_hint(spec.id)}"
        )
    if spec.dataset_hash is not None and ds.content_hash != spec.dataset_hash:
        raise DatasetError(
            f"dataset {spec.dataset_id} at {path} has content hash {ds.content_hash}, but task "
            f"{spec.id} requires {spec.dataset_hash}. The files were changed or built by other "
            f"code. {_rebuild_hint(spec.id)}{kernel_hint()}"
        )
    stats_file = path / HASH_FILE
    if stats_file.exists():
        try:
            ds.stats = json.loads(stats_file.read_text()).get("stats", {})
        except (OSError, ValueError, AttributeError) as exc:
            raise DatasetError(f"{stats_file} is corrupt ({type(exc).__name__}: {exc}). "
                               f"{_rebuild_hint(spec.id)}") from None
    return ds


def ensure_dataset(task: Task, progress: Progress = SILENT) -> DemoDataset:
    """Load the dataset; when it is missing, pull it from the DVC remote or else build it.

    The pull is tried only where the datasets folder is the one ``datasets.dvc`` tracks and
    the remote holds this dataset (:func:`benchmark.dvc.pull_dataset`); any other case builds
    with the task's expert, which gives the same content hash.
    """
    if dataset_path(task.spec.dataset_id).exists():
        return load_dataset(task)
    from benchmark import dvc

    if dvc.pull_dataset(task.spec.dataset_id, progress):
        return load_dataset(task)
    return build_dataset(task, progress)
