"""How unusual each day is: a weekday-aware trailing baseline per group, scored robustly.

:func:`jmlink_analytics.find_anomalies` (in :mod:`._episodes`) sums the counters per group and
day, builds a days x groups matrix of the metric and calls :func:`score_matrix`; this module
holds the method:

1. Partial days and days before a group's first activity are left out of the matrix.
2. Counters only: each group's weekday factors ``w[weekday]`` = the median, over the weeks,
   of the day's value / the centred 7-day median around it, normalized to average 1
   (1 everywhere with fewer than two values per weekday). Rates have no weekday factor.
3. ``expected`` = ``w[weekday]`` x the median of the previous ``window`` days' values divided
   by their own weekday factors (the day itself excluded).
4. Counters are compared on the square-root scale, where a count's noise is about the same
   at every level: ``score = (sqrt(actual) - sqrt(expected)) / scale``. ``scale`` is the
   group's typical spread: the median over its days of 1.4826 x the MAD of the window's
   sqrt(deseasonalized values) x sqrt(w), raised to :data:`COUNT_FLOOR` (1.5 x the Poisson
   noise on that scale, 0.5) and to :data:`COUNT_SHARE_FLOOR` x sqrt(expected) (30 %
   day-to-day demand noise; sqrt of the group's usual active day when that is larger, so a
   link back from an idle spell scores like one going idle, not like a surge). A day at zero
   thus scores at most about -6.7: the score saturates, which is why episodes are ranked by
   their impact, not by it. Rates: ``score = (actual - expected) / scale`` with the larger of
   the window's and the group's typical MAD of the rates, floored at 10 % of expected and 0.01.
5. Days with ``abs(score) > threshold`` are unusual. The days are scored in order, and an
   unusually low day is left out of the history of the days after it; while a group's window
   holds fewer than ``min_periods`` ordinary days (a long outage), its last baseline
   carries on, so the outage does not become the baseline and the return is no surge.

Cost: every median is taken over sorted windows of the days x groups matrix, a day (or a
chunk of days) at a time across all groups, so time and memory grow linearly in the rows
(``benchmarks/bench_anomalies.py``).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._ratio import ratio

__all__ = ["COUNT_FLOOR", "COUNT_SHARE_FLOOR", "MAD_SCALE", "RATE_FLOOR_MIN", "RATE_FLOOR_SHARE", "score_matrix",
           "weekday_factors"]

#: 1 / Phi^-1(3/4): makes the MAD of normal data estimate its standard deviation.
MAD_SCALE = 1.4826
#: Floor of the scale for counts on the square-root scale: 1.5 x the Poisson noise there (0.5),
#: so a quiet link's ordinary wobble (0 clicks when 4 are usual) is not unusual.
COUNT_FLOOR = 0.75
#: Floor of the scale for counts relative to the expected count: on the square-root scale 0.15 x sqrt(expected),
#: i.e. day-to-day demand varying by 30 %, which marketing traffic does; a link whose days happen to lie
#: close together does not make an ordinary wobble unusual.
COUNT_SHARE_FLOOR = 0.15
#: Floors of the scale for rates: this share of the expected rate, and at least this many rate units.
RATE_FLOOR_SHARE, RATE_FLOOR_MIN = 0.1, 0.01
#: Days of windows sorted at once when measuring a group's typical spread (bounds the memory).
_CHUNK_CELLS = 2_000_000


def _mid(ordered: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The median along the last axis of ``ordered`` (sorted, NaN last) over its first ``counts`` values; NaN at 0."""
    lo = (np.maximum(counts - 1, 0) // 2)[..., None]
    hi = np.minimum(counts // 2, ordered.shape[-1] - 1)[..., None]
    both = np.take_along_axis(ordered, lo, -1) + np.take_along_axis(ordered, hi, -1)
    return np.where(counts > 0, both[..., 0] / 2.0, np.nan)


def _mad(spreads: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The median absolute deviation along the last axis of ``spreads`` (sorted, NaN last)."""
    center = _mid(spreads, counts)
    return _mid(np.sort(np.abs(spreads - center[..., None]), axis=-1), counts)


def _nanmedian_columns(values: np.ndarray) -> np.ndarray:
    """The median of each column of a 2-D array, NaN ignored (NaN for an all-NaN column), without warnings."""
    if values.shape[0] == 0:
        return np.full(values.shape[1:], np.nan)
    clean = np.where(np.isfinite(values), values, np.nan).T
    return _mid(np.sort(clean, axis=-1), np.isfinite(clean).sum(axis=-1))


def weekday_factors(matrix: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """Per group, a multiplier per weekday (shape ``(7, groups)``, Monday first; average 1).

    The median over the weeks of each day's value / the centred 7-day median around it; 1 for
    every weekday of a group with fewer than two such ratios on some weekday, or a zero level.
    """
    n_days, n_groups = matrix.shape
    factors = np.ones((7, n_groups))
    if n_days < 14 or n_groups == 0:
        return factors
    level = np.full(matrix.shape, np.nan)  # the centred 7-day median, where all 7 days have a value
    windows = sliding_window_view(matrix, 7, axis=0)  # (days - 6, groups, 7)
    complete = np.isfinite(windows).all(axis=-1)
    level[3:n_days - 3] = np.where(complete, np.sort(windows, axis=-1)[..., 3], np.nan)
    relative = ratio(matrix, level)  # levels are >= 0: NaN where 0
    enough = np.ones(n_groups, dtype=bool)
    for day in range(7):
        rows = relative[weekday == day]
        enough &= np.isfinite(rows).sum(axis=0) >= 2
        factors[day] = _nanmedian_columns(rows) if len(rows) else np.nan
    factors = np.where(np.isfinite(factors) & (factors > 0), factors, np.nan)
    present = np.isfinite(factors)
    total = np.where(present, factors, 0.0).sum(axis=0)
    mean = ratio(total, present.sum(axis=0))
    factors = factors / np.where(np.isfinite(mean) & (mean > 0), mean, 1.0)
    ok = enough & np.isfinite(factors).all(axis=0)
    return np.where(ok[None, :], factors, 1.0)


def _typical_spread(spreads: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """Each group's typical spread: the median over its days of 1.4826 x the MAD of ``spreads``' trailing window.

    ``spreads`` is groups x days; the window of day ``d`` is days ``d - window`` .. ``d - 1``;
    a day counts when its window holds at least ``min_periods`` values. Sorted a chunk of
    groups at a time (contiguous rows: the fastest sort numpy has for short windows).
    """
    n_groups, n_days = spreads.shape
    padded = np.hstack([np.full((n_groups, window), np.nan), spreads])
    windows = sliding_window_view(padded, window, axis=1)[:, :n_days]  # (groups, days, window): a view
    typical = np.full(n_groups, np.nan)
    chunk = max(1, _CHUNK_CELLS // max(1, window * n_days))
    for first in range(0, n_groups, chunk):
        block = np.sort(windows[first:first + chunk], axis=-1)
        counts = np.isfinite(block).sum(axis=-1)
        mads = np.where(counts >= min_periods, MAD_SCALE * _mad(block, counts), np.nan)
        typical[first:first + chunk] = _mid(np.sort(mads, axis=-1), np.isfinite(mads).sum(axis=-1))
    return typical


def _sqrt_scale(values: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(values, 0.0))


def _identity(values: np.ndarray) -> np.ndarray:
    return values


def score_matrix(matrix: np.ndarray, weekday: np.ndarray, window: int, min_periods: int, is_rate: bool,
                 threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """``expected`` and ``score`` of every cell of a days x groups matrix (module docstring).

    Day by day (vectorized over the groups), so a day found unusually low is left out of
    the history of the days after it; while a group has fewer than ``min_periods`` ordinary days
    in its window (a long outage), its last baseline carries on.
    """
    n_days, n_groups = matrix.shape
    factors = np.ones(matrix.shape) if is_rate else weekday_factors(matrix, weekday)[weekday]
    plain = matrix / factors
    spread = _identity if is_rate else _sqrt_scale
    expected = np.full(matrix.shape, np.nan)
    score = np.full(matrix.shape, np.nan)
    if n_days == 0 or n_groups == 0:
        return expected, score
    clean = np.ascontiguousarray(plain.T)  # groups x days: each window a run of a row
    typical = _typical_spread(spread(clean), window, min_periods)
    level = _nanmedian_columns(np.where(plain > 0, plain, np.nan))  # the group's usual deseasonalized active day
    base, scatter = np.full(n_groups, np.nan), np.full(n_groups, np.nan)
    for day in range(1, n_days):
        ordered = np.sort(clean[:, max(0, day - window):day], axis=-1)
        counts = np.isfinite(ordered).sum(axis=-1)
        enough = counts >= min_periods
        base = np.where(enough, _mid(ordered, counts), base)
        scatter = np.where(enough, MAD_SCALE * _mad(spread(ordered), counts), scatter)
        current = matrix[day]
        with np.errstate(all="ignore"):
            if is_rate:
                expected[day] = base
                floor = np.fmax(RATE_FLOOR_SHARE * np.abs(base), RATE_FLOOR_MIN)
                scale = np.fmax(np.fmax(scatter, typical), floor)
                score[day] = (current - base) / scale
            else:
                expected[day] = base * factors[day]
                usual = np.fmax(np.maximum(expected[day], 0.0), level * factors[day])  # idle baseline: its usual day
                floor = np.fmax(COUNT_SHARE_FLOOR * np.sqrt(usual), COUNT_FLOOR)
                scale = np.fmax(typical * np.sqrt(factors[day]), floor)
                score[day] = (np.sqrt(np.maximum(current, 0.0)) - np.sqrt(np.maximum(expected[day], 0.0))) / scale
            dropped = score[day] < -threshold  # a surge stays: the median shrugs a few off, and a new level is learnt
        clean[dropped, day] = np.nan
    score = np.where(np.isfinite(matrix), score, np.nan)
    return expected, score
