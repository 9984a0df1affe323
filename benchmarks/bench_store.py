"""Reading 1,000 links x 365 days from a warm Store vs fetching them cold from the sandbox.

An in-process sandbox without latency and with rate limits far above the work, so the cold
fetch measures our whole path (HTTP to 127.0.0.1, parsing, storing) rather than waiting. The
range ends two days before today (UTC+8), so no day is partial and the warm run sends nothing.
A third run over a range that ends today shows the usual case: the store answers every final
day and only today and yesterday are asked again (one small request per link).

Prints cold, warm, cold / warm (goal: warm under 1 s) and the store's size.

Run: ``.venv/bin/python benchmarks/bench_store.py [--links 1000 --days 365]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from jmlink_analytics._dates import china_today
from jmlink_analytics.data import Store, fetch_stats
from jmlink_analytics.sandbox import Sandbox

NO_LIMIT = {"links": (1_000_000, 60.0), "stats": (1_000_000, 60.0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args(argv)
    today = china_today()
    end = today - dt.timedelta(days=2)
    start = end - dt.timedelta(days=args.days - 1)
    started = time.perf_counter()
    with Sandbox(links=args.links, days=args.days + 2, today=today, rate_limits=NO_LIMIT) as sb, \
            sb.client() as client, tempfile.TemporaryDirectory() as tmp:
        keys = [link["link_key"] for link in sb.app.links]
        print(f"bench_store: {len(keys)} links x {args.days} days ({start} .. {end}), platform all; "
              f"in-process sandbox, no latency (started in {time.perf_counter() - started:.1f} s)")
        with Store(Path(tmp) / "bench.sqlite3") as store:
            t0 = time.perf_counter()
            cold = fetch_stats(client, keys, start=start, end=end, store=store, max_workers=args.workers,
                               progress=False)
            t_cold = time.perf_counter() - t0
            n_cold = len(sb.requests)
            sb.clear_requests()
            warm_times = []
            for _ in range(3):
                t0 = time.perf_counter()
                warm = fetch_stats(client, keys, start=start, end=end, store=store, progress=False)
                warm_times.append(time.perf_counter() - t0)
            n_warm = len(sb.requests)
            t_warm = min(warm_times)
            sb.clear_requests()
            t0 = time.perf_counter()
            fetch_stats(client, keys, start=start, end=today, store=store, max_workers=args.workers, progress=False)
            t_today = time.perf_counter() - t0
            n_today = len(sb.requests)
            info = store.info()
        print(f"  cold: fetched from the sandbox  : {t_cold:7.3f} s  ({n_cold} requests, {len(cold):,} rows)")
        print(f"  warm: read from the store       : {t_warm:7.3f} s  ({n_warm} requests; best of 3: "
              f"{', '.join(f'{t:.3f}' for t in warm_times)})   (goal < 1 s)")
        print(f"  cold / warm                     : {t_cold / t_warm:7.1f} x")
        print(f"  same table                      : {warm.equals(cold)}")
        print(f"  range ending today (2 partial days asked again): {t_today:.3f} s ({n_today} requests)")
        print(f"  store: {info.size_bytes / 1e6:.1f} MB on disk, {info.rows:,} stored days")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
