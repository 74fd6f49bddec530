"""``bench leaderboard build``: read the store, compile, render (shared by CLI and benchmark)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from benchmark.errors import UsageError
from leaderboard.compile import (
    Leaderboard,
    MethodLookup,
    SpecLookup,
    compile_leaderboard,
    registry_method,
    registry_spec,
)
from leaderboard.records import read_results
from leaderboard.site import build_site


@dataclasses.dataclass(frozen=True)
class BuildReport:
    """What a build did.

    Attributes:
        leaderboard: The compiled leaderboard.
        files: Name -> path of the main files written.
        seconds: Phase (``read``, ``compile``, ``render``, ``total``) -> wall seconds.
    """

    leaderboard: Leaderboard
    files: dict[str, Path]
    seconds: dict[str, float]


def build_leaderboard(out: str | Path = "site", uri: str | None = None, fast: bool = True,
                      spec_lookup: SpecLookup = registry_spec,
                      method_lookup: MethodLookup = registry_method,
                      compare: Sequence[str] = ()) -> BuildReport:
    """Read finished seed runs from the store, compile them and write the site into ``out``.

    Args:
        out: Output folder (created).
        uri: Tracking URI (default :func:`benchmark.paths.tracking_uri`).
        fast: Read ``sqlite:///`` stores directly (False: always MLflow's client).
        spec_lookup: Task id -> current spec (default: the registry).
        method_lookup: Method id -> registry card (default: the registry).
        compare: Row labels (method ids, or ``"bc-cvae [beta=0.1]"``-style labels) for the
            probability-of-improvement matrices (default: each tier's best eight).

    Returns:
        The :class:`BuildReport`.

    Raises:
        UsageError: A ``compare`` label that is no row of the leaderboard (nothing written).
    """
    t0 = time.perf_counter()
    report = read_results(uri, fast=fast)
    t1 = time.perf_counter()
    lb = compile_leaderboard(report.results, spec_lookup, method_lookup, compare)
    rows = {g.label for g in lb.groups()}
    unknown = [c for c in compare if c not in rows]
    if unknown:
        raise UsageError(f"--compare: no leaderboard row is called {', '.join(map(repr, unknown))}"
                         f"; rows: {', '.join(sorted(rows)) or '(none)'}")
    lb = dataclasses.replace(
        lb, skipped=dict(report.skipped), reader=report.reader,
        built_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    t2 = time.perf_counter()
    files = build_site(lb, Path(out))
    t3 = time.perf_counter()
    return BuildReport(lb, files, {"read": t1 - t0, "compile": t2 - t1, "render": t3 - t2,
                                   "total": t3 - t0})
