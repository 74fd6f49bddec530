"""Paper exports of the compiled leaderboard: LaTeX (booktabs), Markdown and CSV.

All three hold the same numbers as the site's per-task tables: for every tier, task and method,
the mean over training seeds and its 95 % bootstrap CI for each headline metric, and the
number of seeds. In LaTeX and Markdown the best value of each column within a task is bold
(higher is better for every headline metric; ties are all bold); values are compared as
printed, so two equal-looking numbers are never one bold and one not.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from benchmark import schema
from benchmark.metrics import Estimate
from leaderboard.compile import METRICS, GroupStats, Leaderboard, TierBoard

LATEX_LABELS = {"mode_entropy": "$H(\\pi)$", "modes_covered": "mc@0.8"}
"""Column heads that need LaTeX markup (pdflatex cannot typeset a bare π)."""

DECIMALS = {"mode_count": 1}
"""Decimals per metric key (default 2)."""

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}


_LATEX_UNICODE = {
    "π": r"\ensuremath{\pi}", "β": r"\ensuremath{\beta}", "λ": r"\ensuremath{\lambda}",
    "α": r"\ensuremath{\alpha}", "σ": r"\ensuremath{\sigma}", "τ": r"\ensuremath{\tau}",
    "μ": r"\ensuremath{\mu}", "ε": r"\ensuremath{\varepsilon}", "φ": r"\ensuremath{\phi}",
    "≥": r"\ensuremath{\geq}", "≤": r"\ensuremath{\leq}", "×": r"\ensuremath{\times}",
    "→": r"\ensuremath{\to}", "±": r"\ensuremath{\pm}", "·": r"\ensuremath{\cdot}",
    "½": r"\ensuremath{\tfrac12}", "≈": r"\ensuremath{\approx}", "—": "---", "–": "--",
    "…": r"\dots{}", "‘": "`", "’": "'", "“": "``", "”": "''", "\u00a0": "~",
}
"""Characters of the metric descriptions (and anything else) that pdflatex's default fonts
cannot typeset as text, with their LaTeX. Other characters beyond Latin-1 become
``[U+XXXX]``: a table must compile whatever a method is called."""


def _latex_char(ch: str) -> str:
    if ch in _LATEX_SPECIALS:
        return _LATEX_SPECIALS[ch]
    if ch in _LATEX_UNICODE:
        return _LATEX_UNICODE[ch]
    if ord(ch) > 0xFF:
        return f"[U+{ord(ch):04X}]"
    return ch


def latex_escape(text: object) -> str:
    """Escape a string for LaTeX text mode that pdflatex compiles (one pass, so replacements
    are never re-escaped; see :data:`_LATEX_UNICODE` for characters beyond ASCII)."""
    return "".join(_latex_char(ch) for ch in str(text))


def markdown_escape(text: object) -> str:
    """Escape a string for a Markdown table cell (pipes, emphasis and HTML characters)."""
    out = []
    for ch in str(text):
        if ch in "\\|*_`[]<>#":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP's CSV injection advice).

    Text starting with ``= + - @``, tab or CR gets a leading ``'``; numbers (``-0.31``) and
    other values pass unchanged.
    """
    if not isinstance(cell, str) or not cell.startswith(_FORMULA_PREFIXES):
        return cell
    try:
        float(cell)
        return cell
    except ValueError:
        return "'" + cell


MIN_CI_SEEDS = 3
"""Fewer seeds than this give a bootstrap interval that cannot vary (n = 1: [v, v]; n = 2:
stability is [v, v] by construction): it is not printed as a 95 % CI."""


def ci_meaningful(est: Estimate) -> bool:
    """Whether ``est``'s interval is shown (n >= :data:`MIN_CI_SEEDS`, finite ends)."""
    return est.n >= MIN_CI_SEEDS and math.isfinite(est.ci_low) and math.isfinite(est.ci_high)


def fmt(key: str, value: float) -> str:
    """A metric value as printed in tables: rounded half-up from its shortest decimal form,
    so 0.985 and 0.885 both round up (binary floats made 0.985 print 0.98)."""
    if not math.isfinite(value):
        return str(value)
    return _fmt_finite(DECIMALS.get(key, 2), float(value))


@lru_cache(maxsize=1 << 16)
def _fmt_finite(places: int, value: float) -> str:
    # cached: a build prints ~200k cells of few distinct values (every row's estimate and
    # interval ends in the HTML, LaTeX, Markdown and CSV tables), and Decimal is slow
    q = Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{q:.{places}f}" if q != 0 else f"{0:.{places}f}"


def best_values(rows: Sequence[GroupStats]) -> dict[str, str]:
    """Per metric key, the best value (as printed) among ``rows``."""
    best: dict[str, str] = {}
    for key, _, _, _ in METRICS:
        vals = [(g.cells[key].value, fmt(key, g.cells[key].value)) for g in rows
                if g.cells.get(key) is not None]
        if vals:
            best[key] = max(vals)[1]
    return best


def _cell(key: str, est: Estimate | None) -> tuple[str, str | None, str | None] | None:
    if est is None:
        return None
    if not ci_meaningful(est):
        return fmt(key, est.value), None, None
    return fmt(key, est.value), fmt(key, est.ci_low), fmt(key, est.ci_high)


def to_csv(lb: Leaderboard) -> str:
    """One line per (tier, task, method): n seeds, value/ci_low/ci_high per metric, hashes.

    Text cells are made :func:`spreadsheet_safe` (labels and ids can come from plugins).
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = ["tier", "task", "method", "n_seeds"]
    for key, _, _, _ in METRICS:
        header += [key, f"{key}_ci_low", f"{key}_ci_high"]
    header += ["spec_hash", "config_hashes", "git_commits"]
    w.writerow(header)
    for tb in lb.tiers:
        for task in tb.tasks:
            for g in task.rows:
                row: list[object] = [tb.tier, task.task, g.label, g.n_seeds]
                for key, _, _, _ in METRICS:
                    e = g.cells.get(key)
                    row += ["", "", ""] if e is None else [
                        f"{e.value:.6g}", f"{e.ci_low:.6g}", f"{e.ci_high:.6g}"]
                row += [task.spec_hash, ";".join(g.distinct("config_hash")),
                        ";".join(g.distinct("git_commit"))]
                w.writerow([spreadsheet_safe(c) for c in row])
    return buf.getvalue()


def _seed_text(seeds: Sequence[int]) -> str:
    ordered = sorted(set(seeds))
    if ordered and ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f"{ordered[0]}-{ordered[-1]}"
    return ",".join(map(str, ordered))


def provenance_lines(tb: TierBoard) -> list[str]:
    """One line per task of a tier: seeds, evaluation episodes per seed, the tier's budget,
    the spec hash and the commits behind its rows (for captions and headers)."""
    out = []
    for task in tb.tasks:
        b = task.spec.budget(tb.tier)
        seeds = [s for g in task.rows for s in g.seeds]
        commits = sorted({r.git_commit[:12] for g in task.rows for r in g.results})
        out.append(
            f"{task.task}: seeds {_seed_text(seeds)}; {b.eval_episodes} evaluation episodes "
            f"per seed; {b.n_demos} demonstrations, {b.pretrain_steps} pretraining steps, "
            f"fine-tuning {b.finetune_iterations} x {b.finetune_steps_per_iter} decisions x "
            f"{b.n_envs} envs; spec {task.spec_hash}; commit(s) {', '.join(commits)}")
    return out


def to_markdown(lb: Leaderboard) -> str:
    """Markdown tables, one per tier: value with ``[CI]``, best per task and column bold."""
    lines = ["# modebench leaderboard", "",
             f"Built {lb.built_at}. Mean over training seeds with 95 % bootstrap CI; n = seeds.",
             ""]
    for tb in lb.tiers:
        lines += [f"## Tier {markdown_escape(tb.tier)}", ""]
        lines += [f"- {markdown_escape(p)}" for p in provenance_lines(tb)] + [""]
        heads = ["Task", "Method", "n"] + [label for _, _, label, _ in METRICS]
        lines.append("| " + " | ".join(heads) + " |")
        lines.append("|" + "|".join(["---", "---", "--:"] + [":-:"] * len(METRICS)) + "|")
        for task in tb.tasks:
            best = best_values(task.rows)
            for g in task.rows:
                cells = [markdown_escape(task.task), markdown_escape(g.label), str(g.n_seeds)]
                for key, _, _, _ in METRICS:
                    c = _cell(key, g.cells.get(key))
                    if c is None:
                        cells.append("–")
                        continue
                    v = f"**{c[0]}**" if best.get(key) == c[0] else c[0]
                    cells.append(f"{v} [{c[1]}, {c[2]}]" if c[1] is not None else f"{v} (n<3)")
                lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if lb.stale:
        n = sum(s.n_runs for s in lb.stale)
        lines += [f"{n} stale results (spec or dataset hash differs from the current code, or "
                  "unknown task) are not in these tables.", ""]
    return "\n".join(lines)


def to_latex(lb: Leaderboard, wide: bool = False) -> str:
    """LaTeX tables (booktabs), one ``table`` per tier; needs ``\\usepackage{booktabs}``.

    Args:
        lb: The leaderboard.
        wide: A ``table*`` spanning both columns of a two-column paper, the tabular scaled
            to ``\\textwidth`` with ``\\resizebox`` (needs ``graphicx``): the full table is
            wider than one column.
    """
    out = [
        "% modebench leaderboard, generated by `bench leaderboard build` "
        f"({latex_escape(lb.built_at)}).",
        "% Requires \\usepackage{booktabs}" + ("" if not wide else " and \\usepackage{graphicx}")
        + ". Mean over training seeds with 95% bootstrap CI.",
        "",
    ]
    env = "table*" if wide else "table"
    ncols = len(METRICS)
    for tb in lb.tiers:
        tier = latex_escape(tb.tier)
        out += [
            f"\\begin{{{env}}}[t]",
            "\\centering",
            "\\small",
            f"\\caption{{modebench results, tier \\texttt{{{tier}}}: mean over training seeds, "
            "95\\,\\% bootstrap CI in brackets (none for $n < 3$ seeds), $n$ = seeds; best per "
            "task in bold. " + latex_escape(" ".join(p + "." for p in provenance_lines(tb)))
            + "}",
            f"\\label{{tab:modebench-{''.join(c for c in tb.tier if c.isalnum()) or 'tier'}}}",
            *(["\\resizebox{\\textwidth}{!}{%"] if wide else []),
            "\\begin{tabular}{llr" + "c" * ncols + "}",
            "\\toprule",
            "Task & Method & $n$ & " + " & ".join(
                LATEX_LABELS.get(key, latex_escape(label)) for key, _, label, _ in METRICS)
            + " \\\\",
            "\\midrule",
        ]
        for t_i, task in enumerate(tb.tasks):
            if t_i:
                out.append("\\midrule")
            best = best_values(task.rows)
            for r_i, g in enumerate(task.rows):
                cells = [latex_escape(task.task) if r_i == 0 else "",
                         latex_escape(g.label), str(g.n_seeds)]
                for key, _, _, _ in METRICS:
                    c = _cell(key, g.cells.get(key))
                    if c is None:
                        cells.append("--")
                        continue
                    v = f"\\textbf{{{c[0]}}}" if best.get(key) == c[0] else c[0]
                    cells.append(f"{v}\\,{{\\scriptsize[{c[1]}, {c[2]}]}}" if c[1] is not None
                                 else v)
                out.append(" & ".join(cells) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}", *(["}"] if wide else []), f"\\end{{{env}}}",
                ""]
    return "\n".join(out)


WIDE_AFTER_TASKS = 3
"""A one-metric table with more task columns than this spans both columns (``table*``)."""


def to_latex_metric(lb: Leaderboard, key: str) -> str:
    """One metric as a methods x tasks ``table`` per tier (booktabs), narrow enough for one
    column of a two-column paper: the cell is the mean over seeds with its 95 % CI, best per
    task (column) in bold, ``--`` where a method did not run the task.

    Args:
        lb: The leaderboard.
        key: A metric key of :data:`leaderboard.compile.METRICS` (e.g. ``"success"``).

    Raises:
        KeyError: An unknown metric key.
    """
    labels = {k: (label, desc) for k, _, label, desc in METRICS}
    label, desc = labels[key]
    out = [f"% modebench: {latex_escape(label)} per method and task, generated by "
           f"`bench leaderboard build` ({latex_escape(lb.built_at)}). Requires booktabs.", ""]
    for tb in lb.tiers:
        tasks = [t for t in tb.tasks]
        methods = sorted({g.label for t in tasks for g in t.rows})
        cell: dict[tuple[str, str], GroupStats] = {(t.task, g.label): g for t in tasks
                                                    for g in t.rows}
        best = {t.task: best_values(t.rows).get(key) for t in tasks}
        tier = latex_escape(tb.tier)
        # up to WIDE_AFTER_TASKS task columns fit one column of a two-column paper
        env = "table*" if len(tasks) > WIDE_AFTER_TASKS else "table"
        out += [
            f"\\begin{{{env}}}[t]", "\\centering", "\\small",
            f"\\caption{{{LATEX_LABELS.get(key, latex_escape(label))} per method and task, "
            f"tier \\texttt{{{tier}}}: mean over training seeds, 95\\,\\% bootstrap CI in "
            "brackets (none for $n < 3$ seeds); best per task in bold. "
            + latex_escape(desc[0].upper() + desc[1:]) + ". "
            + latex_escape(" ".join(p + "." for p in provenance_lines(tb))) + "}",
            f"\\label{{tab:modebench-{''.join(c for c in tb.tier if c.isalnum())}-"
            f"{''.join(c for c in key if c.isalnum())}}}",
            "\\begin{tabular}{l" + "c" * len(tasks) + "}", "\\toprule",
            "Method & " + " & ".join(latex_escape(t.task) for t in tasks) + " \\\\",
            "\\midrule",
        ]
        for m in methods:
            cells = [latex_escape(m)]
            for t in tasks:
                g = cell.get((t.task, m))
                c = None if g is None else _cell(key, g.cells.get(key))
                if c is None:
                    cells.append("--")
                    continue
                v = f"\\textbf{{{c[0]}}}" if best[t.task] == c[0] else c[0]
                # the interval under the value: half the width, so that a column fits
                cells.append(f"\\shortstack{{{v}\\\\ {{\\scriptsize[{c[1]}, {c[2]}]}}}}"
                             if c[1] is not None else v)
            out.append(" & ".join(cells) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}", f"\\end{{{env}}}", ""]
    return "\n".join(out)


SEED_COLUMNS = (schema.SUCCESS_RATE, schema.SRM, schema.MODES_COVERED, schema.MODE_COUNT,
                schema.MODE_ENTROPY, schema.MODE_RETENTION, schema.ROBUSTNESS)


def to_seed_csv(lb: Leaderboard) -> str:
    """One line per seed run: the (runs x tasks) score matrix rliable consumes, with the
    run's provenance (undefined metrics are empty)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["tier", "task", "method", "seed", *SEED_COLUMNS, "mode_distribution",
                "method_version", "config_hash", "spec_hash", "dataset_hash", "git_commit",
                "lock_hash", "run_id", "source"])
    for tb in lb.tiers:
        for task in tb.tasks:
            for g in task.rows:
                for r in g.results:
                    values = []
                    for name in SEED_COLUMNS:
                        v = r.metrics.get(name)
                        undefined = (name in (schema.MODE_COUNT, schema.MODE_ENTROPY)
                                     and r.metric(schema.SUCCESS_RATE) == 0.0)
                        values.append("" if v is None or undefined or not math.isfinite(v)
                                      else f"{v:.6g}")
                    dist = ";".join(f"{k}:{c}" for k, c in sorted(
                        r.mode_distribution.get("nominal", {}).items()))
                    row = [tb.tier, task.task, g.label, r.seed, *values, dist,
                           r.method_version, r.config_hash, r.spec_hash, r.dataset_hash,
                           r.git_commit, r.lock_hash, r.run_id, r.source or "local"]
                    w.writerow([spreadsheet_safe(c) for c in row])
    return buf.getvalue()


def to_mode_csv(lb: Leaderboard) -> str:
    """Per-mode distributions of each leaderboard row: one line per (row, level, mode) with
    the successful episodes in that mode summed over the row's seeds, their share of the
    row's successes at that level, and in how many seeds the mode occurred at all. Level
    ``pretrained`` is the pretrained policy's distribution (where runs logged it). Each
    run's own counts are in ``results.jsonl``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["tier", "task", "method", "n_seeds", "level", "mode", "successes", "share",
                "seeds_with_mode"])
    for tb in lb.tiers:
        for task in tb.tasks:
            for g in task.rows:
                label = spreadsheet_safe(g.label)
                # plain dicts, not Counter.update: this loop runs over every (run, level, mode)
                totals: dict[str, dict[str, int]] = {}
                present: dict[str, dict[str, int]] = {}
                for r in g.results:
                    levels = list(r.mode_distribution.items())
                    if r.pretrain_mode_distribution is not None:
                        levels.append(("pretrained", r.pretrain_mode_distribution))
                    for level, counts in levels:
                        total = totals.setdefault(level, {})
                        seen = present.setdefault(level, {})
                        for mode, count in counts.items():
                            total[mode] = total.get(mode, 0) + count
                            seen[mode] = seen.get(mode, 0) + (count > 0)
                for level, counts in totals.items():
                    total = sum(counts.values())
                    for mode, count in sorted(counts.items()):
                        w.writerow([tb.tier, task.task, label, g.n_seeds, level,
                                    spreadsheet_safe(mode), count,
                                    f"{count / total:.6g}" if total else "",
                                    present[level][mode]])
    return buf.getvalue()
