"""Rescue files: the rows of a write that could not get the dataset's lock, kept outside the dataset.

A writer that waited ``lock_timeout`` seconds for another one gives up, but never with the rows
it was given only in memory: before raising :class:`~jmlink_analytics.errors.DatasetLockError`
it writes them to ``<root>.jmlink-rescue/<UTC time>-<pid>-<token>.parquet`` beside the root (the
links table, when given, to the same name ending ``-links.parquet``). The folder is a sibling of
the root, so no engine's glob over the root (``root/**/*.parquet``, ``scan_parquet(root)``, a
Hive dataset of ``root``) ever reads a rescued row twice. When the root's parent cannot hold it,
the user cache folder does (``platformdirs.user_cache_dir("jmlink-analytics")/rescue``).

Loading one back is a normal write, e.g. ``write_dataset(pd.read_parquet(path), root)``; the
error's message spells out the call (with ``app=``, ``partition=`` and ``links=``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import atomic_path
from ..errors import DatasetLockError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["rescue_dir", "rescue_rows", "rescued_error"]

logger = logging.getLogger("jmlink_analytics")


def rescue_dir(top: Path) -> Path:
    """The rescue folder of the dataset at ``top``: its sibling ``<name>.jmlink-rescue``."""
    return top.parent / f"{top.name}.jmlink-rescue"


def _fallback_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("jmlink-analytics", appauthor=False)) / "rescue"


def rescue_rows(stats: pd.DataFrame, link_table: Any, top: Path) -> tuple[Path | None, Path | None]:
    """Write ``stats`` (and the links table's Arrow rows) to rescue files; return their paths.

    Parameters
    ----------
    stats : pandas.DataFrame
        The checked stats table the write was given (nothing written when empty).
    link_table : pyarrow.Table or None
        The links table's rows the write was given.
    top : pathlib.Path
        The dataset's root.

    Returns
    -------
    tuple of (pathlib.Path or None, pathlib.Path or None)
        The stats file and the links file (None for what was not given, or could not be written
        anywhere: that is logged as an error).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    stem = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}Z-{os.getpid()}-{secrets.token_hex(3)}"
    jobs: list[tuple[str, Any]] = []
    if len(stats):
        # from pandas, with its metadata: read_parquet gives back the same dtypes (dates, categories)
        jobs.append((f"{stem}.parquet", pa.Table.from_pandas(stats, preserve_index=False)))
    if link_table is not None and link_table.num_rows:
        jobs.append((f"{stem}-links.parquet", link_table))
    paths: list[Path | None] = []
    for name, table in jobs:
        path = None
        for folder in (rescue_dir(top), _fallback_dir()):
            try:
                with atomic_path(folder / name) as temp:
                    pq.write_table(table, temp, compression="zstd")
                path = folder / name
                break
            except OSError as exc:
                logger.warning("could not write the rescue file %s: %s", folder / name, exc)
        if path is None:
            logger.error("write_dataset: the %s rows of %s could not be rescued anywhere", f"{table.num_rows:,}",
                         name)
        paths.append(path)
    stats_path = paths.pop(0) if len(stats) else None
    links_path = paths.pop(0) if paths else None
    return stats_path, links_path


def rescued_error(error: DatasetLockError, stats: pd.DataFrame, link_table: Any, top: Path, app: str | None,
                  partition: str) -> DatasetLockError:
    """The lock error, once the rows given are in rescue files (named in its message and attributes)."""
    stats_path, links_path = rescue_rows(stats, link_table, top)
    message = str(error).replace("; nothing was written", "; nothing was written into the dataset")
    n_links = 0 if link_table is None else link_table.num_rows
    if (len(stats) and stats_path is None) or (n_links and links_path is None):
        message += "; and the rows given could NOT all be kept in a rescue file (see the log)"
    first = "empty_stats()" if stats_path is None else f"pd.read_parquet({str(stats_path)!r})"
    what, args = [], [first, repr(str(top))]
    if stats_path is not None:
        what.append(f"the {len(stats):,} stats rows given are in {stats_path}")
    if links_path is not None:
        what.append(f"the {n_links:,} links-table rows in {links_path}")
    args += [f"{name}={value!r}" for name, value in (("app", app), ("partition", partition))
             if value not in (None, "dt")]
    if links_path is not None:
        args.append(f"links=pd.read_parquet({str(links_path)!r})")
    if what:
        message += f": {' and '.join(what)} (outside the dataset); load them back with write_dataset({', '.join(args)})"
    return DatasetLockError(message, rescue_path=stats_path, links_rescue_path=links_path)
