"""Jinja2 templates and the stylesheet of the leaderboard site (a package so wheels ship them)."""
