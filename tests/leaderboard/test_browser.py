"""The site in a real headless Chromium from file://: no console errors, navigation works.

Needs the Debian package ``chromium`` and the PyPI package ``playwright`` (driving the system
browser; no browser download). Skipped with the reason when they are missing, except in CI
(``CI`` set), where a missing browser is a failure.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from benchmark.errors import UsageError
from leaderboard.compile import compile_leaderboard
from leaderboard.site import build_site
from tests.leaderboard.conftest import method_lookup, missing_tool

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _require_browser():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "playwright is not installed (pip install playwright)"
    else:
        if CHROMIUM:
            return
        reason = "chromium is not installed (apt-get install -y chromium)"
    missing_tool("browser test", reason)


@pytest.mark.slow
def test_site_in_chromium(tmp_path, results, lookup):
    _require_browser()
    from playwright.sync_api import sync_playwright

    hostile = [dataclasses.replace(r, method="<script>alert(1)</script>", run_id="x" + r.run_id)
               for r in results if r.method == "bc"]
    lb = dataclasses.replace(compile_leaderboard(results + hostile, lookup, method_lookup),
                             built_at="2026-01-01 00:00 UTC")
    out = tmp_path / "site"
    build_site(lb, out)
    shots = Path(os.environ.get("MODEBENCH_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        index = (out / "index.html").as_uri()
        page.goto(index)
        assert page.title() == "modebench leaderboard"
        assert page.locator("table.results").count() >= 3
        # the hostile method name is shown as text
        assert page.get_by_text("<script>alert(1)</script>").count() >= 1
        page.locator("a.task-link", has_text="avoid-v0").first.click()
        page.wait_for_load_state()
        assert page.url.endswith("/tasks/avoid-v0.html#tier-small")
        assert page.locator("h1").inner_text() == "avoid-v0"
        # every plot image loaded (naturalWidth 0 = broken image)
        widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
        assert widths and all(w > 0 for w in widths)
        page.screenshot(path=str(shots / "task.png"), full_page=True)
        page.go_back()
        page.wait_for_load_state()
        assert page.url == index
        page.screenshot(path=str(shots / "index.png"), full_page=True)
        # the downloads (issue 17): every export link resolves to a non-empty file
        hrefs = page.eval_on_selector_all("#exports a", "els => els.map(e => e.href)")
        names = {h.rsplit("/", 1)[-1] for h in hrefs}
        assert {"leaderboard_seeds.csv", "leaderboard_modes.csv", "results.jsonl",
                "leaderboard.tex", "leaderboard_wide.tex", "modebench.bib"} <= names, names
        for h in hrefs:
            target = Path(unquote(urlparse(h).path))
            assert target.is_file() and target.stat().st_size > 0, h
        # phones (issue 17): no page scrolls sideways in a 390-px viewport, nor on a desktop
        # (the task page's 19-column table made it 2,034 px wide at 1,280); wide tables
        # scroll inside their own box
        pages = (index, (out / "tasks" / "avoid-v0.html").as_uri(),
                 next((out / "methods").glob("*.html")).as_uri())
        for url in pages:
            page.goto(url)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 1280, f"{url} is {width} px wide in a 1,280-px window"
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        for url in pages:
            phone.goto(url)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{url} is {width} px wide on a 390-px phone"
        phone.screenshot(path=str(shots / "phone-method.png"), full_page=True)
        browser.close()
    assert not problems, problems
    assert (shots / "index.png").stat().st_size > 10_000


def test_figures_export_as_pdf_and_png_at_the_svgs_size(tmp_path, results, lookup):
    """Issue 17: figures for papers also as PDF/PNG, not only SVG."""
    import struct

    _require_browser()
    from leaderboard.figures import export_figures, parse_formats

    out = tmp_path / "site"
    build_site(compile_leaderboard([r for r in results if r.task == "avoid-v0"], lookup,
                                   method_lookup), out)
    svg = sorted((out / "plots").glob("*.svg"))[0]
    one = tmp_path / "one"
    one.mkdir()
    (one / svg.name).write_text(svg.read_text())
    written = export_figures(one, tmp_path / "figures", parse_formats("pdf,png"))
    pdf, png = (tmp_path / "figures" / f"{svg.stem}.{e}" for e in ("pdf", "png"))
    assert sorted(written) == sorted([pdf, png])
    assert pdf.read_bytes().startswith(b"%PDF") and b"/Type /Page" in pdf.read_bytes()
    width, height = struct.unpack(">II", png.read_bytes()[16:24])  # the IHDR chunk
    w, h = (int(v) for v in re.search(r"width='(\d+)' height='(\d+)'", svg.read_text()).groups())
    assert (width, height) == (2 * w, 2 * h)
    with pytest.raises(UsageError, match="unknown format"):
        parse_formats("pdf,eps")
