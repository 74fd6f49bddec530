"""modebench's harness: registries, adapter protocols, runner, metrics and tracking.

It knows no particular task or method; those are found through :mod:`benchmark.registry`.
Importing this package is cheap (no torch, no mlflow).
"""

from benchmark.blas import limit_openblas_threads, pin_openblas_kernel

# before anything imports numpy: the same BLAS kernel, hence the same bits, on every CPU,
# and one BLAS thread (numpy's matrices here are small; parallelism is torch's and processes')
pin_openblas_kernel()
limit_openblas_threads()

__version__ = "0.1.0"
