"""Pictures over time: the trend of the top groups, and iOS against Android.

Both draw every period they have: with up to 40 periods each is a dot, and a single
period (one day, a month of a 14-day table) is a dot too, so no chart is ever blank. The x
axis is fitted to the periods (half a period of margin, ticks only on periods that are
there). Periods that are not comparable with the others (holding a partial day, or cut by
the data's date range) are dashed with hollow dots.

The trend's grey "other" line adds up every group but the top ones, so it is often ten
times the largest of them. It never sets the scale: when it would, it is drawn against a
second y axis on the right, labelled in its grey, so the top groups keep the full height
of the chart and "other" still shows its own shape. (A clipped line would hide its level,
and a note would hide its shape; a right axis shows both.)

Without ``freq`` the resolution follows the range: a day per point up to
:data:`~._style.DAILY_UP_TO` (90) days, a week per point beyond (365 daily points of 10
links are a tangle). With the links table, a link's line starts in the period it was
created (its ``create_time``): the days before it existed are not zeros.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .._validate import check_int, check_metric, check_stats, normalize_by
from ..metrics import ratio, trend_data
from ..schema import PLATFORM_LABELS, RATES, metric_label
from . import _style as style

__all__ = ["OTHER_SCALE", "PLATFORM_STYLE", "plot_platforms", "plot_trend"]

PLATFORM_STYLE = {"ios": (PLATFORM_LABELS["ios"], "#1f77b4"), "android": (PLATFORM_LABELS["android"], "#2ca02c")}
#: "other" moves to a right-hand axis when its peak is above this many times the top groups' peak.
OTHER_SCALE = 1.25


def _other_axis(ax: Axes, data: pd.DataFrame, incomplete: np.ndarray, label: str, metric: str,
                **kwargs: Any) -> tuple[Axes, Any]:
    """Draw the "other" column against a right-hand y axis in grey, labelled; return that Axes and its line."""
    right = ax.twinx()
    lines = style.lines(right, data, incomplete, [label], [style.OTHER_COLOR], **kwargs)
    right.tick_params(axis="y", colors="#6e7781", labelsize=8)
    right.spines["right"].set_color(style.OTHER_COLOR)
    right.set_ylabel(f"{metric_label(metric, long=True)}: other (grey)", color="#6e7781", fontsize=9)
    style.headroom(right, data.to_numpy(dtype=np.float64) * 1.15)  # not level with the top line: no false match
    ax.set_zorder(right.get_zorder() + 1)  # the top groups (and the legend) above the grey line
    ax.patch.set_visible(False)
    return right, lines[0]


def _period_ends(data: pd.DataFrame, alias: str) -> pd.DatetimeIndex:
    """The last day of each period (row) of ``data``."""
    return pd.PeriodIndex(pd.DatetimeIndex(data.index), freq=alias).end_time.normalize()


def _before_creation(data: pd.DataFrame, links: pd.DataFrame | None, alias: str) -> pd.DataFrame:
    """``data`` (columns: link keys) with NaN in the periods that end before each link was created.

    A link's stats before its ``create_time`` are the API's zeros for days it did not exist:
    drawn, they are flat lines along the floor. Links without a known creation time keep every period.
    """
    if links is None or "create_time" not in links.columns or "link_key" not in links.columns or data.empty:
        return data
    created = pd.Series(pd.to_datetime(links["create_time"]).to_numpy(),
                        index=links["link_key"].astype(str).to_numpy())
    created = created[~created.index.duplicated()].dropna()
    if created.empty:
        return data
    ends = _period_ends(data, alias)
    out = data.astype(np.float64)
    for column in out.columns:
        when = created.get(str(column))
        if when is not None and not pd.isna(when):
            out.loc[np.asarray(ends < pd.Timestamp(when).normalize()), column] = np.nan
    return out


def _first_created(links: pd.DataFrame | None, keys: set[str], *, among: bool) -> pd.Timestamp | None:
    """The earliest ``create_time`` of the links whose key is (``among``) or is not in ``keys``; None if unknown."""
    if links is None or "create_time" not in links.columns or "link_key" not in links.columns:
        return None
    chosen = links["link_key"].astype(str).isin(keys).to_numpy()
    first = pd.to_datetime(links.loc[chosen if among else ~chosen, "create_time"]).min()
    return None if pd.isna(first) else pd.Timestamp(first)


def _before(data: pd.DataFrame, when: pd.Timestamp | None, alias: str) -> pd.DataFrame:
    """``data`` with NaN in every column for the periods that end before ``when`` (a sum of links: before the first)."""
    if when is None:
        return data
    out = data.astype(np.float64)
    out.loc[np.asarray(_period_ends(data, alias) < when.normalize()), :] = np.nan
    return out


def plot_trend(stats: pd.DataFrame, metric: str = "click_count", *, by: str | list[str] | None = None,
               links: pd.DataFrame | None = None, freq: str | None = None, top: int | None = None,
               title: str | None = None, legend: bool = True, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Draw ``metric`` over time: one line per group, the top groups by total and the rest as "other".

    Parameters
    ----------
    stats : pandas.DataFrame
        The stats table of :func:`jmlink_analytics.fetch_stats`.
    metric : str, default "click_count"
        A counter or a rate (a rate from each period's sums).
    by : str or list of str, optional
        Grouping column(s), as in :func:`jmlink_analytics.summarize`. None draws one line, the
        total, unless ``top`` is given: then the lines are links (``by="link_key"``).
    links : pandas.DataFrame, optional
        The links table: labels links by key and name, lets ``by`` name its columns, and (with
        ``create_time``) starts each link's line in the period the link was created.
    freq : str, optional
        ``"D"``, ``"W"``, ``"MS"`` or another pandas alias (see ``summarize``). By default a day
        per point up to 90 days of data, a week per point (Monday to Sunday) beyond.
    top : int, optional
        Lines for the ``top`` groups with the largest totals (10 when ``by`` is given and ``top``
        is not); the rest add up to one grey "other" line. When "other" peaks above 1.25 x the
        top groups, it is drawn against a second y axis on the right (grey, labelled), so it
        never squashes the top groups. ``top`` without ``by`` means the top links.
    title : str, optional
        The title; by default it says what is drawn (``"Clicks per day by link (top 8, ...)"``).
    legend : bool, default True
        Draw the legend (outside the Axes when long).
    ax : matplotlib.axes.Axes, optional
        Where to draw; the current Axes by default.
    **kwargs
        Passed to ``Axes.plot`` for each line (``linewidth``, ``alpha``, ...).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes of the top groups (a right-hand Axes for "other", if any, shares its x axis).
        Empty ``stats``: the title and "no data to show".
    """
    stats = check_stats(stats)
    check_metric(metric)
    if top is not None:
        top = check_int(top, "top", 1)
        if by is None:
            by = "link_key"  # "the top 8" of a single total line means nothing: the top 8 links
    top = 10 if top is None else top
    keys = normalize_by(by)
    ax = style.axes_or_current(ax)
    freq = style.resolve_freq(freq, stats)
    word = style.period_word(freq)
    default = f"{metric_label(metric)} per {word}" + (f" by {style.by_words(keys)}" if keys else "")
    with style.fonts(ax):
        if stats.empty:
            return style.no_data(ax, default if title is None else title)
        data = trend_data(stats, metric, by=by, freq=freq, top=top, links=links)
        if data.empty:
            return style.no_data(ax, default if title is None else title)
        columns = [str(c) for c in data.columns]
        has_other = bool(keys) and len(columns) > top
        if keys == ["link_key"]:
            others_attr = data.attrs.get("others", 0)
            alias = style.freq_alias(freq)
            rest = data.iloc[:, top:].astype(np.float64)
            if has_other:  # "other" starts when the first of its links was created (it is their sum)
                rest = _before(rest, _first_created(links, set(columns[:top]), among=False), alias)
            data = pd.concat([_before_creation(data.iloc[:, :top], links, alias), rest], axis=1)
            data.attrs["others"] = others_attr
        named = columns[:-1] if has_other else columns
        labels = style.link_labels(named, links) if keys == ["link_key"] else named
        if not keys:
            labels = [metric_label(metric)]
        colors = style.palette(len(named))
        incomplete = style.incomplete_periods(stats, pd.DatetimeIndex(data.index), freq)
        style.lines(ax, data.iloc[:, :len(named)], incomplete, labels, colors, **kwargs)
        tops = data.iloc[:, :len(named)].to_numpy(dtype=np.float64)
        handles, names = ax.get_legend_handles_labels()
        right = None
        if has_other:
            others = data.iloc[:, [-1]]
            what = "links" if keys == ["link_key"] else "groups"
            other_label = f"other ({data.attrs.get('others', 0):,} {what})"
            peak_top = np.nanmax(tops) if np.isfinite(tops).any() else 0.0
            peak_other = np.nanmax(others.to_numpy(dtype=np.float64)) if others.notna().any().any() else 0.0
            if metric not in RATES and peak_other > OTHER_SCALE * max(peak_top, 0.0):
                other_label += ", right axis"
                right, line = _other_axis(ax, others, incomplete, other_label, metric, **kwargs)
                handles.append(line)
                names.append(other_label)
            else:
                style.lines(ax, others, incomplete, [other_label], [style.OTHER_COLOR], **kwargs)
                tops = data.to_numpy(dtype=np.float64)
                handles, names = ax.get_legend_handles_labels()
            default += f" (top {top}, the rest as other)"
        ax.set_title(default if title is None else title)
        ax.set_ylabel(metric_label(metric, long=True))
        style.date_axis(ax, pd.DatetimeIndex(data.index), freq)
        style.number_axis(ax.yaxis, metric)
        if right is not None:
            style.number_axis(right.yaxis, metric)
        style.headroom(ax, tops)
        ax.grid(True, axis="y", color="#e5e5e5", linewidth=0.8)
        if legend:
            style.legend(ax, incomplete, handles=handles, labels=names, right=right)
    return ax


def plot_platforms(stats: pd.DataFrame, metric: str = "click_count", *, links: pd.DataFrame | None = None,
                   freq: str | None = None, title: str | None = None, legend: bool = True, ax: Axes | None = None,
                   **kwargs: Any) -> Axes:
    """Draw iOS against Android over time, one line each.

    Parameters
    ----------
    stats : pandas.DataFrame
        The stats table with ``ios`` and/or ``android`` rows
        (``fetch_stats(..., platform=["ios", "android"])``); ``all`` rows are ignored.
    metric : str, default "click_count"
        A counter or a rate.
    links : pandas.DataFrame, optional
        The links table: with ``create_time``, the lines start in the period the first of the
        links in ``stats`` was created (the days before any link existed are not zeros).
    freq : str, optional
        ``"D"``, ``"W"``, ``"MS"`` or another pandas alias; by default a day per point up to 90
        days of data, a week per point beyond.
    title : str, optional
        The title; by default ``"Clicks per day: iOS vs Android"``.
    legend : bool, default True
        Draw the legend.
    ax : matplotlib.axes.Axes, optional
        Where to draw; the current Axes by default.
    **kwargs
        Passed to ``Axes.plot`` for each line.

    Returns
    -------
    matplotlib.axes.Axes
        A line per platform present; for a counter, the legend gives each platform's share of
        the total. Empty ``stats``: the title and "no data to show".

    Raises
    ------
    ValueError
        When ``stats`` has rows but no ``ios`` or ``android`` row (only ``all``): a single line
        would not compare anything, so the message says how to fetch the platforms apart.
    """
    stats = check_stats(stats)
    check_metric(metric)
    ax = style.axes_or_current(ax)
    freq = style.resolve_freq(freq, stats)
    default = f"{metric_label(metric)} per {style.period_word(freq)}: iOS vs Android"
    if stats.empty:
        with style.fonts(ax):
            return style.no_data(ax, default if title is None else title)
    if "platform" not in stats.columns:
        raise ValueError("plot_platforms needs stats' platform column (the table fetch_stats returns)")
    split = stats[stats["platform"].isin(["ios", "android"])]
    if split.empty:
        present = ", ".join(sorted({str(p) for p in pd.unique(stats["platform"])})) or "none"
        raise ValueError(f"plot_platforms needs ios and android rows; stats has platform(s): {present}. "
                         "Fetch them apart: fetch_stats(client, ..., platform=['ios', 'android'])")
    with style.fonts(ax):
        data = trend_data(split, metric, by="platform", freq=freq, top=None)
        platforms = [p for p in ("ios", "android") if p in data.columns]
        data = data[platforms]
        labels = []
        for platform in platforms:
            label = PLATFORM_STYLE[platform][0]
            if metric not in RATES:
                total = data.to_numpy(dtype=np.float64).sum()
                share = float(ratio(data[platform].sum(), total))
                label += f" ({style.number_text('ctr', share)} of {metric_label(metric).lower()})"
            labels.append(label)
        incomplete = style.incomplete_periods(split, pd.DatetimeIndex(data.index), freq)
        keys = {str(key) for key in pd.unique(split["link_key"].dropna())}  # per key, not per row (3.65 M rows: 2 s)
        data = _before(data, _first_created(links, keys, among=True),
                       style.freq_alias(freq))
        style.lines(ax, data, incomplete, labels, [PLATFORM_STYLE[p][1] for p in platforms], **kwargs)
        ax.set_title(default if title is None else title)
        ax.set_ylabel(metric_label(metric, long=True))
        style.date_axis(ax, pd.DatetimeIndex(data.index), freq)
        style.number_axis(ax.yaxis, metric)
        style.headroom(ax, data.to_numpy(dtype=np.float64))
        ax.grid(True, axis="y", color="#e5e5e5", linewidth=0.8)
        if legend:
            style.legend(ax, incomplete)
    return ax
