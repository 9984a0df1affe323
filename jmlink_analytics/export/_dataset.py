"""The warehouse hand-off: the stats table as a Hive-partitioned Parquet dataset, one folder per day.

``root/dt=2024-06-01/part-0.parquet`` holds every row of that day with the columns of
:data:`~jmlink_analytics.STATS_COLUMNS`, ``date`` as a Parquet DATE. DuckDB, Spark, BigQuery,
ClickHouse and MaxCompute read such a folder as one table and skip the days a query does not
ask for; :func:`read_dataset` does the same and gives back fetch_stats' typed frame.

Writing (:mod:`._dataset_write`) merges each day under the dataset's lock, so any number of
writers end with the union of their rows, and stages files outside the dataset, so readers see
a day's old file or its new one, never half a file or a staging file.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._dates import DateLike, to_date
from .._validate import check_link_keys
from ..schema import COUNTERS, PLATFORMS, STATS_COLUMNS
from ._dataset_write import DATA_FILE, _check_root, split_app, write_dataset
from ._order import RowOrder
from ._parquet import require_pyarrow

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DATA_FILE", "read_dataset", "write_dataset"]

logger = logging.getLogger("jmlink_analytics")

_PARTITION_DIR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\d{4}-\d{2}-\d{2})")


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
    from ..data.dtypes import empty_stats_frame

    return empty_stats_frame()


def read_dataset(root: str | os.PathLike[str], *, start: DateLike | None = None, end: DateLike | None = None,
                 link_keys: Sequence[str] | str | None = None, app: str | None = None) -> pd.DataFrame:
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
    app : str, optional
        For a dataset of apps: read ``root/app=NAME`` (the same as passing that folder).

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
    >>> jm.write_dataset(stats, "warehouse/jmlink_stats")  # doctest: +ELLIPSIS
    [PosixPath('warehouse/jmlink_stats/dt=2024-06-01/part-0.parquet'), ...]
    >>> june = jm.read_dataset("warehouse/jmlink_stats", start="2024-06-01", end="2024-06-30")
    >>> june.shape
    (720, 8)
    >>> june.equals(stats)  # the same rows, in the same order, with the same dtypes
    True
    """
    require_pyarrow("read_dataset")

    folder = _check_root(root)
    if app is not None:
        top, name = split_app(folder, app)
        folder = top / f"app={name}"
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
    table = _read_files(files, keys)
    logger.info("read_dataset: %d day(s), %s rows from %s", len(days), f"{table.num_rows:,}", folder)
    return _to_frame(table)


def _read_files(files: list[str], keys: list[str] | None) -> Any:
    """The rows of ``files`` (in their order) as one Arrow table, the text columns dictionary-encoded.

    With the dataset's schema given, pyarrow opens no file to learn it (15 % of a year's
    read); files of another tool whose types differ (int32 counts, large strings) are read
    again with the schema inspected, then cast.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    from ._dataset_days import file_schema

    text = pa.dictionary(pa.int32(), pa.string())
    schema = pa.schema([pa.field("link_key", text), pa.field("platform", text), *list(file_schema())[2:]])
    file_format = ds.ParquetFileFormat(read_options={"dictionary_columns": ["link_key", "platform"]})
    where = None if keys is None else ds.field("link_key").isin(keys)
    try:
        return ds.dataset(files, format=file_format, schema=schema).to_table(columns=list(STATS_COLUMNS),
                                                                             filter=where)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        table = ds.dataset(files, format=file_format).to_table(columns=list(STATS_COLUMNS), filter=where)
        return table.cast(pa.schema([pa.field(f.name, f.type if f.name in ("link_key", "platform") else
                                              schema.field(f.name).type) for f in table.schema]))


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


def _ordered(column: Any, dtype: Any, order: RowOrder, out: np.ndarray | None = None) -> np.ndarray:
    """An Arrow column as a numpy array of ``dtype`` in the table's order (link, platform, day)."""
    values = column.to_numpy()
    if values.dtype != dtype:
        values = values.astype(dtype)
    return order.apply(values, out)


def _to_frame(table: Any) -> pd.DataFrame:
    import pandas as pd

    from ..data.dtypes import PLATFORM_DTYPE, STRING_DTYPE, category_codes_dtype

    key_codes, keys = _dictionary_codes(table.column("link_key"))
    platform_codes, _ = _dictionary_codes(table.column("platform"), PLATFORMS)
    if (platform_codes < 0).any():
        raise ValueError("the dataset holds a platform other than 'all', 'ios' and 'android'")
    days = table.column("date").to_numpy()
    # the files' rows come day after day: ordered by (link-platform, day), usually the transpose of their grid
    order = RowOrder(key_codes.astype(np.int64) * len(PLATFORMS) + platform_codes,
                     np.asarray(days, dtype="datetime64[D]").view(np.int64))
    # the counters as one 2-D block, gathered in place: pandas keeps it as its int64 block (no stacking copy)
    block = np.empty((len(COUNTERS), table.num_rows), dtype=np.int64)
    for i, name in enumerate(COUNTERS):
        _ordered(table.column(name), np.int64, order, out=block[i])
    frame = pd.DataFrame(block.T, columns=list(COUNTERS), copy=False)
    key_codes, platform_codes = order.apply(key_codes), order.apply(platform_codes)
    links = pd.Categorical.from_codes(key_codes.astype(category_codes_dtype(len(keys))),
                                      dtype=pd.CategoricalDtype(pd.Index(keys, dtype=STRING_DTYPE)))
    frame.insert(0, "link_key", pd.Series(links, index=frame.index, copy=False))
    platforms = pd.Categorical.from_codes(platform_codes.astype(np.int8), dtype=PLATFORM_DTYPE)
    frame.insert(1, "platform", pd.Series(platforms, index=frame.index, copy=False))
    frame.insert(2, "date", _ordered(table.column("date"), "datetime64[ns]", order))
    frame["is_partial"] = _ordered(table.column("is_partial"), bool, order)
    frame.attrs["failed"] = {}
    return frame
