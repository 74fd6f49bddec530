"""Paper figures: the site's SVG plots also as PDF and PNG, rendered by headless Chromium.

LaTeX cannot include SVG without extra tooling, so ``bench leaderboard build --figures
pdf,png`` writes ``figures/<name>.pdf`` / ``.png`` next to the site's ``plots/<name>.svg``.
Each figure is rendered at the SVG's own size (PDF page = the SVG's width x height in CSS
px; PNG at 2x for print), by the browser the site's tests use (Debian's ``chromium``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmark.errors import UsageError

FORMATS = ("pdf", "png")
NO_CHROMIUM = ("--figures needs a headless Chromium: install it (Debian: apt-get install "
               "chromium) or set MODEBENCH_CHROMIUM, or drop --figures")


def find_chromium() -> str | None:
    """The Chromium binary (``MODEBENCH_CHROMIUM`` or ``chromium`` on the PATH), or None."""
    given = os.environ.get("MODEBENCH_CHROMIUM")
    if given:
        return shutil.which(given)  # None when it is not an executable
    return shutil.which("chromium") or shutil.which("chromium-browser")


def parse_formats(text: str) -> tuple[str, ...]:
    """``"pdf,png"`` -> ``("pdf", "png")``.

    Raises:
        UsageError: An unknown format.
    """
    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise UsageError(f"--figures: unknown format(s) {', '.join(bad)}; use pdf and/or png")
    return formats


def _size(svg: str) -> tuple[int, int]:
    m = re.search(r"<svg[^>]*\swidth='(\d+)'[^>]*\sheight='(\d+)'", svg)
    if not m:
        raise ValueError("the SVG has no width/height")
    return int(m[1]), int(m[2])


def export_figures(plots_dir: Path, out_dir: Path, formats: tuple[str, ...],
                   chromium: str | None = None, timeout_s: float = 60.0) -> list[Path]:
    """Render every ``*.svg`` in ``plots_dir`` to ``out_dir`` in ``formats``.

    Args:
        plots_dir: The site's ``plots`` folder.
        out_dir: Where the PDF/PNG files go (created).
        formats: Some of :data:`FORMATS`.
        chromium: Browser binary (default :func:`find_chromium`).
        timeout_s: Per-figure limit.

    Returns:
        The files written.

    Raises:
        UsageError: No Chromium found (install ``chromium`` or set ``MODEBENCH_CHROMIUM``).
        RuntimeError: Chromium failed on a figure (its stderr's last line in the message).
    """
    browser = chromium or find_chromium()
    if browser is None:
        raise UsageError(NO_CHROMIUM)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="modebench-fig-") as tmp:
        for svg_path in sorted(plots_dir.glob("*.svg")):
            w, h = _size(svg_path.read_text(encoding="utf-8"))
            page = Path(tmp) / f"{svg_path.stem}.html"
            page.write_text(
                "<!DOCTYPE html><html><head><meta charset='utf-8'><style>"
                f"@page {{ size: {w}px {h}px; margin: 0 }} html, body {{ margin: 0 }} "
                "img { display: block }</style></head><body>"
                f"<img src='{svg_path.resolve().as_uri()}' width='{w}' height='{h}'>"
                "</body></html>", encoding="utf-8")
            for fmt in formats:
                target = out_dir / f"{svg_path.stem}.{fmt}"
                args = [browser, "--headless", "--no-sandbox", "--disable-gpu",
                        "--allow-file-access-from-files", f"--user-data-dir={tmp}/profile"]
                if fmt == "pdf":
                    args += ["--no-pdf-header-footer", f"--print-to-pdf={target}"]
                else:
                    args += [f"--window-size={w},{h}", "--force-device-scale-factor=2",
                             "--hide-scrollbars", f"--screenshot={target}"]
                done = subprocess.run(args + [page.as_uri()], capture_output=True, text=True,
                                      timeout=timeout_s)
                if not target.is_file() or target.stat().st_size == 0:
                    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                    raise RuntimeError(f"chromium could not render {svg_path.name} as {fmt}: "
                                       f"{last}")
                written.append(target)
    return written
