"""benchmark.blas: the pinned OpenBLAS kernel and the hint in dataset-hash errors."""

from __future__ import annotations

from benchmark import blas


def test_the_hint_names_the_variable_only_where_another_kernel_runs(monkeypatch):
    monkeypatch.setattr(blas, "cpu_runs_pinned_kernel", lambda: True)
    monkeypatch.setattr(blas, "openblas_kernel", lambda: "SkylakeX")
    hint = blas.kernel_hint()
    assert "SkylakeX" in hint and f"OPENBLAS_CORETYPE={blas.PINNED_KERNEL}" in hint
    monkeypatch.setattr(blas, "openblas_kernel", lambda: blas.PINNED_KERNEL)
    assert blas.kernel_hint() == ""
    monkeypatch.setattr(blas, "openblas_kernel", lambda: "SkylakeX")
    monkeypatch.setattr(blas, "cpu_runs_pinned_kernel", lambda: False)
    assert blas.kernel_hint() == ""


def test_a_users_choice_and_a_loaded_numpy_are_left_alone(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Zen")
    assert blas.pin_openblas_kernel() is False
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    import numpy  # noqa: F401

    assert blas.pin_openblas_kernel() is False  # too late to take effect: not set
    import os

    assert "OPENBLAS_CORETYPE" not in os.environ


def _openblas_threads_in_fresh_process(env: dict[str, str]) -> int:
    """``num_threads`` of numpy's OpenBLAS in a new interpreter that imports benchmark first."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import benchmark, numpy, threadpoolctl; "
            "print([i['num_threads'] for i in threadpoolctl.threadpool_info() "
            "if i.get('internal_api') == 'openblas'][0])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


def test_importing_benchmark_gives_numpy_one_blas_thread_unless_the_user_chose():
    """numpy's BLAS here multiplies 6 x 7 Jacobians and 3 x 3 rotations (the kitchen IK,
    robosuite's controller): extra OpenBLAS threads only wait for cores that torch threads
    and worker processes hold (kitchen's expert ran 1.8x slower beside a 2-thread torch job)."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    assert _openblas_threads_in_fresh_process(env) == 1
    if (os.cpu_count() or 1) > 1:
        assert _openblas_threads_in_fresh_process(env | {"OPENBLAS_NUM_THREADS": "2"}) == 2


def test_a_loaded_numpy_keeps_its_blas_threads(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    import numpy  # noqa: F401

    assert blas.limit_openblas_threads() is False
    import os

    assert "OPENBLAS_NUM_THREADS" not in os.environ
