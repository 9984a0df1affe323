"""The warehouse against the engines: write_dataset and read_dataset vs DuckDB and pyarrow, side by side.

The same synthetic stats table (``bench_dashboard.synthetic``, seed 0: N links x 365 days x
ios/android, with fetch_stats' dtypes: categorical ``link_key`` of strings, categorical
``platform``, ``date`` datetime64[ns], int64 counters, bool ``is_partial``) is written and read
by each contender in turn, in one process, alternating, ``--repeat`` rounds; medians and
ratios (ours / peer) are printed.

Writing, each into a fresh folder:

* ours: ``write_dataset(stats, root)`` (the lock, the shape record, staging, fsync and
  ``os.replace`` per day; the re-read of existing days finds none in a fresh folder);
* DuckDB: ``COPY (SELECT ..., strftime(date, '%Y-%m-%d') AS dt FROM stats) TO root
  (FORMAT PARQUET, PARTITION_BY (dt))`` on the pandas frame (DuckDB scans it in place);
* pyarrow: ``pyarrow.Table.from_pandas`` then ``pyarrow.dataset.write_dataset`` with hive
  partitioning on ``dt`` (zstd, one row group per day), straight into the root.

Reading the dataset ours wrote, a whole year and the last 30 days:

* ours: ``read_dataset(root)`` / ``read_dataset(root, start=..., end=...)`` (the typed,
  sorted table);
* DuckDB: ``SELECT <columns> FROM read_parquet('root/*/*.parquet', hive_partitioning = true)``
  (``WHERE dt BETWEEN ...`` for the month) then ``.df()``: pandas with DuckDB's own types
  (``link_key`` object, not sorted).

Also printed: a second write of the whole year over the first (every day re-read and merged
under the lock: what ``sync`` does when it rewrites days).

Run: ``.venv/bin/python benchmarks/bench_dataset.py [--links 1000,5000 --days 365 --repeat 5]``.
The default is ``--links 1000 --repeat 5`` (about a minute); ``--links 1000,5000`` adds the big size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOALS = {"write vs DuckDB": 1.5, "read a year": 1.1, "read a month": 1.0}


def typed(stats):
    """``stats`` with fetch_stats' exact dtypes (data/dtypes.py)."""
    import pandas as pd

    from jmlink_analytics.data.dtypes import PLATFORM_DTYPE, STRING_DTYPE

    keys = pd.Index(stats["link_key"].cat.categories.astype(str), dtype=STRING_DTYPE)
    return stats.assign(link_key=pd.Categorical(stats["link_key"].astype(str), categories=keys),
                        platform=stats["platform"].astype(str).astype(PLATFORM_DTYPE),
                        date=stats["date"].astype("datetime64[ns]"))


def timed(call: Callable[[], object]) -> float:
    gc.collect()
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure(n_links: int, args: argparse.Namespace) -> None:
    """Time every case at one size and print the medians and ratios."""
    import duckdb
    import pyarrow as pa
    import pyarrow.dataset as ds
    from bench_dashboard import synthetic

    from jmlink_analytics import read_dataset, write_dataset

    stats = typed(synthetic(n_links, args.days)[0])
    last = stats["date"].max().date()
    month = (last - dt.timedelta(days=29), last)
    with tempfile.TemporaryDirectory(dir=None) as tmp:
        base = Path(tmp)
        counter = iter(range(10**6))

        def fresh(name: str) -> Path:
            return base / f"{name}-{next(counter)}"

        def ours_write() -> None:
            root = fresh("ours")
            write_dataset(stats, root)
            shutil.rmtree(root)

        def duck_write() -> None:
            root = fresh("duck")
            con = duckdb.connect()
            con.register("stats", stats)
            con.execute(f"""COPY (SELECT link_key::VARCHAR AS link_key, platform::VARCHAR AS platform,
                                         date::DATE AS date, exposure_count, click_count, open_count,
                                         install_count, is_partial, strftime(date, '%Y-%m-%d') AS dt
                                  FROM stats)
                            TO '{root}' (FORMAT PARQUET, PARTITION_BY (dt), COMPRESSION zstd)""")
            con.close()
            shutil.rmtree(root)

        def arrow_write() -> None:
            root = fresh("arrow")
            table = pa.Table.from_pandas(stats.assign(dt=stats["date"].dt.strftime("%Y-%m-%d")),
                                         preserve_index=False)
            ds.write_dataset(table, root, format="parquet", basename_template="part-{i}.parquet",
                             partitioning=ds.partitioning(pa.schema([("dt", pa.string())]), flavor="hive"),
                             existing_data_behavior="error", min_rows_per_group=1 << 20,
                             max_rows_per_group=1 << 20,
                             file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"))
            shutil.rmtree(root)

        root = base / "dataset"
        write_dataset(stats, root)
        columns = "link_key, platform, date, exposure_count, click_count, open_count, install_count, is_partial"
        glob = f"{root}/*/*.parquet"

        def duck_read(where: str = "") -> None:
            con = duckdb.connect()
            con.execute(f"SELECT {columns} FROM read_parquet('{glob}', hive_partitioning = true) {where}").df()
            con.close()

        month_where = f"WHERE dt BETWEEN '{month[0]}' AND '{month[1]}'"
        n_month = len(read_dataset(root, start=month[0], end=month[1]))

        def rewrite() -> None:
            write_dataset(stats, root)

        cases = {
            "write": {"ours": ours_write, "DuckDB COPY": duck_write, "pyarrow write_dataset": arrow_write},
            "read a year": {"ours": lambda: read_dataset(root), "DuckDB .df()": duck_read},
            "read a month": {"ours": lambda: read_dataset(root, start=month[0], end=month[1]),
                             "DuckDB .df()": lambda: duck_read(month_where)},
            "rewrite a year (merge)": {"ours": rewrite},
        }
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.repeat):
            for case, runners in cases.items():
                for name, call in runners.items():
                    times.setdefault((case, name), []).append(timed(call))
    print(f"  {n_links:,} links x {args.days} days x 2 platforms = {len(stats):,} rows "
          f"(a month: {n_month:,} rows)", flush=True)
    for case, runners in cases.items():
        ours = statistics.median(times[case, "ours"])
        line = f"    {case:<24} ours {ours:6.3f} s"
        for name in list(runners)[1:]:
            peer = statistics.median(times[case, name])
            line += f" | {name} {peer:6.3f} s, ours / peer {ours / peer:4.2f}"
        print(line)
        print("        runs: " + "; ".join(f"{name} " + ", ".join(f"{t:.2f}" for t in times[case, name])
                                    for name in runners))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", default="1000", help="comma-separated sizes, e.g. 1000,5000")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    import duckdb
    import pyarrow as pa

    print(f"bench_dataset: medians of {args.repeat} alternating rounds, in one process; "
          f"DuckDB {duckdb.__version__}, pyarrow {pa.__version__}", flush=True)
    for n_links in [int(n) for n in args.links.split(",")]:
        measure(n_links, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
