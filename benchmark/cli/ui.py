"""``bench ui``: the MLflow UI on the project's store."""

from __future__ import annotations

import os
import subprocess
import sys

import typer

from benchmark.cli._common import console


def ui(
    host: str = typer.Option("127.0.0.1", help="Interface to bind (loopback by default)."),
    port: int = typer.Option(5000, help="Port."),
    workers: int = typer.Option(
        1, min=1, help="Server processes (MLflow's default is 4; one serves a local user and "
                       "starts faster on a small machine)."),
) -> None:
    """Open the MLflow UI on the local results store (Ctrl-C stops it)."""
    from benchmark.paths import artifact_root, tracking_uri

    uri = tracking_uri()
    env = dict(os.environ)
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    console.print(f"MLflow UI for [bold]{uri}[/] at http://{host}:{port}")
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
           "--host", host, "--port", str(port), "--workers", str(workers)]
    if uri.startswith("sqlite:"):
        cmd += ["--default-artifact-root", artifact_root().as_uri()]
    try:
        raise typer.Exit(subprocess.call(cmd, env=env))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
