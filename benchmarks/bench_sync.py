"""`jmlink-analytics sync` of 1,000 links x 365 days, twice; the dataset's size and reads against the SQLite store.

An in-process sandbox (today = China's today, no latency, rate limits far above the work) serves
1,000 links; the command's client gets the same generous limits (``JMLinkClient.from_env`` is
wrapped here: against the real API's 500 stat calls a minute, 2,000 requests take 4 minutes
whatever the code does). ``sync --days 365 --platform split`` runs twice in a row through ``cli.main``, as
cron would run it: the first run fetches everything (2,000 requests), the second only the two
partial days of each link and platform. Side by side:

* the dataset's bytes per row against the SQLite store (``Store``) holding the same days;
* ``read_dataset`` of one month against a full read (best of 3 each), and a full read through
  ``pandas.read_parquet`` (pyarrow's own dataset reader, untyped) as the baseline;
* ``write_dataset`` of the whole year (staging folder + ``os.replace`` per day) against
  pyarrow's ``write_dataset(existing_data_behavior="delete_matching")`` straight into the root.

Run: ``.venv/bin/python benchmarks/bench_sync.py [--links 1000 --days 365]``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import tempfile
import time
from pathlib import Path

NO_LIMIT = {"links": (1_000_000, 60.0), "stats": (1_000_000, 60.0)}


def folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.parquet"))


def best_of(n: int, call) -> tuple[float, object]:
    times, result = [], None
    for _ in range(n):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return min(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args(argv)

    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

    from jmlink_analytics import cli, read_dataset, write_dataset
    from jmlink_analytics._dates import china_today
    from jmlink_analytics.client import JMLinkClient
    from jmlink_analytics.data import Store, fetch_stats
    from jmlink_analytics.sandbox import Sandbox

    from_env = JMLinkClient.from_env.__func__
    JMLinkClient.from_env = classmethod(lambda cls, environ=None, **kw: from_env(cls, environ,
                                                                                 **{"rate_limits": NO_LIMIT, **kw}))
    today = china_today()
    with Sandbox(links=args.links, days=args.days + 2, today=today, rate_limits=NO_LIMIT) as sb, \
            tempfile.TemporaryDirectory() as tmp:
        os.environ.update({"JMLINK_APP_KEY": sb.app_key, "JMLINK_MASTER_SECRET": sb.master_secret,
                           "JMLINK_BASE_URL": sb.base_url, "XDG_CACHE_HOME": str(Path(tmp) / "xdg")})
        root = Path(tmp) / "jmlink_stats"
        argv_sync = ["sync", "--out", str(root), "--days", str(args.days), "--no-cache", "--no-progress"]
        print(f"bench_sync: {args.links} links x {args.days} days x ios/android, in-process sandbox, today {today}")
        runs = []
        for _ in range(2):
            sb.clear_requests()
            printed = io.StringIO()
            started = time.perf_counter()
            with contextlib.redirect_stdout(printed):
                status = cli.main(argv_sync)
            runs.append((time.perf_counter() - started, len([r for r in sb.requests if r.path.endswith("/stat")]),
                         printed.getvalue().strip().splitlines()[-1].strip()))
            assert status == 0, printed.getvalue()
        for label, (seconds, requests, said) in zip(("first run ", "second run"), runs, strict=True):
            print(f"  sync, {label}: {seconds:6.2f} s, {requests:,} stat requests\n      {said}")
        print(f"  first / second: {runs[0][0] / runs[1][0]:.1f}x")

        t_full, full = best_of(3, lambda: read_dataset(root))
        month_start = today - dt.timedelta(days=29)
        t_month, month = best_of(3, lambda: read_dataset(root, start=month_start, end=today))
        t_pandas, raw = best_of(3, lambda: pd.read_parquet(root))
        n_rows = len(full)
        print(f"  read_dataset, full year      : {t_full:6.3f} s ({n_rows:,} rows)")
        print(f"  read_dataset, one month      : {t_month:6.3f} s ({len(month):,} rows); full / month "
              f"{t_full / t_month:.1f}x")
        print(f"  pandas.read_parquet(root)    : {t_pandas:6.3f} s ({len(raw):,} rows, untyped: link_key "
              f"{raw['link_key'].dtype}, dt {raw['dt'].dtype}); read_dataset / pandas {t_full / t_pandas:.2f}")

        with Store(Path(tmp) / "store.sqlite3") as store, sb.client() as client:
            keys = sorted(link["link_key"] for link in sb.app.links)
            start = today - dt.timedelta(days=args.days - 1)
            fetch_stats(client, keys, start=start, end=today, platform=["ios", "android"], store=store,
                        progress=False)
            info = store.info()
        data_bytes = folder_bytes(root)
        print(f"  on disk: dataset {data_bytes / 1e6:6.1f} MB = {data_bytes / n_rows:5.1f} bytes/row; "
              f"SQLite store {info.size_bytes / 1e6:6.1f} MB = {info.size_bytes / info.rows:5.1f} bytes/row "
              f"({info.rows:,} days); store / dataset {info.size_bytes / data_bytes:.1f}x")

        t_ours, _ = best_of(2, lambda: write_dataset(full, Path(tmp) / "ours"))
        table = pa.Table.from_pandas(full.assign(dt=full["date"].dt.strftime("%Y-%m-%d")), preserve_index=False)

        def straight() -> None:
            ds.write_dataset(table, Path(tmp) / "straight", format="parquet", basename_template="part-{i}.parquet",
                             partitioning=ds.partitioning(pa.schema([("dt", pa.string())]), flavor="hive"),
                             existing_data_behavior="delete_matching", max_rows_per_group=1 << 20,
                             file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"))

        t_straight, _ = best_of(2, straight)
        print(f"  write_dataset, whole year    : {t_ours:6.3f} s (staging + fsync + os.replace per day)")
        print(f"  pyarrow delete_matching      : {t_straight:6.3f} s (straight into the root, not atomic per day); "
              f"ours / straight {t_ours / t_straight:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
