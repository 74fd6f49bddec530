"""Demonstrations are the same bits on every x86 CPU (the spec's dataset hash must be
reachable wherever a user rebuilds it).

numpy sends 1-D float64 dot products (``np.linalg.norm(v)``, ``a @ b``) to OpenBLAS, whose
kernel depends on the CPU: on an AVX-512 machine (OpenBLAS's ``SkylakeX`` kernel) radial's
rewards differed in the last bit from an AVX2 machine's (``Haswell``), so radial-v0's
dataset hashed e8d2bc03... there against the spec's daf3acf4... . ``OPENBLAS_CORETYPE``
picks the kernel, so one machine can run both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_HASH_OF_DEMOS = """
import sys
from benchmark.datasets import collect_demonstrations, content_hash
from benchmark.registry import get_task
buffers, _ = collect_demonstrations(get_task(sys.argv[1]), int(sys.argv[2]), workers=1)
print(content_hash([b.observations for b in buffers], [b.actions for b in buffers],
                   [b.rewards for b in buffers], [b.terminations for b in buffers],
                   [b.truncations for b in buffers], [str(b.infos["mode_index"][0, 0])
                                                      for b in buffers]))
"""


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def _core_types() -> list[str]:
    """OpenBLAS kernels this CPU can run (an unsupported one would fault)."""
    flags = _cpu_flags()
    types = ["Sandybridge"] if "avx" in flags else []
    if {"avx2", "fma"} <= flags:
        types.append("Haswell")
    if {"avx512f", "avx512bw", "avx512vl"} <= flags:
        types.append("SkylakeX")
    return types


def _demo_hash(task_id: str, episodes: int, core_type: str) -> str:
    env = {**os.environ, "OPENBLAS_CORETYPE": core_type, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", _HASH_OF_DEMOS, task_id, str(episodes)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(len(_core_types()) < 2, reason="needs two OpenBLAS kernels this CPU runs")
@pytest.mark.parametrize(("task_id", "episodes"), [("radial", 96), ("avoid", 48)])
def test_demonstrations_do_not_depend_on_the_blas_kernel(task_id, episodes):
    hashes = {t: _demo_hash(task_id, episodes, t) for t in _core_types()}
    assert len(set(hashes.values())) == 1, hashes
