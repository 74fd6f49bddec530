"""Dataset build time: expert rollouts (1 vs N processes) and Minari's writer, in one run.

For a task, collects ``--episodes`` demonstrations with 1 process and with ``--workers``
processes (the speculative parallel build; the result must be identical, checked here),
then times writing them with Minari's ``create_dataset_from_buffers`` and with modebench's
``write_minari_dataset`` (the same bytes, the per-episode size scan skipped) at 1/4, 1/2 and
all of the episodes, to show how each writer scales with the number of episodes.

    python benchmarks/dataset_build.py --task kitchen --episodes 120 --workers 2
    python benchmarks/dataset_build.py --task avoid --episodes 500 --workers 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings


def main() -> None:
    """Parse arguments, time the collection and the writer, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="kitchen")
    ap.add_argument("--episodes", type=int, default=120)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    import minari

    from benchmark.datasets import collect_demonstrations, write_minari_dataset
    from benchmark.registry import get_task

    task = get_task(args.task)
    t0 = time.perf_counter()
    one, stats = collect_demonstrations(task, args.episodes, workers=1)
    t_one = time.perf_counter() - t0
    t0 = time.perf_counter()
    many, stats_many = collect_demonstrations(task, args.episodes, workers=args.workers)
    t_many = time.perf_counter() - t0
    same = stats == stats_many and all(
        a.seed == b.seed and (a.observations == b.observations).all()
        and (a.actions == b.actions).all() for a, b in zip(one, many, strict=True))
    steps = sum(len(b.actions) for b in one)
    print(f"{task.spec.id}: {args.episodes} demonstrations ({stats['dropped']} dropped), "
          f"{steps:,} env steps, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
          "cores")
    print(f"collect: 1 process {t_one:.1f} s ({steps / t_one:,.0f} steps/s); {args.workers} "
          f"processes {t_many:.1f} s: {t_one / t_many:.2f}x, identical: {same}")
    env = task.make_env(None)
    writers = {"minari": minari.create_dataset_from_buffers, "modebench": write_minari_dataset}
    for n in sorted({max(1, args.episodes // 4), max(1, args.episodes // 2), args.episodes}):
        line = []
        for name, writer in writers.items():
            with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                os.environ["MINARI_DATASETS_PATH"] = tmp
                t0 = time.perf_counter()
                writer(dataset_id="bench/write/test-v0", buffer=one[:n],
                       observation_space=env.observation_space,
                       action_space=env.action_space, algorithm_name="bench", author="bench",
                       author_email="bench@example.com", code_permalink="bench",
                       description="bench", data_format="arrow")
                t = time.perf_counter() - t0
            line.append(f"{name} {t:.2f} s ({t / n * 1e3:.1f} ms/episode)")
        print(f"write {n:5d} episodes: " + ", ".join(line), flush=True)


if __name__ == "__main__":
    main()
