"""Adapting to the limit the server really enforces: cut the send rate on a 3006, grow it back cubically.

The configured window (``rate_limits``) is what the client *believes*; another machine on the
same appKey, or a gateway stricter than documented, makes the server refuse earlier. A refusal
that our own window allowed is a signal, as a lost packet is to TCP: the send rate is cut to
``BETA`` times the rate at which we were sending, and then grows back along a cubic curve
(TCP CUBIC, RFC 8312; AWS SDKs' adaptive retry mode uses the same curve), slowly near the
rate that was refused, faster once well past it. While a cut is in force, calls of that
endpoint are paced at that rate (a virtual schedule with a burst of :data:`BURST_S` seconds'
worth); once the curve passes the configured ``calls`` per second, pacing ends.

The state is one row per endpoint in the slot table, so every process of the appKey sharing
the table slows down together. This module holds the arithmetic only.

Constants (the published CUBIC ones): ``C = 0.4`` (calls/s per s³), ``BETA = 0.7``.
"""

from __future__ import annotations

__all__ = ["BETA", "BURST_S", "MEASURE_S", "MIN_RATE", "SCALE", "cut_rate", "paced_rate"]

#: What a refusal leaves of the rate we were sending at.
BETA = 0.7
#: The cubic's scale, calls per second per second cubed.
SCALE = 0.4
#: The slowest pace, calls per second: a refused endpoint is still tried this often.
MIN_RATE = 0.5
#: Paced calls may leave this many seconds' worth at once (a burst), as a token bucket of one second.
BURST_S = 1.0
#: The send rate at a refusal is measured over this trailing span.
MEASURE_S = 1.0


def _zero_point(w_max: float) -> float:
    """Seconds after a cut until the curve is back at ``w_max``."""
    return (w_max * (1 - BETA) / SCALE) ** (1 / 3)


def paced_rate(w_max: float, cut_at: float, now: float) -> float:
    """The allowed send rate (calls/s) at ``now``, after a cut at ``cut_at`` from ``w_max``.

    ``BETA * w_max`` right after the cut, ``w_max`` again after the zero point, then faster.
    """
    elapsed = max(0.0, now - cut_at)
    return max(MIN_RATE, SCALE * (elapsed - _zero_point(w_max)) ** 3 + w_max)


def cut_rate(measured: float, current: float | None) -> float:
    """The ``w_max`` of a new cut: the rate we were sending at (never above the pace then in force)."""
    rate = measured if current is None else min(measured, current)
    return max(rate, MIN_RATE / BETA)
