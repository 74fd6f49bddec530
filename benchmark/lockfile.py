"""The lock file (``requirements.lock``): its hash on every result, and drift from it.

``requirements.lock`` pins modebench's whole dependency set (``bash scripts/lock.sh`` makes
it with uv; ``bash scripts/install.sh`` installs it). A run records the lock's hash and the
locked packages whose installed version differs, so that a result made in a drifted
environment is visible as such, and ``bench evaluate`` warns before it trains anything.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

LOCK_FILE = Path(__file__).resolve().parents[1] / "requirements.lock"
"""Where a source checkout keeps the lock (absent in a wheel install)."""

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;#]+)")


@dataclass(frozen=True)
class Drift:
    """A locked package whose installed version differs.

    Attributes:
        name: Distribution name as locked.
        locked: The locked version.
        installed: The installed version, or ``None`` when it is not installed.
    """

    name: str
    locked: str
    installed: str | None

    def __str__(self) -> str:
        return f"{self.name} {self.installed or 'missing'} (locked {self.locked})"


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path | None = None) -> dict[str, str]:
    """``{canonical name: version}`` of every ``name==version`` line of a lock file."""
    pins = {}
    for line in (path or LOCK_FILE).read_text(encoding="utf-8").splitlines():
        m = _PIN.match(line.strip())
        if m:
            pins[canonical(m["name"])] = m["version"]
    return pins


def lock_hash(path: Path | None = None) -> str:
    """First 16 hex digits of the lock's SHA-256 (``"none"`` without a lock file)."""
    try:
        return hashlib.sha256((path or LOCK_FILE).read_bytes()).hexdigest()[:16]
    except OSError:
        return "none"


def drift(path: Path | None = None) -> list[Drift]:
    """Locked packages whose installed version differs (empty without a lock file).

    Versions are compared exactly: ``torch 2.13.0`` (a CUDA build from PyPI) is not the
    locked ``2.13.0+cpu``.
    """
    try:
        pins = read_pins(path)
    except OSError:
        return []
    installed = _installed()
    return [Drift(name, version, installed.get(name)) for name, version in sorted(pins.items())
            if installed.get(name) != version]


@lru_cache(maxsize=1)
def _installed() -> dict[str, str]:
    # one scan per process (~200 distributions); installs do not change under a running run
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()
            if d.metadata["Name"]}
