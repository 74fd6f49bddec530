"""Method options (``bench evaluate -o key=value``): typed, validated, and never a no-op.

A method that accepts options implements ``configure(options) -> method`` (see
:class:`benchmark.adapter.Method`); :func:`configure_method` calls it before any dataset is
loaded or anything is trained, so a bad option costs nothing. A method without
``configure`` takes no options: ``-o`` on it is refused rather than logged as an ablation
that changed nothing.

:func:`apply_options` is the one implementation of option parsing for methods whose
configuration is a set of frozen dataclasses; plugin adapters may use it too.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

from benchmark.errors import AdapterError, DefaultOptionError, UsageError


def apply_options(configs: Mapping[str, Any], options: Mapping[str, Any]
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply ``key=value`` overrides to named frozen-dataclass configs.

    A key is either ``<config>.<field>`` (e.g. ``diffusion.ddim_steps``) or a bare field name
    that exactly one of the configs has. Values are coerced to the field's type; NaN and
    infinite numbers are refused, and the dataclass's own ``__post_init__`` checks ranges.

    Args:
        configs: Config name -> frozen dataclass instance (e.g. ``{"finetune": ...,
            "diffusion": ...}``), in the order bare names are looked up.
        options: The overrides (values as typed by the CLI or as text).

    Returns:
        The new configs (same names), and the applied options keyed as given with coerced
        values (what a run logs and hashes).

    Raises:
        UsageError: An unknown or ambiguous key, a value of the wrong type or out of range,
            or a value equal to the default (it would change nothing).
    """
    changes: dict[str, dict[str, Any]] = {name: {} for name in configs}
    applied: dict[str, Any] = {}
    for key, value in options.items():
        name, field_name = _resolve_key(configs, key)
        cfg = configs[name]
        hints = typing.get_type_hints(type(cfg))
        coerced = _coerce(key, value, hints[field_name])
        if coerced == getattr(cfg, field_name):
            raise DefaultOptionError(key, f"option {key}={value!r} is the default; it would "
                                     "change nothing: drop it")
        changes[name][field_name] = coerced
        applied[key] = coerced
    out: dict[str, Any] = {}
    for name, cfg in configs.items():
        try:
            out[name] = dataclasses.replace(cfg, **changes[name]) if changes[name] else cfg
        except ValueError as exc:  # the config's own range checks
            raise UsageError(f"option(s) {', '.join(sorted(changes[name]))}: {exc}") from None
    return out, applied


def _resolve_key(configs: Mapping[str, Any], key: str) -> tuple[str, str]:
    known = {name: {f.name for f in dataclasses.fields(cfg)} for name, cfg in configs.items()}
    prefix, dot, rest = key.partition(".")
    if dot and prefix in known:
        if rest in known[prefix]:
            return prefix, rest
        raise UsageError(f"unknown option {key!r}; {prefix} options: "
                         f"{', '.join(sorted(known[prefix]))}")
    owners = [name for name, fields in known.items() if key in fields]
    if len(owners) == 1:
        return owners[0], key
    if len(owners) > 1:
        raise UsageError(f"option {key!r} is ambiguous: write "
                         + " or ".join(f"{o}.{key}" for o in owners))
    listing = "; ".join(f"{name}: {', '.join(sorted(fields))}" for name, fields in known.items())
    raise UsageError(f"unknown option {key!r}. Known options ({listing})")


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """``value`` as type ``hint`` (bool, int, float, str, Optional of those, tuple of ints)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() == "none"):
            if type(None) in args:
                return None
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    expected = getattr(hint, "__name__", str(hint))
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1"):
                return True
            if str(value).lower() in ("false", "0"):
                return False
            raise ValueError(value)
        if hint is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if hint is float:
            out = float(value)
            if not math.isfinite(out):
                raise UsageError(f"option {key}={value!r}: must be a finite number")
            return out
        if hint is str:
            return str(value)
        if origin is tuple and args and args[0] is int:
            if isinstance(value, (tuple, list)):  # an applied option, applied again
                if not all(isinstance(p, int) and not isinstance(p, bool) for p in value):
                    raise ValueError(value)
                return tuple(value)
            # "256x256x256" or "256,256"
            parts = str(value).replace(",", "x").split("x")
            return tuple(int(p) for p in parts if p.strip())
    except (TypeError, ValueError):
        raise UsageError(f"option {key}={value!r}: expected {expected}") from None
    raise UsageError(f"option {key!r} ({expected}) cannot be set from the command line")


def configure_method(method: Any, method_id: str, options: Mapping[str, Any],
                     spec: Any | None = None) -> tuple[Any, dict[str, Any]]:
    """Give a method its task's defaults (``for_task``), then apply ``options`` through its
    ``configure`` hook.

    Args:
        method: A method adapter instance.
        method_id: Its registry id (for messages).
        options: ``-o`` overrides.
        spec: The task's spec; a method with ``for_task(spec)`` returns a copy with its
            defaults for that task (``dppo``: DPPO's config for the task's family).

    Returns:
        The configured method and the options it applied (typed; what runs log and hash).

    Raises:
        UsageError: Options given to a method without ``configure``, or refused by it.
        AdapterError: ``configure`` returned something that is not a method.
    """
    options = dict(options)
    if spec is not None and hasattr(method, "for_task"):
        method = method.for_task(spec)
    configure = getattr(method, "configure", None)
    if configure is None:
        if options:
            raise UsageError(f"method {method_id!r} takes no options (its adapter has no "
                             f"configure(options) method); drop -o {', '.join(options)}")
        return method, {}
    configured = configure(options)
    if configured is None or not hasattr(configured, "finetune"):
        raise AdapterError(f"method {method_id!r}: configure(options) must return the "
                           f"configured method, got {type(configured).__name__}")
    applied = getattr(configured, "applied_options", options)
    return configured, dict(applied)
