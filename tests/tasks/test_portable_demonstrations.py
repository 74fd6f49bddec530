"""Demonstrations are the same bits on every x86-64 CPU (the spec's dataset hash must be
reachable wherever a user rebuilds it).

numpy sends 1-D float64 dot products (``np.linalg.norm(v)``, ``a @ b``) to OpenBLAS, whose
kernel depends on the CPU: on an AVX-512 machine (OpenBLAS's ``SkylakeX`` kernel) radial's
rewards differed in the last bit from an AVX2 machine's (``Haswell``), so radial-v0's
dataset hashed e8d2bc03... there against the spec's daf3acf4... . ``OPENBLAS_CORETYPE``
picks the kernel, so one machine can run both. robosuite's controller multiplies and inverts
matrices with numpy, so robosuite-lift's trajectories diverged too (its dataset hashed
f6d77c16... on AVX-512 against the spec's f7c71f51...): ``benchmark`` pins one kernel
(:mod:`benchmark.blas`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.blas import cpu_flags

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


def _core_types() -> list[str]:
    """OpenBLAS kernels this CPU can run (an unsupported one would fault)."""
    flags = cpu_flags()
    types = ["Sandybridge"] if "avx" in flags else []
    if {"avx2", "fma"} <= flags:
        types.append("Haswell")
    if {"avx512f", "avx512bw", "avx512vl"} <= flags:
        types.append("SkylakeX")
    return types


def _demo_hash(task_id: str, episodes: int, core_type: str | None) -> str:
    """The demonstrations' content hash, built in a fresh process whose OpenBLAS runs
    ``core_type`` (None: whatever this CPU and modebench choose)."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    env["OMP_NUM_THREADS"] = "1"
    if core_type is not None:
        env["OPENBLAS_CORETYPE"] = core_type
    out = subprocess.run([sys.executable, "-c", _HASH_OF_DEMOS, task_id, str(episodes)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(len(_core_types()) < 2, reason="needs two OpenBLAS kernels this CPU runs")
@pytest.mark.parametrize(("task_id", "episodes"), [("radial", 96), ("avoid", 48)])
def test_demonstrations_do_not_depend_on_the_blas_kernel(task_id, episodes):
    hashes = {t: _demo_hash(task_id, episodes, t) for t in _core_types()}
    assert len(set(hashes.values())) == 1, hashes


@pytest.mark.skipif(len(_core_types()) < 2, reason="needs two OpenBLAS kernels this CPU runs")
def test_robosuite_demonstrations_are_the_same_on_this_cpu_and_an_avx2_one():
    """Not the helpers: robosuite's own numpy (its controller). 40 episodes: the first 16
    agreed across kernels before the pin, 40 did not."""
    assert _demo_hash("robosuite-lift", 40, None) == _demo_hash("robosuite-lift", 40, "Haswell")


def test_importing_benchmark_pins_the_kernel_where_the_cpu_runs_it():
    from benchmark.blas import PINNED_KERNEL, cpu_runs_pinned_kernel

    code = ("import benchmark, numpy, threadpoolctl; "
            "print([i.get('architecture') for i in threadpoolctl.threadpool_info() "
            "if i.get('internal_api') == 'openblas'])")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    if cpu_runs_pinned_kernel():
        assert PINNED_KERNEL in out.stdout
        from benchmark.blas import openblas_kernel

        assert openblas_kernel() == PINNED_KERNEL  # this test process too (tests/conftest.py)
