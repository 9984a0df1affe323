"""The day-block format of the stats cache: 32 consecutive days of one link and platform per row.

A block holds the four counters of each day (int64, little-endian, ``[4][32]``) and a state
byte per day: 0 never fetched, 1 fetched while it could still change, 2 final. Storing blocks
rather than one SQLite row per day keeps a warm read of a year of 1,000 links to some 12,000
rows, decoded with numpy instead of 365,000 Python tuples. Nothing here touches SQLite.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import NamedTuple

import numpy as np

__all__ = ["BLOCK", "FINAL", "NEVER", "PARTIAL", "DayBlock", "block_span", "date_of", "day_number", "decode", "empty",
           "merge"]

BLOCK = 32  # days per block
NEVER, PARTIAL, FINAL = 0, 1, 2
_COUNTERS = np.dtype("<i8")


class DayBlock(NamedTuple):
    """Stored days, one entry per day, as arrays of equal length (see ``Store.load_days``).

    Attributes
    ----------
    key_index : numpy.ndarray
        Index of the day's link in the requested link keys.
    platform : numpy.ndarray
        Index of the platform in ``("all", "ios", "android")``.
    offset : numpy.ndarray
        Days since the requested start.
    counters : numpy.ndarray
        ``(4, n)`` int64: exposure, click, open, install.
    final : numpy.ndarray
        bool: ``False`` for days fetched while they could still change.
    """

    key_index: np.ndarray
    platform: np.ndarray
    offset: np.ndarray
    counters: np.ndarray
    final: np.ndarray


#: Day numbers count days from this date; the store keys its blocks by them.
EPOCH = dt.date(1970, 1, 1)


def day_number(value: dt.date) -> int:
    """The day number of ``value`` (days since :data:`EPOCH`)."""
    return (value - EPOCH).days


def date_of(day: int | None) -> dt.date | None:
    """The date of a day number (``None`` stays ``None``)."""
    return None if day is None else EPOCH + dt.timedelta(days=day)


def empty() -> DayBlock:
    """A :class:`DayBlock` without days."""
    none = np.array([], dtype=np.int64)
    return DayBlock(none, none, none, np.zeros((4, 0), dtype=np.int64), none.astype(bool))


def block_span(first_day: int, n_days: int) -> tuple[int, int]:
    """The first and last block that days ``first_day .. first_day + n_days - 1`` fall in."""
    return first_day // BLOCK, (first_day + n_days - 1) // BLOCK


def merge(first_day: int, counters: np.ndarray, final: np.ndarray,
          existing: Iterable[tuple[int, bytes, bytes]]) -> list[tuple[int, bytes, bytes, int, int, int]]:
    """Write consecutive days over the blocks they fall in.

    Parameters
    ----------
    first_day : int
        The first day, in days since 1970-01-01.
    counters : numpy.ndarray
        ``(4, n)`` counters of days ``first_day .. first_day + n - 1``.
    final : numpy.ndarray
        ``n`` booleans.
    existing : iterable of (block, counters, state)
        The stored blocks among those the days fall in.

    Returns
    -------
    list of (block, counters, state, fetched, first_day, last_day)
        The blocks to store: their bytes, how many of their days were fetched, and the first
        and last fetched day.
    """
    n_days = counters.shape[1]
    b0, b1 = block_span(first_day, n_days)
    span = np.zeros((4, (b1 - b0 + 1) * BLOCK), dtype=_COUNTERS)
    state = np.zeros(span.shape[1], dtype=np.uint8)
    for block, blob, flags in existing:
        j = (block - b0) * BLOCK
        span[:, j:j + BLOCK] = np.frombuffer(blob, dtype=_COUNTERS).reshape(4, BLOCK)
        state[j:j + BLOCK] = np.frombuffer(flags, dtype=np.uint8)
    at = first_day - b0 * BLOCK
    span[:, at:at + n_days] = counters
    state[at:at + n_days] = np.where(np.asarray(final, dtype=bool), FINAL, PARTIAL)
    rows = []
    for i, block in enumerate(range(b0, b1 + 1)):
        j = i * BLOCK
        fetched = np.flatnonzero(state[j:j + BLOCK])
        rows.append((block, span[:, j:j + BLOCK].tobytes(), state[j:j + BLOCK].tobytes(), len(fetched),
                     block * BLOCK + int(fetched[0]), block * BLOCK + int(fetched[-1])))
    return rows


def decode(found: list[tuple[int, int, int, bytes, bytes]], key_index: Mapping[int, int], first_day: int,
           last_day: int) -> DayBlock:
    """Turn stored ``(key_id, platform, block, counters, state)`` rows into the fetched days in a range.

    Parameters
    ----------
    found : list of tuple
        Stored blocks.
    key_index : mapping
        ``key_id`` -> index of the link in the requested keys.
    first_day, last_day : int
        The requested range, in days since 1970-01-01, inclusive.
    """
    if not found:
        return empty()
    n = len(found)
    key_ids, platform, block = (np.fromiter((r[i] for r in found), dtype=np.int64, count=n) for i in range(3))
    counters = np.frombuffer(b"".join(r[3] for r in found), dtype=_COUNTERS).reshape(n, 4, BLOCK)
    state = np.frombuffer(b"".join(r[4] for r in found), dtype=np.uint8).reshape(n, BLOCK)
    offset = block[:, None] * BLOCK + np.arange(BLOCK) - first_day  # (blocks, 32)
    keep = (state != NEVER) & (offset >= 0) & (offset <= last_day - first_day)
    rows_of, days_of = np.nonzero(keep)
    lookup = np.full(int(key_ids.max()) + 1, -1, dtype=np.int64)
    lookup[list(key_index)] = list(key_index.values())
    return DayBlock(lookup[key_ids[rows_of]], platform[rows_of], offset[rows_of, days_of],
                    counters[rows_of, :, days_of].T.astype(np.int64), state[rows_of, days_of] == FINAL)
