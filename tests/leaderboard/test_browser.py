"""The site in a real headless Chromium from file://: no console errors, navigation works.

Needs the Debian package ``chromium`` and the PyPI package ``playwright`` (driving the system
browser; no browser download). Skipped with the reason when they are missing, except in CI
(``CI`` set), where a missing browser is a failure.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

from leaderboard.compile import compile_leaderboard
from leaderboard.site import build_site
from tests.leaderboard.conftest import method_lookup

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
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run in CI: {reason}")
    pytest.skip(reason)


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
        # phones (issue 17): no page scrolls sideways in a 390-px viewport; wide tables
        # scroll inside their own box
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        for url in (index, (out / "tasks" / "avoid-v0.html").as_uri(),
                    next((out / "methods").glob("*.html")).as_uri()):
            phone.goto(url)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{url} is {width} px wide on a 390-px phone"
        phone.screenshot(path=str(shots / "phone-method.png"), full_page=True)
        browser.close()
    assert not problems, problems
    assert (shots / "index.png").stat().st_size > 10_000
