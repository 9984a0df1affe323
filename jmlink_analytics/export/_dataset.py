"""The warehouse hand-off: the stats table as a Hive-partitioned Parquet dataset, one folder per day.

``root/dt=2024-06-01/part-0.parquet`` holds every row of that day with the columns of
:data:`~jmlink_analytics.STATS_COLUMNS`, ``date`` as a Parquet DATE. DuckDB, Spark, BigQuery,
ClickHouse and MaxCompute read such a folder as one table and skip the days a query does not
ask for; :func:`read_dataset` does the same and gives back fetch_stats' typed frame.

Writing a day replaces it whole: the rows go through pyarrow's dataset writer into a hidden
staging folder under ``root``, and each day's file is then moved over the old one with
:func:`os.replace`. A reader (or a crash) sees a day's old file or its new one, never half a
file, never both, and never a missing day, which pyarrow's
``existing_data_behavior="delete_matching"`` alone would allow between deleting and writing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import secrets
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._dates import DateLike, to_date
from .._validate import check_link_keys, check_stats
from ..schema import COUNTERS, PLATFORMS, STATS_COLUMNS
from ._csv import _fsync
from ._parquet import require_pyarrow

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DATA_FILE", "read_dataset", "write_dataset"]

logger = logging.getLogger("jmlink_analytics")

#: The one file of each day's folder; a rewrite replaces it atomically.
DATA_FILE = "part-0.parquet"
_PARTITION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARTITION_DIR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\d{4}-\d{2}-\d{2})")
_STAGING_PREFIX = ".staging-"  # hidden: pyarrow, Spark, Hive and the README's globs skip it


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema([("link_key", pa.string()), ("platform", pa.string()), ("date", pa.date32()),
                      *[(c, pa.int64()) for c in COUNTERS], ("is_partial", pa.bool_())])


def _check_root(root: Any) -> Path:
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path (str or os.PathLike); got {type(root).__name__}")
    return Path(root).expanduser()


def _check_table(stats: Any) -> pd.DataFrame:
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
    bad = set(stats["platform"].astype(str).unique()) - set(PLATFORMS)
    if bad:
        raise ValueError(f"stats column 'platform' must hold 'all', 'ios' or 'android'; got {sorted(bad)}")
    duplicated = stats.duplicated(["link_key", "platform", "date"])
    if duplicated.any():
        row = stats[duplicated].iloc[0]
        raise ValueError(f"stats has {int(duplicated.sum())} duplicate (link_key, platform, date) row(s), e.g. "
                         f"{row['link_key']!r}, {row['platform']!r}, {row['date']:%Y-%m-%d}")
    return stats


def _text_array(column: pd.Series) -> Any:
    """A text column as an Arrow string array, decoding a categorical in Arrow rather than in Python."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        dictionary = pa.array([str(v) for v in column.cat.categories], pa.string())
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), dictionary).cast(pa.string())
    return pa.array(column.astype(str).to_numpy(dtype=object), pa.string())


def _to_arrow(stats: pd.DataFrame, partition: str) -> Any:
    import pandas as pd
    import pyarrow as pa

    days = stats["date"].to_numpy().astype("datetime64[D]")
    codes, distinct = pd.factorize(days)
    day_text = pa.array(np.datetime_as_string(np.asarray(distinct, dtype="datetime64[D]"), unit="D").astype(object),
                        pa.string())
    arrays = [_text_array(stats["link_key"]), _text_array(stats["platform"]), pa.array(days, pa.date32()),
              *[pa.array(stats[c].to_numpy(dtype=np.int64), pa.int64()) for c in COUNTERS],
              pa.array(stats["is_partial"].to_numpy(dtype=bool), pa.bool_()),
              pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), day_text).cast(pa.string())]
    return pa.Table.from_arrays(arrays, schema=_schema().append(pa.field(partition, pa.string())))


def write_dataset(stats: pd.DataFrame, root: str | os.PathLike[str], *, partition: str = "dt") -> list[Path]:
    """Write the stats table as a Hive-partitioned Parquet dataset, one folder per day.

    Parameters
    ----------
    stats : pandas.DataFrame
        The table :func:`~jmlink_analytics.fetch_stats` returns (or :func:`read_dataset`):
        exactly its columns, no duplicate (``link_key``, ``platform``, ``date``).
    root : str or os.PathLike
        The dataset's folder (created when missing).
    partition : str, default "dt"
        The name of the day's folder key: ``root/<partition>=YYYY-MM-DD/``.

    Returns
    -------
    list of pathlib.Path
        The files written, one per day of ``stats``: ``root/dt=YYYY-MM-DD/part-0.parquet``.

    Raises
    ------
    ImportError
        Without pyarrow (``pip install 'jmlink-analytics[parquet]'``).
    ValueError, TypeError
        For a table that is not fetch_stats' (missing, extra or duplicate rows or columns).

    Notes
    -----
    Every day of ``stats`` replaces that day's folder whole, and days not in ``stats`` are
    left as they are: writing the same days again never duplicates a row. Inside the files:
    ``link_key``, ``platform`` (text), ``date`` (Parquet DATE), the four counters (INT64)
    and ``is_partial`` (BOOLEAN), sorted by link, platform and date. Each day's file is
    written by pyarrow's dataset writer into a hidden staging folder under ``root`` and
    moved into place with :func:`os.replace`, so readers see the old day or the new one,
    never half a file, and a crash leaves no partial day behind.

    Examples
    --------
    >>> write_dataset(stats, "warehouse/jmlink_stats")                              # doctest: +SKIP
    [PosixPath('warehouse/jmlink_stats/dt=2024-06-01/part-0.parquet'), ...]
    """
    require_pyarrow("write_dataset")
    import pyarrow as pa
    import pyarrow.dataset as ds

    if not isinstance(partition, str) or not _PARTITION_NAME.fullmatch(partition) or partition in STATS_COLUMNS:
        raise ValueError(f"partition must be a column name of letters, digits and _ that is not a stats column; "
                         f"got {partition!r}")
    target = _check_root(root)
    stats = _check_table(stats)
    if stats.empty:
        return []
    table = _to_arrow(stats, partition)
    target.mkdir(parents=True, exist_ok=True)
    staging = target / f"{_STAGING_PREFIX}{secrets.token_hex(6)}"
    written: list[Path] = []
    try:
        ds.write_dataset(table, staging, format="parquet", basename_template="part-{i}.parquet",
                         partitioning=ds.partitioning(pa.schema([(partition, pa.string())]), flavor="hive"),
                         existing_data_behavior="delete_matching", max_rows_per_group=1 << 20,
                         file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"))
        for folder in sorted(p for p in staging.iterdir() if p.is_dir()):
            files = list(folder.glob("*.parquet"))
            if len(files) != 1:  # pragma: no cover - pyarrow writes one file per folder without max_rows_per_file
                raise RuntimeError(f"expected one file in {folder}, found {len(files)}")
            day_dir = target / folder.name
            day_dir.mkdir(exist_ok=True)
            _fsync(files[0])
            os.replace(files[0], day_dir / DATA_FILE)
            for old in day_dir.iterdir():  # files of other writers (e.g. part-1.parquet): the day is ours now
                if old.name != DATA_FILE and not old.name.startswith((".", "_")) and old.is_file():
                    old.unlink()
            written.append(day_dir / DATA_FILE)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
    logger.info("write_dataset: %d day(s), %s rows in %s", len(written), f"{len(stats):,}", target)
    return written


def dataset_days(root: str | os.PathLike[str]) -> dict[dt.date, Path]:
    """The day folders of a dataset (``root/<key>=YYYY-MM-DD``), by date; empty when ``root`` has none.

    Raises
    ------
    ValueError
        When ``root`` holds folders of another level (``app=NAME``) or of two partition keys.
    """
    root = _check_root(root)
    if not root.is_dir():
        return {}
    days: dict[dt.date, Path] = {}
    keys, others = set(), []
    for entry in root.iterdir():
        if entry.name.startswith((".", "_")) or not entry.is_dir():
            continue
        match = _PARTITION_DIR.fullmatch(entry.name)
        if match is None:
            others.append(entry.name)
            continue
        keys.add(match.group(1))
        try:
            days[dt.date.fromisoformat(match.group(2))] = entry
        except ValueError:
            others.append(entry.name)
    if others and not days:
        example = root / sorted(others)[0]
        raise ValueError(f"{root} is not a dataset of day folders (dt=YYYY-MM-DD); it holds "
                         f"{', '.join(sorted(others)[:5])}: pass the folder of one app, e.g. {example}")
    if len(keys) > 1:
        raise ValueError(f"{root} mixes the partition keys {', '.join(sorted(keys))}")
    return dict(sorted(days.items()))


def empty_stats() -> pd.DataFrame:
    """fetch_stats' table without rows (its columns and dtypes)."""
    from ..data._frames import stats_frame

    return stats_frame([], [], dt.date(1970, 1, 1), np.zeros((len(COUNTERS), 0, 0, 0), dtype=np.int64),
                       dt.date(1970, 1, 1))


def read_dataset(root: str | os.PathLike[str], *, start: DateLike | None = None, end: DateLike | None = None,
                 link_keys: Sequence[str] | str | None = None) -> pd.DataFrame:
    """Read a dataset :func:`write_dataset` wrote, as the typed table fetch_stats returns.

    Parameters
    ----------
    root : str or os.PathLike
        The dataset's folder (the one holding ``dt=YYYY-MM-DD`` folders).
    start, end : str, date, datetime or pandas.Timestamp, optional
        The first and last day to read, inclusive; ``None`` means the dataset's first / last.
        Only the day folders in this range are opened.
    link_keys : list of str or str, optional
        Only these links (default: every link).

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`~jmlink_analytics.STATS_COLUMNS` with fetch_stats' dtypes
        (``link_key`` categorical of the sorted keys, ``platform`` categorical with
        ``all``, ``ios``, ``android``, ``date`` datetime64[ns], int64 counters, bool
        ``is_partial``), sorted by link, platform and date, with a RangeIndex. No folder
        in the range gives an empty table with those columns.

    Raises
    ------
    ImportError
        Without pyarrow.
    FileNotFoundError
        When ``root`` does not exist.
    ValueError
        For a bad argument, or a folder that holds apps (``app=NAME``) rather than days.

    Examples
    --------
    >>> june = read_dataset("warehouse/jmlink_stats", start="2024-06-01", end="2024-06-30")  # doctest: +SKIP
    """
    require_pyarrow("read_dataset")
    import pyarrow.dataset as ds

    folder = _check_root(root)
    first = None if start is None else to_date(start, "start")
    last = None if end is None else to_date(end, "end")
    if first is not None and last is not None and first > last:
        raise ValueError(f"start must not be after end; got start={first} > end={last}")
    keys = check_link_keys(link_keys)
    if not folder.is_dir():
        raise FileNotFoundError(f"no dataset at {folder} (write one with write_dataset or `jmlink-analytics sync`)")
    days = [path for day, path in dataset_days(folder).items()
            if (first is None or day >= first) and (last is None or day <= last)]
    files = [str(f) for path in days for f in sorted(path.glob("*.parquet")) if not f.name.startswith((".", "_"))]
    if not files:
        return empty_stats()
    dataset = ds.dataset(files, format=ds.ParquetFileFormat(read_options={"dictionary_columns": ["link_key",
                                                                                                  "platform"]}))
    table = dataset.to_table(columns=list(STATS_COLUMNS),
                             filter=None if keys is None else ds.field("link_key").isin(keys))
    logger.info("read_dataset: %d day(s), %s rows from %s", len(days), f"{table.num_rows:,}", folder)
    return _to_frame(table)


def _dictionary_codes(column: Any, categories: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """A dictionary-encoded Arrow column as (codes, categories): the given ones, else its values sorted."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    column = pa.chunked_array(column.chunks, column.type).unify_dictionaries() if column.num_chunks > 1 else column
    if column.num_chunks == 0:
        return np.array([], dtype=np.int64), list(categories or [])
    values = [str(v) for v in column.chunk(0).dictionary.to_pylist()]
    indices = np.concatenate([chunk.indices.to_numpy(zero_copy_only=False) for chunk in column.chunks])
    wanted = sorted(set(values)) if categories is None else list(categories)
    position = {v: i for i, v in enumerate(wanted)}
    mapping = np.array([position.get(v, -1) for v in values] or [-1], dtype=np.int64)
    codes = mapping[indices.astype(np.int64)]
    if categories is None:  # only the values present, as fetch_stats' categories are the keys it returns
        present = np.unique(codes)
        wanted = [wanted[i] for i in present]
        codes = np.searchsorted(present, codes)
    return codes, wanted


def _to_frame(table: Any) -> pd.DataFrame:
    import pandas as pd

    from ..data._frames import _PLATFORM_DTYPE, STRING_DTYPE, _codes

    key_codes, keys = _dictionary_codes(table.column("link_key"))
    platform_codes, _ = _dictionary_codes(table.column("platform"), PLATFORMS)
    if (platform_codes < 0).any():
        raise ValueError("the dataset holds a platform other than 'all', 'ios' and 'android'")
    dates = table.column("date").to_numpy().astype("datetime64[ns]")
    order = np.lexsort((dates, platform_codes, key_codes))
    columns: dict[str, Any] = {
        "link_key": pd.Categorical.from_codes(key_codes[order].astype(_codes(len(keys))),
                                              dtype=pd.CategoricalDtype(pd.Index(keys, dtype=STRING_DTYPE))),
        "platform": pd.Categorical.from_codes(platform_codes[order].astype(np.int8), dtype=_PLATFORM_DTYPE),
        "date": dates[order],
    }
    for name in COUNTERS:
        columns[name] = table.column(name).to_numpy().astype(np.int64)[order]
    columns["is_partial"] = table.column("is_partial").to_numpy().astype(bool)[order]
    frame = pd.DataFrame(columns, columns=list(STATS_COLUMNS))
    frame.attrs["failed"] = {}
    return frame
