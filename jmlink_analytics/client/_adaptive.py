"""Adapting to the limit the server really enforces: a learned window on a 3006, grown back cubically.

The configured window (``rate_limits``: ``calls`` per ``seconds``) is what the client
*believes*; another machine on the same appKey, or a gateway stricter than documented, makes
the server refuse earlier. A refusal that our own window allowed is a signal, as a lost packet
is to TCP: the endpoint's window shrinks to a *learned* number of calls per ``seconds`` (a
congestion window), then grows back along TCP CUBIC's curve (RFC 8312; AWS SDKs' adaptive
retry mode uses the same curve), slowly near the count that was refused, faster once well
past it (the curve is CUBIC's over the rate, calls per second, and the window allows the
curve's rate times ``seconds``). Once the curve passes the configured ``calls``, the learned
window is forgotten.

Why a window, not a paced rate: the API counts calls in a sliding window, which admits a
window's calls at once. A uniform pace at the same mean rate spreads each window's calls over
the window, and a run of R calls then takes ``R / rate`` instead of the floor
``(R - 1) // calls x seconds`` (1.24 x the floor for 5 windows' worth: bench_adaptive).

What the window restarts at, on a refusal: the calls of the last window the server did not
refuse (answered ones and those still in flight; every process's sharing the table): what the
server just showed it accepts, its limit or this appKey's share of it when another machine
spends the rest. Counting the calls in flight overshoots a little (a few refusals, each of
which measures again); leaving them out undershot, and an undershoot costs a whole window
(bench_adaptive). That is a measure, not a cut of the current window: refusals that keep
coming while the server's window drains measure about the same count again, instead of
cutting the window down to its floor as cuts of cuts did (before: 5 of 20 calls admitted in the
window after the first refusal). A refused call keeps its slot until the server frees its
first one (our oldest admitted call leaves the window), so refusals are spaced, never a stream.

Growing back by time alone is too slow when the room comes back at once (the other machine's
job ended): a window learned at a few calls held a process to a trickle in a window the
server had wholly free, and cost a whole window (bench_adaptive). So whenever every call in
the window was admitted (none in flight, no refusal held), the learned window doubles, up to
the configured ``calls``, as TCP's slow start; an overshoot is refused and measures again.

The state is one row per endpoint in the slot table, so every process of the appKey sharing
the table slows down together. This module holds the arithmetic only.

Constants: ``SCALE = 0.4`` (calls/s per s cubed) and ``BETA = 0.7``, CUBIC's.
"""

from __future__ import annotations

import math

__all__ = ["BETA", "MIN_RATE", "SCALE", "cut_window", "learned_calls", "min_calls"]

#: The learned rate restarts at the rate admitted, which the cubic reaches again after its
#: concave part; its plateau, ``w_max``, is that rate over BETA (CUBIC's multiplicative decrease).
BETA = 0.7
#: The cubic's scale, calls per second per second cubed (CUBIC's C).
SCALE = 0.4
#: The slowest learned rate, calls per second: a refused endpoint is still tried this often.
MIN_RATE = 0.5


def min_calls(seconds: float) -> int:
    """The smallest learned window of ``seconds``: :data:`MIN_RATE` calls per second, and at least one call."""
    return max(1, math.ceil(MIN_RATE * seconds))


def _zero_point(w_max: float) -> float:
    """Seconds after a cut until the curve is back at ``w_max``."""
    return (w_max * (1 - BETA) / SCALE) ** (1 / 3)


def learned_calls(w_max: float, cut_at: float, now: float, seconds: float) -> int:
    """The calls allowed per window of ``seconds`` at ``now``, after a cut at ``cut_at`` with plateau ``w_max``.

    The curve's rate (calls/s) over the window: ``BETA * w_max`` right after the cut, ``w_max``
    again after the zero point, then more.
    """
    elapsed = max(0.0, now - cut_at)
    rate = SCALE * (elapsed - _zero_point(w_max)) ** 3 + w_max
    return max(min_calls(seconds), math.floor(rate * seconds + 1e-9))


def cut_window(admitted: int, seconds: float) -> float:
    """The plateau ``w_max`` (calls/s) of a new cut, from the calls of the last window the server did not refuse.

    The window restarts at ``admitted`` (at least :func:`min_calls`): what the server just
    showed it accepts.
    """
    return max(admitted, min_calls(seconds)) / seconds / BETA
