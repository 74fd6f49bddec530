"""The static site: escaping of every string, relative links that resolve, all pages present."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import leaderboard.forked as forked_module
import leaderboard.site as site_module
from leaderboard import exports
from leaderboard.bundle import parse_bundle
from leaderboard.compile import compile_leaderboard
from leaderboard.site import build_site, slug
from tests.leaderboard.conftest import method_lookup

XSS = "<script>alert(1)</script>"


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts = 0
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture
def site(tmp_path, results, lookup):
    hostile = [dataclasses.replace(r, method=XSS, run_id="x" + r.run_id,
                                   command=f"bench evaluate --method '{XSS}'",
                                   git_commit='"><img src=x onerror=alert(2)>')
               for r in results if r.method == "bc"]
    lb = compile_leaderboard(results + hostile, lookup, method_lookup)
    lb = dataclasses.replace(lb, built_at="2026-01-01 00:00 UTC")
    build_site(lb, tmp_path / "site")
    return tmp_path / "site", lb


def test_pages_and_exports_exist(site):
    out, lb = site
    for name in ("index.html", "style.css", "leaderboard.tex", "leaderboard.md",
                 "leaderboard.csv", "leaderboard_seeds.csv", "leaderboard_modes.csv"):
        assert (out / name).is_file()
    # the raw data behind the board, as a bundle that `bench results import` reads back
    records = parse_bundle((out / "results.jsonl").read_text().splitlines(), "results.jsonl")
    assert sorted(r.run_id for r in records) == sorted(r.run_id for g in lb.groups()
                                                       for r in g.results)
    tasks = {t.task for tb in lb.tiers for t in tb.tasks}
    assert {p.name for p in (out / "tasks").iterdir()} == {f"{slug(t)}.html" for t in tasks}
    assert {p.name for p in (out / "methods").iterdir()} == {f"{slug(m)}.html"
                                                             for m in lb.methods}
    per_task = 4 * sum(len(tb.tasks) for tb in lb.tiers)
    aggregates = 2 * sum(1 for tb in lb.tiers if tb.common_tasks)
    assert len(list((out / "plots").glob("*.svg"))) == per_task + aggregates
    assert len(list((out / "plots").glob("aggregate-*.svg"))) == aggregates > 0


def test_hostile_method_name_is_text(site):
    out, _ = site
    for page in list(out.rglob("*.html")) + list(out.rglob("*.svg")):
        html = page.read_text()
        assert "<script" not in html.lower(), page
        assert "<img src=x" not in html, page
    index = (out / "index.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    parser = _Collect()
    parser.feed(index)
    assert parser.scripts == 0
    assert XSS in "".join(parser.text)  # shown to the reader as text
    method_page = out / "methods" / f"{slug(XSS)}.html"
    assert method_page.is_file() and slug(XSS) == re.sub(r"[^A-Za-z0-9._-]", "", slug(XSS))


def test_links_are_relative_and_resolve(site):
    out, _ = site
    pages = list(out.rglob("*.html"))
    assert len(pages) >= 3
    for page in pages:
        parser = _Collect()
        parser.feed(page.read_text())
        for link in parser.links:
            assert not re.match(r"^[a-z]+:", link) and not link.startswith("/"), (page, link)
            target = (page.parent / link.split("#")[0]).resolve()
            assert target.exists(), (page, link)


def test_svg_is_wellformed(site):
    import xml.etree.ElementTree as ET

    out, _ = site
    for svg in (out / "plots").glob("*.svg"):
        root = ET.fromstring(svg.read_text())
        assert root.tag.endswith("svg")


def test_rebuild_removes_old_pages(site, results, lookup):
    out, _ = site
    lb = compile_leaderboard([r for r in results if r.method == "bmd"], lookup, method_lookup)
    build_site(lb, out)
    assert {p.name for p in (out / "methods").iterdir()} == {"bmd.html"}


def test_empty_store_builds_empty_site(tmp_path: Path):
    lb = compile_leaderboard([], method_lookup=method_lookup)
    build_site(lb, tmp_path / "empty")
    assert "No current results yet" in (tmp_path / "empty" / "index.html").read_text()


def test_method_page_of_a_mode_selectable_method_shows_its_z_to_mode_matrix(tmp_path, results,
                                                                             lookup):
    counts = {"0": {"L": 5}, "1": {"R": 4, "L": 1}, "2": {XSS: 2}}
    with_z = [dataclasses.replace(r, latent_counts=counts) if r.method == "bmd" else r
              for r in results]
    build_site(compile_leaderboard(with_z, lookup, method_lookup), tmp_path / "site")
    page = (tmp_path / "site" / "methods" / "bmd.html").read_text()
    images = re.findall(r'src="\.\./plots/(latent-[^"]+\.svg)"', page)
    assert images, "no z -> mode matrix on bmd's page"
    svg = (tmp_path / "site" / "plots" / images[0]).read_text()
    got = re.search(r"z=1 → R: (\d+) of (\d+)", svg)
    assert got and int(got[1]) * 5 == int(got[2]) * 4  # summed over the row's seeds
    assert XSS not in svg  # labels are escaped
    assert "latent-" not in (tmp_path / "site" / "methods" / "dppo.html").read_text()


def test_task_page_shows_partial_progress_when_logged(tmp_path, results, lookup):
    """Issue 12: kitchen's p1..p4 were logged but shown nowhere."""
    with_p = [dataclasses.replace(r, metrics={**r.metrics, "p1": 0.75, "p2": 0.5})
              for r in results]
    lb = compile_leaderboard(with_p, lookup, method_lookup)
    assert all(set(g.progress) == {"p1", "p2"} for g in lb.groups())
    build_site(lb, tmp_path / "site")
    page = (tmp_path / "site" / "tasks" / f"{slug('avoid-v0')}.html").read_text()
    assert "Partial progress" in page and "0.75" in page and "≥ 2" in page


def test_the_heat_map_matches_codes_across_seeds_before_summing(tmp_path, results, lookup):
    """Seeds number their codes independently: summing raw codes would blur a perfect
    z -> mode map into a uniform one."""
    bmd = sorted((r for r in results if r.method == "bmd" and r.tier == "small"
                  and r.task == "avoid-v0"), key=lambda r: r.seed)
    perms = [{"0": {"L": 6}, "1": {"R": 6}}, {"0": {"R": 6}, "1": {"L": 6}}]
    swapped = [dataclasses.replace(r, latent_counts=perms[i % 2]) for i, r in enumerate(bmd)]
    rest = [r for r in results if r not in bmd]
    build_site(compile_leaderboard(rest + swapped, lookup, method_lookup), tmp_path / "site")
    svg = next((tmp_path / "site" / "plots").glob("latent-bmd-bmd-avoid-v0-small.svg"))
    text = svg.read_text()
    assert f"z=0 → L: {6 * len(bmd)} of {6 * len(bmd)}" in text
    assert f"z=1 → R: {6 * len(bmd)} of {6 * len(bmd)}" in text


def test_z_map_agreement_is_shown_and_invariant_to_relabelling_codes(tmp_path, results, lookup):
    """Issue 13: the cross-seed agreement of the z -> mode maps was computed by the runner
    but shown nowhere."""
    bmd = sorted((r for r in results if r.method == "bmd" and r.tier == "small"
                  and r.task == "avoid-v0"), key=lambda r: r.seed)
    assert len(bmd) >= 3
    perms = [{"0": {"L": 6}, "1": {"R": 6}}, {"0": {"R": 6}, "1": {"L": 6}}]
    swapped = [dataclasses.replace(r, latent_counts=perms[i % 2]) for i, r in enumerate(bmd)]
    rest = [r for r in results if r not in bmd]
    lb = compile_leaderboard(rest + swapped, lookup, method_lookup)
    (row,) = [g for g in lb.groups() if g.method == "bmd" and g.tier == "small"
              and g.task == "avoid-v0"]
    assert row.cells["latent_map_agreement"].value == 1.0
    assert row.cells["latent_map_agreement"].n == len(bmd)
    # one seed whose two codes both land on L: it agrees with each other seed on one code of 2
    odd = [dataclasses.replace(swapped[0], latent_counts={"0": {"L": 6}, "1": {"L": 3}})]
    lb = compile_leaderboard(rest + odd + swapped[1:], lookup, method_lookup)
    (row,) = [g for g in lb.groups() if g.method == "bmd" and g.tier == "small"
              and g.task == "avoid-v0"]
    n = len(bmd)
    expected = ((n - 1) * 0.5 + (n - 1) * (n - 2) / 2) / (n * (n - 1) / 2)
    assert row.cells["latent_map_agreement"].value == pytest.approx(expected)
    build_site(lb, tmp_path / "site")
    page = (tmp_path / "site" / "tasks" / f"{slug('avoid-v0')}.html").read_text()
    assert "z-map agreement" in page
    # methods without latent codes have no agreement
    assert all(g.cells["latent_map_agreement"] is None for g in lb.groups() if g.method != "bmd")


def test_a_grid_sweep_gets_a_metric_against_option_plot(tmp_path, results, lookup):
    """Issue 16: rows that differ in one numeric option (``--grid beta=...``) are drawn as
    metrics against the option, with the default row at its logged config value."""
    from leaderboard.compile import option_sweeps

    base = [r for r in results if r.method == "bc" and r.tier == "small"
            and r.task == "avoid-v0"]
    assert len(base) >= 3
    default = [dataclasses.replace(r, params={**r.params, "method.beta": "1.0"}) for r in base]
    swept = []
    for i, beta in enumerate(("0.01", "0.1", "10")):
        for r in base:
            rate = r.metrics["success_rate"] * (1 - 0.2 * i)
            swept.append(dataclasses.replace(
                r, run_id=f"{r.run_id}-b{i}", options={"beta": beta}, config_hash=f"c{i}",
                metrics={**r.metrics, "success_rate": rate}))
    # a two-key ablation and a string option never form a sweep
    other = [dataclasses.replace(r, run_id=f"{r.run_id}-o", config_hash="o",
                                 options={"beta": "3", "prior": "learned"}) for r in base]
    lb = compile_leaderboard([r for r in results if r not in base] + default + swept + other,
                             lookup, method_lookup)
    (board,) = [t for tb in lb.tiers if tb.tier == "small" for t in tb.tasks
                if t.task == "avoid-v0"]
    (sweep,) = option_sweeps(board)
    assert sweep.method == "bc" and sweep.key == "beta"
    assert [v for v, _ in sweep.points] == [0.01, 0.1, 1.0, 10.0]
    assert not sweep.points[2][1].results[0].options  # the default row, at beta = 1
    build_site(lb, tmp_path / "site")
    page = (tmp_path / "site" / "tasks" / f"{slug('avoid-v0')}.html").read_text()
    assert "Option sweeps" in page and "1 (default)" in page
    (img,) = re.findall(r'src="\.\./plots/([^"]*-sweep0\.svg)"', page)
    svg = (tmp_path / "site" / "plots" / img).read_text()
    assert "(log scale)" in svg
    # the plotted success at beta = 10 is the mean of the rows' seeds
    want = sum(r.metrics["success_rate"] * 0.6 for r in base) / len(base)
    got = re.search(r"beta=10: success rate ([0-9.]+)", svg)
    assert got and float(got[1]) == pytest.approx(want, abs=5e-3)


def test_a_method_keeps_its_colour_whatever_else_the_store_holds():
    """Issue 17: colours were cycled over the store's sorted labels, so adding a method
    recoloured others and two methods could share one."""
    from leaderboard.plots import METHOD_COLORS, color_map, dash_map

    few = color_map(["bc", "bmd", "dppo"])
    many = color_map(["bc", "bmd", "dppo", "aaa-plugin", "bc-flow", "zzz", "bmd [lam=0.5]"])
    assert all(few[m] == many[m] for m in few)
    assert len(set(METHOD_COLORS.values())) == len(METHOD_COLORS)  # built-ins never share
    assert color_map(["my-plugin"])["my-plugin"] == color_map(["a", "my-plugin", "bc"])["my-plugin"]
    assert dash_map(["my-plugin"])["my-plugin"] != ""  # a plugin sharing a colour is dashed
    dashes = dash_map(["bmd", "bmd [lam=0.5]", "bmd [n_latent=4]"])
    assert dashes["bmd"] == "" and dashes["bmd [lam=0.5]"] != ""  # an ablation is not solid
    assert many["bmd [lam=0.5]"] == many["bmd"]  # same method, same colour, other dash


def test_performance_profile_is_the_share_of_runs_above_each_threshold():
    """Issue 17 (rliable figures): the profile's steps are the empirical survival function."""
    from leaderboard.plots import Series, performance_profile

    svg = performance_profile([(Series("m", "#000"), [0.2, 0.5, 0.5, 1.0])], "t")
    pts = re.search(r"<polyline points='([^']+)'", svg)[1].split()
    xy = [tuple(map(float, p.split(","))) for p in pts]
    left, w, h = 48, 320, 200
    top = max(y for _, y in xy) - h  # the curve starts at share 1 (every score > 0)
    shares = sorted({round((top + h - y) / h, 3) for _, y in xy})
    assert shares == [0.0, 0.25, 0.75, 1.0]  # > 0.2: 3 of 4; > 0.5: 1 of 4; > 1: none
    # the drop to 0.25 happens at tau = 0.5
    at_half = [(top + h - y) / h for x, y in xy if abs(x - (left + 0.5 * w)) < 1e-6]
    assert sorted({round(v, 3) for v in at_half}) == [0.25, 0.75]


def test_empty_figures_are_not_drawn_and_the_page_says_why(tmp_path, results, lookup):
    """Issue 17: robustness panels were drawn empty when only nominal was run, and a mode
    plot with no successful episode was an empty frame."""
    nominal_only = [dataclasses.replace(
        r, metrics={k: (0.0 if k == "success_rate" else v) for k, v in r.metrics.items()
                    if "/" not in k},
        mode_distribution={"nominal": {}}, perturbations=("nominal",))
        for r in results if r.task == "avoid-v0" and r.tier == "small"]
    build_site(compile_leaderboard(nominal_only, lookup, method_lookup), tmp_path / "site")
    page = (tmp_path / "site" / "tasks" / f"{slug('avoid-v0')}.html").read_text()
    assert "No method has a successful nominal episode" in page
    assert "Only the nominal level was run" in page
    plots_drawn = {p.name for p in (tmp_path / "site" / "plots").glob("avoid-v0-small-*.svg")}
    assert plots_drawn == {"avoid-v0-small-scatter.svg"}


def test_the_site_has_the_citation_and_a_task_versions_page(tmp_path, results, lookup):
    """Issue 17: a citation (CITATION.cff, shown as BibTeX) and a page of task versions with
    their spec and dataset hashes."""
    from benchmark.registry import get_task
    from leaderboard.citation import bibtex, load_citation

    cff = load_citation()
    assert cff is not None and cff["cff-version"] == "1.2.0"
    bib = bibtex(cff)
    assert bib.startswith("@software{modebench") and "version = {0.1.0}" in bib
    assert bib.count("{") == bib.count("}")
    build_site(compile_leaderboard(results, lookup, method_lookup), tmp_path / "site")
    index = (tmp_path / "site" / "index.html").read_text()
    assert "@software{modebench" in index and (tmp_path / "site" / "modebench.bib").is_file()
    versions = (tmp_path / "site" / "versions.html").read_text()
    kitchen = get_task("kitchen").spec
    assert kitchen.id in versions and kitchen.hash() in versions
    assert kitchen.dataset_hash in versions


def test_the_index_has_a_methods_by_tasks_summary_per_tier(site):
    """Issue 17: a HELM-style grid (methods x tasks) and tier navigation on the index."""
    out, lb = site
    index = (out / "index.html").read_text()
    assert index.count("Summary: success and H(π) per method and task") == len(lb.tiers)
    for tb in lb.tiers:
        assert f'href="#tier-{slug(tb.tier)}"' in index
        grid = index.split(f'id="tier-{slug(tb.tier)}"')[1].split("Aggregate across tasks")[0]
        for task in tb.tasks:
            assert f"tasks/{slug(task.task)}.html#tier-{slug(tb.tier)}" in grid
            for g in task.rows:
                assert exports.fmt("success", g.cells["success"].value) in grid


def test_long_sequence_modes_get_short_axis_labels_with_a_key():
    """Issue 17: kitchen's 24 long order labels were clipped and overlapped."""
    from leaderboard.plots import Series, abbreviate_modes, mode_bars

    modes = ["microwave>kettle>light switch>slide cabinet",
             "slide cabinet>light switch>kettle>microwave"]
    axis, key = abbreviate_modes(modes)
    assert axis[modes[0]] == "M>K>LS>SC" and axis[modes[1]] == "SC>LS>K>M"
    assert key == {"K": "kettle", "LS": "light switch", "M": "microwave",
                   "SC": "slide cabinet"}
    assert abbreviate_modes(["LRL", "RRR"]) == ({"LRL": "LRL", "RRR": "RRR"}, {})
    clash = ["light switch>long name here", "long name here>lamp switch"]
    assert abbreviate_modes(clash)[1] == {}  # LS twice: keep the full labels
    svg = mode_bars(modes, [(Series("bc", "#000"), {modes[0]: 1.0})], "t")
    assert ">M&gt;K&gt;LS&gt;SC<" in svg and "LS = light switch" in svg
    assert f"{modes[0].replace('>', '&gt;')} 100.0%" in svg  # the tooltip keeps the name


def test_every_plot_has_its_own_alt_text_and_a_data_table(site):
    """Issue 17: the same alt text on every plot, values only in SVG titles inside <img>."""
    out, lb = site
    alts = []
    for page in (out / "tasks").glob("*.html"):
        html = page.read_text()
        figures = re.findall(r"<figure.*?</figure>", html, flags=re.S)
        assert figures
        for fig in figures:
            alts += re.findall(r'alt="([^"]*)"', fig)
            assert '<details class="data">' in fig, fig[:200]
    assert len(alts) == len(set(alts)), "alt texts repeat"
    avoid = (out / "tasks" / f"{slug('avoid-v0')}.html").read_text()
    g = next(g for g in lb.groups() if g.task == "avoid-v0" and g.tier == "small"
             and g.label == "bmd")
    scatter = next(f for f in re.findall(r"<figure.*?</figure>", avoid, flags=re.S)
                   if "Scatter plot" in f and "tier small" in f)
    row = re.search(r'<th class="l" scope="row">bmd</th>(.*?)</tr>', scatter, flags=re.S)
    assert exports.fmt("success", g.cells["success"].value) in row.group(1)


def test_no_empty_improvement_matrices_without_a_common_task(tmp_path, results, lookup):
    """Methods that share no task got two P(improvement) tables of dashes."""
    apart = [dataclasses.replace(r, task="twin-v0") if r.method == "bmd" else r
             for r in results if (r.task == "avoid-v0" or r.method == "bmd")
             and r.tier == "small"]
    build_site(compile_leaderboard(apart, lookup, method_lookup), tmp_path / "s")
    index = (tmp_path / "s" / "index.html").read_text()
    assert "Probability of improvement" not in index


def _normalised_exports(folder: Path) -> dict[str, str]:
    # the build time is the only thing two builds of one board may differ in
    built = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")
    return {p.name: built.sub("<time>", p.read_text(encoding="utf-8"))
            for p in sorted(folder.iterdir()) if p.is_file() and p.suffix != ".css"}


def _normalised_site(folder: Path) -> dict[str, str]:
    built = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")
    return {str(p.relative_to(folder)): built.sub("<time>", p.read_text(encoding="utf-8"))
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_site_shared_with_a_forked_process_is_the_serial_one(tmp_path, results, lookup,
                                                               monkeypatch):
    """Issue 18: from PARALLEL_SITE_MIN_RUNS on, pages, plots and exports are shared with a
    forked child; every file must be the serial build's."""
    lb = compile_leaderboard(results, lookup, method_lookup)
    monkeypatch.setattr(site_module, "PARALLEL_SITE_MIN_RUNS", 10**9)
    serial = build_site(lb, tmp_path / "serial")
    monkeypatch.setattr(site_module, "PARALLEL_SITE_MIN_RUNS", 0)
    monkeypatch.setattr(forked_module, "usable_cores", lambda: 2)
    forked = build_site(lb, tmp_path / "forked")
    assert [p.name for p in serial.values()] == [p.name for p in forked.values()]
    assert len(serial) == 1 + len(site_module._exports())
    assert _normalised_exports(tmp_path / "forked") == _normalised_exports(tmp_path / "serial")
    assert _normalised_site(tmp_path / "forked") == _normalised_site(tmp_path / "serial")


def test_a_failing_export_raises_its_own_error_in_a_shared_build(tmp_path, results, lookup,
                                                                 monkeypatch):
    def broken(lb):
        raise ValueError("an export failed")

    monkeypatch.setattr(site_module.exports, "to_seed_csv", broken)
    monkeypatch.setattr(site_module, "PARALLEL_SITE_MIN_RUNS", 0)
    monkeypatch.setattr(forked_module, "usable_cores", lambda: 2)
    lb = compile_leaderboard(results, lookup, method_lookup)
    with pytest.raises(ValueError, match="an export failed"):
        build_site(lb, tmp_path)
