"""Unusual episodes: a weekday-aware trailing baseline per group, scored robustly, runs merged.

:func:`jmlink_analytics.metrics.find_anomalies` checks the arguments, sums the counters per
group and day, and calls :func:`find`. The method (also in ``find_anomalies``' docstring):

1. A days x groups matrix of the metric (partial days and days before a group's first
   activity left out).
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
   link back from an idle spell scores like one going idle, not like a surge). Rates:
   ``score = (actual - expected) / scale`` with the larger of the window's and the group's
   typical MAD of the rates, floored at 10 % of expected and 0.01.
5. Days with ``abs(score) > threshold`` are unusual. The days are scored in order, and an
   unusually low day is left out of the history of the days after it; while a group's window
   holds fewer than ``min_periods`` ordinary days (a long outage), its last baseline
   carries on, so the outage does not become the baseline and the return is no surge.
6. Consecutive unusual days of a group in the same direction are one episode (one
   ordinary day between two unusual ones does not split it), scored by its most unusual day.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from .._validate import check_metric, check_stats, normalize_by
from ..schema import COUNTERS, RATES
from ._groups import group_sums, rates_of

__all__ = ["COUNT_FLOOR", "COUNT_SHARE_FLOOR", "MAD_SCALE", "MAX_GAP", "RATE_FLOOR_MIN", "RATE_FLOOR_SHARE",
           "find", "find_anomalies", "trailing", "weekday_factors"]

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
#: Ordinary days an episode may hold between two unusual days of the same direction.
MAX_GAP = 1


def _median_of_sorted(ordered: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Median of each row of ``ordered`` (sorted, NaN last) over its first ``counts`` values."""
    rows = np.arange(len(ordered))
    return (ordered[rows, (counts - 1) // 2] + ordered[rows, counts // 2]) / 2.0


def _nanmedian(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """``np.nanmedian`` without the warning on an all-NaN slice (its median stays NaN)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(values, axis=axis)


def weekday_factors(matrix: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """Per group, a multiplier per weekday (shape ``(7, groups)``, Monday first; average 1).

    The median over the weeks of each day's value / the centred 7-day median around it; 1 for
    every weekday of a group with fewer than two such ratios on some weekday, or a zero level.
    """
    n_days, n_groups = matrix.shape
    factors = np.ones((7, n_groups))
    if n_days < 14 or n_groups == 0:
        return factors
    level = pd.DataFrame(matrix).rolling(7, center=True, min_periods=7).median().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(level > 0, matrix / level, np.nan)
    enough = np.ones(n_groups, dtype=bool)
    for day in range(7):
        rows = ratio[weekday == day]
        enough &= np.isfinite(rows).sum(axis=0) >= 2
        factors[day] = _nanmedian(np.where(np.isfinite(rows), rows, np.nan)) if len(rows) else np.nan
    factors = np.where(np.isfinite(factors) & (factors > 0), factors, np.nan)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(factors, axis=0)
    factors = factors / np.where(np.isfinite(mean) & (mean > 0), mean, 1.0)
    ok = enough & np.isfinite(factors).all(axis=0)
    return np.where(ok[None, :], factors, 1.0)


def trailing(values: np.ndarray, window: int, min_periods: int,
             transform: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Trailing median of ``values`` and MAD of ``transform`` (``values`` by default) per cell.

    Both over the previous ``window`` days (the day itself excluded), NaN where fewer than
    ``min_periods`` values are there.
    """
    n_days, n_groups = values.shape
    median = np.full(values.shape, np.nan)
    mad = np.full(values.shape, np.nan)
    if n_days == 0 or n_groups == 0:
        return median, mad
    transform = values if transform is None else transform
    pad = np.full((window, n_groups), np.nan)
    history = sliding_window_view(np.vstack([pad, values]), window, axis=0)[:n_days]
    spread_history = sliding_window_view(np.vstack([pad, transform]), window, axis=0)[:n_days]
    present = np.isfinite(np.vstack([pad, values]))
    cumulative = np.vstack([np.zeros((1, n_groups), dtype=np.int64), np.cumsum(present, axis=0)])
    counts = cumulative[window:window + n_days] - cumulative[:n_days]  # values in days d-window .. d-1
    days, groups = np.nonzero(counts >= min_periods)
    if len(days) == 0:
        return median, mad
    k = counts[days, groups]
    median[days, groups] = _median_of_sorted(np.sort(history[days, groups], axis=1), k)
    spread = spread_history[days, groups]
    center = _median_of_sorted(np.sort(spread, axis=1), k)
    mad[days, groups] = _median_of_sorted(np.sort(np.abs(spread - center[:, None]), axis=1), k)
    return median, mad


def _typical(local: np.ndarray) -> np.ndarray:
    """Each group's median of ``local`` over its days, broadcast back (NaN-aware)."""
    typical = _nanmedian(np.where(np.isfinite(local), local, np.nan)) if local.size else local
    return np.broadcast_to(typical, local.shape)


def _window_stats(history: np.ndarray, spread_of: np.ndarray, min_periods: int) -> tuple[np.ndarray, ...]:
    """Per group: the median of ``history`` (days x groups), the MAD of ``spread_of``, and whether enough values."""
    enough = np.isfinite(history).sum(axis=0) >= min_periods
    median = _nanmedian(history)
    center = _nanmedian(spread_of)
    mad = _nanmedian(np.abs(spread_of - center))
    return median, mad, enough


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
    spread_of = plain if is_rate else np.sqrt(np.maximum(plain, 0.0))
    # the group's typical spread: over every window of its raw history
    _median, mad = trailing(plain, window, min_periods, transform=spread_of)
    typical = _typical(MAD_SCALE * mad)[0] if n_days else np.full(n_groups, np.nan)
    level = _nanmedian(np.where(plain > 0, plain, np.nan))  # the group's usual (deseasonalized) day when active
    expected = np.full(matrix.shape, np.nan)
    score = np.full(matrix.shape, np.nan)
    clean, clean_spread = plain.copy(), spread_of.copy()
    base, spread = np.full(n_groups, np.nan), np.full(n_groups, np.nan)
    for day in range(1, n_days):
        lo = max(0, day - window)
        median, local, enough = _window_stats(clean[lo:day], clean_spread[lo:day], min_periods)
        base = np.where(enough, median, base)
        spread = np.where(enough, MAD_SCALE * local, spread)
        current = matrix[day]
        with np.errstate(all="ignore"):
            if is_rate:
                expected[day] = base
                floor = np.fmax(RATE_FLOOR_SHARE * np.abs(base), RATE_FLOOR_MIN)
                scale = np.fmax(np.fmax(spread, typical), floor)
                score[day] = (current - base) / scale
            else:
                expected[day] = base * factors[day]
                usual = np.fmax(np.maximum(expected[day], 0.0), level * factors[day])  # idle baseline: its usual day
                floor = np.fmax(COUNT_SHARE_FLOOR * np.sqrt(usual), COUNT_FLOOR)
                scale = np.fmax(typical * np.sqrt(factors[day]), floor)
                score[day] = (np.sqrt(np.maximum(current, 0.0)) - np.sqrt(np.maximum(expected[day], 0.0))) / scale
            dropped = score[day] < -threshold  # a surge stays: the median shrugs a few off, and a new level is learnt
        clean[day, dropped] = np.nan
        clean_spread[day, dropped] = np.nan
    score = np.where(np.isfinite(matrix), score, np.nan)
    return expected, score


def _episodes(hit_days: np.ndarray, hit_groups: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """An episode id per hit (hits sorted by group, then day).

    A new episode starts at a new group, a change of direction, or a gap of more than
    :data:`MAX_GAP` ordinary days: a burst whose middle day dips just under the threshold is one event.
    """
    new = np.ones(len(hit_days), dtype=bool)
    new[1:] = ((hit_groups[1:] != hit_groups[:-1]) | (hit_days[1:] > hit_days[:-1] + 1 + MAX_GAP)
               | (sign[1:] != sign[:-1]))
    return np.cumsum(new) - 1


def find(daily: pd.DataFrame, keys: list[str], metric: str, *, window: int, threshold: float, min_periods: int,
         is_rate: bool) -> pd.DataFrame:
    """The unusual episodes of ``daily`` (keys, date, counters, is_partial; one row per group and day).

    Returns the columns of :func:`~jmlink_analytics.find_anomalies`, sorted by ``abs(score)``
    (largest first), then by the keys and the start.
    """
    columns = [*keys, "start", "end", "days", "direction", "expected", "actual", "change", "score", "date",
               "value"]
    if daily.empty:
        out = daily[keys].iloc[:0].copy()
        for column in columns[len(keys):]:
            out[column] = pd.Series(dtype="datetime64[ns]" if column in ("start", "end", "date") else
                                    "object" if column == "direction" else "int64" if column == "days" else "float64")
        return out[columns]
    value = rates_of(daily)[metric] if is_rate else daily[metric].to_numpy(dtype=np.float64)
    if keys:
        codes = daily.groupby(keys, observed=True, dropna=False, sort=False).ngroup().to_numpy()
    else:
        codes = np.zeros(len(daily), dtype=np.int64)
    dates = daily["date"].to_numpy().astype("datetime64[D]")
    first = dates.min()
    day = (dates - first).astype(np.int64)
    shape = (int(day.max()) + 1, int(codes.max()) + 1)
    weekday = (pd.Timestamp(first).weekday() + np.arange(shape[0])) % 7

    active = np.zeros(shape, dtype=bool)  # any counter above 0: the link exists (partial days count)
    active[day, codes] = daily[list(COUNTERS)].to_numpy(dtype=np.float64).sum(axis=1) > 0
    started = np.logical_or.accumulate(active, axis=0)
    matrix = np.full(shape, np.nan)
    scored = ~daily["is_partial"].to_numpy(dtype=bool)
    matrix[day[scored], codes[scored]] = value[scored]
    matrix[~started] = np.nan
    row_of = np.full(shape, -1, dtype=np.int64)
    row_of[day, codes] = np.arange(len(daily))

    expected, score = score_matrix(matrix, weekday, window, min_periods, is_rate, threshold)
    with np.errstate(invalid="ignore"):
        hit_groups, hit_days = np.nonzero((np.abs(score) > threshold).T)  # by group, then day
    sign = np.sign(score[hit_days, hit_groups])
    episode = _episodes(hit_days, hit_groups, sign)
    hits = pd.DataFrame({"episode": episode, "day": hit_days, "row": row_of[hit_days, hit_groups],
                         "score": score[hit_days, hit_groups], "abs": np.abs(score[hit_days, hit_groups])})
    by_episode = hits.groupby("episode", sort=True)
    peak = hits.loc[by_episode["abs"].idxmax().to_numpy()].reset_index(drop=True)
    start_day, end_day = by_episode["day"].min().to_numpy(), by_episode["day"].max().to_numpy()
    group = hit_groups[by_episode["day"].idxmin().to_numpy()]
    lengths = end_day - start_day + 1  # every day of the episode, an ordinary one between included
    span_episode = np.repeat(np.arange(len(lengths)), lengths)
    span_day = np.repeat(start_day, lengths) + np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths,
                                                                                      lengths)
    span_group = np.repeat(group, lengths)
    span_rows = row_of[span_day, span_group]
    present = span_rows >= 0
    span = pd.DataFrame({"episode": span_episode[present], "expected": expected[span_day, span_group][present]})
    for column in COUNTERS:
        span[column] = daily[column].to_numpy(dtype=np.float64)[span_rows[present]]
    grouped = span.groupby("episode", sort=True)
    out = daily.iloc[peak["row"].to_numpy()][keys].reset_index(drop=True)
    out["start"] = daily["date"].to_numpy()[row_of[start_day, group]]
    out["end"] = daily["date"].to_numpy()[row_of[end_day, group]]
    out["days"] = lengths.astype(np.int64)
    out["direction"] = np.where(peak["score"].to_numpy() > 0, "surge", "drop")
    if is_rate:
        num, den = RATES[metric]
        sums = grouped[[num, den]].sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            actual = np.where(sums[den] > 0, sums[num] / np.where(sums[den] > 0, sums[den], 1.0), np.nan)
        out["expected"] = grouped["expected"].mean().to_numpy()
        out["actual"] = actual
        out["change"] = out["actual"] - out["expected"]
    else:
        out["expected"] = grouped["expected"].sum().to_numpy()
        out["actual"] = grouped[metric].sum().to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            out["change"] = np.where(out["expected"] > 0, out["actual"] / out["expected"] - 1.0, np.nan)
    out["score"] = peak["score"].to_numpy()
    out["date"] = daily["date"].to_numpy()[peak["row"].to_numpy()]
    out["value"] = value[peak["row"].to_numpy()] if is_rate else daily[metric].to_numpy()[peak["row"].to_numpy()]
    out["_abs"] = -np.abs(out["score"].to_numpy())
    out = out.sort_values(["_abs", *keys, "start"], kind="stable", na_position="last")
    return out.drop(columns="_abs").reset_index(drop=True)[columns]


def find_anomalies(stats: pd.DataFrame, metric: str = "click_count", *, by: str | list[str] | None = "link_key",
                   window: int = 14, threshold: float = 3.5, min_periods: int | None = None,
                   links: pd.DataFrame | None = None) -> pd.DataFrame:
    """Surges and drops: runs of days far from a weekday-aware baseline, one row per episode, most unusual first.

    For each group and day:

    - ``expected`` is the median of the group's previous ``window`` days (the day itself
      excluded) after dividing each by its weekday factor, times the day's own weekday
      factor. A group's weekday factors are, per weekday, the median over the weeks of the
      day's value / the centred 7-day median around it (average 1; all 1 when there are
      fewer than two weeks per weekday). So a busy Saturday is expected to be busy, and an
      ordinary weekend is not unusual. Rates get no weekday factor.
    - Counters are scored on the square-root scale, where a count's noise is about the same at
      every level: ``score = (sqrt(actual) - sqrt(expected)) / scale``. ``scale`` is the group's
      typical spread: the median, over its days, of 1.4826 x the median absolute deviation (MAD)
      of the window's deseasonalized square roots (a standard deviation for normal data) x the
      square root of the day's weekday factor, at least 0.75 (1.5 x
      a Poisson count's noise on that scale) and 0.15 x sqrt(expected) (the 30 % day-to-day
      wobble marketing traffic has; with the group's usual active day in place of ``expected``
      when that is larger, so a link back from an idle spell scores like one going idle, not
      like a surge), so a flat history never divides by zero. A day at zero thus scores at most
      -6.7 and an 8x surge up to +12: a surge that large outranks the link going quiet. Rates:
      ``(actual - expected) / scale``, the scale the larger of the window's and the group's
      typical MAD of the rates (x 1.4826), at least 10 % of expected and 0.01.
    - A day with ``abs(score) > threshold`` is unusual; an unusually low one is left out of the
      history of the days after it (while fewer than ``min_periods`` ordinary days remain in a
      window, the last baseline carries on), so a long outage does not become the baseline and
      the return from it is no surge. Consecutive unusual days of a group in the same direction
      form one *episode* (a five-day outage is one row; one ordinary day between two unusual
      ones does not split it), scored by its most unusual day.

    Partial days (``is_partial``: today and yesterday may still grow) are neither scored
    nor used as history. Days before a group's first activity (any counter above 0: the
    link did not exist yet) are ignored too. A day is scored only when its window holds
    at least ``min_periods`` days with data. Dates missing from the table are missing,
    not zero (fetch_stats fills every date, so this only matters for filtered tables).

    Parameters
    ----------
    stats : pandas.DataFrame
        The stats table of :func:`jmlink_analytics.fetch_stats`.
    metric : str, default "click_count"
        One of the four counters or three rates (a rate from the day's sums).
    by : str or list of str or None, default "link_key"
        Grouping column(s), as in :func:`summarize` (not ``date``); ``None``: the app's total.
    window : int, default 14
        Days of history per day, at least 3.
    threshold : float, default 3.5
        How many robust units from the baseline make a day unusual; above 0.
    min_periods : int, optional
        Days of history needed to score a day; default ``max(3, window // 2)``.
    links : pandas.DataFrame, optional
        The links table, to group by its columns.

    Returns
    -------
    pandas.DataFrame
        One row per episode: the ``by`` columns, ``start`` and ``end`` (dates, both
        included), ``days``, ``direction`` (``"surge"`` or ``"drop"``), ``expected`` and
        ``actual`` (for a counter the sums over the episode; for a rate the mean expected
        rate and the rate from the episode's sums), ``change`` (a counter's relative change,
        actual / expected - 1; a rate's difference, actual - expected), ``score`` (signed:
        the most unusual day's), then ``date`` and ``value`` (that day and its value; the
        columns of the one-row-per-day table of earlier versions). Sorted by ``abs(score)``,
        largest first. Empty (same columns) when nothing is unusual.

    Examples
    --------
    >>> episodes = find_anomalies(stats)                               # doctest: +SKIP
    >>> episodes[episodes["direction"] == "surge"].head(5)             # doctest: +SKIP
    """
    stats = check_stats(stats)
    check_metric(metric)
    keys = normalize_by(by)
    if "date" in keys:
        raise ValueError("by must not include 'date': anomalies are found along the dates of each group")
    if isinstance(window, bool) or not isinstance(window, int | np.integer):
        raise TypeError(f"window must be an int number of days (>= 3); got {window!r}")
    if window < 3:
        raise ValueError(f"window must be >= 3 days; got {window}")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.number):
        raise TypeError(f"threshold must be a number > 0; got {threshold!r}")
    if not threshold > 0 or not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number > 0; got {threshold!r}")
    if min_periods is None:
        min_periods = max(3, window // 2)
    elif isinstance(min_periods, bool) or not isinstance(min_periods, int | np.integer):
        raise TypeError(f"min_periods must be an int between 1 and window ({window}); got {min_periods!r}")
    elif not 1 <= min_periods <= window:
        raise ValueError(f"min_periods must be between 1 and window ({window}); got {min_periods}")
    daily = group_sums(stats, keys, links, with_date=True, with_partial=True)
    return find(daily, keys, metric, window=int(window), threshold=float(threshold),
                min_periods=int(min_periods), is_rate=metric in RATES)
