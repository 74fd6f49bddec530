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
from collections.abc import Sequence

from benchmark.metrics import Estimate
from leaderboard.compile import METRICS, GroupStats, Leaderboard

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


def latex_escape(text: object) -> str:
    """Escape a string for LaTeX text mode (one pass, so replacements are never re-escaped)."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(text))


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


def fmt(key: str, value: float) -> str:
    """A metric value as printed in tables."""
    return f"{value:.{DECIMALS.get(key, 2)}f}"


def best_values(rows: Sequence[GroupStats]) -> dict[str, str]:
    """Per metric key, the best value (as printed) among ``rows``."""
    best: dict[str, str] = {}
    for key, _, _, _ in METRICS:
        vals = [(g.cells[key].value, fmt(key, g.cells[key].value)) for g in rows
                if g.cells.get(key) is not None]
        if vals:
            best[key] = max(vals)[1]
    return best


def _cell(key: str, est: Estimate | None) -> tuple[str, str, str] | None:
    if est is None:
        return None
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


def to_markdown(lb: Leaderboard) -> str:
    """Markdown tables, one per tier: value with ``[CI]``, best per task and column bold."""
    lines = ["# modebench leaderboard", "",
             f"Built {lb.built_at}. Mean over training seeds with 95 % bootstrap CI; n = seeds.",
             ""]
    for tb in lb.tiers:
        lines += [f"## Tier {markdown_escape(tb.tier)}", ""]
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
                    cells.append(f"{v} [{c[1]}, {c[2]}]")
                lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if lb.stale:
        n = sum(s.n_runs for s in lb.stale)
        lines += [f"{n} stale results (spec or dataset hash differs from the current code, or "
                  "unknown task) are not in these tables.", ""]
    return "\n".join(lines)


def to_latex(lb: Leaderboard) -> str:
    """LaTeX tables (booktabs), one ``table`` per tier; needs ``\\usepackage{booktabs}``."""
    out = [
        "% modebench leaderboard, generated by `bench leaderboard build` "
        f"({latex_escape(lb.built_at)}).",
        "% Requires \\usepackage{booktabs}. Mean over training seeds with 95% bootstrap CI.",
        "",
    ]
    ncols = len(METRICS)
    for tb in lb.tiers:
        tier = latex_escape(tb.tier)
        out += [
            "\\begin{table}[t]",
            "\\centering",
            "\\small",
            f"\\caption{{modebench results, tier \\texttt{{{tier}}}: mean over training seeds, "
            "95\\,\\% bootstrap CI in brackets, $n$ = seeds; best per task in bold.}",
            f"\\label{{tab:modebench-{''.join(c for c in tb.tier if c.isalnum()) or 'tier'}}}",
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
                    cells.append(f"{v}\\,{{\\scriptsize[{c[1]}, {c[2]}]}}")
                out.append(" & ".join(cells) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(out)
