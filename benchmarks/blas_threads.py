"""numpy's OpenBLAS threads against a busy machine: a task's expert, one vs all-core BLAS.

Collects ``--episodes`` demonstrations of a task in a fresh interpreter with
``OPENBLAS_NUM_THREADS=1`` (what ``import benchmark`` sets) and with one BLAS thread per core
(OpenBLAS's own default), first on an idle machine, then beside a torch job holding
``--busy-threads`` threads (what a sweep worker or a pretraining run does to a dataset build
or a MuJoCo evaluation), and checks that the demonstrations' bytes are the same.

    python benchmarks/blas_threads.py --task kitchen --episodes 4 --busy-threads 1,2

Measured 2026-12-02 (2-core AMD EPYC, kitchen, 4 episodes, 1,955 steps; all-core BLAS vs one
thread), two runs of the same comparison (the first with an earlier form of this script):
idle 15.2 vs 15.1 s and 12.9 vs 13.6 s; beside a 1-thread torch job 20.2 vs 15.7 s and 18.2 vs
11.4 s; beside a 2-thread one 34.1 vs 19.2 s and 20.3 vs 17.2 s; the same bytes in every run.
``numpy.linalg.inv`` of the IK's 6 x 6 matrix took 2.9 ms per call with all-core BLAS beside a
pretraining job (32 us idle).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

_COLLECT = """
import sys, time
from benchmark.datasets import collect_demonstrations, content_hash
from benchmark.registry import get_task
t0 = time.perf_counter()
eps, _ = collect_demonstrations(get_task(sys.argv[1]), int(sys.argv[2]), workers=1)
dt = time.perf_counter() - t0
digest = content_hash([b.observations for b in eps], [b.actions for b in eps],
                      [b.rewards for b in eps], [b.terminations for b in eps],
                      [b.truncations for b in eps],
                      [str(b.infos["mode_index"][0, 0]) for b in eps])
print(dt, sum(len(b.actions) for b in eps), digest)
"""

_BUSY = """
import sys, torch
torch.set_num_threads(int(sys.argv[1]))
a, b = torch.randn(256, 512), torch.randn(512, 512)
while True:
    a @ b
"""


def collect(task: str, episodes: int, blas_threads: int) -> tuple[float, int, str]:
    """(seconds, env steps, content hash) of one collection in a fresh interpreter
    (:func:`benchmark.datasets.content_hash`, the datasets' own hash)."""
    env = os.environ | {"OPENBLAS_NUM_THREADS": str(blas_threads)}
    out = subprocess.run([sys.executable, "-c", _COLLECT, task, str(episodes)], env=env,
                         capture_output=True, text=True, check=True)
    seconds, steps, digest = out.stdout.split()[-3:]
    return float(seconds), int(steps), digest


def main() -> None:
    """Parse arguments, collect under each load and BLAS setting, print one line each."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="kitchen")
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--busy-threads", default="1,2",
                    help="comma-separated torch thread counts of the job run beside it")
    args = ap.parse_args()

    cores = os.cpu_count() or 1
    digests = set()
    for busy in [0] + [int(b) for b in args.busy_threads.split(",")]:
        job = (subprocess.Popen([sys.executable, "-c", _BUSY, str(busy)]) if busy else None)
        try:
            if job:
                time.sleep(2)  # let it start
            for blas in (cores, 1):
                seconds, steps, digest = collect(args.task, args.episodes, blas)
                digests.add(digest)
                where = f"beside a {busy}-thread torch job" if busy else "idle"
                print(f"{where}, {blas} BLAS thread(s): "
                      f"{seconds:.1f} s for {steps:,} steps ({steps / seconds:.0f} steps/s), "
                      f"bytes {digest}", flush=True)
        finally:
            if job:
                job.terminate()
                job.wait()
    print(f"identical bytes in every run: {len(digests) == 1}")


if __name__ == "__main__":
    main()
