"""find_anomalies on N links x 365 days x 2 platforms: today's code vs a baseline revision, side by side.

Each measurement runs in a fresh process (so ``ru_maxrss`` is the peak of that one call, the
synthetic table included: ``bench_dashboard.synthetic``, seed 0), baseline and ours
alternating, ``--repeat`` runs each; prints the medians, the ratio and the peak memory. The
baseline is the package at git revision ``--baseline`` (default ``8b505f4``, before the change), unpacked with
``git archive`` into a temporary folder. Goal (issue 22): 5,000 links under 2 s and 1 GB.

Run: ``.venv/bin/python benchmarks/bench_anomalies.py [--links 1000 --repeat 5] [--big]``
(``--big`` adds 5,000 links; the default sizes run in well under 2 minutes).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _worker import run_worker, unpack_package

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GOAL_S, GOAL_MB = 2.0, 1024


def worker(args: argparse.Namespace) -> int:
    """In a fresh process: build the table, time one find_anomalies, print JSON (seconds, peak MB)."""
    sys.path.insert(0, str(HERE))
    from bench_dashboard import synthetic

    from jmlink_analytics import metrics

    stats, _links = synthetic(args.links, args.days)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    episodes = metrics.find_anomalies(stats)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "peak_mb": peak, "table_mb": before, "rows": len(stats),
                      "episodes": len(episodes), "package": str(Path(metrics.__file__).parents[2])}))
    return 0


def run(package_root: Path, links: int, days: int) -> dict:
    return run_worker(__file__, package_root, "--links", str(links), "--days", str(days))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--links", type=int, nargs="*", default=[1000])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--big", action="store_true", help="add 5,000 links (about a minute more)")
    parser.add_argument("--baseline", default="8b505f4", help="git revision of the baseline (before issue 22)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.links = args.links[0]
        return worker(args)
    sizes = list(dict.fromkeys([*args.links, *([5000] if args.big else [])]))
    with tempfile.TemporaryDirectory() as tmp:
        baseline = unpack_package(ROOT, args.baseline, Path(tmp))
        print(f"bench_anomalies: N links x {args.days} days x 2 platforms; baseline = git {args.baseline}; "
              f"median of {args.repeat} alternating runs, each in a fresh process")
        print(f"{'links':>6} {'rows':>10} {'baseline s':>11} {'ours s':>8} {'ratio':>6} "
              f"{'baseline MB':>12} {'ours MB':>8} {'episodes':>9}")
        for links in sizes:
            got: dict[str, list[dict]] = {"baseline": [], "ours": []}
            for _ in range(args.repeat):
                for name, root in (("baseline", baseline), ("ours", ROOT)):
                    got[name].append(run(root, links, args.days))
            med = {name: statistics.median(r["seconds"] for r in runs) for name, runs in got.items()}
            peak = {name: statistics.median(r["peak_mb"] for r in runs) for name, runs in got.items()}
            ours = got["ours"][0]
            flag = "" if med["ours"] < GOAL_S and peak["ours"] < GOAL_MB else "  (over the goal)"
            print(f"{links:>6,} {ours['rows']:>10,} {med['baseline']:>11.2f} {med['ours']:>8.2f} "
                  f"{med['ours'] / med['baseline']:>6.2f} {peak['baseline']:>12,.0f} {peak['ours']:>8,.0f} "
                  f"{ours['episodes']:>9,}{flag}", flush=True)
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    status = main()
    if "--worker" not in sys.argv:
        print(f"bench_anomalies: {time.perf_counter() - started:.0f} s")
    sys.exit(status)
