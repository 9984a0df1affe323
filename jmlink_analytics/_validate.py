"""Every argument and frame check, in one message style: "<name> must be <what is allowed>; got <value>".

Used by every room, from the HTTP client (which has no pandas) up to the dashboard, so this
module imports pandas only inside the frame checks.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .schema import COUNTERS, METRICS, PLATFORMS

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "check_int", "check_link_key", "check_link_keys", "check_metric", "check_platform", "check_platforms",
    "check_stats", "check_top", "normalize_by", "path_segment",
]



def check_int(value: Any, name: str, low: int, high: int | None = None) -> int:
    """Return ``value`` if it is an int (numpy ints included, bools not) from ``low`` to ``high``."""
    allowed = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):  # numpy ints are Integral too
        raise TypeError(f"{name} must be {allowed}; got {type(value).__name__} {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {allowed}; got {value!r}")
    return value


def check_top(top: Any, name: str = "top", *, allow_none: bool = False) -> int | None:
    """Return ``top`` as an int >= 1 (or ``None`` when ``allow_none``): how many groups to show."""
    if top is None and allow_none:
        return None
    return check_int(top, name, 1)


def check_platform(platform: Any, name: str = "platform") -> str:
    """Return ``platform`` if it is one of ``all``, ``ios``, ``android``, else raise ``ValueError``."""
    if not isinstance(platform, str) or platform not in PLATFORMS:
        raise ValueError(f"{name} must be one of 'all', 'ios', 'android'; got {platform!r}")
    return platform


def check_link_key(link_key: Any, name: str = "link_key") -> str:
    """Return ``link_key`` if it is a non-empty string without control characters."""
    if not isinstance(link_key, str):
        raise TypeError(f"{name} must be a non-empty string; got {type(link_key).__name__} {link_key!r}")
    if not link_key or not link_key.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in link_key):
        raise ValueError(f"{name} must be a non-empty string without control characters; got {link_key!r}")
    return link_key


def path_segment(value: str) -> str:
    """Percent-encode ``value`` as exactly one path segment ('/' included; '.' and '..' too)."""
    encoded = quote(value, safe="")
    if encoded in (".", ".."):
        encoded = encoded.replace(".", "%2E")
    return encoded


def check_link_keys(link_keys: Any, name: str = "link_keys") -> list[str] | None:
    """``None``, or the sorted unique link keys of a string, list, tuple, set, Series, Index or array."""
    if link_keys is None:
        return None
    if isinstance(link_keys, str):
        link_keys = [link_keys]
    elif hasattr(link_keys, "tolist") and not isinstance(link_keys, dict):  # pandas Series/Index, numpy array
        link_keys = list(link_keys.tolist())
    elif not isinstance(link_keys, (list, tuple, set, frozenset)):
        raise TypeError(f"{name} must be None, a link key string, or a list, tuple, set, pandas Series/Index "
                        f"or numpy array of link key strings; got {type(link_keys).__name__}")
    for i, key in enumerate(link_keys):
        check_link_key(key, f"{name}[{i}]")
    return sorted(set(link_keys))


def check_platforms(platform: Any, name: str = "platform") -> list[str]:
    """The requested platforms (one, or a non-empty list), unique, in the order all, ios, android."""
    if isinstance(platform, str):
        values = [check_platform(platform, name)]
    elif isinstance(platform, (list, tuple, set, frozenset)) or hasattr(platform, "tolist"):
        values = list(platform)
        if not values:
            raise ValueError(f"{name} must be 'all', 'ios', 'android' or a non-empty list of them; got an empty list")
        for value in values:
            check_platform(value, name)
    else:
        values = [check_platform(platform, name)]
    return [p for p in PLATFORMS if p in values]


def check_metric(metric: Any, name: str = "metric", allowed: Sequence[str] = METRICS) -> str:
    """Return ``metric`` if it is one of ``allowed``, else raise naming the argument and the choices."""
    if not isinstance(metric, str):
        raise TypeError(f"{name} must be one of {', '.join(allowed)}; got {type(metric).__name__} {metric!r}")
    if metric not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {metric!r}")
    return metric


def normalize_by(by: Any, name: str = "by") -> list[str]:
    """``by`` as a list of column names (``None`` -> ``[]``), each named once."""
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    if (isinstance(by, Sequence) or hasattr(by, "tolist")) and all(isinstance(c, str) for c in by):
        columns = list(by)
        if len(set(columns)) != len(columns):
            raise ValueError(f"{name} must name each column once; got {columns}, which names a column more than once")
        return columns
    raise TypeError(f"{name} must be a column name or a list of column names; got {by!r}")

def check_stats(stats: Any, *, need_date: bool = True, name: str = "stats") -> pd.DataFrame:
    """Check the stats table's type and columns; return it (``date`` converted to datetime64 if needed).

    Raises
    ------
    TypeError
        When ``stats`` is not a DataFrame.
    ValueError
        When a counter (or ``date``) column is missing or of the wrong kind.
    """
    import pandas as pd

    if not isinstance(stats, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame of fetch_stats' shape; got {type(stats).__name__}")
    required = (*COUNTERS, "date") if need_date else COUNTERS
    missing = [c for c in required if c not in stats.columns]
    if missing:
        raise ValueError(f"{name} lacks the column(s) {', '.join(missing)}; expected fetch_stats' columns "
                         f"link_key, platform, date, {', '.join(COUNTERS)}, is_partial")
    for column in COUNTERS:
        dtype = stats[column].dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            raise ValueError(f"{name} column {column!r} must hold numbers; got dtype {dtype}")
    if need_date and not pd.api.types.is_datetime64_any_dtype(stats["date"].dtype):
        try:
            dates = pd.to_datetime(stats["date"])
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{name} column 'date' must hold dates: {exc}") from None
        stats = stats.assign(date=dates)
    if need_date and getattr(stats["date"].dtype, "tz", None) is not None:  # calendar days: wall time, no zone
        stats = stats.assign(date=stats["date"].dt.tz_localize(None))
    if need_date and stats["date"].isna().any():
        raise ValueError(f"{name} column 'date' has missing values")
    return stats
