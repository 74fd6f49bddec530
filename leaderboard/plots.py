"""SVG plots generated in Python at build time (no JavaScript, no plotting library).

Each function returns a complete, standalone SVG document as a string. Every piece of text
that comes from data (method names, mode labels, level names) goes through :func:`esc`, so a
hostile name cannot inject markup into the SVG or the page embedding it.

Colours are the Okabe-Ito palette (distinguishable with the common colour-vision
deficiencies); a method keeps its colour on every page (:func:`color_map`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from xml.sax.saxutils import escape

from benchmark.metrics import Estimate

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D1F",
           "#000000", "#999999", "#F0E442", "#882255", "#44AA99")
"""Okabe-Ito's colour-blind-safe palette plus Tol's wine, teal and two greys."""

METHOD_COLORS = {
    "bc": "#000000", "bc-flow": "#999999", "bc-cvae": "#8C6D1F", "bc-mlp": "#F0E442",
    "dppo": "#0072B2", "entropy-rl": "#56B4E9", "dsrl": "#E69F00", "res": "#009E73",
    "bmd": "#D55E00", "dppo-bmd": "#CC79A7", "res-bmd": "#882255",
}
"""Each built-in method's colour on every page and in every build (a [BMD] variant has a hue
of its own, not its base's)."""

DASHES = ("", "6 3", "2 2", "8 3 2 3", "1 3", "10 4")
"""Line styles: rows of one method (ablations, forced modes) and methods sharing a colour
are told apart by these, not by colour alone."""


def _stable_index(text: str, n: int) -> int:
    """An index in [0, n) that depends on ``text`` only (not on the other labels or the
    interpreter's hash seed)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % n
FONT = "font-family='Helvetica, Arial, sans-serif'"


def esc(text: object) -> str:
    """Escape text for SVG element content and double- or single-quoted attributes."""
    return _esc_str(str(text))


@lru_cache(maxsize=1 << 14)
def _esc_str(text: str) -> str:
    # cached: the plots escape ~150k strings per build, mostly the same labels and numbers
    return escape(text, {'"': "&quot;", "'": "&#39;"})


def color_map(labels: Sequence[str]) -> dict[str, str]:
    """A stable colour per label: its method's (:data:`METHOD_COLORS` for the built-in ones,
    a palette colour picked by the method id's hash for plugins), the same on every page and
    in every build whatever else the store holds."""
    out = {}
    for label in set(labels):
        method = label.split(" [")[0].split(" v")[0].split(" cfg ")[0]
        out[label] = METHOD_COLORS.get(method) or PALETTE[_stable_index(method, len(PALETTE))]
    return out


def dash_map(labels: Sequence[str]) -> dict[str, str]:
    """A stable line style per label: solid for a built-in method's own row, otherwise one
    of :data:`DASHES` picked by the label's text (stable across builds)."""
    return {label: "" if label in METHOD_COLORS
            else DASHES[1 + _stable_index(label, len(DASHES) - 1)] for label in set(labels)}


@dataclass(frozen=True)
class Series:
    """One method's data in a plot.

    Attributes:
        label: Legend text.
        color: CSS colour.
    """

    label: str
    color: str
    dash: str = ""


def _svg(width: float, height: float, body: list[str], title: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width:.0f} {height:.0f}' "
        f"width='{width:.0f}' height='{height:.0f}' role='img' aria-label='{esc(title)}' {FONT} "
        "font-size='11'>"
        f"<title>{esc(title)}</title>" + "".join(body) + "</svg>\n"
    )


def _legend(series: Sequence[Series], x: float, y: float, width: float) -> tuple[list[str], float]:
    """Legend entries flowing left to right, wrapping at ``width``; returns (parts, height)."""
    parts: list[str] = []
    cx, cy = x, y
    for s in series:
        w = 30 + 6.5 * len(s.label)
        if cx + w > x + width and cx > x:
            cx, cy = x, cy + 16
        dash = f" stroke-dasharray='{esc(s.dash)}'" if s.dash else ""
        # the key is a stretch of the series' line: its colour and its dash pattern
        parts.append(f"<line x1='{cx:.1f}' x2='{cx + 18:.1f}' y1='{cy - 3:.1f}' "
                     f"y2='{cy - 3:.1f}' stroke='{esc(s.color)}' stroke-width='3'{dash}/>"
                     f"<text x='{cx + 22:.1f}' y='{cy + 1:.1f}' fill='#333'>{esc(s.label)}</text>")
        cx += w
    return parts, cy - y + 16


def _y_axis(x0: float, y0: float, h: float, w: float, ticks: Sequence[float], lo: float,
            hi: float, fmt: str = "{:.2g}") -> list[str]:
    parts = []
    for t in ticks:
        y = y0 + h - (t - lo) / (hi - lo) * h
        parts.append(f"<line x1='{x0:.1f}' x2='{x0 + w:.1f}' y1='{y:.1f}' y2='{y:.1f}' "
                     "stroke='#e5e5e5'/>"
                     f"<text x='{x0 - 6:.1f}' y='{y + 4:.1f}' text-anchor='end' fill='#666'>"
                     f"{esc(fmt.format(t))}</text>")
    parts.append(f"<line x1='{x0:.1f}' x2='{x0:.1f}' y1='{y0:.1f}' y2='{y0 + h:.1f}' "
                 "stroke='#999'/>")
    return parts


def abbreviate_modes(modes: Sequence[str], sep: str = ">", max_len: int = 12
                     ) -> tuple[dict[str, str], dict[str, str]]:
    """Short axis labels for long sequence modes (kitchen's
    ``microwave>kettle>light switch>slide cabinet`` -> ``M>K>LS>SC``).

    Each ``sep``-separated part becomes the initials of its words. Nothing is abbreviated when
    every label is short, or when two parts would share an abbreviation.

    Returns:
        ``({mode: axis label}, {abbreviation: part})`` (the key, empty when unchanged).
    """
    if max((len(m) for m in modes), default=0) <= max_len:
        return {m: m for m in modes}, {}
    parts = sorted({p for m in modes for p in m.split(sep) if p})
    short = {p: "".join(w[0].upper() for w in p.split()) for p in parts}
    if len(set(short.values())) < len(short):
        return {m: m for m in modes}, {}
    labels = {m: sep.join(short.get(p, p) for p in m.split(sep)) for m in modes}
    return labels, {short[p]: p for p in parts}


def mode_bars(modes: Sequence[str], series: Sequence[tuple[Series, Mapping[str, float]]],
              title: str = "Mode distribution") -> str:
    """Grouped bars: the mean share of each mode among successful nominal episodes.

    Args:
        modes: Mode labels in display order (x axis).
        series: ``(series, {mode: share in [0, 1]})`` per method.
        title: Accessible title.

    Returns:
        The SVG document.
    """
    k = max(len(series), 1)
    bar = max(3.0, min(14.0, 60.0 / k))
    group = k * bar + 10
    axis, key = abbreviate_modes(modes)
    longest = max((len(axis[m]) for m in modes), default=1)
    rotate = longest * 6.5 > group
    bottom = 20 + (min(longest, 24) * 5.5 if rotate else 0) + (16 if key else 0)
    plot_w = max(len(modes) * group, 240)
    left, top = 44, 10
    width = left + plot_w + 16
    legend, lh = _legend([s for s, _ in series], left, top + 8, plot_w)
    top += lh + 4
    h = 170
    parts = legend + _y_axis(left, top, h, plot_w, [0, 0.25, 0.5, 0.75, 1.0], 0, 1)
    for i, mode in enumerate(modes):
        gx = left + i * group + 5
        for j, (s, shares) in enumerate(series):
            v = float(shares.get(mode, 0.0))
            bh = max(v, 0.0) * h
            parts.append(
                f"<rect x='{gx + j * bar:.1f}' y='{top + h - bh:.1f}' width='{bar - 1:.1f}' "
                f"height='{bh:.1f}' fill='{esc(s.color)}'><title>{esc(s.label)}: {esc(mode)} "
                f"{v:.1%}</title></rect>")
        cx = gx + k * bar / 2
        label = esc(axis[mode] if mode else "(none)")
        if rotate:
            parts.append(f"<text transform='translate({cx:.1f},{top + h + 12:.1f}) rotate(-40)' "
                         f"text-anchor='end' fill='#333'>{label}</text>")
        else:
            parts.append(f"<text x='{cx:.1f}' y='{top + h + 14:.1f}' text-anchor='middle' "
                         f"fill='#333'>{label}</text>")
    parts.append(f"<text transform='translate(12,{top + h / 2:.1f}) rotate(-90)' "
                 "text-anchor='middle' fill='#666'>share of successes</text>")
    if key:
        parts.append(f"<text x='{left}' y='{top + h + bottom:.1f}' fill='#666'>"
                     + esc(", ".join(f"{a} = {p}" for a, p in sorted(key.items())))
                     + "</text>")
    return _svg(width, top + h + bottom + 8, parts, title)


def robustness_curves(
    ladders: Mapping[str, Sequence[str]],
    series: Sequence[tuple[Series, Mapping[str, Estimate | None]]],
    title: str = "Success over the perturbation ladder",
    y_label: str = "success rate",
    y_max: float = 1.0,
) -> str:
    """One small panel per ladder: success (mean and 95 % CI band) against severity.

    Args:
        ladders: Ladder name -> its level names by severity, the nominal level first.
        series: ``(series, {level: estimate})`` per method.
        title: Accessible title.
        y_label: Y-axis label.
        y_max: Upper end of the y axis (1 for rates, the number of modes for counts).

    Returns:
        The SVG document.
    """
    pw, ph, gap, left = 190, 130, 34, 44
    n = max(len(ladders), 1)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    width = left + cols * (pw + gap)
    legend, lh = _legend([s for s, _ in series], left, 16, width - left - 10)
    top0 = 16 + lh + 22
    parts = list(legend)
    y_ticks = [y_max * f for f in (0, 0.25, 0.5, 0.75, 1.0)]
    fmt = "{:.2g}" if y_max <= 1 else "{:.1f}"
    for p, (ladder, levels) in enumerate(ladders.items()):
        ox = left + (p % cols) * (pw + gap)
        oy = top0 + (p // cols) * (ph + 58)
        parts.append(f"<text x='{ox + pw / 2:.1f}' y='{oy - 4:.1f}' text-anchor='middle' "
                     f"font-weight='bold' fill='#333'>{esc(ladder)}</text>")
        parts += _y_axis(ox, oy, ph, pw, y_ticks, 0, y_max, fmt)
        m = max(len(levels) - 1, 1)

        def xy(i: int, v: float, ox: float = ox, oy: float = oy, m: int = m) -> tuple[float, float]:
            return ox + 8 + i * (pw - 16) / m, oy + ph - min(max(v, 0.0), y_max) / y_max * ph

        for i, level in enumerate(levels):
            x, _ = xy(i, 0)
            parts.append(f"<text transform='translate({x:.1f},{oy + ph + 12:.1f}) rotate(-30)' "
                         f"text-anchor='end' fill='#666' font-size='9'>{esc(level)}</text>")
        for s, points in series:
            pts = [(i, points.get(level)) for i, level in enumerate(levels)]
            pts = [(i, e) for i, e in pts if e is not None]
            if not pts:
                continue
            band = [xy(i, e.ci_high) for i, e in pts] + [xy(i, e.ci_low) for i, e in reversed(pts)]
            parts.append("<polygon points='" + " ".join(f"{x:.1f},{y:.1f}" for x, y in band)
                         + f"' fill='{esc(s.color)}' fill-opacity='0.15' stroke='none'/>")
            line = [xy(i, e.value) for i, e in pts]
            dash = f" stroke-dasharray='{esc(s.dash)}'" if s.dash else ""
            parts.append("<polyline points='" + " ".join(f"{x:.1f},{y:.1f}" for x, y in line)
                         + f"' fill='none' stroke='{esc(s.color)}' stroke-width='2'{dash}/>")
            for (i, e), (x, y) in zip(pts, line, strict=True):
                parts.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='2.5' fill='{esc(s.color)}'>"
                             f"<title>{esc(s.label)} @ {esc(levels[i])}: {e.value:.3g} "
                             f"[{e.ci_low:.3g}, {e.ci_high:.3g}], n={e.n}</title></circle>")
    height = top0 + rows * (ph + 58)
    parts.append(f"<text transform='translate(12,{top0 + ph / 2:.1f}) rotate(-90)' "
                 f"text-anchor='middle' fill='#666'>{esc(y_label)}</text>")
    return _svg(width, height, parts, title)


def scatter(points: Sequence[tuple[Series, Estimate | None, Estimate | None]],
            title: str = "Success vs mode entropy", x_label: str = "mode entropy",
            y_label: str = "success rate") -> str:
    """Each method as a point (x = mode entropy, y = success) with 95 % CI whiskers.

    Args:
        points: ``(series, x estimate, y estimate)`` per method; missing ones are skipped.
        title: Accessible title.
        x_label: X-axis label.
        y_label: Y-axis label.

    Returns:
        The SVG document.
    """
    left, top, w, h = 48, 14, 300, 240
    parts = _y_axis(left, top, h, w, [0, 0.25, 0.5, 0.75, 1.0], 0, 1)
    for t in (0, 0.25, 0.5, 0.75, 1.0):
        x = left + t * w
        parts.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{top:.1f}' y2='{top + h:.1f}' "
                     "stroke='#f0f0f0'/>"
                     f"<text x='{x:.1f}' y='{top + h + 14:.1f}' text-anchor='middle' "
                     f"fill='#666'>{t:g}</text>")
    parts.append(f"<line x1='{left}' x2='{left + w}' y1='{top + h}' y2='{top + h}' "
                 "stroke='#999'/>")

    def px(v: float) -> float:
        return left + min(max(v, 0.0), 1.0) * w

    def py(v: float) -> float:
        return top + h - min(max(v, 0.0), 1.0) * h

    for s, ex, ey in points:
        if ex is None or ey is None:
            continue
        c = esc(s.color)
        parts.append(
            f"<line x1='{px(ex.ci_low):.1f}' x2='{px(ex.ci_high):.1f}' y1='{py(ey.value):.1f}' "
            f"y2='{py(ey.value):.1f}' stroke='{c}' stroke-width='1.5'/>"
            f"<line x1='{px(ex.value):.1f}' x2='{px(ex.value):.1f}' y1='{py(ey.ci_low):.1f}' "
            f"y2='{py(ey.ci_high):.1f}' stroke='{c}' stroke-width='1.5'/>"
            f"<circle cx='{px(ex.value):.1f}' cy='{py(ey.value):.1f}' r='4.5' fill='{c}'>"
            f"<title>{esc(s.label)}: entropy {ex.value:.3g}, success {ey.value:.3g}</title>"
            "</circle>"
            f"<text x='{px(ex.value) + 7:.1f}' y='{py(ey.value) - 6:.1f}' fill='#333'>"
            f"{esc(s.label)}</text>")
    parts.append(f"<text x='{left + w / 2:.1f}' y='{top + h + 32:.1f}' text-anchor='middle' "
                 f"fill='#666'>{esc(x_label)}</text>"
                 f"<text transform='translate(14,{top + h / 2:.1f}) rotate(-90)' "
                 f"text-anchor='middle' fill='#666'>{esc(y_label)}</text>")
    return _svg(left + w + 110, top + h + 42, parts, title)


def latent_heatmap(counts: Mapping[str, Mapping[str, int]], modes: Sequence[str],
                   title: str) -> str:
    """A z → mode matrix: rows latent codes, columns task modes, cell shade = share of the
    code's successful episodes (summed over seeds) that landed in the mode.

    Args:
        counts: ``{z: {mode label: successful episodes}}`` (z as text).
        modes: Column order (the task's demonstrated modes; other labels are appended).
        title: Accessible title.

    Returns:
        An SVG document.
    """
    zs = sorted(counts, key=lambda z: (len(z), z))
    extra = sorted({m for c in counts.values() for m in c} - set(modes))
    cols = list(modes) + extra
    cell, left, top = 18.0, 44.0, 70.0
    footnote = "shade: share of the code's successful episodes in the mode (codes matched "
    footnote += "across seeds)"
    width = max(left + cell * len(cols) + 10, 6.2 * max(len(title), len(footnote) * 0.8) + 20)
    height = top + cell * len(zs) + 24
    parts = [f"<text x='{left}' y='12' font-size='11'>{esc(title)}</text>"]
    for j, m in enumerate(cols):
        x = left + j * cell + cell / 2
        parts.append(f"<text x='{x:.1f}' y='{top - 4}' font-size='9' "
                     f"transform='rotate(-60 {x:.1f} {top - 4})'>{esc(m)}</text>")
    for i, z in enumerate(zs):
        row = counts[z]
        total = sum(row.values())
        y = top + i * cell
        parts.append(f"<text x='{left - 4}' y='{y + cell * 0.7:.1f}' text-anchor='end'>"
                     f"z={esc(z)}</text>")
        for j, m in enumerate(cols):
            share = row.get(m, 0) / total if total else 0.0
            parts.append(
                f"<rect x='{left + j * cell:.1f}' y='{y:.1f}' width='{cell - 1}' "
                f"height='{cell - 1}' fill='#0072B2' fill-opacity='{share:.3f}' "
                f"stroke='#ddd'><title>z={esc(z)} → {esc(m)}: {row.get(m, 0)} of {total}"
                "</title></rect>")
    parts.append(f"<text x='{left}' y='{height - 6:.1f}' font-size='9'>{esc(footnote)}</text>")
    return _svg(width, height, parts, title)


def option_curves(
    values: Sequence[float],
    panels: Sequence[tuple[str, Sequence[Estimate | None], float | None]],
    title: str,
    x_label: str,
    color: str = "#1f77b4",
) -> str:
    """Metrics against one option's value (a ``--grid`` sweep): one small panel per metric,
    the mean over seeds with its 95 % CI whisker (no whisker where the CI is not meaningful,
    n < 3). The x axis is logarithmic when every value is positive and they span 20x or more.

    Args:
        values: The option's values, sorted ascending, shape (P,).
        panels: ``(metric label, estimates (P,), y max or None to fit)`` per panel.
        title: Accessible title.
        x_label: X-axis label (the option's name).
        color: Line colour.

    Returns:
        The SVG document.
    """
    pw, ph, gap, left, top = 190, 130, 44, 48, 24
    log = all(v > 0 for v in values) and max(values) / min(values) >= 20
    xs = [math.log10(v) for v in values] if log else list(values)
    lo, hi = min(xs), max(xs)
    span = (hi - lo) or 1.0
    parts: list[str] = []
    for p, (label, ests, y_max) in enumerate(panels):
        ox = left + p * (pw + gap)
        finite = [e for e in ests if e is not None]
        top_v = y_max if y_max is not None else max(
            [max(e.value, e.ci_high if math.isfinite(e.ci_high) else e.value)
             for e in finite] + [1e-9]) * 1.1
        ticks = [top_v * f for f in (0, 0.25, 0.5, 0.75, 1.0)]
        parts.append(f"<text x='{ox + pw / 2:.1f}' y='{top - 8:.1f}' text-anchor='middle' "
                     f"font-weight='bold' fill='#333'>{esc(label)}</text>")
        parts += _y_axis(ox, top, ph, pw, ticks, 0, top_v, "{:.2g}")

        def xy(x: float, v: float, ox: float = ox, top_v: float = top_v) -> tuple[float, float]:
            return (ox + 10 + (x - lo) / span * (pw - 20),
                    top + ph - min(max(v, 0.0), top_v) / top_v * ph)

        for x, v in zip(xs, values, strict=True):
            px, _ = xy(x, 0)
            parts.append(f"<text x='{px:.1f}' y='{top + ph + 13:.1f}' text-anchor='middle' "
                         f"fill='#666' font-size='9'>{v:g}</text>")
        line = []
        for x, v, e in zip(xs, values, ests, strict=True):
            if e is None:
                continue
            px, py = xy(x, e.value)
            line.append((px, py))
            if e.n >= 3 and math.isfinite(e.ci_low) and math.isfinite(e.ci_high):
                _, y1 = xy(x, e.ci_low)
                _, y2 = xy(x, e.ci_high)
                parts.append(f"<line x1='{px:.1f}' x2='{px:.1f}' y1='{y1:.1f}' y2='{y2:.1f}' "
                             f"stroke='{esc(color)}' stroke-width='1.5'/>")
            parts.append(f"<circle cx='{px:.1f}' cy='{py:.1f}' r='3' fill='{esc(color)}'>"
                         f"<title>{esc(x_label)}={v:g}: {esc(label)} {e.value:.3g} "
                         f"[{e.ci_low:.3g}, {e.ci_high:.3g}], n={e.n}</title></circle>")
        if len(line) > 1:
            parts.append("<polyline points='" + " ".join(f"{x:.1f},{y:.1f}" for x, y in line)
                         + f"' fill='none' stroke='{esc(color)}' stroke-width='1.5'/>")
        parts.append(f"<text x='{ox + pw / 2:.1f}' y='{top + ph + 30:.1f}' "
                     f"text-anchor='middle' fill='#666'>{esc(x_label)}"
                     f"{' (log scale)' if log else ''}</text>")
    width = left + max(len(panels), 1) * (pw + gap)
    return _svg(width, top + ph + 40, parts, title)


def interval_plot(methods: Sequence[Series],
                  panels: Sequence[tuple[str, Mapping[str, Estimate]]], title: str) -> str:
    """rliable's interval estimates: per method, the aggregate (IQM) as a tick inside its
    95 % stratified-bootstrap interval, one panel per metric, methods in the given order.

    Args:
        methods: The methods, top to bottom.
        panels: ``(metric label, {method label: estimate})`` per panel (values in [0, 1]).
        title: Accessible title.

    Returns:
        The SVG document.
    """
    row_h, pw, gap = 22, 220, 30
    left = 16 + 6.5 * max([len(s.label) for s in methods] + [4])
    top = 24
    h = row_h * max(len(methods), 1)
    parts: list[str] = []
    for p, (label, ests) in enumerate(panels):
        ox = left + p * (pw + gap)
        parts.append(f"<text x='{ox + pw / 2:.1f}' y='{top - 8}' text-anchor='middle' "
                     f"font-weight='bold' fill='#333'>{esc(label)}</text>")
        for t in (0, 0.25, 0.5, 0.75, 1.0):
            x = ox + t * pw
            parts.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{top}' y2='{top + h}' "
                         f"stroke='#e5e5e5'/><text x='{x:.1f}' y='{top + h + 14}' "
                         f"text-anchor='middle' fill='#666'>{t:g}</text>")
        for i, s in enumerate(methods):
            y = top + i * row_h + row_h / 2
            if p == 0:
                parts.append(f"<text x='{left - 8:.1f}' y='{y + 4:.1f}' text-anchor='end' "
                             f"fill='#333'>{esc(s.label)}</text>")
            e = ests.get(s.label)
            if e is None:
                continue
            x0, x1 = (ox + min(max(v, 0.0), 1.0) * pw for v in (e.ci_low, e.ci_high))
            xv = ox + min(max(e.value, 0.0), 1.0) * pw
            parts.append(f"<rect x='{x0:.1f}' y='{y - 6:.1f}' width='{max(x1 - x0, 1.5):.1f}' "
                         f"height='12' fill='{esc(s.color)}' fill-opacity='0.55'/>"
                         f"<line x1='{xv:.1f}' x2='{xv:.1f}' y1='{y - 8:.1f}' y2='{y + 8:.1f}' "
                         f"stroke='#000' stroke-width='2'><title>{esc(s.label)}: {esc(label)} "
                         f"{e.value:.3g} [{e.ci_low:.3g}, {e.ci_high:.3g}]</title></line>")
    width = left + max(len(panels), 1) * (pw + gap)
    return _svg(width, top + h + 24, parts, title)


def performance_profile(series: Sequence[tuple[Series, Sequence[float]]], title: str,
                        x_label: str = "success rate τ") -> str:
    """rliable's performance profile: per method, the share of its (task, seed) runs whose
    score exceeds τ, for τ from 0 to 1 (a step function; scores in [0, 1]).

    Args:
        series: ``(series, scores (n_runs,))`` per method.
        title: Accessible title.
        x_label: X-axis label.

    Returns:
        The SVG document.
    """
    left, w, h = 48, 320, 200
    legend, lh = _legend([s for s, _ in series], left, 16, w + 100)
    top = 16 + lh + 12
    parts = list(legend) + _y_axis(left, top, h, w, [0, 0.25, 0.5, 0.75, 1.0], 0, 1)
    for t in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f"<text x='{left + t * w:.1f}' y='{top + h + 14:.1f}' "
                     f"text-anchor='middle' fill='#666'>{t:g}</text>")
    for s, scores in series:
        xs = sorted(min(max(float(v), 0.0), 1.0) for v in scores)
        if not xs:
            continue
        n = len(xs)
        # the share of scores above each score (xs is sorted: a bisection, not a count)
        pts = [(0.0, (n - bisect.bisect_right(xs, 0.0)) / n)]
        for v in xs:  # the share drops just after each score
            pts.append((v, (n - bisect.bisect_right(xs, v)) / n))
        line, prev = [], pts[0][1]
        for x, frac in pts:
            line += [(x, prev), (x, frac)]
            prev = frac
        line.append((1.0, prev))
        dash = f" stroke-dasharray='{esc(s.dash)}'" if s.dash else ""
        parts.append("<polyline points='" + " ".join(
            f"{left + x * w:.1f},{top + h - y * h:.1f}" for x, y in line)
            + f"' fill='none' stroke='{esc(s.color)}' stroke-width='2'{dash}>"
            f"<title>{esc(s.label)}: {n} runs</title></polyline>")
    parts.append(f"<text x='{left + w / 2:.1f}' y='{top + h + 30:.1f}' text-anchor='middle' "
                 f"fill='#666'>{esc(x_label)}</text>"
                 f"<text transform='translate(14,{top + h / 2:.1f}) rotate(-90)' "
                 "text-anchor='middle' fill='#666'>share of runs with score &gt; τ</text>")
    return _svg(left + w + 110, top + h + 40, parts, title)


CurvePoint = tuple[int, float, float, float]
"""(iteration, mean over seeds, lowest seed, highest seed)."""


def learning_curves(
    panels: Sequence[tuple[str, Sequence[tuple[Series, Sequence[CurvePoint]]]]],
    title: str,
) -> str:
    """Metrics over fine-tuning iterations: one panel per metric, per method the mean over
    seeds with a band from the lowest to the highest seed (values in [0, 1]).

    Args:
        panels: ``(metric label, [(series, [(iteration, mean, low, high), ...]), ...])``.
        title: Accessible title.

    Returns:
        The SVG document.
    """
    pw, ph, gap, left = 260, 150, 44, 44
    all_series = list({s.label: s for _, rows in panels for s, _ in rows}.values())
    legend, lh = _legend(all_series, left, 16, len(panels) * (pw + gap) - 10)
    top = 16 + lh + 22
    parts = list(legend)
    last = max([p[0] for _, rows in panels for _, pts in rows for p in pts] + [1])
    for k, (label, rows) in enumerate(panels):
        ox = left + k * (pw + gap)
        parts.append(f"<text x='{ox + pw / 2:.1f}' y='{top - 6:.1f}' text-anchor='middle' "
                     f"font-weight='bold' fill='#333'>{esc(label)}</text>")
        parts += _y_axis(ox, top, ph, pw, [0, 0.25, 0.5, 0.75, 1.0], 0, 1)
        for t in sorted({0, last // 2, last}):
            parts.append(f"<text x='{ox + t / last * pw:.1f}' y='{top + ph + 13:.1f}' "
                         f"text-anchor='middle' fill='#666' font-size='9'>{t}</text>")

        def xy(it: float, v: float, ox: float = ox) -> tuple[float, float]:
            return ox + it / last * pw, top + ph - min(max(v, 0.0), 1.0) * ph

        for s, pts in rows:
            if not pts:
                continue
            band = [xy(p[0], p[3]) for p in pts] + [xy(p[0], p[2]) for p in reversed(pts)]
            parts.append("<polygon points='" + " ".join(f"{x:.1f},{y:.1f}" for x, y in band)
                         + f"' fill='{esc(s.color)}' fill-opacity='0.12' stroke='none'/>")
            dash = f" stroke-dasharray='{esc(s.dash)}'" if s.dash else ""
            parts.append("<polyline points='" + " ".join(
                f"{x:.1f},{y:.1f}" for x, y in (xy(p[0], p[1]) for p in pts))
                + f"' fill='none' stroke='{esc(s.color)}' stroke-width='2'{dash}>"
                f"<title>{esc(s.label)}: {esc(label)}, {len(pts)} iterations</title>"
                "</polyline>")
        parts.append(f"<text x='{ox + pw / 2:.1f}' y='{top + ph + 30:.1f}' "
                     "text-anchor='middle' fill='#666'>fine-tuning iteration</text>")
    return _svg(left + len(panels) * (pw + gap), top + ph + 40, parts, title)
