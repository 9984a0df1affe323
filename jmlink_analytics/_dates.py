"""Date arguments and the API's calendar: one way to read a date, one idea of "today".

The API counts days in China time (UTC+8, no daylight saving), so "today" and
"yesterday" are computed there, whatever the machine's time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    import numpy as np

__all__ = ["CHINA_TZ", "DateLike", "china_today", "format_date", "to_date"]

#: The API's time zone: China Standard Time, UTC+8 all year.
CHINA_TZ = dt.timezone(dt.timedelta(hours=8), name="UTC+08:00")

#: What a date argument may be: a "yyyy-MM-dd" string, a datetime.date or datetime.datetime
#: (pandas.Timestamp is a datetime), or a numpy.datetime64.
DateLike: TypeAlias = "str | dt.date | np.datetime64"

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ALLOWED = "a 'yyyy-MM-dd' string, datetime.date, datetime.datetime or pandas.Timestamp"


def china_today(now: dt.datetime | None = None) -> dt.date:
    """Return today's date in China time (UTC+8).

    Parameters
    ----------
    now : datetime, optional
        The moment to convert (aware, or naive meaning UTC); the current time by default.
    """
    if now is None:
        now = dt.datetime.now(dt.UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return now.astimezone(CHINA_TZ).date()


def to_date(value: DateLike, name: str) -> dt.date:
    """Read one date argument, or raise an error naming the argument.

    Parameters
    ----------
    value : str, date, datetime or pandas.Timestamp
        A ``"yyyy-MM-dd"`` string or a date-like object; the time of day is dropped.
    name : str
        The argument's name, used in the error message.

    Raises
    ------
    TypeError
        When ``value`` is of another type (``None`` included).
    ValueError
        When a string is not a real ``yyyy-MM-dd`` date, or the value is ``NaT``.
    """
    if isinstance(value, str):
        if not _ISO_DATE.fullmatch(value):
            raise ValueError(f"{name} must be {_ALLOWED}; got {value!r}")
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"{name} is not a real calendar date: {value!r} ({exc})") from None
    if isinstance(value, dt.datetime):  # pandas.Timestamp is a datetime subclass
        if value != value:  # NaT compares unequal to itself
            raise ValueError(f"{name} must be {_ALLOWED}; got NaT")
        return value.date()
    if isinstance(value, dt.date):
        return value
    kind = type(value).__name__
    if kind == "NaTType":
        raise ValueError(f"{name} must be {_ALLOWED}; got NaT")
    if kind == "datetime64":  # numpy scalar
        return to_date(str(value)[:10], name)
    raise TypeError(f"{name} must be {_ALLOWED}; got {kind} {value!r}")


def format_date(value: dt.date) -> str:
    """Format a date the way the API expects it: ``yyyy-MM-dd``."""
    return value.strftime("%Y-%m-%d")
