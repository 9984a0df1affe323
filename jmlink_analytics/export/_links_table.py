"""The links table of a dataset: names, channels and dates of the links, joinable on ``link_key`` (and ``app``).

It lives BESIDE the stats dataset, in ``<root>_links/`` (``part-0.parquet``, or
``app=NAME/part-0.parquet`` for a dataset of apps), so no glob over the stats (``dt=*``,
``**/*.parquet``, Polars' ``scan_parquet(root)``) ever meets a file of another schema. It is
written under the stats dataset's lock and merged by ``link_key``: a link listed before and
deleted since keeps its row (its names stay joinable to its old stats), with the time it was
last listed in ``listed_at``.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import fsync as _fsync
from ..schema import LINK_COLUMNS
from ._parquet import require_pyarrow

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["links_root", "read_links_table"]

LINKS_FILE = "part-0.parquet"
_TIMES = ("create_time", "update_time")


def links_root(root: Path) -> Path:
    """The links table's folder for the stats dataset at ``root``: ``<root>_links`` beside it."""
    return root.with_name(f"{root.name}_links")


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema([(c, pa.int64() if c == "id" else pa.timestamp("us") if c in _TIMES else pa.string())
                      for c in LINK_COLUMNS] + [("listed_at", pa.timestamp("us", tz="UTC"))])


def links_arrow(links: Any) -> Any:
    """fetch_links' table as the links table's Arrow rows, stamped with the time of this listing."""
    import pandas as pd
    import pyarrow as pa

    if not isinstance(links, pd.DataFrame):
        raise TypeError(f"links must be the DataFrame fetch_links returns; got {type(links).__name__}")
    missing = [c for c in LINK_COLUMNS if c not in links.columns]
    if missing:
        raise ValueError(f"links lacks the column(s) {', '.join(missing)}; expected fetch_links' columns")
    frame = links.loc[links["link_key"].notna(), list(LINK_COLUMNS)]
    twice = frame["link_key"].duplicated()
    if twice.any():
        raise ValueError(f"links has duplicate link_key {frame.loc[twice, 'link_key'].iat[0]!r}")
    arrays = []
    for field in _schema():
        if field.name == "listed_at":
            now = dt.datetime.now(dt.UTC)
            arrays.append(pa.array([now] * len(frame), field.type))
            continue
        column = frame[field.name]
        if field.name in _TIMES:
            arrays.append(pa.array(pd.to_datetime(column).to_numpy(dtype="datetime64[us]"), field.type,
                                   mask=column.isna().to_numpy()))
        elif field.name == "id":
            arrays.append(pa.array(pd.array(column, dtype="Int64"), field.type))
        else:
            arrays.append(pa.array([None if pd.isna(v) else str(v) for v in column], field.type))
    return pa.Table.from_arrays(arrays, schema=_schema())


def write_links_arrow(table: Any, root: Path, app: str | None, staging: Path) -> Path:
    """Merge ``table`` into the links table of the dataset at ``root`` (under the dataset's lock)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = links_root(root) / f"app={app}" if app else links_root(root)
    target = folder / LINKS_FILE
    if target.is_file():
        old = pq.read_table(target).cast(_schema())
        kept = old.join(table.select(["link_key"]), keys="link_key", join_type="left anti")
        table = pa.concat_tables([table, kept.select(table.column_names)])
    table = table.sort_by([("link_key", "ascending")])
    staging.mkdir(parents=True, exist_ok=True)
    temp = staging / f"links-{secrets.token_hex(6)}.parquet"
    try:
        pq.write_table(table, temp, compression="zstd")
        _fsync(temp)
        folder.mkdir(parents=True, exist_ok=True)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target


def read_links_table(root: str | os.PathLike[str], *, app: str | None = None) -> pd.DataFrame:
    """Read the links table that ``sync`` (or ``write_dataset(..., links=...)``) keeps beside a dataset.

    Parameters
    ----------
    root : str or os.PathLike
        The stats dataset's folder (the table is read from ``<root>_links/``).
    app : str, optional
        The app, for a dataset of apps (``<root>_links/app=NAME/``).

    Returns
    -------
    pandas.DataFrame
        One row per link ever listed: fetch_links' columns (``channel``, ``app_domain`` and
        ``jump_link_type`` as text) and ``listed_at``, the time (UTC) it was last listed.

    Raises
    ------
    FileNotFoundError
        When the dataset has no links table (yet).
    """
    require_pyarrow("read_links_table")
    import pyarrow.parquet as pq

    from ._layout import split_app

    top, app = split_app(Path(root).expanduser(), app)
    path = (links_root(top) / f"app={app}" if app else links_root(top)) / LINKS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no links table at {path} (`jmlink-analytics sync` writes it)")
    frame = pq.read_table(path).to_pandas()
    for column in ("link_key", "name", "channel"):
        frame[column] = frame[column].astype("string")
    return frame
