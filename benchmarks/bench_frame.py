"""Building the stats table of about 1 million rows from API answers: naive pandas vs ours.

The input is what the fan-out of ``fetch_stats`` collects: one stat answer (a list of
``{"iday", exposure_count, click_count, open_count, install_count}`` rows, some days left
out) per (link, platform). Two comparisons, side by side in one run:

1. records -> table (parsed rows in memory):

   - naive: ``pd.json_normalize`` per answer, ``pd.concat``, ``pd.to_datetime``, a reindex on the
     full (link, platform, date) product to fill the days left out, categoricals, sort;
   - ours: ``jmlink_analytics.data._frames.stats_frame_from_records`` (numpy arrays).

   Prints naive / ours (goal >= 2) and our bytes per row (goal <= 40).

2. answers in memory -> tidy frame (issue 22, "one check per answer"): the answers' bytes are
   served by an in-memory requests adapter (no socket, so only decoding, checking and building
   are measured), to both

   - naive: a requests + json loop: ``session.get(...).json()["data"]``, one tuple per row into
     a list, one ``pd.DataFrame``, then fill the missing days (reindex), dtypes and sort, as a
     user would write it (no check at all);
   - ours: ``fetch_stats`` with default settings through a ``JMLinkClient`` on that session
     (every answer parsed once and checked once, the rate limiter in memory and unbounded).

   Alternating runs, medians. Prints naive / ours (goal >= 1.5; 1.11-1.22 when every answer
   was checked twice, 1.03-1.15 with one check but 32 threads queueing for the GIL).

Both sides of each must give the same table (checked in the run).

Run: ``.venv/bin/python benchmarks/bench_frame.py [--links 1000 --days 334 --repeat 5]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import statistics
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pandas as pd
import requests
import urllib3

from jmlink_analytics.client import JMLinkClient
from jmlink_analytics.data import fetch_stats
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


class InMemoryAdapter(requests.adapters.BaseAdapter):
    """A requests transport adapter that answers ``GET .../v1/links/{key}/stat?platform=P`` from bytes in memory."""

    def __init__(self, bodies: dict[tuple[str, str], bytes]):
        super().__init__()
        self.bodies = bodies

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        key = unquote(parts.path.split("/")[3])
        body = self.bodies[key, parse_qs(parts.query)["platform"][0]]
        raw = urllib3.HTTPResponse(body=io.BytesIO(body), headers={"Content-Type": "application/json",
                                                                   "Content-Length": str(len(body))},
                                   status=200, preload_content=False, decode_content=False)
        response = requests.Response()
        response.status_code, response.raw, response.request, response.url = 200, raw, request, request.url
        response.headers = requests.structures.CaseInsensitiveDict(raw.headers)
        return response

    def close(self) -> None:
        pass


def session_for(bodies: dict[tuple[str, str], bytes]) -> requests.Session:
    session = requests.Session()
    session.mount("http://", InMemoryAdapter(bodies))
    return session


def naive_loop(session: requests.Session, keys: list[str], start: dt.date, end: dt.date,
               today: dt.date) -> pd.DataFrame:
    """A requests + json loop: rows as tuples, one DataFrame, then fill, type and sort."""
    rows = []
    params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    for key in keys:
        for platform in PLATFORMS:
            data = session.get(f"http://memory/v1/links/{key}/stat", params={**params, "platform": platform},
                               auth=("app", "secret"), timeout=30).json()["data"]
            rows += [(key, platform, r["iday"], r["exposure_count"], r["click_count"], r["open_count"],
                      r["install_count"]) for r in data]
    table = pd.DataFrame(rows, columns=["link_key", "platform", "date", *COUNTERS])
    table["date"] = pd.to_datetime(table["date"])
    full = pd.MultiIndex.from_product([keys, list(PLATFORMS), pd.date_range(start, end, freq="D")],
                                      names=["link_key", "platform", "date"])
    table = table.set_index(["link_key", "platform", "date"]).reindex(full, fill_value=0).reset_index()
    table["link_key"] = pd.Categorical(table["link_key"], categories=keys)
    table["platform"] = pd.Categorical(table["platform"], categories=list(PLATFORMS))
    table["date"] = table["date"].astype("datetime64[ns]")
    table[list(COUNTERS)] = table[list(COUNTERS)].astype("int64")
    table["is_partial"] = table["date"] >= pd.Timestamp(today - dt.timedelta(days=1))
    return table[list(STATS_COLUMNS)]


def ours_fetch(session: requests.Session, keys: list[str], start: dt.date, end: dt.date) -> pd.DataFrame:
    with JMLinkClient("app", "secret", base_url="http://memory", session=session, shared_limits=False,
                      rate_limits={"stats": (10**9, 60.0)}) as client:
        return fetch_stats(client, keys, start=start, end=end, platform=list(PLATFORMS), progress=False)


def answers_to_frame(records: dict[tuple[str, str], list[dict[str, Any]]], start: dt.date, repeat: int) -> None:
    """Comparison 2: alternating runs of the naive requests + json loop and of fetch_stats, medians."""
    bodies = {pair: json.dumps({"data": rows}).encode() for pair, rows in records.items()}
    keys = sorted({key for key, _ in records})
    session = session_for(bodies)
    # fetch_stats' "today" is China's: long past END, so no day is partial on either side
    times: dict[str, list[float]] = {"naive": [], "ours": []}
    results: dict[str, pd.DataFrame] = {}
    for _ in range(repeat):
        for name, run in (("naive", lambda: naive_loop(session, keys, start, END, dt.date.today())),
                          ("ours", lambda: ours_fetch(session, keys, start, END))):
            started = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - started)
    ours, slow = results["ours"], results["naive"]
    same = ours.astype({"link_key": str, "platform": str}).equals(slow.astype({"link_key": str, "platform": str}))
    t_naive, t_ours = statistics.median(times["naive"]), statistics.median(times["ours"])
    print(f"2. answers in memory -> tidy frame ({sum(map(len, bodies.values())) / 1e6:.0f} MB of JSON in "
          f"{len(bodies):,} answers); medians of {repeat} alternating runs")
    runs = {name: ", ".join(f"{t:.2f}" for t in values) for name, values in times.items()}
    print(f"  naive requests + json loop    : {t_naive:7.3f} s   (runs: {runs['naive']})")
    print(f"  ours (fetch_stats)            : {t_ours:7.3f} s   (runs: {runs['ours']})")
    print(f"  naive / ours                  : {t_naive / t_ours:7.2f} x   (goal >= 1.5)")
    print(f"  same table                    : {same}")


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
    parser.add_argument("--only", choices=("records", "answers"), help="run one of the two comparisons")
    args = parser.parse_args(argv)
    records, start = answers(args.links, args.days)
    n_rows = args.links * len(PLATFORMS) * args.days
    print(f"bench_frame: {args.links} links x {len(PLATFORMS)} platforms x {args.days} days = {n_rows:,} rows "
          f"({sum(map(len, records.values())):,} rows sent, the rest left out)")
    if args.only != "records":
        answers_to_frame(records, start, max(args.repeat, 3))
    if args.only == "answers":
        return 0
    print(f"1. records -> table; best of {args.repeat}")

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
