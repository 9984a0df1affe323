"""Building the stats table of about 1 million rows from API answers: naive pandas vs ours.

The input is what the fan-out of ``fetch_stats`` collects: one stat answer (a list of
``{"iday", exposure_count, click_count, open_count, install_count}`` rows, some days left
out) per (link, platform). Side by side in one run:

- naive: ``pd.json_normalize`` per answer, ``pd.concat``, ``pd.to_datetime``, a reindex on the
  full (link, platform, date) product to fill the days left out, categoricals, sort;
- ours: ``jmlink_analytics.data._frames.stats_frame_from_records`` (numpy arrays, no per-row objects).

Both must give the same table. Prints both times, naive / ours (goal >= 2) and our bytes per
row with ``memory_usage(deep=True)`` (goal <= 40).

Run: ``.venv/bin/python benchmarks/bench_frame.py [--links 1000 --days 334 --repeat 3]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from jmlink_analytics.data._frames import stats_frame_from_records
from jmlink_analytics.schema import COUNTERS, PLATFORMS, STATS_COLUMNS

END = dt.date(2024, 6, 30)


def answers(n_links: int, n_days: int, seed: int = 0) -> tuple[dict[tuple[str, str], list[dict[str, Any]]], dt.date]:
    """Synthetic stat answers for n_links x 3 platforms x n_days; about 10 % of days left out."""
    rng = np.random.default_rng(seed)
    start = END - dt.timedelta(days=n_days - 1)
    days = [(start + dt.timedelta(days=d)).isoformat() for d in range(n_days)]
    records: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for i in range(n_links):
        for platform in PLATFORMS:
            values = rng.poisson(50, size=(n_days, 4)).tolist()
            kept = rng.random(n_days) > 0.1
            records[f"K{i:04d}", platform] = [
                {"iday": days[d], **dict(zip(COUNTERS, values[d], strict=True))} for d in range(n_days) if kept[d]
            ]
    return records, start


def naive(records: dict[tuple[str, str], list[dict[str, Any]]], start: dt.date, end: dt.date,
          today: dt.date) -> pd.DataFrame:
    """What one writes first: json_normalize + concat, then fill, type and sort."""
    frames = []
    for (key, platform), rows in records.items():
        frame = pd.json_normalize(rows)
        frame["link_key"] = key
        frame["platform"] = platform
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table["date"] = pd.to_datetime(table.pop("iday"))
    full = pd.MultiIndex.from_product(
        [sorted({k for k, _ in records}), list(PLATFORMS), pd.date_range(start, end, freq="D")],
        names=["link_key", "platform", "date"])
    table = table.set_index(["link_key", "platform", "date"]).reindex(full, fill_value=0).reset_index()
    table["link_key"] = table["link_key"].astype("category")
    table["platform"] = pd.Categorical(table["platform"], categories=list(PLATFORMS))
    table["date"] = table["date"].astype("datetime64[ns]")
    table[list(COUNTERS)] = table[list(COUNTERS)].astype("int64")
    table["is_partial"] = table["date"] >= pd.Timestamp(today - dt.timedelta(days=1))
    return table.sort_values(["link_key", "platform", "date"], ignore_index=True)[list(STATS_COLUMNS)]


def best_of(repeat: int, function: Callable[[], pd.DataFrame]) -> tuple[float, pd.DataFrame]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=1000)
    parser.add_argument("--days", type=int, default=334, help="days per link (1000 x 3 x 334 = 1,002,000 rows)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    records, start = answers(args.links, args.days)
    n_rows = args.links * len(PLATFORMS) * args.days
    print(f"bench_frame: {args.links} links x {len(PLATFORMS)} platforms x {args.days} days = {n_rows:,} rows "
          f"({sum(map(len, records.values())):,} rows sent, the rest left out); best of {args.repeat}")

    t_naive, slow = best_of(args.repeat, lambda: naive(records, start, END, END))
    t_ours, ours = best_of(args.repeat, lambda: stats_frame_from_records(records, start, END, END))
    same = ours.astype({"link_key": str, "platform": str}).equals(slow.astype({"link_key": str, "platform": str}))
    per_row = ours.memory_usage(deep=True).sum() / len(ours)
    parts = ", ".join(f"{c} {ours[c].memory_usage(deep=True, index=False) / len(ours):.1f}" for c in ours.columns)
    compact = ours.astype(dict.fromkeys(COUNTERS, "int32"))
    print(f"  naive json_normalize + concat : {t_naive:7.3f} s")
    print(f"  ours (numpy arrays)           : {t_ours:7.3f} s")
    print(f"  naive / ours                  : {t_naive / t_ours:7.1f} x   (goal >= 2)")
    print(f"  same table                    : {same}")
    print(f"  bytes per row (deep=True)     : {per_row:7.1f}     (goal <= 40) = {parts}")
    print(f"  ... with int32 counters       : {compact.memory_usage(deep=True).sum() / len(compact):7.1f}"
          "     (not used: see benchmarks/README.md)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
