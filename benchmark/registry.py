"""Registries of tasks and methods: built-ins plus entry points.

Built-ins are listed here by import path, so listing them imports only light modules (task
specs and adapter classes; torch and simulators load when used). Third-party packages add
more through the entry-point groups ``modebench.tasks`` (a value resolving to a ``Task`` or a
list of them) and ``modebench.methods`` (a value resolving to a method adapter class).

Task ids are versioned: ``avoid-v0``. A bare family name (``avoid``) means its newest version;
an id whose version does not exist fails with the versions that do.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from benchmark.adapter import validate_method_class
from benchmark.errors import AdapterError, UnknownIdError
from benchmark.task import Task

TASK_GROUP = "modebench.tasks"
METHOD_GROUP = "modebench.methods"

BUILTIN_TASKS: dict[str, str] = {
    "avoid": "tasks.avoid:TASKS",
    "radial": "tasks.radial:TASKS",
    "kitchen": "tasks.kitchen:TASKS",
    "robosuite-lift": "tasks.robosuite:TASKS",
    "anymal": "tasks.anymal:TASKS",
    "anymal-menagerie": "tasks.anymal:MENAGERIE_TASKS",
}
BUILTIN_METHODS: dict[str, str] = {
    "bc": "baselines.bc:BCMethod",
    "bc-flow": "baselines.pretrain:BCFlowMethod",
    "bc-cvae": "baselines.pretrain:BCCVAEMethod",
    "bc-mlp": "baselines.pretrain:BCMLPMethod",
    "dppo": "baselines.dppo:DPPOMethod",
    "entropy-rl": "baselines.entropy_rl:EntropyRLMethod",
    "dsrl": "baselines.steer:DSRLMethod",
    "res": "baselines.steer:RESMethod",
    "bmd": "baselines.steer:BMDMethod",
    "res-bmd": "baselines.steer:RESBMDMethod",
    "dppo-bmd": "baselines.steer:DPPOBMDMethod",
}

_RUNTIME_METHODS: dict[str, type] = {}

_VERSIONED = re.compile(r"^(?P<name>.+)-v(?P<version>\d+)$")


@dataclass(frozen=True)
class MethodInfo:
    """What ``bench methods list`` shows of one method."""

    id: str
    version: str
    description: str
    source: str


def _load_object(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _entry_points(group: str) -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=group)}


def _closest(name: str, known: Iterable[str]) -> str:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.4)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"Known: {', '.join(known)}.{hint}"


def _load_plugin(kind: str, name: str, builtins: dict[str, str], group: str,
                 known: Any) -> tuple[str, Any]:
    """Import a built-in (by path) or an entry point; any failure becomes an AdapterError.

    Returns:
        (source, object): where it came from (``module:attr``) and what it loaded.
    """
    if name in builtins:
        source = builtins[name]
        load = lambda: _load_object(source)  # noqa: E731
    else:
        eps = _entry_points(group)
        if name not in eps:
            raise UnknownIdError(f"unknown {kind} {name!r}. {_closest(name, known())}")
        source = eps[name].value
        load = eps[name].load
    try:
        return source, load()
    except Exception as exc:  # a broken plugin must not take the harness down
        raise AdapterError(f"{kind} {name!r} ({source}) failed to load: "
                           f"{type(exc).__name__}: {exc}") from exc


@cache
def _task_family(family: str) -> tuple[Task, ...]:
    """Load one family's tasks (built-in module or entry point)."""
    source, obj = _load_plugin("task family", family, BUILTIN_TASKS, TASK_GROUP, task_families)
    if callable(obj) and not isinstance(obj, Task):
        obj = obj()
    tasks = (obj,) if isinstance(obj, Task) else tuple(obj)
    for t in tasks:
        if not isinstance(t, Task):
            raise AdapterError(
                f"task plugin {family!r} ({source}) gave {type(t).__name__}, "
                "expected benchmark.task.Task instances"
            )
    return tasks


def task_families() -> list[str]:
    """Names of all task families, built-in and plugged in."""
    return sorted(set(BUILTIN_TASKS) | set(_entry_points(TASK_GROUP)))


def family_tasks(family: str, include_old: bool = False) -> list[Task]:
    """Tasks of one family, oldest version first (only the newest unless ``include_old``)."""
    versions = sorted(_task_family(family), key=lambda t: t.spec.version)
    return versions if include_old else versions[-1:]


def all_tasks(include_old: bool = False) -> list[Task]:
    """Every task (the newest version of each family unless ``include_old``).

    Raises:
        AdapterError: A family fails to load (use :func:`family_tasks` to skip it).
    """
    return [t for f in task_families() for t in family_tasks(f, include_old)]


def runnable_tasks(include_old: bool = False) -> tuple[list[Task], list[tuple[Task, str]]]:
    """:func:`all_tasks` split into those this machine can run and the others with the reason
    (:meth:`Task.unavailable_reason`, e.g. an external robot model that is not installed).

    Raises:
        AdapterError: A family fails to load.
    """
    runnable, skipped = [], []
    for t in all_tasks(include_old):
        reason = t.unavailable_reason()
        if reason is None:
            runnable.append(t)
        else:
            skipped.append((t, reason))
    return runnable, skipped


def get_task(task_id: str) -> Task:
    """Resolve ``"avoid"`` (newest) or ``"avoid-v0"`` to a :class:`Task`.

    Raises:
        UnknownIdError: Unknown family or version, with the known ids and the closest match.
    """
    m = _VERSIONED.match(task_id)
    family, version = (m["name"], int(m["version"])) if m else (task_id, None)
    families = task_families()
    if family not in families:
        raise UnknownIdError(f"unknown task {task_id!r}. {_closest(task_id, families)}")
    tasks = sorted(_task_family(family), key=lambda t: t.spec.version)
    if version is None:
        return tasks[-1]
    for t in tasks:
        if t.spec.version == version:
            return t
    known_ids = ", ".join(t.spec.id for t in tasks)
    raise UnknownIdError(
        f"task {task_id!r} does not exist: {family} has versions {known_ids}. Results of "
        "another version cannot be reproduced with this code; use one of those ids."
    )


def method_ids() -> list[str]:
    """Ids of all methods, built-in and plugged in."""
    return sorted(set(BUILTIN_METHODS) | set(_RUNTIME_METHODS) | set(_entry_points(METHOD_GROUP)))


@cache
def get_method_class(method_id: str) -> type:
    """Resolve a method id to its validated adapter class.

    Raises:
        UnknownIdError: Unknown id (with the known ids and the closest match).
        AdapterError: The adapter fails to load or does not implement the protocol.
    """
    if method_id in _RUNTIME_METHODS:
        cls = _RUNTIME_METHODS[method_id]
    else:
        _, cls = _load_plugin("method", method_id, BUILTIN_METHODS, METHOD_GROUP, method_ids)
    validate_method_class(cls, method_id)
    return cls


def method_info(method_id: str) -> MethodInfo:
    """Id, version, description and source of a method."""
    cls = get_method_class(method_id)
    if method_id in _RUNTIME_METHODS:
        source = f"{cls.__module__}:{cls.__qualname__}"
    else:
        source = BUILTIN_METHODS.get(method_id) or _entry_points(METHOD_GROUP)[method_id].value
    return MethodInfo(method_id, cls.version, cls.description, source)


def register_method(method_id: str, cls: type) -> None:
    """Register an adapter class in this process (notebooks, tests); validated like plugins.

    Other processes (sweep workers) do not see it: publish methods meant for sweeps through
    the ``modebench.methods`` entry-point group.
    """
    validate_method_class(cls, method_id)
    _RUNTIME_METHODS[method_id] = cls
    get_method_class.cache_clear()


def unregister_method(method_id: str) -> None:
    """Remove a method registered with :func:`register_method`."""
    _RUNTIME_METHODS.pop(method_id, None)
    get_method_class.cache_clear()
