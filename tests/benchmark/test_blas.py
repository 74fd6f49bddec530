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
