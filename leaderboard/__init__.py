"""The modebench leaderboard: tracked results -> tables, a static site and paper exports.

* :mod:`leaderboard.records` — read finished seed runs from the MLflow store;
* :mod:`leaderboard.compile` — group by (task, method, tier), set stale results apart,
  compute every statistic with its 95 % bootstrap CI;
* :mod:`leaderboard.site` / :mod:`leaderboard.plots` — static HTML + CSS with SVG plots;
* :mod:`leaderboard.exports` — LaTeX (booktabs), Markdown and CSV tables;
* :mod:`leaderboard.bundle` — result bundles (JSON lines) to export and import results;
* :mod:`leaderboard.build` — all of it behind ``bench leaderboard build``.

The leaderboard reads tracked results only; it never trains or runs a method.
"""
