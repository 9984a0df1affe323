"""Checks that an answer has the documented shape; anything else is a ResponseFormatError, never data.

The API's documentation leaves much unsaid, so an answer is taken only when it is exactly what
the contract promises: a stat row's ``iday`` is a ``yyyy-MM-dd`` day of the range asked, each
day comes once, and each counter is an integer from 0 to 2**63 - 1. Fields the contract does
not name are ignored. Every refusal names the link, the platform and the offending value.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .._validate import check_link_key
from ..errors import ResponseFormatError
from ..schema import COUNTERS, LINK_COLUMNS

__all__ = [
    "INT64_MAX", "DuplicateKeyError", "LinksPage", "StatRows", "check_stat_rows", "no_duplicate_keys",
    "parse_links_page", "parse_stat_rows",
]

#: The largest value an int64 column (counters, ``id``) holds.
INT64_MAX = 2**63 - 1
#: The listing's documented text fields (all but ``id``).
_TEXT_FIELDS = tuple(name for name in LINK_COLUMNS if name not in ("id", "link_key"))
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class LinksPage:
    """One page of ``GET /v1/links``.

    Attributes
    ----------
    total : int
        The number of links of the app (not of this page).
    records : list of dict
        The page's link records, as the API sent them.
    """

    total: int
    records: list[dict[str, Any]] = field(repr=False)

    def __repr__(self) -> str:
        return f"LinksPage(total={self.total}, records=<{len(self.records)} records>)"


class StatRows(list[dict[str, Any]]):
    """The rows of one stat answer, checked against the contract for the days asked.

    A ``list`` of the API's row dicts (what :meth:`JMLinkClient.get_link_stats` always
    returned), which also carries what the check computed, so the data layer builds its
    arrays without looking at the rows again.

    Attributes
    ----------
    start : datetime.date
        The first day asked for.
    n_days : int
        The number of days asked for.
    offsets : list of int
        Each row's day, as an offset from ``start``.
    counters : list of int
        The rows' counters flattened in ``COUNTERS`` order (four per row).
    """

    start: dt.date
    n_days: int
    offsets: list[int]
    counters: list[int]

    @classmethod
    def check(cls, rows: Sequence[Any], start: dt.date, n_days: int, *, link_key: str | None = None,
              platform: str | None = None) -> StatRows:
        """Check ``rows`` for days ``start .. start + n_days - 1`` (see :func:`check_stat_rows`).

        Parameters
        ----------
        rows : sequence of dict
            The rows of one stat answer.
        start : date
            The first day asked for.
        n_days : int
            The number of days asked for.
        link_key, platform : str, optional
            Named in the error message.

        Returns
        -------
        StatRows
            The rows, with their day offsets and counters.
        """
        if isinstance(start, dt.datetime):
            start = start.date()
        offsets, counters = check_stat_rows(rows, start, n_days, link_key=link_key, platform=platform)
        checked = cls(rows)
        checked.start, checked.n_days, checked.offsets, checked.counters = start, n_days, offsets, counters
        return checked


class DuplicateKeyError(ValueError):
    """A JSON object names a field twice (raised by :func:`no_duplicate_keys`)."""


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object hook: an object naming a field twice is refused (json.loads keeps the last silently)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        names = [name for name, _ in pairs]
        twice = sorted({name for name in names if names.count(name) > 1})
        raise DuplicateKeyError(f"an object names {', '.join(map(repr, twice))} twice: {_shape(obj)}")
    return obj


# -- the listing ------------------------------------------------------------------------------
def _is_int64(value: Any) -> bool:
    return type(value) is int and -INT64_MAX - 1 <= value <= INT64_MAX


def parse_links_page(body: Any) -> LinksPage:
    """Check one page of ``GET /v1/links``; return it, or raise :class:`ResponseFormatError`."""
    where = "GET /v1/links"
    if not isinstance(body, dict) or "records" not in body or "total" not in body:
        raise ResponseFormatError(f"{where}: expected an object with 'total' and 'records'; got {_shape(body)}")
    total, records = body["total"], body["records"]
    if not _is_int64(total) or total < 0:
        raise ResponseFormatError(f"{where}: 'total' must be a non-negative integer; got {_shape(total)}")
    if not isinstance(records, list):
        raise ResponseFormatError(f"{where}: 'records' must be a list of objects; got {_shape(records)}")
    if len(records) > total:
        raise ResponseFormatError(f"{where}: a page of {len(records)} records cannot belong to 'total' {total} links")
    for position, record in enumerate(records):
        if not isinstance(record, dict):
            raise ResponseFormatError(f"{where}: 'records' must be a list of objects; record {position} is "
                                      f"{_shape(record)}")
        if "id" not in record or "link_key" not in record:
            raise ResponseFormatError(f"{where}: record {position} lacks 'id' or 'link_key': {_shape(record)}")
        link_key, link_id = record["link_key"], record["id"]
        if not _is_int64(link_id):
            raise ResponseFormatError(f"{where}: link {_shape(link_key)}: 'id' must be an integer from "
                                      f"{-INT64_MAX - 1} to {INT64_MAX}; got {_shape(link_id)}")
        try:
            check_link_key(link_key)
        except (TypeError, ValueError) as exc:
            raise ResponseFormatError(f"{where}: link id {link_id}: {exc}") from None
        for name in _TEXT_FIELDS:
            value = record.get(name)
            if value is not None and type(value) is not str:
                raise ResponseFormatError(f"{where}: link {link_key!r}: {name!r} must be text or null; got "
                                          f"{_shape(value)} (never turned into text: a guess)")
    return LinksPage(total=total, records=records)


# -- the stats -------------------------------------------------------------------------------
def parse_stat_rows(body: Any, *, link_key: str | None = None, platform: str | None = None,
                    start: dt.date | None = None, end: dt.date | None = None) -> list[dict[str, Any]]:
    """Check one stat answer ``{"data": [...]}``; return its rows, or raise :class:`ResponseFormatError`.

    Parameters
    ----------
    body : Any
        The parsed JSON answer.
    link_key, platform : str, optional
        The link and platform asked for, named in the error message.
    start, end : date, optional
        The range asked for (inclusive); every ``iday`` must fall in it. Without them only
        the day's form is checked.

    Returns
    -------
    list of dict
        The rows; with ``start`` and ``end``, a :class:`StatRows` carrying each row's day
        offset and the counters, so nothing checks or reads them twice.
    """
    where = _where(link_key, platform)
    if not isinstance(body, dict) or "data" not in body:
        raise ResponseFormatError(f"{where}: expected an object with 'data'; got {_shape(body)}")
    rows = body["data"]
    if not isinstance(rows, list):
        raise ResponseFormatError(f"{where}: 'data' must be a list of day rows; got {_shape(rows)}")
    if start is not None and end is not None:
        return StatRows.check(rows, start, (end - start).days + 1, link_key=link_key, platform=platform)
    _diagnose(rows, None, 0, where)
    return rows


def check_stat_rows(rows: Sequence[Any], start: dt.date, n_days: int, *, link_key: str | None = None,
                    platform: str | None = None) -> tuple[list[int], list[int]]:
    """Check the rows of one stat answer for days ``start .. start + n_days - 1``.

    Returns
    -------
    (offsets, counters) : (list of int, list of int)
        Each row's day as an offset from ``start``, and the rows' counters flattened in
        :data:`COUNTERS` order (four per row).

    Raises
    ------
    ResponseFormatError
        For a row that is not an object, an ``iday`` that is not exactly ``yyyy-MM-dd`` or
        falls outside the range, a day sent twice, a counter missing, not an integer,
        negative or beyond int64. The message names the link, the platform and the value.
    """
    if isinstance(start, dt.datetime):  # pandas.Timestamp included: the calendar day only
        start = start.date()
    index = _day_index(start, n_days)
    try:  # the fast path: C-level loops over well-formed rows
        offsets: list[int] = [index[row["iday"]] for row in rows]
        flat: list[int] = [row[name] for row in rows for name in COUNTERS]
        well_formed = (len(set(offsets)) == len(offsets) and set(map(type, flat)) <= {int}
                       and (not flat or (min(flat) >= 0 and max(flat) <= INT64_MAX)))
    except (KeyError, TypeError, IndexError):
        well_formed = False
    if not well_formed:
        _diagnose(rows, start, n_days, _where(link_key, platform))
        raise AssertionError("unreachable: _diagnose raises")  # pragma: no cover
    return offsets, flat


@functools.lru_cache(maxsize=256)
def _day_index(start: dt.date, n_days: int) -> dict[str, int]:
    return {(start + dt.timedelta(days=i)).isoformat(): i for i in range(n_days)}


def _diagnose(rows: Sequence[Any], start: dt.date | None, n_days: int, where: str) -> None:
    """Raise for the first row that breaks the contract (``start=None``: check the day's form only)."""
    seen: dict[str, int] = {}
    last = None if start is None else start + dt.timedelta(days=n_days - 1)
    for position, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ResponseFormatError(f"{where}: row {position} is not an object; got {_shape(row)}")
        if "iday" not in row:
            raise ResponseFormatError(f"{where}: row {position} has no 'iday': {_shape(row)}")
        iday = row["iday"]
        if not isinstance(iday, str) or not _ISO_DAY.fullmatch(iday):
            raise ResponseFormatError(f"{where}: 'iday' must be a 'yyyy-MM-dd' string; got {_shape(iday)}")
        try:
            day = dt.date.fromisoformat(iday)
        except ValueError:
            raise ResponseFormatError(f"{where}: 'iday' is not a calendar day; got {iday!r}") from None
        if start is not None and last is not None and not start <= day <= last:
            raise ResponseFormatError(f"{where}: 'iday' {iday!r} is outside the range asked, "
                                      f"{start.isoformat()} to {last.isoformat()}")
        if iday in seen:
            raise ResponseFormatError(f"{where}: the day {iday!r} was sent twice (rows {seen[iday]} and {position})")
        seen[iday] = position
        for name in COUNTERS:
            if name not in row:
                raise ResponseFormatError(f"{where}: the row of {iday} lacks {name!r}; got {_shape(row)}")
            value = row[name]
            if type(value) is not int:
                raise ResponseFormatError(f"{where}: {name} of {iday} must be an integer; got {_shape(value)}")
            if not 0 <= value <= INT64_MAX:
                raise ResponseFormatError(f"{where}: {name} of {iday} must be from 0 to {INT64_MAX}; got {value!r}")


def _where(link_key: str | None, platform: str | None) -> str:
    if link_key is None:
        return "stat answer"
    return f"stat answer of link {link_key!r}" + ("" if platform is None else f", platform {platform!r}")


def _shape(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:120] + "…"
