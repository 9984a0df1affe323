"""``jmlink-analytics sync``: keep a Hive-partitioned Parquet dataset of the daily stats up to date.

The daily job for cron. The dataset itself records what is held: its final days seed an
in-memory :class:`~jmlink_analytics.Store`, so :func:`~jmlink_analytics.fetch_stats` asks only
for what the dataset lacks (new days, new links) and for days that were still partial when
written. Only the day folders whose rows changed are rewritten (each one atomically, see
:func:`~jmlink_analytics.write_dataset`). Run twice in a row, the second run asks for the
partial days alone and leaves the same rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..schema import COUNTERS
from . import _commands as commands

if TYPE_CHECKING:
    import pandas as pd

    from ..client import JMLinkClient
    from ..data.store import Store

__all__ = ["add_sync_command", "run_sync"]

_EPOCH = dt.date(1970, 1, 1)


def _app_arg(text: str) -> str:
    from ..export import check_app

    try:
        return check_app(text, "the app (the folder app=NAME)")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0; got {text!r}")
    return value


def add_sync_command(sub: Any, parents: list[argparse.ArgumentParser],
                     date_options: Callable[[argparse.ArgumentParser, str], None], formatter: type) -> None:
    """Add ``sync`` to the subcommands ``sub`` (the parser's shared options passed in, so no import cycle)."""
    sync = sub.add_parser(
        "sync", parents=parents, formatter_class=formatter,
        help="keep a Hive-partitioned Parquet dataset of the daily stats up to date (for cron)",
        description="Fetch what the dataset under --out does not hold yet (new days and links, and the still-"
                    "partial last two days) and rewrite only the day folders (dt=YYYY-MM-DD) that changed. "
                    "Needs pyarrow: pip install 'jmlink-analytics[parquet]'.")
    date_options(sync, "split")
    sync.add_argument("--out", required=True, type=Path, metavar="ROOT",
                      help="the dataset's folder: ROOT/dt=YYYY-MM-DD/part-0.parquet")
    sync.add_argument("--app", type=_app_arg, metavar="NAME",
                      help="write under ROOT/app=NAME/dt=..., so several apps share one dataset (a name starting "
                           "with a letter: engines read app=001 as a number)")
    sync.add_argument("--lock-timeout", type=_seconds_arg, default=600.0, metavar="SECONDS",
                      help="how long to wait while another sync writes the dataset (default 600); then exit 1 "
                           "without writing")
    sync.set_defaults(handler=run_sync, command_parser=sync)


def _seed(store: Store, client: JMLinkClient, held: pd.DataFrame) -> None:
    """Save the held days into ``store`` as fetched (final unless they were partial), one call per run of days."""
    if held.empty:
        return
    keys = held["link_key"].astype(str).to_numpy()
    platforms = held["platform"].astype(str).to_numpy()
    days = held["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    counters = np.stack([held[c].to_numpy(dtype=np.int64) for c in COUNTERS])
    final = ~held["is_partial"].to_numpy(dtype=bool)
    breaks = np.flatnonzero((keys[1:] != keys[:-1]) | (platforms[1:] != platforms[:-1]) | (np.diff(days) != 1)) + 1
    starts = np.r_[0, breaks]
    stops = np.r_[breaks, len(held)]
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        first = _EPOCH + dt.timedelta(days=int(days[a]))
        store.save_days(client.app_key, client.base_url, keys[a], platforms[a], first, counters[:, a:b], final[a:b])


def _changed_days(fetched: pd.DataFrame, held: pd.DataFrame) -> list[Any]:
    """The days on which ``fetched`` has a row that ``held`` lacks or holds with other values."""
    import pandas as pd

    on = ["link_key", "platform", "date"]
    values = [*COUNTERS, "is_partial"]

    def keyed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(link_key=frame["link_key"].astype(str), platform=frame["platform"].astype(str))[
            on + values]

    merged = keyed(fetched).merge(keyed(held), on=on, how="left", suffixes=("", "_held"), indicator=True)
    differs = merged["_merge"] == "left_only"
    for column in values:
        differs |= merged[column].to_numpy() != merged[f"{column}_held"].to_numpy()
    return sorted(pd.Timestamp(day) for day in pd.unique(merged.loc[differs, "date"]))


def _day_folders(days: list[Any]) -> str:
    names = [f"dt={day:%Y-%m-%d}" for day in days]
    return ", ".join(names) if len(names) <= 4 else f"{names[0]} .. {names[-1]}"


def run_sync(args: argparse.Namespace) -> int:
    """``jmlink-analytics sync``: bring the dataset under ``--out`` up to date; print what was done."""
    import pandas as pd

    from ..data import fetch_links, fetch_stats
    from ..data.store import Store
    from ..errors import DatasetLockError, DatasetShapeError
    from ..export import (
        Shape,
        check_shape,
        dataset_days,
        empty_stats,
        links_root,
        platform_mode,
        read_dataset,
        require_pyarrow,
        write_dataset,
    )

    require_pyarrow("jmlink-analytics sync")
    top = args.out.expanduser()
    root = top / f"app={args.app}" if args.app else top
    platforms = args.platforms if isinstance(args.platforms, list) else [args.platforms]
    try:  # the dataset's shape first: a run that would bend it is refused before any request
        check_shape(top, Shape("apps" if args.app else "days", platform_mode(platforms)), what="this sync")
        had = dataset_days(root)
    except ValueError as exc:
        raise commands.UsageError(f"--out: {exc}") from None
    with commands._connect(args) as (client, source), commands._store(args) as store:
        commands._status(args, f"listing the links of {source}...")
        links = fetch_links(client, store=store)
        keys = list(args.links) if args.links else sorted(set(links["link_key"].dropna()))
        if not keys:
            raise commands.CommandError(f"{source} has no links: there is nothing to sync")
        held_all = read_dataset(root, start=args.start, end=args.end) if had else empty_stats()
        ours = held_all["link_key"].astype(str).isin(keys) & held_all["platform"].astype(str).isin(platforms)
        held = held_all[ours].reset_index(drop=True)
        n_days = (args.end - args.start).days + 1
        cells = len(keys) * len(platforms) * n_days
        n_partial = int(held["is_partial"].sum())
        asked = cells - (len(held) - n_partial)
        commands._status(args, f"syncing {len(keys)} link(s), {commands._span(args)}: the dataset holds "
                               f"{len(held) - n_partial:,} final link-days of {cells:,}; asking for {asked:,}...")
        with Store(":memory:") as seeded:
            _seed(seeded, client, held)
            fetched = fetch_stats(client, keys, start=args.start, end=args.end, platform=platforms, store=seeded,
                                  progress=commands._progress(args))
    # only days with something asked can differ: the others came back from the seeded store as held
    final_per_day = held.loc[~held["is_partial"], "date"].value_counts()
    asked_days = [day for day in pd.date_range(args.start, args.end)
                  if final_per_day.get(day, 0) < len(keys) * len(platforms)]
    changed = _changed_days(fetched[fetched["date"].isin(asked_days)], held[held["date"].isin(asked_days)])
    rewrite = fetched[fetched["date"].isin(pd.DatetimeIndex(changed))] if changed else fetched.iloc[:0]
    listed = links[links["link_key"].isin(keys)] if args.links else links
    try:  # each day merged under the dataset's lock: rows of other runs (links, platforms) stay
        write_dataset(rewrite, top, app=args.app, links=listed, lock_timeout=args.lock_timeout)
    except DatasetShapeError as exc:  # another run recorded another shape while this one fetched
        raise commands.UsageError(f"--out: {exc}") from None
    except DatasetLockError as exc:  # write_dataset kept the rows in a rescue file, named in the message
        lost = "" if exc.rescue_path is not None or rewrite.empty else (
            f"; the {len(rewrite):,} rows fetched by this run are not in the dataset")
        raise commands.CommandError(f"{exc}{lost}; or run sync again (with the cache on, it asks the API only for "
                                    "what changed)") from None
    wrote = (f"rewrote {len(changed)} day folder(s) ({_day_folders(changed)}, {len(rewrite):,} rows merged)"
             if changed else "rewrote no day folder")
    unchanged = n_days - len(changed)
    print(f"sync {root}: {len(keys)} link(s) x {'/'.join(platforms)} x {n_days} day(s) "
          f"({args.start:%Y-%m-%d} to {args.end:%Y-%m-%d}) from {source}")
    print(f"  kept {len(listed):,} link(s) in the links table {links_root(top)}")
    print(f"  asked the API for {asked:,} link-days ({cells - len(held):,} not held, {n_partial:,} held as partial); "
          f"{wrote}; {unchanged} day(s) unchanged")
    sys.stdout.flush()
    return 0
