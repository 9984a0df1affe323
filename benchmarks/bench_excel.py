"""to_excel of the tidy daily table: ours (public API) vs the private-API writer, XlsxWriter's floor, pandas.

The table is what ``jmlink-analytics stats --out stats.xlsx`` writes: ``metrics.add_rates`` of
the synthetic stats (``bench_dashboard.synthetic``, seed 0), N links x 365 days x 2 platforms,
11 columns (two text, a date, four counts, a boolean, three rates). Every run is a fresh
process (imports included in nothing: the clock starts at the call); the contenders alternate,
``--repeat`` rounds, and the medians are printed with each one's time per cell and its ratio to ours.

* ``ours``: ``jm.to_excel({"daily": daily}, path)`` (constant-memory mode, one format object per
  column, each column's cells prepared once, then ``Worksheet.write_number`` / ``write_string``
  / ``write_boolean`` row after row);
* ``private API (before)``: the package at git ``--before`` (default ``9ae4784^``: rows rendered
  as SpreadsheetML and streamed into XlsxWriter's private row file);
* ``XlsxWriter floor``: a bare loop calling ``write_number`` / ``write_string`` /
  ``write_boolean`` for every cell of the same values in constant-memory mode (no formats
  chosen, no checks): the least any writer on XlsxWriter's public API can cost;
* ``pandas xlsxwriter`` / ``pandas openpyxl``: ``DataFrame.to_excel(path, index=False, engine=...)``
  (``--no-openpyxl`` leaves the slowest out at the big size).

Run: ``.venv/bin/python benchmarks/bench_excel.py [--links 100 --repeat 3]`` (73,000 rows, about
a minute); ``--links 1000`` is the 730,000-row table (several minutes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _worker import run_worker, unpack_package

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def floor(daily, path: Path) -> None:
    """Every cell through XlsxWriter's public write_* methods, nothing else."""
    import numpy as np
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                           "strings_to_urls": False, "strings_to_numbers": False})
    sheet = book.add_worksheet("daily")
    columns = []
    for name in daily.columns:
        column = daily[name]
        if column.dtype.kind == "M":
            values = ((column.to_numpy(dtype="datetime64[ns]") - np.datetime64("1899-12-30", "ns"))
                      / np.timedelta64(1, "D")).tolist()
            columns.append((sheet.write_number, values))
        elif column.dtype.kind == "b":
            columns.append((sheet.write_boolean, column.tolist()))
        elif column.dtype.kind in "iuf":
            columns.append((sheet.write_number, column.tolist()))
        else:
            columns.append((sheet.write_string, column.astype(str).tolist()))
    for c, name in enumerate(daily.columns):
        sheet.write_string(0, c, str(name))
    for r in range(len(daily)):
        for c, (write, values) in enumerate(columns):
            value = values[r]
            if value == value:  # NaN: an empty cell
                write(r + 1, c, value)
    book.close()


def worker(args: argparse.Namespace) -> int:
    """In a fresh process: build the table, time one writer, print JSON."""
    sys.path.insert(0, str(HERE))
    from bench_dashboard import synthetic

    import jmlink_analytics
    from jmlink_analytics import metrics, to_excel

    stats, _ = synthetic(args.links, args.days)
    daily = metrics.add_rates(stats)
    with tempfile.TemporaryDirectory() as out:
        path = Path(out) / "daily.xlsx"
        started = time.perf_counter()
        if args.case in ("ours", "before"):
            to_excel({"daily": daily}, path)
        elif args.case == "floor":
            floor(daily, path)
        else:
            daily.to_excel(path, sheet_name="daily", index=False, engine=args.case.split()[1])
        elapsed = time.perf_counter() - started
        size = path.stat().st_size
    print(json.dumps({"seconds": elapsed, "rows": len(daily), "cells": int(daily.size), "bytes": size,
                      "package": str(Path(jmlink_analytics.__file__).parents[1])}))
    return 0


def run(package_root: Path, case: str, args: argparse.Namespace) -> dict:
    return run_worker(__file__, package_root, "--case", case, "--links", str(args.links), "--days", str(args.days))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", default="9ae4784^", help="git revision of the private-API writer")
    parser.add_argument("--no-openpyxl", action="store_true", help="leave pandas' openpyxl engine out")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", default="ours", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    cases = ["ours", "before", "floor", "pandas xlsxwriter", *([] if args.no_openpyxl else ["pandas openpyxl"])]
    labels = {"ours": "ours (public API)", "before": f"private API (git {args.before})",
              "floor": "XlsxWriter floor (bare loop)", "pandas xlsxwriter": "pandas to_excel, xlsxwriter",
              "pandas openpyxl": "pandas to_excel, openpyxl"}
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        before = unpack_package(ROOT, args.before, Path(tmp))
        print(f"bench_excel: to_excel of the daily table, {args.links:,} links x {args.days} days x 2 platforms; "
              f"medians of {args.repeat} alternating runs, each in a fresh process", flush=True)
        for _ in range(args.repeat):
            for case in cases:
                runs.setdefault(case, []).append(run(before if case == "before" else ROOT, case, args))
    median = {case: statistics.median(r["seconds"] for r in values) for case, values in runs.items()}
    first = runs["ours"][0]
    print(f"  {first['rows']:,} rows x {first['cells'] // first['rows']} columns = {first['cells']:,} cells")
    for case in cases:
        seconds, cells = median[case], runs[case][0]["cells"]
        print(f"  {labels[case]:<34} {seconds:7.2f} s  {seconds / cells * 1e6:5.2f} us/cell  "
              f"{case} / ours {seconds / median['ours']:5.2f}  ({runs[case][0]['bytes'] / 1e6:.1f} MB; runs "
              + ", ".join(f"{r['seconds']:.2f}" for r in runs[case]) + ")")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
