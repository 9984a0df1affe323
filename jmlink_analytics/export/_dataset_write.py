"""write_dataset: merge the stats table into the Hive-partitioned Parquet dataset, safe for many writers.

Any number of writers (threads, processes, machines sharing the folder) may write one dataset
at once: each takes the dataset's lock (:mod:`._lock`), re-reads inside it the files of the
days it writes, keeps their rows that it does not replace (other links, other platforms),
and moves each new day file over the old one. So concurrent runs end with the union of what
they wrote, and a reader sees a day's old file or its new one, never half of one: files are
staged outside the dataset (:mod:`._layout`), where no glob over it looks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validate import check_stats
from ..errors import DatasetLockError
from ..schema import PLATFORMS, STATS_COLUMNS
from ._dataset_days import DayTable, day_table, workers, write_day
from ._layout import (
    Shape,
    check_shape,
    clean_staging,
    lock_file,
    platform_mode,
    record_shape,
    split_app,
    staging_dir,
)
from ._lock import DEFAULT_LOCK_TIMEOUT, check_timeout, dataset_lock
from ._parquet import require_pyarrow
from ._rescue import rescued_error

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DATA_FILE", "write_dataset"]

logger = logging.getLogger("jmlink_analytics")

#: The one file of each day's folder; a rewrite replaces it atomically.
DATA_FILE = "part-0.parquet"
_PARTITION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY = ["link_key", "platform", "date"]


def _check_root(root: Any) -> Path:
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path (str or os.PathLike); got {type(root).__name__}")
    return Path(root).expanduser()


def _check_table(stats: Any) -> pd.DataFrame:
    """``stats`` if it is fetch_stats' table with known platforms (duplicates: :func:`.day_table`)."""
    import pandas as pd

    stats = check_stats(stats)
    missing = [c for c in STATS_COLUMNS if c not in stats.columns]
    if missing:
        raise ValueError(f"stats lacks the column(s) {', '.join(missing)}; expected fetch_stats' columns "
                         f"{', '.join(STATS_COLUMNS)}")
    extra = [str(c) for c in stats.columns if c not in STATS_COLUMNS]
    if extra:
        raise ValueError(f"stats must hold only fetch_stats' columns ({', '.join(STATS_COLUMNS)}), so every day of "
                         f"the dataset has one schema; got also {', '.join(extra)} (drop them, e.g. the rates: "
                         "add_rates computes them again)")
    for column in ("link_key", "platform", "is_partial"):
        if stats[column].isna().any():
            raise ValueError(f"stats column {column!r} has missing values")
    platforms = stats["platform"]
    if isinstance(platforms.dtype, pd.CategoricalDtype):  # the categories present, not 3.65 million texts
        present = platforms.cat.categories[np.unique(platforms.cat.codes.to_numpy())]
        bad = {str(v) for v in present} - set(PLATFORMS)
    else:
        bad = set(platforms.astype(str).unique()) - set(PLATFORMS)
    if bad:
        raise ValueError(f"stats column 'platform' must hold 'all', 'ios' or 'android'; got {sorted(bad)}")
    return stats


def _duplicates(stats: pd.DataFrame) -> ValueError:
    """The error for a table with duplicate rows (found in day_table; described here)."""
    duplicated = stats.duplicated(_KEY)
    row = stats[duplicated].iloc[0]
    return ValueError(f"stats has {int(duplicated.sum())} duplicate (link_key, platform, date) row(s), e.g. "
                      f"{row['link_key']!r}, {row['platform']!r}, {row['date']:%Y-%m-%d}")


def _day_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(f for f in folder.glob("*.parquet") if not f.name.startswith((".", "_")) and f.is_file())


def _write_days(table: DayTable, data: Path, partition: str, staging: Path) -> list[Path]:
    """Write the day files of ``table`` (each merged with the day's current files) into ``data``; under the lock.

    Each day is read, merged, written and flushed in a pool of threads into a staging folder;
    then, once all are staged, each replaces its day's file (``os.replace``), in day order.
    """
    folder = staging / secrets.token_hex(6)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        old_files = {day: _day_files(data / f"{partition}={day}") for day in table.days}
        staged = [folder / f"{day}.parquet" for day in table.days]
        with ThreadPoolExecutor(max_workers=workers()) as pool:
            list(pool.map(lambda i: write_day(table.day(i), old_files[table.days[i]], staged[i]),
                          range(len(table.days))))
        written = []
        for day, path in zip(table.days, staged, strict=True):
            day_dir = data / f"{partition}={day}"
            day_dir.mkdir(parents=True, exist_ok=True)
            os.replace(path, day_dir / DATA_FILE)
            for other in old_files[day]:  # merged into part-0 above (e.g. part-1.parquet of another tool)
                if other.name != DATA_FILE:
                    other.unlink(missing_ok=True)
            written.append(day_dir / DATA_FILE)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            staging.rmdir()  # empty unless another writer is staging too
    return written


def write_dataset(stats: pd.DataFrame, root: str | os.PathLike[str], *, partition: str = "dt",
                  app: str | None = None, links: pd.DataFrame | None = None,
                  lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> list[Path]:
    """Merge the stats table into a Hive-partitioned Parquet dataset, one folder per day.

    Parameters
    ----------
    stats : pandas.DataFrame
        The table :func:`~jmlink_analytics.fetch_stats` returns (or :func:`read_dataset`):
        exactly its columns, no duplicate (``link_key``, ``platform``, ``date``).
    root : str or os.PathLike
        The dataset's folder (created when missing). A folder named ``app=NAME`` is the app
        ``NAME`` of the dataset above it, as with ``app=NAME``.
    partition : str, default "dt"
        The name of the day's folder key: ``root/<partition>=YYYY-MM-DD/``.
    app : str, optional
        Write under ``root/app=NAME/`` (a dataset of several apps). A name of letters, digits,
        ``_`` and ``-`` starting with a letter, that no engine reads as a number or a date.
    links : pandas.DataFrame, optional
        The table :func:`~jmlink_analytics.fetch_links` returns: merged (by ``link_key``) into
        the links table beside the dataset, ``<root>_links/`` (see :func:`read_links_table`).
    lock_timeout : float, default 600
        Seconds to wait while another writer holds the dataset's lock.

    Returns
    -------
    list of pathlib.Path
        The files written, one per day of ``stats``: ``root/dt=YYYY-MM-DD/part-0.parquet``.

    Raises
    ------
    ImportError
        Without pyarrow (``pip install 'jmlink-analytics[parquet]'``).
    ValueError, TypeError
        For a table that is not fetch_stats' (missing, extra or duplicate rows or columns),
        or a bad argument.
    DatasetShapeError
        (a ValueError) When the write would mix layouts (``app=`` folders and day folders),
        platform modes (``all`` rows and ``ios``/``android`` rows) or partition keys with
        what the dataset recorded; nothing is written.
    DatasetLockError
        When another writer held the lock for ``lock_timeout`` seconds; nothing is written into
        the dataset, and the rows given are kept in a rescue file beside it
        (``<root>.jmlink-rescue/<time>-<pid>-<token>.parquet``, the error's ``rescue_path``;
        the links in ``links_rescue_path``), loaded back with
        ``write_dataset(pd.read_parquet(error.rescue_path), root)`` (the message spells out
        the call with its ``app=``).

    Notes
    -----
    Each day of ``stats`` is merged into that day's file: its rows replace the rows of the
    same (``link_key``, ``platform``, ``date``), the file's other rows stay; days not in
    ``stats`` are left as they are. Writing the same rows again never duplicates one, and
    concurrent writers (threads, processes, machines on one shared POSIX folder) end with
    the union of what they wrote: the read-merge-write runs under an ``fcntl`` lock on
    ``root/_jmlink/lock``. The dataset records its shape once in ``root/_jmlink/``. Inside
    the files: ``link_key``, ``platform`` (text), ``date`` (Parquet DATE), the four counters
    (INT64) and ``is_partial`` (BOOLEAN), sorted by link, then platform (``all``, ``ios``,
    ``android``, the order of fetch_stats), zstd, one row group per 1,048,576 rows.

    Examples
    --------
    >>> written = jm.write_dataset(stats, "warehouse/jmlink_stats")
    >>> len(written), written[0]
    (30, PosixPath('warehouse/jmlink_stats/dt=2024-06-01/part-0.parquet'))
    >>> len(jm.write_dataset(stats, "warehouse/jmlink_stats"))  # again: the same 30 files, no row twice
    30
    """
    require_pyarrow("write_dataset")
    from ._links_table import links_arrow, write_links_arrow

    if not isinstance(partition, str) or not _PARTITION_NAME.fullmatch(partition) or partition in STATS_COLUMNS:
        raise ValueError(f"partition must be a column name of letters, digits and _ that is not a stats column; "
                         f"got {partition!r}")
    timeout = check_timeout(lock_timeout)
    top, app = split_app(_check_root(root), app)
    stats = _check_table(stats)
    link_table = None if links is None else links_arrow(links)
    if stats.empty and link_table is None:
        return []
    table = day_table(stats, lambda: _duplicates(stats))
    shape = Shape("apps" if app else "days", platform_mode(stats["platform"].unique()) if len(stats) else "",
                  partition)
    if shape.platforms:
        check_shape(top, shape)
    data = top / f"app={app}" if app else top
    top.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        with dataset_lock(lock_file(top), timeout):
            clean_staging(top)
            if shape.platforms:
                check_shape(top, shape)  # again: another writer may have recorded its shape meanwhile
                record_shape(top, shape)
                written = _write_days(table, data, partition, staging_dir(top))
            if link_table is not None:
                write_links_arrow(link_table, top, app, staging_dir(top))
    except DatasetLockError as exc:  # never lose the rows: they go to a rescue file outside the dataset
        raise rescued_error(exc, stats, link_table, top, app, partition) from None
    logger.info("write_dataset: %d day(s), %s rows in %s", len(written), f"{len(stats):,}", data)
    return written
