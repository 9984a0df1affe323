"""Client-side sliding-window rate limits, one independent window per endpoint.

Built on pyrate-limiter's in-memory log bucket, which admits a call only while the
trailing window holds fewer than ``calls`` calls: unlike a token bucket it never lets a
burst exceed what the server's sliding window allows. Each endpoint gets its own
``Limiter`` (pyrate-limiter 4 puts every name into one shared bucket otherwise).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from pyrate_limiter import InMemoryBucket, Limiter, Rate
from pyrate_limiter.limiter import SingleBucketFactory

__all__ = ["DEFAULT_RATE_LIMITS", "EndpointLimiter", "normalize_rate_limits"]

logger = logging.getLogger("jmlink_analytics")

#: The documented limits: calls per window of seconds, per appKey and endpoint.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {"links": (100, 60.0), "stats": (500, 60.0)}

#: Extra width of the client's window beyond the server's. The server counts arrival
#: times, the client counts send times; the margin absorbs the jitter between the two.
_MARGIN_FRACTION = 0.01
_MARGIN_MIN_S = 0.05
#: How often (in calls) timestamps older than the window are dropped from the bucket.
_LEAK_EVERY = 256


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
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
            raise ValueError(f"rate_limits[{name!r}] seconds must be a number > 0; got {seconds!r}")
        limits[name] = (calls, float(seconds))
    return limits


class EndpointLimiter:
    """A blocking sliding-window limit for one endpoint, shared by all threads of a client.

    Parameters
    ----------
    name : str
        The endpoint's name, for log lines.
    calls, seconds : int, float
        At most ``calls`` requests in any trailing window of ``seconds``.
    """

    def __init__(self, name: str, calls: int, seconds: float):
        self.name = name
        self.calls = calls
        self.seconds = seconds
        window_ms = round(seconds * 1000 * (1 + _MARGIN_FRACTION) + _MARGIN_MIN_S * 1000)
        self._bucket = InMemoryBucket([Rate(calls, window_ms)])
        # No background leak thread (pyrate-limiter starts one with its own asyncio loop per
        # bucket): old timestamps are dropped inline, every _LEAK_EVERY calls.
        self._limiter = Limiter(SingleBucketFactory(self._bucket, schedule_leak=False), buffer_ms=5)
        self._calls_since_leak = 0

    def acquire(self) -> float:
        """Block until a request may be sent; return the seconds waited."""
        started = time.monotonic()
        if not self._limiter.try_acquire(self.name, blocking=True):
            raise RuntimeError(f"rate limiter for {self.name!r} refused a single call")  # cannot happen: weight 1
        waited = time.monotonic() - started
        self._calls_since_leak += 1
        if self._calls_since_leak >= _LEAK_EVERY:
            self._calls_since_leak = 0
            self._bucket.leak(self._bucket.now())
        if waited > 0.5:
            logger.debug("rate limit %s: waited %.2f s for a slot (%d calls / %.0f s)",
                         self.name, waited, self.calls, self.seconds)
        return waited

    def close(self) -> None:
        """Forget the recorded calls."""
        self._bucket.flush()
