"""Unusual days: a trailing rolling median and MAD per group, vectorized over a days x groups matrix.

:func:`jmlink_analytics.metrics.find_anomalies` checks the arguments, sums the counters per
group and day, and calls :func:`find`; the method is described in its docstring.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from ..schema import COUNTERS
from ._groups import rates_of

__all__ = ["COUNT_FLOOR", "MAD_SCALE", "RATE_FLOOR_MIN", "RATE_FLOOR_SHARE", "find", "robust_scores"]

#: 1 / Phi^-1(3/4): makes the MAD of normal data estimate its standard deviation.
MAD_SCALE = 1.4826
#: Floor of the scale for counts, on the log scale: this many times the Poisson noise of the expected count,
#: 1 / sqrt(expected + 1); so a quiet link's ordinary wobble (0 clicks when 4 are usual) is not unusual.
COUNT_FLOOR = 1.5
#: Floors of the scale for rates: this share of the expected rate, and at least this many rate units.
RATE_FLOOR_SHARE, RATE_FLOOR_MIN = 0.1, 0.01


def _median_of_sorted(ordered: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Median of each row of ``ordered`` (sorted, NaN last) over its first ``counts`` values."""
    rows = np.arange(len(ordered))
    return (ordered[rows, (counts - 1) // 2] + ordered[rows, counts // 2]) / 2.0


def robust_scores(values: np.ndarray, window: int, min_periods: int, *,
                  is_rate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Trailing rolling median and robust z-score of each cell of a days x groups matrix.

    Parameters
    ----------
    values : numpy.ndarray
        float, shape ``(days, groups)``, one row per calendar day; NaN where there is no value.
    window : int
        Days of history before each day (the day itself excluded).
    min_periods : int
        Values needed in the window to score a day.
    is_rate : bool
        Use the rate floor of the scale instead of the counters' Poisson floor.

    Returns
    -------
    expected, score : numpy.ndarray
        Same shape as ``values``; NaN where a day is not scored.
    """
    n_days, n_groups = values.shape
    expected = np.full(values.shape, np.nan)
    score = np.full(values.shape, np.nan)
    if n_days == 0 or n_groups == 0:
        return expected, score
    padded = np.vstack([np.full((window, n_groups), np.nan), values])
    history = sliding_window_view(padded, window, axis=0)[:n_days]  # history[d, g] = values[d-window:d, g]
    present = np.isfinite(padded)
    cumulative = np.vstack([np.zeros((1, n_groups), dtype=np.int64), np.cumsum(present, axis=0)])
    counts = cumulative[window:window + n_days] - cumulative[:n_days]  # values in days d-window .. d-1
    days, groups = np.nonzero(np.isfinite(values) & (counts >= min_periods))
    if len(days) == 0:
        return expected, score
    windows = history[days, groups]  # (cells, window), a copy
    k = counts[days, groups]
    median = _median_of_sorted(np.sort(windows, axis=1), k)
    current = values[days, groups]
    if is_rate:
        center, spread = median, _median_of_sorted(np.sort(np.abs(windows - median[:, None]), axis=1), k)
        floor = np.maximum(RATE_FLOOR_SHARE * np.abs(median), RATE_FLOOR_MIN)
    else:  # counts: on the log scale, where day-to-day changes are multiplicative
        logs = np.log1p(np.maximum(windows, 0.0))
        center = _median_of_sorted(np.sort(logs, axis=1), k)
        spread = _median_of_sorted(np.sort(np.abs(logs - center[:, None]), axis=1), k)
        floor = COUNT_FLOOR / np.sqrt(np.maximum(median, 0.0) + 1.0)  # Poisson noise of the expected count
        current = np.log1p(np.maximum(current, 0.0))
    local = MAD_SCALE * spread
    # A MAD of 14 days is a noisy estimate: where it comes out low, the group's typical MAD is used
    typical = pd.Series(local).groupby(groups).transform("median").to_numpy()
    scale = np.maximum(np.maximum(local, typical), floor)
    expected[days, groups] = median
    score[days, groups] = (current - center) / scale
    return expected, score


def find(daily: pd.DataFrame, keys: list[str], metric: str, *, window: int, threshold: float, min_periods: int,
         is_rate: bool) -> pd.DataFrame:
    """The unusual days of ``daily`` (keys, date, counters, is_partial; one row per group and day).

    Returns the ``keys`` columns, ``date``, ``value``, ``expected``, ``score``, sorted by
    ``abs(score)`` (largest first), then by the keys and the date.
    """
    columns = [*keys, "date", "value", "expected", "score"]
    value = rates_of(daily)[metric] if is_rate else daily[metric].to_numpy(dtype=np.float64)
    if daily.empty:
        out = daily[[*keys, "date"]].copy()
        out["value"] = daily[metric] if not is_rate else np.empty(0)
        out["expected"] = np.empty(0)
        out["score"] = np.empty(0)
        return out[columns]
    if keys:
        codes = daily.groupby(keys, observed=True, dropna=False, sort=False).ngroup().to_numpy()
    else:
        codes = np.zeros(len(daily), dtype=np.int64)
    dates = daily["date"].to_numpy().astype("datetime64[D]")
    day = (dates - dates.min()).astype(np.int64)
    shape = (int(day.max()) + 1, int(codes.max()) + 1)

    active = np.zeros(shape, dtype=bool)  # any counter above 0: the link exists (partial days count)
    active[day, codes] = daily[list(COUNTERS)].to_numpy(dtype=np.float64).sum(axis=1) > 0
    started = np.logical_or.accumulate(active, axis=0)
    matrix = np.full(shape, np.nan)
    scored = ~daily["is_partial"].to_numpy(dtype=bool)
    matrix[day[scored], codes[scored]] = value[scored]
    matrix[~started] = np.nan
    row_of = np.full(shape, -1, dtype=np.int64)
    row_of[day, codes] = np.arange(len(daily))

    expected, score = robust_scores(matrix, window, min_periods, is_rate=is_rate)
    with np.errstate(invalid="ignore"):
        hit_days, hit_groups = np.nonzero(np.abs(score) > threshold)
    rows = row_of[hit_days, hit_groups]
    out = daily.iloc[rows][[*keys, "date"]].reset_index(drop=True)
    out["value"] = value[rows] if is_rate else daily[metric].to_numpy()[rows]
    out["expected"] = expected[hit_days, hit_groups]
    out["score"] = score[hit_days, hit_groups]
    out["_abs"] = -np.abs(out["score"].to_numpy())
    out = out.sort_values(["_abs", *keys, "date"], kind="stable", na_position="last")
    return out.drop(columns="_abs").reset_index(drop=True)[columns]
