"""API records to typed DataFrames: the column schemas, and fast builders on numpy arrays.

Nothing here talks HTTP or SQLite. The stats table is built from a dense "cube" of
counters, shape ``(4, links, platforms, days)``: each output column is one contiguous
slice or a repeat/tile of a small array, so no per-row Python object is ever made.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..client import INT64_MAX, StatRows
from ..errors import ResponseFormatError
from ..schema import COUNTERS, LINK_COLUMNS, PLATFORMS, STATS_COLUMNS
from .dtypes import (
    DATE_DTYPE,
    LINK_CATEGORY_COLUMNS,
    LINK_TIME_COLUMNS,
    PLATFORM_DTYPE,
    STRING_DTYPE,
    TIME_DTYPE,
    category_codes_dtype,
    empty_links_frame,
)

__all__ = [
    "LINK_CATEGORY_COLUMNS",
    "LINK_TIME_COLUMNS",
    "STRING_DTYPE",
    "counters_from_rows",
    "empty_links_frame",
    "links_frame",
    "stats_frame",
    "stats_frame_from_records",
]

logger = logging.getLogger("jmlink_analytics")

_TIME_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}:[0-9]{2})?")
# Names export/_dataset.py imports from here; their home is data.dtypes (kept until it imports them there).
_PLATFORM_DTYPE = PLATFORM_DTYPE
_codes = category_codes_dtype


# -- links --------------------------------------------------------------------------------
def _text(value: Any, record: Mapping[str, Any], name: str) -> Any:
    """A text field: a str, or None for JSON null; anything else is refused (never turned into text: a guess)."""
    if value is None or type(value) is str:
        return value
    raise ResponseFormatError(f"link record {record.get('link_key')!r}: {name!r} must be text or null; got {value!r}")


def _record_id(record: Mapping[str, Any]) -> int:
    value = record.get("id")
    if type(value) is int and -INT64_MAX - 1 <= value <= INT64_MAX:
        return value
    raise ResponseFormatError(f"link record {record.get('link_key')!r}: 'id' must be an integer from "
                              f"{-INT64_MAX - 1} to {INT64_MAX}; got {value!r}")


def _times(values: list[Any], column: str) -> pd.Series:
    """Parse exactly "yyyy-MM-dd" or "yyyy-MM-dd HH:mm:ss" (China local time, kept naive).

    Any other text (a bare month, a time zone, a non-day) is not guessed at: it becomes NaT,
    and a warning names the column and an example.
    """
    texts = pd.Series(values, dtype=object)
    readable = texts.map(lambda t: isinstance(t, str) and _TIME_TEXT.fullmatch(t) is not None).astype(bool)
    parsed = pd.to_datetime(texts.where(readable, None), format="ISO8601", errors="coerce")
    bad = parsed.isna() & texts.notna() & (texts.astype(str).str.strip() != "")
    if bad.any():
        logger.warning("%d link record(s) have an unreadable %s (kept as NaT), e.g. %r",
                       int(bad.sum()), column, texts[bad].iloc[0])
    return parsed.astype(TIME_DTYPE)


def links_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Build the links table from the API's link records.

    Parameters
    ----------
    records : iterable of dict
        Records as ``GET /v1/links`` sends them. Missing fields count as ``null``;
        fields the API does not document are left out.

    Returns
    -------
    pandas.DataFrame
        One row per record in the given order, the columns of :data:`LINK_COLUMNS`:
        ``id`` int64; ``channel``, ``app_domain``, ``jump_link_type`` categorical;
        ``create_time``, ``update_time`` datetime64[ns]; other text :data:`STRING_DTYPE`
        (``null`` -> missing, ``""`` kept).
    """
    records = list(records)
    if not records:
        return empty_links_frame()
    columns: dict[str, Any] = {
        "id": np.fromiter((_record_id(r) for r in records), dtype=np.int64, count=len(records))
    }
    for name in LINK_COLUMNS[1:]:
        values = [_text(r.get(name), r, name) for r in records]
        if name in LINK_TIME_COLUMNS:
            columns[name] = _times(values, name).to_numpy()
        elif name in LINK_CATEGORY_COLUMNS:
            categories = sorted({t for t in values if t is not None})
            columns[name] = pd.Categorical(values, categories=pd.Index(categories, dtype=STRING_DTYPE))
        else:
            columns[name] = pd.array(values, dtype=STRING_DTYPE)
    return pd.DataFrame(columns, columns=list(LINK_COLUMNS))


# -- stats --------------------------------------------------------------------------------
def counters_from_rows(rows: Sequence[Mapping[str, Any]], first_day: dt.date, n_days: int, *,
                       link_key: str | None = None, platform: str | None = None) -> np.ndarray:
    """The counters of one stat answer, checked once at the client, as a dense ``(4, n_days)`` int64 array.

    Parameters
    ----------
    rows : sequence of dict
        The rows of one answer, as :meth:`~jmlink_analytics.JMLinkClient.get_link_stats`
        returns them: a :class:`~jmlink_analytics.client.StatRows` of these days is built
        from what its check computed, without looking at the rows again. Rows of another
        type (a stand-in client, recorded answers) are checked here, once.
    first_day : date
        The first day of the requested range; column 0 of the result.
    n_days : int
        The number of days requested.
    link_key, platform : str, optional
        The link and platform of the answer, named in an error message.

    Returns
    -------
    numpy.ndarray
        ``out[i, d]`` is counter ``COUNTERS[i]`` on day ``first_day + d``; days the answer
        left out are 0.

    Raises
    ------
    ResponseFormatError
        For rows not checked yet that are off the contract (see
        :meth:`jmlink_analytics.client.StatRows.check`).
    """
    out = np.zeros((len(COUNTERS), n_days), dtype=np.int64)
    if not rows:
        return out
    if isinstance(first_day, dt.datetime):
        first_day = first_day.date()
    checked = rows if isinstance(rows, StatRows) and rows.start == first_day and rows.n_days == n_days else \
        StatRows.check(rows, first_day, n_days, link_key=link_key, platform=platform)
    out[:, checked.offsets] = np.array(checked.counters, dtype=np.int64).reshape(-1, len(COUNTERS)).T
    return out


def stats_frame(
    link_keys: Sequence[str],
    platforms: Sequence[str],
    start: dt.date,
    cube: np.ndarray,
    partial_from: dt.date,
) -> pd.DataFrame:
    """Build the tidy stats table from a dense cube of counters.

    Parameters
    ----------
    link_keys : sequence of str
        The links, in the order of the cube's axis 1, **sorted** (they become the
        categories of ``link_key``, so the table's order is the categories' order).
    platforms : sequence of str
        The platforms of axis 2, in the order of :data:`PLATFORMS`.
    start : date
        The day of index 0 on axis 3.
    cube : numpy.ndarray
        int64, shape ``(4, len(link_keys), len(platforms), n_days)``.
    partial_from : date
        Days on or after this one get ``is_partial=True`` (yesterday in China time).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`STATS_COLUMNS`, sorted by link_key, platform, date; RangeIndex.
    """
    n_counters, n_links, n_platforms, n_days = cube.shape
    if n_counters != len(COUNTERS) or n_links != len(link_keys) or n_platforms != len(platforms):
        raise ValueError(f"cube shape {cube.shape} does not match {len(link_keys)} links x {len(platforms)} platforms")
    n_rows = n_links * n_platforms * n_days
    first = np.datetime64(start, "D")
    dates = (first + np.arange(n_days)).astype(DATE_DTYPE)
    partial = dates >= np.datetime64(partial_from, "D")
    key_codes = np.repeat(np.arange(n_links, dtype=category_codes_dtype(n_links)), n_platforms * n_days)
    platform_index = np.array([PLATFORMS.index(p) for p in platforms], dtype=np.int8)
    platform_codes = np.tile(np.repeat(platform_index, n_days), n_links)
    key_categories = pd.Index(list(link_keys), dtype=STRING_DTYPE)
    columns: dict[str, Any] = {
        "link_key": pd.Categorical.from_codes(key_codes, dtype=pd.CategoricalDtype(key_categories)),
        "platform": pd.Categorical.from_codes(platform_codes, dtype=PLATFORM_DTYPE),
        "date": np.tile(dates, n_links * n_platforms),
    }
    flat = np.ascontiguousarray(cube, dtype=np.int64).reshape(len(COUNTERS), n_rows)
    for i, name in enumerate(COUNTERS):
        columns[name] = flat[i]
    columns["is_partial"] = np.tile(partial, n_links * n_platforms)
    return pd.DataFrame(columns, columns=list(STATS_COLUMNS), copy=False)


def stats_frame_from_records(
    records: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]],
    start: dt.date,
    end: dt.date,
    today: dt.date,
) -> pd.DataFrame:
    """Build the stats table from stat answers keyed by ``(link_key, platform)``.

    Every day from ``start`` to ``end`` gets a row for every key and platform present
    (days an answer left out are 0); ``is_partial`` marks days on or after ``today - 1``.
    """
    link_keys = sorted({key for key, _ in records})
    platforms = [p for p in PLATFORMS if any(p == q for _, q in records)]
    n_days = (end - start).days + 1
    cube = np.zeros((len(COUNTERS), len(link_keys), len(platforms), n_days), dtype=np.int64)
    key_pos = {k: i for i, k in enumerate(link_keys)}
    for (key, platform), rows in records.items():
        cube[:, key_pos[key], platforms.index(platform), :] = counters_from_rows(rows, start, n_days, link_key=key,
                                                                                  platform=platform)
    return stats_frame(link_keys, platforms, start, cube, today - dt.timedelta(days=1))
