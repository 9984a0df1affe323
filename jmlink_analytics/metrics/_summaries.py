"""Answers from the stats table: rates, summaries, this period vs the last, unusual days, the funnel.

Every function takes the tidy stats table of :func:`jmlink_analytics.fetch_stats` (one row per
link, platform and day) and never calls the API. Counters are summed first; rates are then
computed from the sums (``ctr`` = clicks / exposures, ``open_rate`` = opens / clicks,
``install_rate`` = installs / clicks), never averaged from daily rates, and are NaN, never
inf, where the denominator is 0.

Platforms: a table holding the ``all`` rows and the ``ios``/``android`` rows of the same link
would count every click twice if all rows were added up. Unless ``platform`` is one of the
grouping columns (``by``), each link is counted through its ``all`` rows when it has any, and
through the sum of its other platform rows (``ios`` + ``android``) otherwise. With ``platform``
in ``by``, each platform value, ``all`` included, is its own group.

Grouping columns (``by``) are columns of the stats table (``link_key``, ``platform``, ``date``,
or any other column you added) or, when ``links`` is given, columns of the links table
(``channel``, ``name``, ``jump_link_type``, ...) joined on ``link_key``. Missing values (a link
without a channel, a link not in ``links``) form a group of their own, so totals always add up.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from .._dates import to_date
from .._validate import check_stats, normalize_by
from ..schema import COUNTERS, METRICS, RATES, STAGES
from ._episodes import find_anomalies
from ._groups import (
    freq_alias,
    group_sums,
    link_attributes,
    rates_of,
    resolve_by,
    sort_groups,
)
from ._ratio import ratio
from ._trend import trend_data

__all__ = ["add_rates", "compare_periods", "find_anomalies", "funnel", "join_links", "summarize", "trend_data"]

_DAY = pd.Timedelta(days=1)


def add_rates(stats: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``stats`` with the rates of each row added.

    Parameters
    ----------
    stats : pandas.DataFrame
        Any table with the four counter columns (the stats table, or a summary of it).

    Returns
    -------
    pandas.DataFrame
        A copy with ``ctr`` = click/exposure, ``open_rate`` = open/click and ``install_rate`` =
        install/click appended (float64; NaN, never inf, where the denominator is 0).
    """
    stats = check_stats(stats, need_date=False)
    out = stats.copy()
    for rate, values in rates_of(out).items():
        out[rate] = values
    return out


def join_links(stats: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """The stats table with each link's name, channel and other attributes, joined on ``link_key``.

    Parameters
    ----------
    stats : pandas.DataFrame
        The table of :func:`jmlink_analytics.fetch_stats` (or any table with a ``link_key`` column).
    links : pandas.DataFrame
        The table of :func:`jmlink_analytics.fetch_links`.

    Returns
    -------
    pandas.DataFrame
        ``stats``' rows in their order and index, then every column of ``links`` but ``link_key``
        (those already in ``stats`` are left out). A link missing from ``links`` gets missing values;
        when ``links`` repeats a key, its first row is used (with a warning).

    Raises
    ------
    TypeError, ValueError
        When either table is not a DataFrame or lacks ``link_key``.

    Examples
    --------
    >>> daily = jm.join_links(stats, links)
    >>> daily.groupby("channel", observed=True)["click_count"].sum()  # doctest: +NORMALIZE_WHITESPACE
    channel
    B站        16
    QQ       581
    小红书     3449
    微信     11344
    抖音      5954
    朋友圈      299
    百度      2367
    知乎      1251
    短信      1075
    Name: click_count, dtype: int64
    """
    if not isinstance(stats, pd.DataFrame) or "link_key" not in stats.columns:
        raise TypeError(f"stats must be a DataFrame with a link_key column; got {type(stats).__name__}")
    resolve_by(stats, [], links)  # checks links
    link_cols = [c for c in links.columns if c != "link_key" and c not in stats.columns]
    attributes = link_attributes(links, link_cols, stats["link_key"])
    attributes.index = stats.index
    return pd.concat([stats, attributes], axis=1)


def _ordered(sums: pd.DataFrame, keys: list[str], by_period: bool = False) -> pd.DataFrame:
    """Rates appended, sorted by clicks (most first), then by the keys; with ``by_period`` by period first."""
    out = sort_groups(sums, ["click_count"], keys)
    if by_period:
        out = out.sort_values("period", kind="stable").reset_index(drop=True)
    for rate, values in rates_of(out).items():
        out[rate] = values
    return out


def summarize(stats: pd.DataFrame, by: str | list[str] | None = "link_key", *, links: pd.DataFrame | None = None,
              freq: str | None = None) -> pd.DataFrame:
    """Sum the counters per group (and period), then compute the rates from the sums.

    Parameters
    ----------
    stats : pandas.DataFrame
        The stats table of :func:`jmlink_analytics.fetch_stats`.
    by : str or list of str or None, default "link_key"
        Grouping column(s): of ``stats`` (``link_key``, ``platform``, ``date``, ...) or, with
        ``links``, of the links table (``channel``, ``name``, ...). ``None`` or ``[]``: one
        row of totals (per period).
    links : pandas.DataFrame, optional
        The links table of :func:`jmlink_analytics.fetch_links`, joined on ``link_key``.
    freq : str, optional
        Group dates into periods: ``"D"`` (day), ``"W"`` (weeks from Monday), ``"MS"``
        (month), or a pandas alias of a day, week, month, quarter or year. A period is
        labelled by its first day, even when the data start later in it.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns (a RangeIndex, not an index), then ``period`` (start of the period)
        when ``freq`` is given, then ``exposure_count``, ``click_count``, ``open_count``,
        ``install_count``, ``ctr``, ``open_rate``, ``install_rate``. Sorted by
        ``click_count``, most first, then by the keys; with ``freq``, by ``period`` first
        (oldest first), then by ``click_count`` within each period. The counters add up to
        the input's totals under the platform rule (module docstring): the ``all`` rows when
        present, ``ios`` + ``android`` otherwise; by ``platform``, every row.

    Raises
    ------
    ValueError
        When ``by`` names neither a stats nor a links column (the message lists them), or
        ``freq`` is not a day/week/month/quarter/year alias.

    Examples
    --------
    >>> by_channel = jm.summarize(stats, by="channel", links=links)
    >>> by_channel[["channel", "click_count", "ctr"]].head(3)  # doctest: +NORMALIZE_WHITESPACE
      channel  click_count       ctr
    0      微信        11344  0.207918
    1      抖音         5954  0.075378
    2     小红书         3449  0.151805
    >>> weekly = jm.summarize(stats, by="platform", freq="W")
    >>> weekly[["platform", "period", "click_count"]].head(4)
      platform     period  click_count
    0      ios 2024-05-27          753
    1  android 2024-05-27          725
    2      ios 2024-06-03         2475
    3  android 2024-06-03         2414
    """
    stats = check_stats(stats, need_date=freq is not None)
    keys = normalize_by(by)
    alias = None if freq is None else freq_alias(freq)
    sums = group_sums(stats, keys, links, alias=alias)
    return _ordered(sums, [*keys, *(["period"] if alias else [])], by_period=alias is not None)


def _window(value: Any, name: str, last: pd.Timestamp | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """A (start, end) pair of date-likes, or (with ``last``) an int number of days ending at ``last``."""
    if last is not None and isinstance(value, int | np.integer) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"{name} as a number of days must be >= 1; got {value}")
        return last - (int(value) - 1) * _DAY, last
    if isinstance(value, str) or not hasattr(value, "__len__") or len(value) != 2:
        allowed = "a (start, end) pair of dates" + (" or an int number of days" if last is not None else "")
        raise TypeError(f"{name} must be {allowed}; got {value!r}")
    start, end = (pd.Timestamp(to_date(v, f"{name}[{i}]")) for i, v in enumerate(value))
    if start > end:
        raise ValueError(f"{name} starts after it ends: {start:%Y-%m-%d} > {end:%Y-%m-%d}")
    return start, end


def _check_coverage(name: str, window: tuple[pd.Timestamp, pd.Timestamp], first: pd.Timestamp,
                    last: pd.Timestamp) -> bool:
    """Warn when ``window`` reaches outside the data's dates; False when it has no day of data at all."""
    start, end = window
    if start >= first and end <= last:
        return True
    covered = end >= first and start <= last
    what = "only partly" if covered else "not at all"
    warnings.warn(f"the {name} window {start:%Y-%m-%d} to {end:%Y-%m-%d} is {what} covered by stats "
                  f"({first:%Y-%m-%d} to {last:%Y-%m-%d}); "
                  + ("its sums count only the days present" if covered else "its values are NaN"),
                  UserWarning, stacklevel=3)
    return covered


def compare_periods(stats: pd.DataFrame, current: Any, previous: Any = None, *,
                    by: str | list[str] | None = "link_key", links: pd.DataFrame | None = None,
                    include_partial: bool = True) -> pd.DataFrame:
    """Compare a current window with a previous one, per group.

    Parameters
    ----------
    stats : pandas.DataFrame
        The stats table of :func:`jmlink_analytics.fetch_stats`.
    current : (date-like, date-like) or int
        The current window, both ends included; or a number of days ending at the last
        date of ``stats`` (the last complete date with ``include_partial=False``).
    previous : (date-like, date-like), optional
        The window to compare with; by default the same number of days right before ``current``.
    by : str or list of str or None, default "link_key"
        Grouping column(s), as in :func:`summarize` (``date`` is not allowed).
    links : pandas.DataFrame, optional
        The links table, to group by its columns.
    include_partial : bool, default True
        False leaves partial days (``is_partial``: today and yesterday, still growing) out
        of both windows, as the report and the notebooks do: a half-counted day would read
        as a drop. An int ``current`` then ends at the last complete date.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, then for each ``m`` of the four counters and three rates:
        ``{m}_current``, ``{m}_previous``, ``{m}_change`` (current - previous; for a rate in
        rate units, 0.01 = one percentage point). Then the change in the toolkit's
        vocabulary: for each counter ``{m}_rel_change``, the relative change as a fraction
        (+0.25 = +25 %; NaN where previous is 0), and for each rate ``{m}_change_pp``, the
        difference in percentage points (change x 100): a rate's relative change is rarely
        what is meant. A group present in one window only is kept: its counters
        in the other window are 0 and its rates there NaN. A window with no day of data at
        all has NaN values (and a warning). Sorted by current, then previous clicks, most
        first. ``df.attrs["current"]`` and ``df.attrs["previous"]`` hold the windows as
        ``(start, end)`` Timestamps.

    Raises
    ------
    TypeError, ValueError
        On a malformed window (start after end, days < 1) or a bad ``by``.
    """
    stats = check_stats(stats)
    keys = normalize_by(by)
    if not isinstance(include_partial, bool | np.bool_):
        raise TypeError(f"include_partial must be True or False; got {include_partial!r}")
    if "date" in keys:
        raise ValueError("by must not include 'date': the two windows share no dates")
    if not include_partial and "is_partial" in stats.columns:
        stats = stats[~stats["is_partial"].fillna(False).astype(bool).to_numpy()]
    resolve_by(stats, keys, links)
    if stats.empty:
        raise ValueError("stats has no rows: there is nothing to compare")
    first, last = stats["date"].min().normalize(), stats["date"].max().normalize()
    cur = _window(current, "current", last)
    if previous is None:
        length = cur[1] - cur[0] + _DAY
        prev = (cur[0] - length, cur[0] - _DAY)
    else:
        prev = _window(previous, "previous")
    dates = stats["date"]
    parts = []
    for name, (start, end) in (("current", cur), ("previous", prev)):
        covered = _check_coverage(name, (start, end), first, last)
        sums = group_sums(stats, keys, links, rows=((dates >= start) & (dates < end + _DAY)).to_numpy())
        parts.append((sums, covered))
    (a, a_ok), (b, b_ok) = parts
    if keys:
        merged = a.merge(b, on=keys, how="outer", suffixes=("_current", "_previous"), sort=False)
    else:
        merged = pd.concat([a.add_suffix("_current"), b.add_suffix("_previous")], axis=1)
    out = merged[keys].copy()
    for window, ok in (("current", a_ok), ("previous", b_ok)):
        for column in COUNTERS:
            values = merged[f"{column}_{window}"]
            if not ok:
                merged[f"{column}_{window}"] = np.nan
            elif stats[column].dtype.kind in "iu":
                merged[f"{column}_{window}"] = values.fillna(0).astype(np.int64)
            else:
                merged[f"{column}_{window}"] = values.fillna(0)
    sides = {w: merged[[f"{c}_{w}" for c in COUNTERS]].set_axis(list(COUNTERS), axis=1)
             for w in ("current", "previous")}
    for side in sides.values():
        for rate, rate_values in rates_of(side).items():
            side[rate] = rate_values
    for metric in METRICS:
        now, before = sides["current"][metric], sides["previous"][metric]
        out[f"{metric}_current"] = now.to_numpy()
        out[f"{metric}_previous"] = before.to_numpy()
        out[f"{metric}_change"] = (now - before).to_numpy()
    for metric in METRICS:  # the vocabulary of changes
        if metric in COUNTERS:
            out[f"{metric}_rel_change"] = ratio(out[f"{metric}_change"], out[f"{metric}_previous"])
        else:
            out[f"{metric}_change_pp"] = out[f"{metric}_change"].to_numpy(dtype=np.float64) * 100.0
    out = sort_groups(out, ["click_count_current", "click_count_previous"], keys)
    out.attrs["current"] = cur
    out.attrs["previous"] = prev
    return out


def funnel(stats: pd.DataFrame, by: str | list[str] | None = None, *,
           links: pd.DataFrame | None = None) -> pd.DataFrame:
    """Stage totals (exposure, click, open, install) and the conversion from each stage to the next.

    Parameters
    ----------
    stats : pandas.DataFrame
        The stats table of :func:`jmlink_analytics.fetch_stats`.
    by : str or list of str, optional
        Grouping column(s), as in :func:`summarize`; ``None`` for one overall funnel.
    links : pandas.DataFrame, optional
        The links table, to group by its columns (``by="channel"``).

    Returns
    -------
    pandas.DataFrame
        Four rows per group (groups ordered as :func:`summarize` orders them): the ``by``
        columns, ``stage`` (ordered categorical exposure < click < open < install),
        ``count`` (int64), ``conversion`` (the stage's rate as the schema defines it, the
        same number as the cards and tables: click = ``ctr`` = clicks / exposures, open =
        ``open_rate`` = opens / clicks, install = ``install_rate`` = installs / clicks; NaN for
        exposure and where the denominator is 0) and ``overall`` (count / exposures).
    """
    stats = check_stats(stats, need_date=False)
    keys = normalize_by(by)
    sums = group_sums(stats, keys, links)
    sums = sort_groups(sums, ["click_count"], keys)
    counts = sums[list(COUNTERS)].to_numpy(dtype=np.float64)
    rates = rates_of(sums)
    by_numerator = {num: rates[rate] for rate, (num, _den) in RATES.items()}
    conversion = np.column_stack([by_numerator.get(c, np.full(len(sums), np.nan)) for c in COUNTERS])
    overall = ratio(counts, counts[:, [0]])
    out = sums.loc[np.repeat(sums.index.to_numpy(), len(STAGES)), keys].reset_index(drop=True)
    out["stage"] = pd.Categorical(np.tile(np.array(STAGES, dtype=object), len(sums)), categories=list(STAGES),
                                  ordered=True)
    out["count"] = np.rint(counts.ravel()).astype(np.int64)
    out["conversion"] = conversion.ravel()
    out["overall"] = overall.ravel()
    return out
