"""One OpenBLAS kernel on every x86-64 CPU, so that numpy gives the same bits everywhere.

numpy's OpenBLAS picks its kernel for the CPU it runs on (``Haswell`` on AVX2, ``SkylakeX`` on
AVX-512, ...), and the kernels round differently (FMA, blocking). The scripted experts and the
simulators' Python controllers multiply and invert matrices with numpy: on an AVX-512 machine
robosuite's operational-space controller drove the robosuite-lift expert onto other
trajectories after a few dozen episodes, so its dataset missed the spec's hash (f6d77c16...
against f7c71f51...), and radial's float64 rewards differed in the last bit.

``OPENBLAS_CORETYPE``, read once when OpenBLAS loads (at numpy's import), pins the kernel.
Importing :mod:`benchmark` sets it to :data:`PINNED_KERNEL` where the CPU can run that kernel,
numpy is not loaded yet and the user has not chosen one. (torch does not use numpy's
OpenBLAS; its results depend on the CPU as well, which is why results record the machine.)

``OPENBLAS_NUM_THREADS`` is set to 1 in the same way (:func:`limit_openblas_threads`):
numpy's BLAS here only sees small matrices, and extra OpenBLAS threads wait for cores that
torch's threads and the worker processes hold.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PINNED_KERNEL = "Haswell"
"""AVX2 + FMA: the kernel of the machines that built the specs' dataset hashes, and one that
every x86-64 CPU of the last decade runs."""

_KERNEL_FLAGS = {"avx2", "fma"}


def cpu_flags() -> set[str]:
    """The CPU's instruction-set flags (``/proc/cpuinfo``; empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_runs_pinned_kernel() -> bool:
    """Whether this CPU has the instructions of :data:`PINNED_KERNEL` (Linux x86-64)."""
    return _KERNEL_FLAGS <= cpu_flags()


def pin_openblas_kernel() -> bool:
    """Set ``OPENBLAS_CORETYPE`` to :data:`PINNED_KERNEL` if it can still take effect.

    Returns:
        Whether it was set now (False: chosen by the user, numpy already loaded, or a CPU
        without the kernel's instructions).
    """
    if "OPENBLAS_CORETYPE" in os.environ or "numpy" in sys.modules:
        return False
    if not cpu_runs_pinned_kernel():
        return False
    os.environ["OPENBLAS_CORETYPE"] = PINNED_KERNEL
    return True


def limit_openblas_threads() -> bool:
    """Set ``OPENBLAS_NUM_THREADS=1`` if it can still take effect and the user chose nothing.

    numpy's BLAS calls in modebench are small (the kitchen IK's 6 x 6 inverse, robosuite's
    operational-space controller, 3 x 3 rotations), far below the size where OpenBLAS gains
    from threads; its threads then only contend with torch's threads and with the other
    processes of a parallel dataset build, sweep or env pool. Measured on a 2-core machine
    (kitchen's expert, 4 episodes, ``benchmarks/blas_threads.py``): the same on an idle
    machine, 18.0 vs 15.6-16.0 s with two builders side by side, 18.2-20.2 vs 11.4-15.7 s
    beside a 1-thread torch job, 20.3-34.1 vs 17.2-19.2 s beside a 2-thread one; the
    demonstrations' bytes are the same in every case.

    Returns:
        Whether it was set now (False: the user's value, or numpy already loaded).
    """
    if "OPENBLAS_NUM_THREADS" in os.environ or "numpy" in sys.modules:
        return False
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    return True


def openblas_kernel() -> str | None:
    """The kernel numpy's OpenBLAS runs (e.g. ``"Haswell"``), None without OpenBLAS."""
    import numpy  # noqa: F401  (loads OpenBLAS, if it is not loaded yet)
    from threadpoolctl import threadpool_info

    for info in threadpool_info():
        if info.get("internal_api") == "openblas":
            return info.get("architecture")
    return None


def kernel_hint() -> str:
    """A sentence for dataset-hash errors when numpy runs another kernel than the pinned one
    on a CPU that could run it ("" otherwise)."""
    kernel = openblas_kernel()
    if kernel is None or kernel == PINNED_KERNEL or not cpu_runs_pinned_kernel():
        return ""
    return (f" numpy's OpenBLAS runs its {kernel} kernel here, and the specs' datasets are "
            f"built with {PINNED_KERNEL}: run with OPENBLAS_CORETYPE={PINNED_KERNEL} (or import "
            "modebench before numpy).")
