"""The LaTeX exports compiled by a real TeX (pdflatex with booktabs), as a paper would use them.

Needs Debian's ``texlive-latex-base`` and ``texlive-latex-recommended`` (installed by
``.ci/run``). Skipped with the reason when pdflatex is missing, except in CI (``CI`` set),
where a missing TeX is a failure.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

from leaderboard.compile import compile_leaderboard
from leaderboard.exports import to_latex, to_latex_metric
from tests.leaderboard.conftest import method_lookup, missing_tool

PDFLATEX = shutil.which("pdflatex")


def _require_tex() -> None:
    if not PDFLATEX:
        missing_tool("LaTeX test", "pdflatex is not installed (apt-get install "
                     "texlive-latex-base texlive-latex-recommended)")


def _compile(folder: Path, documentclass: str, body: str) -> str:
    """Compile a document around ``body`` in ``folder``; returns pdflatex's log."""
    (folder / "paper.tex").write_text(
        f"\\documentclass[{documentclass}]{{article}}\n\\usepackage{{booktabs}}\n"
        f"\\usepackage{{graphicx}}\n\\begin{{document}}\n{body}\n\\end{{document}}\n")
    proc = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error",
                           "paper.tex"], cwd=folder, capture_output=True, text=True,
                          timeout=120)
    log = (folder / "paper.log").read_text(errors="replace")
    errors = [line for line in log.splitlines() if line.startswith(("!", "l."))]
    assert proc.returncode == 0, "\n".join(errors)
    assert (folder / "paper.pdf").stat().st_size > 1000
    return log


def _overfull(log: str) -> list[str]:
    return re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)


def test_tables_compile_and_fit_a_two_column_paper(tmp_path, results, lookup):
    """Issue 17: the one table was 184 pt too wide for a two-column paper; the H(pi) table's
    caption did not compile at all (a bare π), nor would a method named in Unicode."""
    _require_tex()
    odd = [dataclasses.replace(r, method="méthode-β_東&%") for r in results
           if r.method == "bc"]
    lb = compile_leaderboard(results + odd, lookup, method_lookup)
    (tmp_path / "wide.tex").write_text(to_latex(lb, wide=True))
    (tmp_path / "success.tex").write_text(to_latex_metric(lb, "success"))
    (tmp_path / "entropy.tex").write_text(to_latex_metric(lb, "mode_entropy"))
    log = _compile(tmp_path, "twocolumn",
                   "\\input{wide.tex}\n\\input{success.tex}\n\\input{entropy.tex}\n"
                   "Text.\\clearpage")
    assert not _overfull(log), _overfull(log)
    # the full table, as a one-column paper's table
    (tmp_path / "full.tex").write_text(to_latex(lb))
    _compile(tmp_path, "", "\\input{full.tex}")
