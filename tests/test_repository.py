"""The repository itself: nothing that .gitignore ignores is committed."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_no_tracked_file_matches_gitignore():
    """Issue 11: mlartifacts/.../episodes.csv and mlflow.db.lock had been committed."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "-ci", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "", f"tracked files that .gitignore ignores (git rm --cached):\n{out}"
