"""The client's settings as small validated value objects: :class:`Timeouts`, :class:`Retries`, :class:`RateLimits`.

Each is frozen and checks its fields when built, with the message style of
:mod:`jmlink_analytics._validate` ("max_retries must be an integer >= 0; got -1"), so a bad
setting fails before any request. :class:`~jmlink_analytics.client.JMLinkClient` builds them
from its keyword arguments (or takes them whole) and hands them to its transport; changing a
setting through the client's properties builds a new object, so it is checked the same way.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._validate import check_int

__all__ = ["DEFAULT_MAX_ANSWER_BYTES", "DEFAULT_RATE_LIMITS", "Limits", "RateLimits", "Retries", "Timeouts",
           "normalize_rate_limits"]

#: The documented limits: calls per window of seconds, per appKey and endpoint.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {"links": (100, 60.0), "stats": (500, 60.0)}


def normalize_rate_limits(rate_limits: Mapping[str, tuple[int, float]] | None) -> dict[str, tuple[int, float]]:
    """Validate a ``{"links": (calls, seconds), "stats": (calls, seconds)}`` mapping.

    Missing endpoints take the documented default; ``None`` means all defaults.

    Raises
    ------
    ValueError, TypeError
        For unknown endpoint names or limits that are not a positive ``(calls, seconds)`` pair.
    """
    limits = dict(DEFAULT_RATE_LIMITS)
    if rate_limits is None:
        return limits
    if not isinstance(rate_limits, Mapping):
        raise TypeError(
            "rate_limits must be a mapping like {'links': (100, 60), 'stats': (500, 60)} or None; "
            f"got {type(rate_limits).__name__}"
        )
    for name, value in rate_limits.items():
        if name not in DEFAULT_RATE_LIMITS:
            raise ValueError(f"rate_limits keys must be 'links' or 'stats'; got {name!r}")
        try:
            calls, seconds = value
        except (TypeError, ValueError):
            raise TypeError(f"rate_limits[{name!r}] must be a (calls, seconds) pair; got {value!r}") from None
        if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1:
            raise ValueError(f"rate_limits[{name!r}] calls must be an integer >= 1; got {calls!r}")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < float("inf"):
            raise ValueError(f"rate_limits[{name!r}] seconds must be a finite number > 0; got {seconds!r}")
        limits[name] = (calls, float(seconds))
    return limits


#: The largest answer, counted after decoding (gzip), the client reads: 16 MiB. A 500-record
#: listing page is about 0.4 MB and a 3,660-day stat answer about 0.4 MB, so both fit 40 times.
DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024


def _seconds(value: Any, name: str, *, zero: bool = False) -> float:
    """``value`` as a finite number of seconds (> 0, or >= 0 with ``zero``), else ValueError naming it."""
    low_ok = (lambda v: v >= 0) if zero else (lambda v: v > 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low_ok(value) and value < math.inf):
        raise ValueError(f"{name} must be a finite number of seconds {'>=' if zero else '>'} 0; got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Timeouts:
    """How long one request may wait.

    Parameters
    ----------
    connect : float, default 30.0
        Seconds to wait for a connection.
    read : float, default 30.0
        Seconds to wait for each read of the answer.
    deadline : float, default 60.0
        Seconds one request may take in all: connecting, sending, the status line, the
        headers and the whole body. Past it the request counts as a timeout (and is retried
        like one).
    """

    connect: float = 30.0
    read: float = 30.0
    deadline: float = 60.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "deadline"):
            object.__setattr__(self, name, _seconds(getattr(self, name), name if name == "deadline" else "timeout"))

    @classmethod
    def of(cls, timeout: float | tuple[float, float], deadline: float) -> Timeouts:
        """Build from the client's ``timeout`` (seconds, or a ``(connect, read)`` pair) and ``deadline``.

        Parameters
        ----------
        timeout : float or (float, float)
            As :class:`~jmlink_analytics.client.JMLinkClient` takes it.
        deadline : float
            Seconds for the whole request.

        Returns
        -------
        Timeouts
        """
        values = timeout if isinstance(timeout, tuple) else (timeout,)
        if len(values) not in (1, 2) or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf for v in values
        ):
            raise ValueError(f"timeout must be a number of seconds > 0 or a (connect, read) pair; got {timeout!r}")
        return cls(values[0], values[-1], _seconds(deadline, "deadline"))

    @property
    def timeout(self) -> float | tuple[float, float]:
        """The client's ``timeout``: one number when connect and read are equal, else the pair."""
        return self.connect if self.connect == self.read else (self.connect, self.read)


@dataclass(frozen=True)
class Retries:
    """How a request that failed for a passing reason is sent again.

    Parameters
    ----------
    max_retries : int, default 5
        How many times a request that failed for a passing reason (3011, a 5xx without
        JSON, a timeout, a refused or reset connection) is sent again; 3006 answers are
        waited out and retried up to the same number of times.
    backoff_factor : float, default 0.5
        The first retry waits about this many seconds, doubling on each retry.
    backoff_max : float, default 30.0
        The longest wait between two retries.
    """

    max_retries: int = 5
    backoff_factor: float = 0.5
    backoff_max: float = 30.0

    def __post_init__(self) -> None:
        check_int(self.max_retries, "max_retries", 0)
        for name in ("backoff_factor", "backoff_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
            object.__setattr__(self, name, float(value))

    def backoff_ceiling(self, failures: int) -> float:
        """The longest wait before retry number ``failures`` (from 1): capped exponential."""
        return min(self.backoff_max, self.backoff_factor * 2 ** (failures - 1))


@dataclass(frozen=True)
class RateLimits:
    """Calls per window of seconds, per endpoint (the documented limits by default).

    Parameters
    ----------
    links : (int, float), default (100, 60.0)
        ``GET /v1/links``: at most this many calls in any trailing window of the seconds.
    stats : (int, float), default (500, 60.0)
        ``GET /v1/links/{link_key}/stat``.
    """

    links: tuple[int, float] = DEFAULT_RATE_LIMITS["links"]
    stats: tuple[int, float] = DEFAULT_RATE_LIMITS["stats"]

    def __post_init__(self) -> None:
        checked = normalize_rate_limits({"links": self.links, "stats": self.stats})
        object.__setattr__(self, "links", checked["links"])
        object.__setattr__(self, "stats", checked["stats"])

    @classmethod
    def of(cls, rate_limits: RateLimits | Mapping[str, tuple[int, float]] | None) -> RateLimits:
        """Build from the client's ``rate_limits`` mapping (missing endpoints: the documented limit).

        Parameters
        ----------
        rate_limits : RateLimits, mapping or None
            ``{"links": (calls, seconds), "stats": (calls, seconds)}``; ``None``: the defaults.

        Returns
        -------
        RateLimits
        """
        if isinstance(rate_limits, RateLimits):
            return rate_limits
        return cls(**normalize_rate_limits(rate_limits))

    def as_dict(self) -> dict[str, tuple[int, float]]:
        """``{"links": (calls, seconds), "stats": (calls, seconds)}``."""
        return {"links": self.links, "stats": self.stats}


@dataclass(frozen=True)
class Limits:
    """What one answer may cost.

    Parameters
    ----------
    max_answer_bytes : int, default 16 MiB
        The largest answer read, counted after decoding (a gzip answer counts its
        decoded size) and enforced while reading: past it the answer is a
        :class:`~jmlink_analytics.errors.ResponseFormatError` naming the limit, and is not
        retried. The default holds a 500-record page or a 3,660-day answer 40 times over.
    """

    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES

    def __post_init__(self) -> None:
        check_int(self.max_answer_bytes, "max_answer_bytes", 1)


def replace(settings: Any, name: str, value: Any) -> Any:
    """A copy of ``settings`` with one field changed (and checked)."""
    return dataclasses.replace(settings, **{name: value})
