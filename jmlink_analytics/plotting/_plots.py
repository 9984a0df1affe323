"""Pictures of the stats table, seaborn-style: data first, keyword-only options, the Axes returned.

Every function has the form ``plot_x(stats, metric=..., *, by=None, links=None, ...,
title=None, legend=True, ax=None, **kwargs)`` (no ``legend`` where there is none to draw, no
``links`` where the links table changes nothing): it draws on ``ax`` (the current Axes when
None), passes ``**kwargs`` on to the matplotlib call that draws the data, and returns the
Axes. Empty ``stats`` draws the title and "no data to show" in every one of them. Titles,
axis labels, date axes fitted to the data and thousands separators are set. Chinese link names and channels draw with
an installed CJK font (see :mod:`jmlink_analytics._fonts`); without one, a
:class:`~jmlink_analytics._fonts.CJKFontWarning` says once how to install one, and the plots
still draw. No global matplotlib setting is changed, and nothing is shown: call
``plt.show()`` or ``fig.savefig()`` yourself.

Rows are counted as in :mod:`jmlink_analytics.metrics` (the ``all`` rows of a link when
present, ``ios`` + ``android`` otherwise). The charts over time are in :mod:`._lines`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.colors import PowerNorm

from .._validate import check_int, check_metric, check_stats, normalize_by
from ..metrics import funnel, group_labels, ratio, summarize, trend_data
from ..schema import COUNTERS, METRIC_LABELS, PLATFORM_LABELS, RATES, STAGES, metric_label
from . import _style as style
from ._lines import plot_platforms, plot_trend

__all__ = ["plot_breakdown", "plot_funnel", "plot_heatmap", "plot_platforms", "plot_trend"]


#: The funnel's rates, in stage order: the rate whose numerator is each stage after the first (schema.RATES).
_STAGE_RATES: tuple[str, ...] = tuple(next(rate for rate, (num, _den) in RATES.items() if num == counter)
                                      for counter in COUNTERS[1:])


def _funnel_groups(table: pd.DataFrame, keys: list[str], top: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Group labels, a (groups, 4) count matrix and a (groups, 3) matrix of the stage rates.

    The first ``top`` groups keep metrics.funnel's conversion; the rest are summed as "other",
    its rates by the same definition (schema.RATES, metrics.ratio).
    """
    counts = table["count"].to_numpy(dtype=np.float64).reshape(-1, len(STAGES))
    conversion = table["conversion"].to_numpy(dtype=np.float64).reshape(-1, len(STAGES))[:, 1:]
    labels = list(group_labels(table.iloc[::len(STAGES)], keys))
    if keys == ["platform"]:
        labels = [PLATFORM_LABELS.get(label, label) for label in labels]
    if len(labels) > top:
        rest = counts[top:].sum(axis=0)
        rates = [ratio(rest[COUNTERS.index(RATES[r][0])], rest[COUNTERS.index(RATES[r][1])]) for r in _STAGE_RATES]
        counts = np.vstack([counts[:top], rest])
        conversion = np.vstack([conversion[:top], np.asarray(rates, dtype=np.float64)])
        labels = [*labels[:top], "other"]
    return labels, counts, conversion


def plot_funnel(stats: pd.DataFrame, *, by: str | list[str] | None = None, links: pd.DataFrame | None = None,
                top: int = 6, title: str | None = None, legend: bool = True, ax: Axes | None = None,
                **kwargs: Any) -> Axes:
    """Draw the funnel (exposure → click → open → install) as bars labelled with the conversion.

    Parameters
    ----------
    stats : pandas.DataFrame
        The stats table of :func:`jmlink_analytics.fetch_stats`.
    by : str or list of str, optional
        Grouping column(s) (``"platform"``, or ``"channel"`` with ``links``) to compare groups.
    links : pandas.DataFrame, optional
        The links table, to group by its columns.
    top : int, default 6
        With ``by``: the first ``top`` groups by clicks side by side, the rest as one grey "other".
    title : str, optional
        The title; by default it names the stages (or the grouping).
    legend : bool, default True
        With ``by``: draw the legend of the groups.
    ax : matplotlib.axes.Axes, optional
        Where to draw; the current Axes by default.
    **kwargs
        Passed to ``Axes.bar``.

    Returns
    -------
    matplotlib.axes.Axes
        Without ``by``: four bars, the count of each stage, labelled with the count and the
        stage's rate as :func:`~jmlink_analytics.funnel` defines it and the cards name it ("CTR",
        "Open rate", "Install rate": installs / clicks, not installs / opens). With ``by``:
        groups' counts differ by orders of magnitude, so the bars compare the three rates
        (``ctr``, ``open_rate``, ``install_rate``, labelled with their definitions) one bar per
        group, in percent; the legend gives each group's exposures. Empty ``stats``: the title
        and "no data to show".
    """
    stats = check_stats(stats, need_date=False)
    top = check_int(top, "top", 1)
    keys = normalize_by(by)
    ax = style.axes_or_current(ax)
    if title is None:
        title = (f"Funnel rates by {style.by_words(keys)}" if keys
                 else "Funnel: exposure → click → open → install")
    with style.fonts(ax):
        table = funnel(stats, by=by, links=links) if not stats.empty else stats.iloc[:0]
        if table.empty:
            return style.no_data(ax, title)
        if keys:
            _grouped_funnel(ax, table, keys, top, legend, **kwargs)
            ax.set_title(title)
        else:
            counts = table["count"].to_numpy(dtype=np.float64)
            conversion = table["conversion"].to_numpy(dtype=np.float64)
            options: dict[str, Any] = {"width": 0.7, "color": "#4c72b0"} | kwargs
            bars = ax.bar(np.arange(len(STAGES)), counts, **options)
            texts = [f"{counts[0]:,.0f}"] + [  # the rate as the cards name it: "Install rate 19.5%"
                f"{counts[i]:,.0f}\n{METRIC_LABELS[rate]} {style.number_text(rate, conversion[i])}"
                for i, rate in enumerate(_STAGE_RATES, start=1)]
            ax.bar_label(bars, labels=texts, padding=2, fontsize=8)
            ax.set_xticks(np.arange(len(STAGES)), [f"{s.capitalize()}s" for s in STAGES])
            ax.set_ylabel("Count")
            style.number_axis(ax.yaxis, "exposure_count")
            ax.set_ylim(0, max(float(counts.max()), 1.0) * 1.18)
            ax.set_title(title)
        ax.grid(True, axis="y", color="#e5e5e5", linewidth=0.8)
        ax.set_axisbelow(True)
    return ax


def _grouped_funnel(ax: Axes, table: pd.DataFrame, keys: list[str], top: int, legend: bool, **kwargs: Any) -> None:
    """Bars of each step's conversion, one per group (see plot_funnel)."""
    labels, counts, conversion = _funnel_groups(table, keys, top)
    steps = np.arange(len(STAGES) - 1)
    width = 0.84 / len(labels)
    colors = style.palette(len(labels))
    vertical = len(labels) > 3
    for i, label in enumerate(labels):
        color = style.OTHER_COLOR if label == "other" else colors[i]
        options: dict[str, Any] = {"width": width * 0.9, "color": color,
                                   "label": f"{label} ({counts[i, 0]:,.0f} exposures)"}
        bars = ax.bar(steps + (i - (len(labels) - 1) / 2) * width, np.nan_to_num(conversion[i]),
                      **(options | kwargs))
        texts = [style.number_text(r, v) for r, v in zip(_STAGE_RATES, conversion[i], strict=True)]
        ax.bar_label(bars, labels=texts, padding=2, fontsize=7 if vertical else 8, rotation=90 if vertical else 0)
    ax.set_xticks(steps, [metric_label(rate, long=True) for rate in _STAGE_RATES])
    ax.set_ylabel("Rate")
    style.number_axis(ax.yaxis, "ctr")
    largest = np.nanmax(conversion) if np.isfinite(conversion).any() else 1.0
    ax.set_ylim(0, max(largest, 0.01) * (1.3 if vertical else 1.15))
    if legend:
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def plot_breakdown(stats: pd.DataFrame, metric: str = "click_count", *, by: str | list[str] = "channel",
                   links: pd.DataFrame | None = None, top: int = 15, title: str | None = None,
                   ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Draw ``metric`` per value of a links column (or a stats column) as horizontal bars, largest on top.

    Parameters
    ----------
    stats : pandas.DataFrame
        The stats table of :func:`jmlink_analytics.fetch_stats`.
    metric : str, default "click_count"
        A counter or a rate (a rate from each group's sums).
    by : str or list of str, default "channel"
        The column(s) to break down by; a link without a value shows as "(none)".
    links : pandas.DataFrame, optional
        The links table of :func:`jmlink_analytics.fetch_links` (needed when ``by`` is one of its
        columns, such as ``channel``).
    top : int, default 15
        Bars for the ``top`` largest groups; the rest add up to one grey "other" bar.
    title : str, optional
        The title; by default ``"Clicks by channel"``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; the current Axes by default.
    **kwargs
        Passed to ``Axes.barh``.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per group (plus "other"), each labelled with its value (so no legend). Empty
        ``stats``: the title and "no data to show".
    """
    if isinstance(metric, pd.DataFrame):
        raise TypeError("plot_breakdown's second argument is the metric (a str such as 'click_count'); "
                        "got a DataFrame: pass the links table as links=links")
    stats = check_stats(stats, need_date=False)
    check_metric(metric)
    top = check_int(top, "top", 1)
    keys = normalize_by(by)
    if not keys:
        raise ValueError("by must name at least one column to break down by, e.g. 'channel'")
    ax = style.axes_or_current(ax)
    if title is None:
        title = f"{metric_label(metric)} by {style.by_words(keys)}"
    with style.fonts(ax):
        table = summarize(stats, by=keys, links=links) if not stats.empty else stats.iloc[:0]
        if table.empty:
            return style.no_data(ax, title)
        table = table.sort_values(metric, ascending=False, kind="stable", na_position="last").reset_index(drop=True)
        names = list(group_labels(table, keys))
        names = style.link_labels(names, links) if keys == ["link_key"] else names
        values = table[metric].to_numpy(dtype=np.float64)
        colors = [kwargs.pop("color", "#4c72b0")] * len(values)
        if len(values) > top:
            rest = table.iloc[top:][list(COUNTERS)].sum()
            if metric in RATES:
                num, den = RATES[metric]
                other = float(ratio(rest[num], rest[den]))
            else:
                other = rest[metric]
            values = np.append(values[:top], other)
            names = [*names[:top], f"other ({len(table) - top})"]
            colors = [*colors[:top], style.OTHER_COLOR]
        y = np.arange(len(values))
        bars = ax.barh(y, np.nan_to_num(values), color=colors, **kwargs)
        ax.bar_label(bars, labels=[style.number_text(metric, v) for v in values], padding=3, fontsize=8)
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_title(title)
        ax.set_xlabel(metric_label(metric, long=True))
        style.number_axis(ax.xaxis, metric)
        largest = np.nanmax(values) if np.isfinite(values).any() else 0.0
        ax.set_xlim(0, largest * 1.18 if largest > 0 else 1.0)
        ax.grid(True, axis="x", color="#e5e5e5", linewidth=0.8)
        ax.set_axisbelow(True)
    return ax


def plot_heatmap(stats: pd.DataFrame, metric: str = "click_count", *, links: pd.DataFrame | None = None,
                 top: int = 20, title: str | None = None, cbar: bool = True, cbar_ax: Axes | None = None,
                 ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Draw the top links (rows) by day (columns), coloured by ``metric``, with a colour bar.

    Parameters
    ----------
    stats : pandas.DataFrame
        The stats table of :func:`jmlink_analytics.fetch_stats`.
    metric : str, default "click_count"
        A counter or a rate (a rate cell without a denominator stays blank).
    links : pandas.DataFrame, optional
        The links table: rows are labelled by key and name.
    top : int, default 20
        Rows for the ``top`` links with the largest totals (of the metric, or of a rate's denominator).
    title : str, optional
        The title; by default ``"Clicks per day, top 20 links (blank: no clicks)"``.
    cbar : bool, default True
        Draw the colour bar (the heat map's legend).
    cbar_ax : matplotlib.axes.Axes, optional
        Draw the colour bar there; by default in an Axes taken from beside ``ax``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; the current Axes by default.
    **kwargs
        Passed to ``Axes.pcolormesh`` (``cmap``, ``vmax``, ...).

    Returns
    -------
    matplotlib.axes.Axes
        The heat map's Axes: one cell per link and day, the x axis from the first day's start
        to the last day's end. Partial days, if any, are right of a dashed line. Empty
        ``stats``: the title and "no data to show".
    """
    stats = check_stats(stats)
    check_metric(metric)
    top = check_int(top, "top", 1)
    ax = style.axes_or_current(ax)
    if title is None:
        title = (f"{metric_label(metric)} per day, top {top} links"
                 + ("" if metric in RATES else f" (blank: no {metric_label(metric).lower()})"))
    colorbar = None
    with style.fonts(ax) as families:
        data = trend_data(stats, metric, by="link_key", freq="D", top=top) if not stats.empty else pd.DataFrame()
        data = data[[c for c in data.columns if c != "other"]] if len(data.columns) > top else data
        if data.empty or data.shape[1] == 0:
            return style.no_data(ax, title)
        days = pd.DatetimeIndex(data.index)
        edges = np.append(days.to_numpy(), (days[-1] + pd.Timedelta(days=1)).to_datetime64())
        values = data.to_numpy(dtype=np.float64).T
        values = np.ma.masked_invalid(values if metric in RATES else np.where(values > 0, values, np.nan))
        kwargs.setdefault("cmap", "YlOrRd")
        if metric not in RATES and "norm" not in kwargs and "vmin" not in kwargs and "vmax" not in kwargs:
            kwargs["norm"] = PowerNorm(gamma=0.5, vmin=0.0)  # a spike does not wash the rest out
        mesh = ax.pcolormesh(edges, np.arange(data.shape[1] + 1), values, shading="flat", **kwargs)
        names = style.link_labels([str(c) for c in data.columns], links)
        ax.set_yticks(np.arange(data.shape[1]) + 0.5, names, fontsize=8 if len(names) <= 25 else 6)
        ax.set_ylim(data.shape[1], 0)
        style.date_axis(ax, days, "D", cells=True)
        partial = style.incomplete_periods(stats, days, "D")
        if partial.any() and not partial.all():
            first_partial = float(mdates.date2num(days[int(np.argmax(partial))]))
            ax.axvline(first_partial, color="#333333", linestyle="--", linewidth=1)
            ax.set_xlabel("dashed line: partial days begin", fontsize=8, loc="left")
        ax.set_title(title)
        if cbar:
            colorbar = (ax.figure.colorbar(mesh, ax=ax, pad=0.02) if cbar_ax is None
                        else ax.figure.colorbar(mesh, cax=cbar_ax))
            colorbar.set_label(metric_label(metric, long=True))
            style.number_axis(colorbar.ax.yaxis, metric)
    if colorbar is not None:
        style.apply_fonts(families, colorbar.ax)
    return ax

