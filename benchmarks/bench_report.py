"""write_report on 1,000 links x 365 days x 2 platforms (730,000 daily rows): today's code vs the baseline.

The baseline is the package as it was before the CSV speed-up (git revision ``--baseline``,
default ``4370009``: every text cell sanitized on its own, names looked up per row, pandas'
``to_csv``), unpacked with ``git archive`` into a temporary folder. Each measurement runs in a
fresh process (baseline and ours alternate, best of ``--repeat``) on the same synthetic
tables (``bench_dashboard.synthetic``, seed 0). Prints the times of ``formats=("csv", "png",
"html")`` (goal: under 3 s), of ``("csv",)`` alone, the ratios, and the workbook's time
(``"xlsx"``: ``report.xlsx``) separately.

Run: ``.venv/bin/python benchmarks/bench_report.py [--links 1000 --days 365 --repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GOAL_S = 3.0


def worker(args: argparse.Namespace) -> int:
    """In a fresh process: build the tables, time one write_report with the given formats, print JSON."""
    sys.path.insert(0, str(HERE))
    import matplotlib

    matplotlib.use("Agg")
    from bench_dashboard import synthetic

    from jmlink_analytics.report import _write

    stats, links = synthetic(args.links, args.days)
    formats = tuple(args.formats.split(","))
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        written = _write.write_report(stats, links, out, formats=formats)
        elapsed = time.perf_counter() - started
        size = sum(path.stat().st_size for path in written.values())
    print(json.dumps({"seconds": elapsed, "rows": len(stats), "files": len(written), "bytes": size,
                      "package": str(Path(_write.__file__).parents[2])}))
    return 0


def run(package_root: Path, formats: str, args: argparse.Namespace) -> dict:
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    result = subprocess.run([sys.executable, __file__, "--worker", "--formats", formats, "--links", str(args.links),
                             "--days", str(args.days)], env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", default="4370009", help="git revision of the baseline (before the speed-up)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--formats", default="csv,png,html", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline, "jmlink_analytics"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(baseline)], input=archive, check=True)
        print(f"bench_report: {args.links} links x {args.days} days x 2 platforms; baseline = git {args.baseline}; "
              f"best of {args.repeat}, each run in a fresh process")
        times: dict[tuple[str, str], list[float]] = {}
        for formats in ("csv,png,html", "csv"):
            for _ in range(args.repeat):
                for name, root in (("baseline", baseline), ("ours", ROOT)):
                    result = run(root, formats, args)
                    assert Path(result["package"]).resolve() == root.resolve(), result["package"]
                    times.setdefault((name, formats), []).append(result["seconds"])
        for formats in ("xlsx", "csv,png,html,xlsx"):
            for _ in range(max(1, args.repeat - 1)):
                result = run(ROOT, formats, args)
                times.setdefault(("ours", formats), []).append(result["seconds"])
    best = {key: min(values) for key, values in times.items()}
    for formats in ("csv,png,html", "csv"):
        b, o = best["baseline", formats], best["ours", formats]
        goal = f"   (goal < {GOAL_S:.0f} s: {'met' if o < GOAL_S else 'missed'})" if formats == "csv,png,html" else ""
        print(f"  formats={formats:<14} baseline {b:6.2f} s   ours {o:6.2f} s   baseline / ours {b / o:4.2f}x{goal}")
        print(f"      all runs: baseline {', '.join(f'{t:.2f}' for t in times['baseline', formats])}; "
              f"ours {', '.join(f'{t:.2f}' for t in times['ours', formats])}")
    xlsx, both = best["ours", "xlsx"], best["ours", "csv,png,html,xlsx"]
    print(f"  the workbook: formats=xlsx {xlsx:6.2f} s (analysis included); csv,png,html,xlsx {both:6.2f} s, "
          f"so report.xlsx adds {both - best['ours', 'csv,png,html']:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
