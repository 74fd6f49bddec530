"""modebench's harness: registries, adapter protocols, runner, metrics and tracking.

It knows no particular task or method; those are found through :mod:`benchmark.registry`.
Importing this package is cheap (no torch, no mlflow).
"""

__version__ = "0.1.0"
