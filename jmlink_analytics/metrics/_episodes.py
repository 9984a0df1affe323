"""Unusual episodes: the unusual days of :mod:`._anomalies` merged into runs, and ranked by their impact.

:func:`find_anomalies` checks the arguments, sums the counters per group and day, scores each
day (:func:`._anomalies.score_matrix`) and merges the unusual days into episodes
(:func:`find`). An episode's ``impact`` is the volume it lost or gained against what was
expected, so a 60-day outage outranks a one-day blip even though a day at zero saturates the
per-day score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validate import check_metric, check_stats, normalize_by
from ..schema import COUNTERS, RATES
from ._anomalies import score_matrix
from ._groups import group_sums, rates_of
from ._ratio import ratio

__all__ = ["EPISODE_COLUMNS", "MAX_GAP", "find", "find_anomalies"]

#: Ordinary days an episode may hold between two unusual days of the same direction.
MAX_GAP = 1
#: The columns of find_anomalies after the ``by`` columns.
EPISODE_COLUMNS = ("start", "end", "days", "direction", "expected", "actual", "change", "impact", "score")


def _episodes(hit_days: np.ndarray, hit_groups: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """An episode id per hit (hits sorted by group, then day).

    A new episode starts at a new group, a change of direction, or a gap of more than
    :data:`MAX_GAP` ordinary days: a burst whose middle day dips just under the threshold is one event.
    """
    new = np.ones(len(hit_days), dtype=bool)
    new[1:] = ((hit_groups[1:] != hit_groups[:-1]) | (hit_days[1:] > hit_days[:-1] + 1 + MAX_GAP)
               | (sign[1:] != sign[:-1]))
    return np.cumsum(new) - 1


def _empty(daily: pd.DataFrame, keys: list[str], is_rate: bool) -> pd.DataFrame:
    out = daily[keys].iloc[:0].copy()
    kinds = {"start": "datetime64[ns]", "end": "datetime64[ns]", "days": "int64", "direction": "object",
             "expected": "float64" if is_rate else "int64", "actual": "float64" if is_rate else "int64",
             "change": "float64", "impact": "int64", "score": "float64"}
    for column in EPISODE_COLUMNS:
        out[column] = pd.Series(dtype=kinds[column])
    return out


def find(daily: pd.DataFrame, keys: list[str], metric: str, *, window: int, threshold: float, min_periods: int,
         is_rate: bool) -> pd.DataFrame:
    """The unusual episodes of ``daily`` (keys, date, counters, is_partial; one row per group and day).

    Returns the columns of :func:`~jmlink_analytics.find_anomalies`, most impact first.
    """
    if daily.empty:
        return _empty(daily, keys, is_rate)
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
    if len(hit_days) == 0:
        return _empty(daily, keys, is_rate)
    hit_score = score[hit_days, hit_groups]
    episode = _episodes(hit_days, hit_groups, np.sign(hit_score))
    starts = np.flatnonzero(np.r_[True, episode[1:] != episode[:-1]])  # hits are sorted: episodes are runs
    ends = np.r_[starts[1:], len(episode)] - 1
    start_day, end_day, group = hit_days[starts], hit_days[ends], hit_groups[starts]
    peak = np.maximum.reduceat(np.abs(hit_score), starts)  # the most unusual day's score, signed below
    direction = np.sign(hit_score[starts])
    lengths = end_day - start_day + 1  # every day of the episode, an ordinary one between included
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    span_day = np.repeat(start_day, lengths) + offsets
    span_group = np.repeat(group, lengths)
    span_rows = row_of[span_day, span_group]
    present = span_rows >= 0
    span_episode = np.repeat(np.arange(len(lengths)), lengths)[present]
    rows = span_rows[present]
    n = len(lengths)

    def per_episode(values: np.ndarray) -> np.ndarray:
        return np.bincount(span_episode, weights=np.nan_to_num(values), minlength=n)

    span_expected = expected[span_day, span_group][present]
    out = daily.iloc[row_of[start_day, group]][keys].reset_index(drop=True)
    out["start"] = daily["date"].to_numpy()[row_of[start_day, group]]
    out["end"] = daily["date"].to_numpy()[row_of[end_day, group]]
    out["days"] = lengths.astype(np.int64)
    out["direction"] = np.where(direction > 0, "surge", "drop")
    if is_rate:
        num, den = RATES[metric]
        num_sum = per_episode(daily[num].to_numpy(dtype=np.float64)[rows])
        den_sum = per_episode(daily[den].to_numpy(dtype=np.float64)[rows])
        scored_days = np.bincount(span_episode, weights=np.isfinite(span_expected), minlength=n)
        mean_expected = ratio(per_episode(span_expected), scored_days)
        out["expected"] = mean_expected
        out["actual"] = ratio(num_sum, den_sum)
        out["change"] = out["actual"] - out["expected"]
        # what the episode gained or lost in the rate's numerator (clicks for ctr, installs for install_rate)
        impact = (out["actual"].to_numpy() - mean_expected) * den_sum
    else:
        expected_sum = np.rint(per_episode(span_expected)).astype(np.int64)
        actual_sum = np.rint(per_episode(daily[metric].to_numpy(dtype=np.float64)[rows])).astype(np.int64)
        out["expected"] = expected_sum
        out["actual"] = actual_sum
        out["change"] = np.where(expected_sum > 0, ratio(actual_sum, expected_sum) - 1.0, np.nan)
        impact = (actual_sum - expected_sum).astype(np.float64)
    out["impact"] = np.rint(np.nan_to_num(impact)).astype(np.int64)
    out["score"] = direction * peak
    order = np.lexsort((out["start"].to_numpy(), -np.abs(out["score"].to_numpy()),
                        -np.abs(out["impact"].to_numpy())))
    return out.iloc[order].reset_index(drop=True)[[*keys, *EPISODE_COLUMNS]]


def find_anomalies(stats: pd.DataFrame, metric: str = "click_count", *, by: str | list[str] | None = "link_key",
                   window: int = 14, threshold: float = 3.5, min_periods: int | None = None,
                   links: pd.DataFrame | None = None) -> pd.DataFrame:
    """Surges and drops: runs of unusual days per group, one row per episode, the most impact first.

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
        One row per episode: the ``by`` columns, ``start`` and ``end`` (dates, both included),
        ``days``, ``direction`` (``"surge"`` or ``"drop"``), ``expected`` and ``actual`` (for a
        counter the sums over the episode, int64; for a rate the mean expected rate and the
        rate from the episode's sums), ``change`` (a counter's relative change, actual /
        expected - 1; a rate's difference, actual - expected), ``impact`` (int64, signed: what
        the episode gained or lost against the expected, in the counter's units: clicks for
        ``click_count``; for a rate, in its numerator's units: (actual - expected rate) x the
        episode's denominator) and ``score`` (signed: the most unusual day's). Sorted by
        ``abs(impact)``, largest first, then ``abs(score)``, then the start. Empty (same
        columns) when nothing is unusual.

    Notes
    -----
    An episode ranks by how much it matters, its length and the volume it lost or gained, so
    a 60-day outage of 150 clicks a day comes before a one-day blip of 33 -> 0, although both
    reach the per-day score's floor (a day at zero scores about -6.7 at most).

    For each group and day, ``expected`` is the median of the previous ``window`` days (the
    day itself excluded), each divided by its weekday factor, times the day's own weekday
    factor (so an ordinary busy weekend is not unusual; rates have no weekday factor). A
    counter's score is ``(sqrt(actual) - sqrt(expected)) / scale``, the scale the group's
    typical robust spread on the square-root scale, floored so that a flat history never
    divides by zero; a rate's is ``(actual - expected) / scale``. A day with ``abs(score) >
    threshold`` is unusual; an unusually low one is left out of the later days' history, so
    a long outage never becomes the baseline. Consecutive unusual days of a group in the same
    direction are one episode (one ordinary day between two does not split it). Partial days
    (``is_partial``) and the days before a group's first activity are never scored. The exact
    method and its constants are in :mod:`jmlink_analytics.metrics._anomalies`.

    Examples
    --------
    >>> episodes = jm.find_anomalies(stats)
    >>> episodes[["link_key", "start", "end", "direction", "impact"]].head(3)
      link_key      start        end direction  impact
    0     eXkb 2024-06-28 2024-06-28     surge    1545
    1     oIYE 2024-06-22 2024-06-30      drop   -1452
    2     VgHC 2024-06-19 2024-06-30      drop    -512
    >>> drops = episodes[episodes["direction"] == "drop"]
    >>> drops[["link_key", "start", "days", "impact"]].head(3)
      link_key      start  days  impact
    1     oIYE 2024-06-22     9   -1452
    2     VgHC 2024-06-19    12    -512
    4     0FFu 2024-06-12     1     -92
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
