"""Render the compiled leaderboard as a static site (plain HTML + CSS, SVG plots, exports).

Layout of the output folder::

    index.html              overview: per tier, aggregates, P(improvement), per-task tables
    tasks/<task>.html       one page per task: spec, tables, plots for every tier
    methods/<method>.html   one page per method: registry card, provenance, commands
    plots/*.svg             the plots (also usable in papers)
    style.css
    leaderboard.tex / leaderboard.md / leaderboard.csv
    leaderboard_seeds.csv / leaderboard_modes.csv   per seed run; per (row, level, mode)
    results.jsonl           every run on the board as a result bundle (``bench results import``)

Every link is relative and there is no JavaScript, no CDN and no absolute path, so the site
works opened from ``file://`` and on any static host. Jinja2 autoescaping is on for every
template: all strings from results (method names, commands, tags) are escaped; the only
markup not from templates is built here with :class:`markupsafe.Markup` from escaped parts,
and the SVG files escape their own text (:func:`leaderboard.plots.esc`).
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from markupsafe import Markup, escape

from benchmark import schema
from benchmark.metrics import Estimate
from benchmark.paths import cache_root
from benchmark.spec import short_hash
from leaderboard import exports, plots
from leaderboard.bundle import bundle_lines
from leaderboard.citation import bibtex, load_citation
from leaderboard.compile import (
    EXTRA_METRICS,
    METRICS,
    GroupStats,
    Leaderboard,
    OptionSweep,
    TaskBoard,
    TierBoard,
    option_sweeps,
)
from leaderboard.forked import fork_pays, run_jobs

TEMPLATES = Path(__file__).parent / "templates"


def _bundle_text(lb: Leaderboard) -> str:
    """Every seed run on the board as a result bundle, so a reader can re-create the board
    with ``bench results import``."""
    return "".join(line + "\n" for line in bundle_lines(r for g in lb.groups()
                                                        for r in g.results))


def slug(name: str) -> str:
    """A safe, unique file name stem for ``name`` (unsafe characters replaced, hash added)."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "x"
    return clean if clean == name else f"{clean}-{short_hash(name, 6)}"


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept under the cache root (``MODEBENCH_CACHE``): compiling the
    templates is a quarter of a second of every build. Jinja checks each template's source
    checksum, so an edited template is recompiled; no cache where the folder is not writable
    (the site is the same either way)."""
    folder = cache_root() / "jinja"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder)) if os.access(folder, os.W_OK) else None


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        bytecode_cache=_bytecode_cache(),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["est"] = _est_html
    env.filters["slug"] = slug
    env.filters["pct"] = lambda v: f"{v:.0%}"
    env.filters["fmt"] = exports.fmt
    env.filters["num"] = lambda value, key="": exports.fmt(key, value)
    env.globals["poi_style"] = _poi_style
    return env


def _est_html(est: Estimate | None, key: str = "", best: str | None = None) -> Markup:
    """A cell: value (bold when it is the column's best), CI in small grey text, n on hover."""
    # f-strings over escaped parts, not Markup.format: the same HTML at a third of the cost
    # (tens of thousands of cells on a large board)
    if est is None:
        return Markup('<span class="na" title="not logged">–</span>')
    v = escape(exports.fmt(key, est.value))
    value = f"<strong>{v}</strong>" if best == v else v
    if not exports.ci_meaningful(est):
        return Markup(f'<span class="v">{value}</span> <span class="ci" title="a bootstrap '
                      f'interval over {est.n} seed(s) cannot vary: not shown">(n={est.n})</span>')
    return Markup(f'<span class="v">{value}</span> <span class="ci" title="95% bootstrap CI, '
                  f'n={est.n}">[{escape(exports.fmt(key, est.ci_low))}, '
                  f"{escape(exports.fmt(key, est.ci_high))}]</span>")


def _poi_style(est: Estimate) -> str:
    # blue above 0.5, orange below; the alpha grows with the distance from 0.5
    a = min(abs(est.value - 0.5) * 1.1, 0.55)
    rgb = "0,114,178" if est.value >= 0.5 else "213,94,0"
    return f"background-color: rgba({rgb},{a:.2f})"


def _ladders(task: TaskBoard) -> dict[str, list[str]]:
    """Ladder -> level names by severity, each starting at the nominal level."""
    nominal = next((p.name for p in task.spec.perturbations if p.kind == "nominal"), "nominal")
    ladders: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for p in task.spec.perturbations:
        if p.kind != "nominal":
            ladders[p.ladder].append((p.severity, p.name))
    return {name: [nominal] + [n for _, n in sorted(levels)] for name, levels in ladders.items()}


def _write_svgs(files: Mapping[str, str], out: Path, prefix: str, href: str) -> dict[str, str]:
    """Write ``{kind: svg}`` as ``plots/<prefix>-<kind>.svg``; {kind: ``href`` + file name}."""
    paths = {}
    for kind, svg in files.items():
        name = f"{prefix}-{kind}.svg"
        (out / "plots" / name).write_text(svg, encoding="utf-8")
        paths[kind] = f"{href}{name}"
    return paths


def _write_plots(task: TaskBoard, colors: Mapping[str, str], out: Path,
                 sweeps: list[tuple[OptionSweep, str]]) -> dict[str, str]:
    """Write the task's SVG plots for one tier; return {kind: relative path from tasks/}."""
    stem = f"{slug(task.task)}-{slug(task.tier)}"
    dashes = plots.dash_map([g.label for g in task.rows])
    series = [(plots.Series(g.label, colors[g.label], dashes[g.label]), g) for g in task.rows]
    modes = _mode_order(task)
    files: dict[str, str] = {}
    # a figure with nothing to show is not drawn (the page says why instead)
    if any(sum(g.mode_shares.values()) > 0 for g in task.rows):
        files["modes"] = plots.mode_bars(modes, [(s, g.mode_shares) for s, g in series],
                                         f"Mode distribution, {task.task}, tier {task.tier}")
    files["scatter"] = plots.scatter(
        [(s, g.cells.get("mode_entropy"), g.cells.get("success")) for s, g in series],
        f"Success vs mode entropy, {task.task}, tier {task.tier}")
    perturbed = any(p.success is not None for g in task.rows for p in g.levels
                    if p.level != "nominal")
    if perturbed:
        files["robustness"] = plots.robustness_curves(
            _ladders(task),
            [(s, {p.level: p.success for p in g.levels}) for s, g in series],
            f"Success over the perturbation ladders, {task.task}, tier {task.tier}")
        files["modecount"] = plots.robustness_curves(
            _ladders(task),
            [(s, {p.level: p.mode_count for p in g.levels}) for s, g in series],
            f"Mode count over the perturbation ladders, {task.task}, tier {task.tier}",
            y_label="mode count", y_max=float(max(len(task.spec.modes), 1)))
    curves = learning_curve_points(task)
    if curves:
        files["curves"] = plots.learning_curves(
            [(label, [(s, curves[g.label].get(name, [])) for s, g in series
                      if g.label in curves])
             for name, label in ((schema.CURVE_SUCCESS, "success (training episodes)"),
                                 (schema.CURVE_MODE_ENTROPY, "H(π) (training episodes)"))],
            f"Learning curves, {task.task}, tier {task.tier}")
    for sweep, kind in sweeps:
        values = [v for v, _ in sweep.points]
        panels = [(label, [g.cells.get(key) for _, g in sweep.points], y_max)
                  for key, label, y_max in SWEEP_PANELS
                  if any(g.cells.get(key) is not None for _, g in sweep.points)]
        files[kind] = plots.option_curves(
            values, panels, f"{sweep.method} on {task.task} ({task.tier}) against "
            f"{sweep.key}", sweep.key, colors.get(sweep.points[0][1].label, "#1f77b4"))
    return _write_svgs(files, out, stem, "../plots/")


def _mode_order(task: TaskBoard) -> list[str]:
    """The spec's modes, then any other mode a row reached (bar plot and its table)."""
    modes = list(task.spec.modes)
    for g in task.rows:
        modes += [m for m in g.mode_shares if m not in modes]
    return modes


@dataclass(frozen=True)
class PlotData:
    """The numbers behind one figure, as a table under it (screen readers, copying values).

    Attributes:
        head: Column heads (the first is the row heading's).
        rows: One list of cells per row: the row heading, then text or escaped markup.
    """

    head: tuple[str, ...]
    rows: tuple[tuple[str | Markup, ...], ...]


def _plot_data(task: TaskBoard, sweeps: list[tuple[OptionSweep, str]],
               files: Mapping[str, str]) -> dict[str, PlotData]:
    """The data table of each figure written for ``task`` (keys as in ``files``)."""
    labels = [g.label for g in task.rows]
    data: dict[str, PlotData] = {}
    if "modes" in files:
        modes = _mode_order(task)
        data["modes"] = PlotData(("Mode", *labels), tuple(
            (m, *(f"{100 * g.mode_shares.get(m, 0.0):.0f} %" for g in task.rows))
            for m in modes))
    data["scatter"] = PlotData(("Method", "SR", "H(π)"), tuple(
        (g.label, _est_html(g.cells.get("success"), "success"),
         _est_html(g.cells.get("mode_entropy"), "mode_entropy")) for g in task.rows))
    for kind, attr, key in (("robustness", "success", "success"),
                            ("modecount", "mode_count", "mode_count")):
        if kind in files:
            levels = [p.level for p in task.rows[0].levels]
            by_row = [{p.level: getattr(p, attr) for p in g.levels} for g in task.rows]
            data[kind] = PlotData(("Level", *labels), tuple(
                (lv, *(_est_html(r.get(lv), key) for r in by_row)) for lv in levels))
    if "curves" in files:
        curves = learning_curve_points(task)
        rows = []
        for label, per_name in curves.items():
            cells: list[str | Markup] = [label]
            for name in schema.CURVES:
                pts = per_name.get(name, [])
                cells.append(f"{pts[0][1]:.2f} → {pts[-1][1]:.2f} (iteration {pts[-1][0]})"
                             if pts else "–")
            rows.append(tuple(cells))
        data["curves"] = PlotData(("Method", "success: first → last", "H(π): first → last"),
                                  tuple(rows))
    for sweep, kind in sweeps:
        panels = [(key, label) for key, label, _ in SWEEP_PANELS
                  if any(g.cells.get(key) is not None for _, g in sweep.points)]
        data[kind] = PlotData((sweep.key, *(label for _, label in panels)), tuple(
            (f"{v:g}", *(_est_html(g.cells.get(key), key) for key, _ in panels))
            for v, g in sweep.points))
    return data


LATEX_METRIC_TABLES = ("success", "srm", "mode_count", "mode_entropy")
"""Metrics written as a one-metric methods x tasks LaTeX table (``leaderboard_<key>.tex``)."""

SWEEP_PANELS: tuple[tuple[str, str, float | None], ...] = (
    ("success", "success rate", 1.0),
    ("mode_count", "mode count", None),
    ("mode_entropy", "H(π)", 1.0),
    ("off_support_rate", "off-support rate", 1.0),
    ("lipschitz_p95", "Lipschitz (p95)", None),
)
"""Panels of an option-sweep figure: (metric key, label, y max or None to fit the data)."""


def _known_specs() -> list[Any]:
    """Every task spec of the registry, old versions included (plugins that fail to load
    are left out: the page lists what this code can run)."""
    from benchmark import registry
    from benchmark.errors import BenchError

    specs = []
    for family in registry.task_families():
        try:
            specs += [t.spec for t in registry.family_tasks(family, include_old=True)]
        except BenchError:
            continue
    return sorted(specs, key=lambda s: s.id)


def learning_curve_points(task: TaskBoard
                          ) -> dict[str, dict[str, list[tuple[int, float, float, float]]]]:
    """Per row that logged learning curves: ``{curve name: [(iteration, mean over seeds,
    lowest seed, highest seed), ...]}`` (an iteration counts the seeds that have it)."""
    out: dict[str, dict[str, list[tuple[int, float, float, float]]]] = {}
    for g in task.rows:
        per_name: dict[str, list[tuple[int, float, float, float]]] = {}
        for name in schema.CURVES:
            by_step: dict[int, list[float]] = defaultdict(list)
            for r in g.results:
                for step, v in r.curves.get(name, ()):
                    by_step[step].append(v)
            if by_step:
                per_name[name] = [(st, float(np.mean(v)), min(v), max(v))
                                  for st, v in sorted(by_step.items())]
        if per_name:
            out[g.label] = per_name
    return out


def sweep_figures(task: TaskBoard) -> list[tuple[OptionSweep, str]]:
    """The option sweeps of a board with their plot's key in :func:`_write_plots`' result."""
    return [(s, f"sweep{i}") for i, s in enumerate(option_sweeps(task))]


def _aggregate_plots(tb: TierBoard, colors: Mapping[str, str], out: Path) -> dict[str, str]:
    """rliable's figures for one tier (IQM intervals, success performance profile) over the
    tasks every method ran; {kind: path from the index}, empty without common tasks."""
    if not tb.common_tasks:
        return {}
    dashes = plots.dash_map(list(tb.methods))
    series = [plots.Series(m, colors[m], dashes[m]) for m in tb.methods]
    scores: dict[str, list[float]] = {m: [] for m in tb.methods}
    for task in tb.tasks:
        if task.task not in tb.common_tasks:
            continue
        for g in task.rows:
            scores[g.label] += [v for r in g.results
                                if (v := r.metrics.get(schema.SUCCESS_RATE)) is not None
                                and math.isfinite(v)]
    files = {
        "iqm": plots.interval_plot(
            series, [("IQM success", {m: e["success"] for m, e in tb.iqm.items()
                                      if "success" in e}),
                     ("IQM H(π)", {m: e["mode_entropy"] for m, e in tb.iqm.items()
                                   if "mode_entropy" in e})],
            f"IQM with 95 % stratified bootstrap intervals, tier {tb.tier}"),
        "profile": plots.performance_profile(
            [(s, scores[s.label]) for s in series],
            f"Performance profile of success, tier {tb.tier}"),
    }
    return _write_svgs(files, out, f"aggregate-{slug(tb.tier)}", "plots/")


def _latent_plot(g: GroupStats, out: Path) -> str | None:
    """Write the z -> mode heat map of a mode-selectable method's row; its path or None.

    Seeds number their codes independently, so each seed's codes are first matched to the
    first seed's (Hungarian matching of their mode distributions, scipy) and then summed;
    summing raw codes would blur a perfect map into a uniform one.
    """
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    per_seed = [r.latent_counts for r in g.results if r.latent_counts]
    if not per_seed:
        return None
    labels = sorted({m for c in per_seed for z in c.values() for m in z})
    codes = sorted({z for c in per_seed for z in c}, key=lambda z: (len(z), z))

    def matrix(c: Any) -> np.ndarray:
        return np.array([[c.get(z, {}).get(m, 0) for m in labels] for z in codes], float)

    ref = matrix(per_seed[0])
    total = ref.copy()
    for c in per_seed[1:]:
        m = matrix(c)
        share = lambda a: a / np.maximum(a.sum(axis=1, keepdims=True), 1)  # noqa: E731
        _, cols = linear_sum_assignment(-(share(ref) @ share(m).T))
        total += m[cols]
    counts = {z: {lab: int(v) for lab, v in zip(labels, row, strict=True) if v}
              for z, row in zip(codes, total, strict=True)}
    name = f"latent-{slug(g.method)}-{slug(g.label)}-{slug(g.task)}-{slug(g.tier)}.svg"
    modes = list(g.mode_shares) if g.mode_shares else []
    svg = plots.latent_heatmap(counts, modes, f"{g.label} on {g.task} ({g.tier}): z → mode")
    (out / "plots" / name).write_text(svg, encoding="utf-8")
    return f"../plots/{name}"


def _provenance(g: GroupStats) -> dict[str, object]:
    versions = sorted({json.dumps(dict(r.versions), sort_keys=True) for r in g.results})
    return {
        "config_hashes": g.distinct("config_hash"),
        "method_versions": g.distinct("method_version"),
        "git_commits": g.distinct("git_commit"),
        "versions": [json.loads(v) for v in versions],
        "sources": sorted({r.source or "local" for r in g.results}),
        "seeds": [(r.seed, r.command, r.run_id, r.source or "local") for r in g.results],
        "dataset_hashes": g.distinct("dataset_hash"),
        "lock_hashes": g.distinct("lock_hash"),
        "lock_drift": sorted({d for r in g.results for d in r.lock_drift}),
    }


def build_site(lb: Leaderboard, out: Path) -> dict[str, Path]:
    """Write the whole site into ``out`` (created; files of a previous build are replaced).

    Args:
        lb: The compiled leaderboard.
        out: Output folder.

    Returns:
        Name -> path of the main files written (index, exports).
    """
    out = Path(out)
    for sub in ("tasks", "methods", "plots"):
        # stale pages of tasks/methods that no longer exist must not linger
        if (out / sub).is_dir():
            shutil.rmtree(out / sub)
        (out / sub).mkdir(parents=True, exist_ok=True)
    # every file is written by one job; on a large board a forked child shares them
    run_jobs(_site_jobs(lb, out), fork_pays(lb.n_current, PARALLEL_SITE_MIN_RUNS))
    return {"index": out / "index.html"} | {name: out / name for name, _ in _exports()}


PARALLEL_SITE_MIN_RUNS = 2000
"""From this many seed runs on, the site's pages, plots and exports are shared with a forked
child (two cores: about a second of a 10,000-run build); below it a fork costs more than it
saves."""


def _site_jobs(lb: Leaderboard, out: Path) -> list[Callable[[], None]]:
    """One job per page (with its plots) and per export, the costly ones first: each writes
    its own files and depends on ``lb`` only, so they can run in any process and order."""
    env = _env()
    for name in env.list_templates(extensions=["j2"]):
        env.get_template(name)  # compiled once, before a fork shares them
    labels = sorted({g.label for g in lb.groups()})
    colors = plots.color_map(labels)
    common = {"lb": lb, "metrics": METRICS, "extra_metrics": EXTRA_METRICS, "colors": colors,
              "best_values": exports.best_values,
              "label_method": {g.label: g.method for g in lb.groups()}}
    shutil.copyfile(TEMPLATES / "style.css", out / "style.css")
    by_task: dict[str, list[TaskBoard]] = defaultdict(list)
    for tb in lb.tiers:
        for task in tb.tasks:
            by_task[task.task].append(task)
    by_method: dict[str, list[GroupStats]] = defaultdict(list)
    for g in lb.groups():
        by_method[g.method].append(g)
    # the largest exports (a line per run) first, the small tables last
    heavy = ("results.jsonl", "leaderboard_modes.csv", "leaderboard_seeds.csv")
    exports_jobs = {name: functools.partial(_write_export, lb, out, name, write)
                    for name, write in _exports()}
    return [
        *(exports_jobs[name] for name in heavy),
        *(functools.partial(_write_task_page, env, common, colors, out, task_id, boards)
          for task_id, boards in by_task.items()),
        *(functools.partial(_write_method_page, env, common, out, lb, method_id, groups)
          for method_id, groups in by_method.items()),
        functools.partial(_write_index, env, common, colors, out, lb),
        functools.partial(_write_versions_page, env, common, out, lb),
        *(job for name, job in exports_jobs.items() if name not in heavy),
    ]


def _write_task_page(env: jinja2.Environment, common: Mapping[str, Any],
                     colors: Mapping[str, str], out: Path, task_id: str,
                     boards: Sequence[TaskBoard]) -> None:
    """A task's page and its plots (one board per tier)."""
    rows = []
    for task in boards:
        sweeps = sweep_figures(task)  # found once, drawn and listed
        files = _write_plots(task, colors, out, sweeps)
        rows.append((task, files, sweeps, _plot_data(task, sweeps, files)))
    html = env.get_template("task.html.j2").render(
        **common, root="../", task_id=task_id, spec=boards[0].spec, boards=rows,
        title=f"{task_id} · modebench")
    (out / "tasks" / f"{slug(task_id)}.html").write_text(html, encoding="utf-8")


def _write_method_page(env: jinja2.Environment, common: Mapping[str, Any], out: Path,
                       lb: Leaderboard, method_id: str, groups: Sequence[GroupStats]) -> None:
    """A method's page: its rows' provenance and latent-code plots."""
    html = env.get_template("method.html.j2").render(
        **common, root="../", card=lb.methods[method_id],
        rows=[(g, _provenance(g), _latent_plot(g, out)) for g in groups],
        title=f"{method_id} · modebench")
    (out / "methods" / f"{slug(method_id)}.html").write_text(html, encoding="utf-8")


def _write_index(env: jinja2.Environment, common: Mapping[str, Any],
                 colors: Mapping[str, str], out: Path, lb: Leaderboard) -> None:
    """The overview page, the tiers' aggregate plots and the BibTeX file."""
    aggregate_plots = {tb.tier: _aggregate_plots(tb, colors, out) for tb in lb.tiers}
    cff = load_citation()
    bib = bibtex(cff) if cff else ""
    if bib:
        (out / "modebench.bib").write_text(bib, encoding="utf-8")
    html = env.get_template("index.html.j2").render(**common, root="",
                                                    aggregate_plots=aggregate_plots,
                                                    bibtex=bib,
                                                    title="modebench leaderboard")
    (out / "index.html").write_text(html, encoding="utf-8")


def _write_versions_page(env: jinja2.Environment, common: Mapping[str, Any], out: Path,
                         lb: Leaderboard) -> None:
    """The task versions page: current specs and the retired versions seen in the store."""
    retired: dict[str, list[Any]] = {}
    for st in lb.stale:
        entry = retired.setdefault(st.task, [st.task, 0, st.reason])
        entry[1] += st.n_runs
    html = env.get_template("versions.html.j2").render(
        **common, root="", specs=_known_specs(), retired=[tuple(v) for v in retired.values()],
        title="Task versions · modebench")
    (out / "versions.html").write_text(html, encoding="utf-8")


def _exports() -> list[tuple[str, Callable[[Leaderboard], str]]]:
    """(file name, writer) of every export: LaTeX, Markdown, CSVs and the result bundle."""
    return [("leaderboard.tex", exports.to_latex),
            ("leaderboard_wide.tex", functools.partial(exports.to_latex, wide=True)),
            *((f"leaderboard_{key}.tex", functools.partial(exports.to_latex_metric, key=key))
              for key in LATEX_METRIC_TABLES),
            ("leaderboard.md", exports.to_markdown),
            ("leaderboard.csv", exports.to_csv),
            ("leaderboard_seeds.csv", exports.to_seed_csv),
            ("leaderboard_modes.csv", exports.to_mode_csv),
            ("results.jsonl", _bundle_text)]


def _write_export(lb: Leaderboard, out: Path, name: str,
                  write: Callable[[Leaderboard], str]) -> None:
    (out / name).write_text(write(lb), encoding="utf-8")
