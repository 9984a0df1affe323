"""write_report on N links x 365 days x 2 platforms: the full default report, before and after, and the workbook.

The baseline is the package at git revision ``--baseline`` (default ``8b505f4``: the workbook
written by streaming rows into XlsxWriter's private row file, its daily sheet the 730,000-row
tidy table), unpacked with ``git archive`` into a temporary folder. Every measurement runs in a
fresh process (imports, matplotlib's fonts and all) on the same synthetic tables
(``bench_dashboard.synthetic``, seed 0); baseline and ours alternate, ``--repeat`` rounds, and
the medians are printed with their ratio.

Prints, for ``formats=("csv", "png", "html", "xlsx")`` (the full report; goal: under 5 s at
1,000 links, under 15 s and 2 GB at 5,000) and for the same without ``"xlsx"``: the time, the
peak memory of the process (ru_maxrss, the synthetic tables included) and what the workbook
adds. ``--sheet`` also times ``to_excel`` of the tidy daily table alone (what
``jmlink-analytics stats --out stats.xlsx`` writes), the price of XlsxWriter's public API.

Run: ``.venv/bin/python benchmarks/bench_report.py [--links 1000 --days 365 --repeat 3 --sheet]``
(``--links 5000`` for the big size).
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
GOALS = {1000: (5.0, None), 5000: (15.0, 2048.0)}  # links: (seconds, MB of peak memory)
FULL, NO_XLSX, SHEET = "csv,png,html,xlsx", "csv,png,html", "sheet"


def daily_note(book: Path) -> str | None:
    """The note above the workbook's daily sheet (where the full table is), or None without one."""
    from openpyxl import load_workbook

    sheet = load_workbook(book, read_only=True)["daily"]
    first = next(sheet.iter_rows(min_row=1, max_row=1, max_col=1, values_only=True))[0]
    rows = sheet.max_row
    return f"{rows:,} rows; A1: {first}" if first and str(first).startswith("One row per") else None


def worker(args: argparse.Namespace) -> int:
    """In a fresh process: build the tables, time one write_report (or to_excel of the daily table), print JSON."""
    sys.path.insert(0, str(HERE))
    import matplotlib

    matplotlib.use("Agg")
    from bench_dashboard import synthetic

    import jmlink_analytics
    from jmlink_analytics import metrics, to_excel, write_report

    stats, links = synthetic(args.links, args.days)
    with tempfile.TemporaryDirectory() as out:
        if args.formats == SHEET:
            daily = metrics.add_rates(stats)
            started = time.perf_counter()
            written = {"daily.xlsx": to_excel({"daily": daily}, Path(out) / "daily.xlsx")}
        else:
            started = time.perf_counter()
            written = write_report(stats, links, out, formats=tuple(args.formats.split(",")))
        elapsed = time.perf_counter() - started
        size = sum(path.stat().st_size for path in written.values())
        book = written.get("report.xlsx") or written.get("daily.xlsx")
        book_size = book.stat().st_size if book else 0
        note = daily_note(book) if args.formats != SHEET and book else None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": elapsed, "rows": len(stats), "files": len(written), "bytes": size,
                      "xlsx_bytes": book_size, "peak_mb": peak, "daily_note": note,
                      "package": str(Path(jmlink_analytics.__file__).parents[1])}))
    return 0


def run(package_root: Path, formats: str, args: argparse.Namespace) -> dict:
    return run_worker(__file__, package_root, "--formats", formats, "--links", str(args.links),
                      "--days", str(args.days))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", default="8b505f4", help="git revision of the baseline (before the change)")
    parser.add_argument("--sheet", action="store_true", help="also time to_excel of the tidy daily table")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--formats", default=FULL, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    cases = [FULL, NO_XLSX, *([SHEET] if args.sheet else [])]
    runs: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        baseline = unpack_package(ROOT, args.baseline, Path(tmp))
        print(f"bench_report: {args.links:,} links x {args.days} days x 2 platforms "
              f"({args.links * args.days * 2:,} daily rows); baseline = git {args.baseline}; medians of "
              f"{args.repeat} alternating runs, each in a fresh process", flush=True)
        for _ in range(args.repeat):
            for case in cases:
                for name, root in (("baseline", baseline), ("ours", ROOT)):
                    runs.setdefault((name, case), []).append(run(root, case, args))
    median = {key: statistics.median(r["seconds"] for r in values) for key, values in runs.items()}
    peak = {key: max(r["peak_mb"] for r in values) for key, values in runs.items()}
    labels = {FULL: "csv, png, html, xlsx (full)", NO_XLSX: "csv, png, html", SHEET: "to_excel(daily) alone"}
    for case in cases:
        b, o = median["baseline", case], median["ours", case]
        print(f"  {labels[case]:<28} baseline {b:6.2f} s  ours {o:6.2f} s  baseline / ours {b / o:5.2f}x   "
              f"peak memory {peak['baseline', case]:,.0f} / {peak['ours', case]:,.0f} MB")
        times = {name: ", ".join(f"{r['seconds']:.2f}" for r in runs[name, case]) for name in ("baseline", "ours")}
        print(f"      runs: baseline {times['baseline']}; ours {times['ours']}")
    note = runs["ours", FULL][0]["daily_note"]
    print(f"  ours: the workbook's daily sheet: {note or 'no note (one row per link and day)'}")
    for name in ("baseline", "ours"):
        book = runs[name, FULL][0]["xlsx_bytes"]
        print(f"  {name}: report.xlsx adds {median[name, FULL] - median[name, NO_XLSX]:.2f} s "
              f"({book / 1e6:.1f} MB)")
    seconds, memory = GOALS.get(args.links, (None, None))
    if seconds is not None:
        met = median["ours", FULL] < seconds and (memory is None or peak["ours", FULL] < memory)
        limit = f"{seconds:.0f} s" + (f" and {memory:,.0f} MB" if memory else "")
        print(f"  goal for {args.links:,} links: the full report under {limit}: {'met' if met else 'missed'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
