"""Leaderboard build time on 10,000 synthetic seed runs in a real MLflow SQLite store.

Creates a fresh store in a temporary folder (MLflow creates the tables and the experiment),
fills it with synthetic seed runs in the exact tracking schema (bulk SQL inserts; creation
time is reported separately, with the per-run cost of MLflow's client measured on a sample),
then times ``build_leaderboard`` end to end: read + compile + render, cold. Optionally also
times reading the same store through MLflow's client instead of the direct SQLite reader.

    python benchmarks/leaderboard_build.py            # 20 tasks x 17 methods x 3 tiers x 10 seeds
    python benchmarks/leaderboard_build.py --tasks 5 --methods 5 --tiers 2 --seeds 200
    python benchmarks/leaderboard_build.py --compare-client   # + the MLflow-client reader

Tasks are copies of the current ``avoid`` spec under other names (the spec lookup knows them),
so all runs are current; methods get varied success levels and mode profiles.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    """Parse arguments, make the store, build, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=20)
    ap.add_argument("--methods", type=int, default=17)
    ap.add_argument("--tiers", type=int, default=3, choices=(1, 2, 3))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--sample", type=int, default=50,
                    help="runs logged through MLflow's client to measure its per-run cost")
    ap.add_argument("--compare-client", action="store_true",
                    help="also time reading the store with MLflow's client (slow)")
    ap.add_argument("--keep", type=Path, default=None, help="write the site here and keep it")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="also print the build's N most expensive functions (cProfile, "
                         "see --profile-sort; the timed build is a separate, unprofiled one)")
    ap.add_argument("--profile-sort", default="tottime", choices=("tottime", "cumulative"),
                    help="order of the profile's functions: own time or time including callees")
    ap.add_argument("--profile-callers", default=None, metavar="NAME",
                    help="with --profile: also print who calls the functions matching NAME")
    args = ap.parse_args()

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import torch  # noqa: F401  (only to pin threads when torch is there; the build needs none)

    torch.set_num_threads(1)
    from mlflow import MlflowClient

    from benchmark.registry import get_task
    from leaderboard.build import build_leaderboard
    from leaderboard.compile import MethodCard
    from leaderboard.records import read_results_client
    from leaderboard.synthetic import SyntheticMethod, bulk_insert_sqlite, log_runs, synthetic_runs

    base = get_task("avoid").spec
    specs = [dataclasses.replace(base, name=f"bench{i:02d}") for i in range(args.tasks)]
    by_id = {s.id: s for s in specs}
    methods = [SyntheticMethod(f"method-{j:02d}", 0.5 + 0.45 * j / max(args.methods - 1, 1),
                               "collapse" if j % 3 == 0 else "spread", 0.05 + 0.02 * (j % 4))
               for j in range(args.methods)]
    tiers = ("paper", "small", "smoke")[: args.tiers]
    n_runs = args.tasks * args.methods * len(tiers) * args.seeds

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "mlflow.db"
        uri = f"sqlite:///{db}"
        t0 = time.perf_counter()
        client = MlflowClient(tracking_uri=uri)
        exp = client.create_experiment("modebench", artifact_location=(Path(tmp) / "a").as_uri())
        t_store = time.perf_counter() - t0

        t0 = time.perf_counter()
        sample = log_runs(client, exp, synthetic_runs(specs[:1], methods[:1], tiers[:1],
                                                      range(args.sample), seed=1))
        t_client_log = (time.perf_counter() - t0) / len(sample)

        t0 = time.perf_counter()
        runs = synthetic_runs(specs, methods, tiers, range(args.seeds))
        ids = bulk_insert_sqlite(str(db), exp, runs)
        t_create = time.perf_counter() - t0

        out = args.keep or Path(tmp) / "site"
        t0, c0 = time.perf_counter(), time.process_time()
        rep = build_leaderboard(
            out, uri,
            spec_lookup=lambda t: (by_id[t], "") if t in by_id else (None, "unknown task"),
            method_lookup=lambda m: MethodCard(m, True, "1", f"synthetic {m}", "synthetic"))
        t_build, c_build = time.perf_counter() - t0, time.process_time() - c0
        load = os.getloadavg()[0]
        lb = rep.leaderboard
        n_svg = len(list((out / "plots").glob("*.svg")))
        n_html = len(list(out.rglob("*.html")))

        print(f"store: {len(ids):,} bulk-inserted + {len(sample)} client-logged seed runs "
              f"({args.tasks} tasks x {args.methods} methods x {len(tiers)} tiers x "
              f"{args.seeds} seeds = {n_runs:,}), {db.stat().st_size / 2**20:.1f} MiB")
        print(f"create: store {t_store:.2f} s; bulk insert {t_create:.2f} s "
              f"({t_create / len(ids) * 1e3:.3f} ms/run); MLflow client create_run+log_batch+"
              f"set_terminated {t_client_log * 1e3:.1f} ms/run "
              f"(= {t_client_log * len(ids):.0f} s for {len(ids):,})")
        print(f"build:  {t_build:.2f} s wall, {c_build:.2f} s CPU (load average {load:.1f} on "
              f"{os.cpu_count()} cores) -- read {rep.seconds['read']:.2f} s "
              f"({lb.reader}), compile {rep.seconds['compile']:.2f} s "
              + "(" + ", ".join(f"{k} {v:.2f}" for k, v in lb.timings.items()) + "), "
              f"render {rep.seconds['render']:.2f} s")
        print(f"site:   {lb.n_current:,} current results in "
              f"{sum(1 for _ in lb.groups()):,} rows, {n_html} pages, {n_svg} SVG plots")
        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.runcall(build_leaderboard, Path(tmp) / "site-profiled", uri,
                         spec_lookup=lambda t: (by_id[t], "") if t in by_id
                         else (None, "unknown task"),
                         method_lookup=lambda m: MethodCard(m, True, "1", f"synthetic {m}",
                                                            "synthetic"))
            stats = pstats.Stats(prof).sort_stats(args.profile_sort)
            stats.print_stats(args.profile)
            if args.profile_callers:
                stats.print_callers(args.profile_callers)
        if args.compare_client:
            t0 = time.perf_counter()
            slow = read_results_client(uri)
            t_slow = time.perf_counter() - t0
            print(f"read through MLflow's client instead: {t_slow:.2f} s for "
                  f"{len(slow.results):,} runs (direct SQLite: {rep.seconds['read']:.2f} s)")
        if args.keep:
            print(f"kept: {out / 'index.html'}")


if __name__ == "__main__":
    main()
