"""Every argument and frame check, in one message style: "<name> must be <what is allowed>; got <value>".

Used by every room, from the HTTP client (which has no pandas) up to the dashboard, so this
module imports pandas only inside the frame checks.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from .schema import COUNTERS, METRICS, PLATFORMS

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "check_base_url", "check_credential", "check_finite",
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


def check_finite(value: Any, name: str) -> Any:
    """Return ``value`` unless it is a float that is infinite or NaN (other types pass through)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    return value


def check_credential(value: str, name: str) -> str:
    """Return ``value`` if HTTP Basic auth can carry it: printable latin-1, and no ':' in the user name.

    The message shows ``app_key`` but never the value of another credential (the master secret).
    """
    allowed = "printable latin-1 characters" + (", without ':'" if name == "app_key" else "")
    for position, ch in enumerate(value):
        code = ord(ch)
        if code < 32 or 127 <= code < 160 or code > 255 or (ch == ":" and name == "app_key"):
            shown = f"{value!r}, with {ch!r}" if name == "app_key" else "a value with a character it cannot carry"
            raise ValueError(f"{name} must be {allowed} (it is sent as HTTP Basic auth); "
                             f"got {shown} at position {position}")
    return value


def check_base_url(base_url: Any, name: str = "base_url") -> str:
    """Return ``base_url`` without a trailing '/' if it is a plain http(s) URL: no query, fragment,
    credentials, spaces or control characters, and a port from 1 to 65535 if any."""
    allowed = "an http:// or https:// URL without query, fragment or credentials"
    if not isinstance(base_url, str):
        raise TypeError(f"{name} must be {allowed}; got {type(base_url).__name__}")
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in base_url):
        raise ValueError(f"{name} must be {allowed}, without spaces or control characters; got {base_url!r}")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be {allowed}; got {base_url!r}")
    if "@" in parts.netloc:
        raise ValueError(f"{name} must not carry credentials; pass app_key and master_secret instead")
    if parts.query or parts.fragment or "?" in base_url or "#" in base_url:
        raise ValueError(f"{name} must be {allowed}; got {base_url!r}, which has a query or fragment")
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        port = 0
    if port == 0 or parts.netloc.endswith(":"):
        raise ValueError(f"{name} must be {allowed}, with a port from 1 to 65535 if any; got {base_url!r}")
    return base_url.rstrip("/")


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
    """Return ``link_key`` if it is a non-empty string without control characters, other than '.' and '..'.

    '.' and '..' cannot be sent as a path segment: HTTP libraries and proxies resolve them
    (``/v1/links/../stat`` becomes ``/v1/stat``), so they are refused before anything is sent.
    """
    allowed = "a non-empty string without control characters, other than '.' and '..'"
    if not isinstance(link_key, str):
        raise TypeError(f"{name} must be {allowed}; got {type(link_key).__name__} {link_key!r}")
    if (not link_key.strip() or link_key in (".", "..")
            or any(ord(ch) < 32 or ord(ch) == 127 for ch in link_key)):
        raise ValueError(f"{name} must be {allowed}; got {link_key!r}")
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
