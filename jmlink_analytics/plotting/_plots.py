"""Pictures of the stats table, seaborn-style: data first, keyword-only options, the Axes returned.

Each function draws on ``ax`` (the current Axes when None), passes ``**kwargs`` on to the
matplotlib call that draws the data, and returns the Axes. Titles, axis labels, date axes
(concise dates) and thousands separators are set. Chinese link names and channels draw with
an installed CJK font (see :mod:`jmlink_analytics._fonts`); without one, a
:class:`~jmlink_analytics._fonts.CJKFontWarning` says once how to install one, and the plots
still draw. No global matplotlib setting is changed, and nothing is shown: call
``plt.show()`` or ``fig.savefig()`` yourself.

Rows are counted as in :mod:`jmlink_analytics.metrics` (the ``all`` rows of a link when
present, ``ios`` + ``android`` otherwise). Periods that are not comparable with the others,
a period holding a partial day (today, yesterday) or cut by the data's date range, are drawn
dashed in the trend and platform charts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import PowerNorm

from .._validate import check_metric, check_stats, check_top, normalize_by
from ..metrics._groups import group_labels
from ..metrics._summaries import funnel, summarize, trend_data
from ..schema import COUNTERS, RATES, STAGES
from . import _style as style

__all__ = ["plot_breakdown", "plot_funnel", "plot_heatmap", "plot_platforms", "plot_trend"]

_PLATFORM_STYLE = {"ios": ("iOS", "#1f77b4"), "android": ("Android", "#2ca02c")}


def plot_trend(stats: pd.DataFrame, metric: str = "click_count", *, by: str | list[str] | None = None,
               freq: str = "D", top: int = 10, links: pd.DataFrame | None = None, ax: Axes | None = None,
               **kwargs: Any) -> Axes:
    """Draw ``metric`` over time: one line per group, the top groups by total and the rest as "other".

    Parameters
    ----------
    stats : pandas.DataFrame
        The stats table of :func:`jmlink_analytics.fetch_stats`.
    metric : str, default "click_count"
        A counter or a rate (a rate from each period's sums).
    by : str or list of str, optional
        Grouping column(s), as in :func:`jmlink_analytics.summarize`; None draws one line, the total.
    freq : str, default "D"
        ``"D"``, ``"W"``, ``"MS"`` or another pandas alias (see ``summarize``).
    top : int, default 10
        Lines for the ``top`` groups with the largest totals; the rest add up to one grey "other" line.
    links : pandas.DataFrame, optional
        The links table: labels links by key and name, and lets ``by`` name its columns.
    ax : matplotlib.axes.Axes, optional
        Where to draw; the current Axes by default.
    **kwargs
        Passed to ``Axes.plot`` for each line (``linewidth``, ``alpha``, ...).

    Returns
    -------
    matplotlib.axes.Axes
    """
    stats = check_stats(stats)
    check_metric(metric)
    top = check_top(top)
    keys = normalize_by(by)
    ax = style.axes_or_current(ax)
    word = style.period_word(freq)
    title = f"{style.LABELS[metric].split(' (')[0]} per {word}" + (f" by {style.by_words(keys)}" if keys else "")
    with style.fonts(ax):
        data = trend_data(stats, metric, by=by, freq=freq, top=top, links=links)
        if data.empty:
            return style.no_data(ax, title)
        columns = [str(c) for c in data.columns]
        has_other = bool(keys) and len(columns) > top
        named = columns[:-1] if has_other else columns
        labels = style.link_labels(named, links) if keys == ["link_key"] else named
        labels = labels + (["other"] if has_other else []) if keys else [style.LABELS[metric].split(" (")[0]]
        colors = style.palette(len(named)) + ([style.OTHER_COLOR] if has_other else [])
        incomplete = style.incomplete_periods(stats, data.index, freq)
        style.lines(ax, data, incomplete, labels, colors, **kwargs)
        if keys and has_other:
            title += f" (top {top}, the rest as other)"
        ax.set_title(title)
        ax.set_xlabel("")
        ax.set_ylabel(style.LABELS[metric])
        style.date_axis(ax.xaxis)
        style.number_axis(ax.yaxis, metric)
        ax.set_ylim(bottom=0)
        ax.grid(True, axis="y", color="#e5e5e5", linewidth=0.8)
        style.legend(ax, incomplete)
    return ax


def _funnel_groups(table: pd.DataFrame, keys: list[str], top: int) -> tuple[list[str], np.ndarray]:
    """Group labels and a (groups, 4) count matrix: the first ``top`` groups, the rest summed as "other"."""
    counts = table["count"].to_numpy(dtype=np.float64).reshape(-1, len(STAGES))
    labels = list(group_labels(table.iloc[::len(STAGES)], keys))
    if keys == ["platform"]:
        labels = [_PLATFORM_STYLE.get(label, (label,))[0] for label in labels]
    if len(labels) > top:
        rest = counts[top:].sum(axis=0, keepdims=True)
        counts = np.vstack([counts[:top], rest])
        labels = [*labels[:top], "other"]
    return labels, counts


def plot_funnel(stats: pd.DataFrame, *, by: str | list[str] | None = None, links: pd.DataFrame | None = None,
                top: int = 6, ax: Axes | None = None, **kwargs: Any) -> Axes:
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
    ax : matplotlib.axes.Axes, optional
        Where to draw; the current Axes by default.
    **kwargs
        Passed to ``Axes.bar``.

    Returns
    -------
    matplotlib.axes.Axes
        Without ``by``: four bars, the count of each stage, labelled with the count and the share of
        the previous stage that reached it. With ``by``: groups' counts differ by orders of
        magnitude, so the bars compare what groups convert: for each step (click / exposure,
        open / click, install / open) one bar per group, labelled in percent; the legend gives
        each group's exposures.
    """
    stats = check_stats(stats, need_date=False)
    top = check_top(top)
    keys = normalize_by(by)
    ax = style.axes_or_current(ax)
    title = "Funnel: exposure → click → open → install"
    with style.fonts(ax):
        table = funnel(stats, by=by, links=links)
        if table.empty:
            return style.no_data(ax, title)
        if keys:
            _grouped_funnel(ax, table, keys, top, **kwargs)
            ax.set_title(f"Conversion at each step of the funnel, by {style.by_words(keys)}")
        else:
            counts = table["count"].to_numpy(dtype=np.float64)
            conversion = table["conversion"].to_numpy(dtype=np.float64)
            bars = ax.bar(np.arange(len(STAGES)), counts, **({"width": 0.7, "color": "#4c72b0"} | kwargs))
            texts = [f"{counts[0]:,.0f}"] + [
                f"{counts[i]:,.0f}\n{style.number_text('ctr', conversion[i])} of {STAGES[i - 1]}s"
                for i in range(1, len(STAGES))]
            ax.bar_label(bars, labels=texts, padding=2, fontsize=8)
            ax.set_xticks(np.arange(len(STAGES)), [f"{s.capitalize()}s" for s in STAGES])
            ax.set_ylabel("Count")
            style.number_axis(ax.yaxis, "exposure_count")
            ax.set_ylim(0, max(float(counts.max()), 1.0) * 1.18)
            ax.set_title(title)
        ax.grid(True, axis="y", color="#e5e5e5", linewidth=0.8)
        ax.set_axisbelow(True)
    return ax


def _grouped_funnel(ax: Axes, table: pd.DataFrame, keys: list[str], top: int, **kwargs: Any) -> None:
    """Bars of each step's conversion, one per group (see plot_funnel)."""
    labels, counts = _funnel_groups(table, keys, top)
    with np.errstate(divide="ignore", invalid="ignore"):
        conversion = np.where(counts[:, :-1] > 0, counts[:, 1:] / np.where(counts[:, :-1] > 0, counts[:, :-1], 1.0),
                              np.nan)
    steps = np.arange(len(STAGES) - 1)
    width = 0.84 / len(labels)
    colors = style.palette(len(labels))
    vertical = len(labels) > 3
    for i, label in enumerate(labels):
        color = style.OTHER_COLOR if label == "other" else colors[i]
        options = {"width": width * 0.9, "color": color, "label": f"{label} ({counts[i, 0]:,.0f} exposures)"}
        bars = ax.bar(steps + (i - (len(labels) - 1) / 2) * width, np.nan_to_num(conversion[i]),
                      **(options | kwargs))
        ax.bar_label(bars, labels=[style.number_text("ctr", v) for v in conversion[i]], padding=2,
                     fontsize=7 if vertical else 8, rotation=90 if vertical else 0)
    names = [f"{STAGES[i + 1].capitalize()}s / {STAGES[i]}s" for i in steps]
    ax.set_xticks(steps, names)
    ax.set_ylabel("Conversion from the previous stage")
    style.number_axis(ax.yaxis, "ctr")
    largest = np.nanmax(conversion) if np.isfinite(conversion).any() else 1.0
    ax.set_ylim(0, max(largest, 0.01) * (1.3 if vertical else 1.15))
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def plot_breakdown(stats: pd.DataFrame, links: pd.DataFrame | None, *, by: str | list[str] = "channel",
                   metric: str = "click_count", top: int = 15, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Draw ``metric`` per value of a links column (or a stats column) as horizontal bars, largest on top.

    Parameters
    ----------
    stats : pandas.DataFrame
        The stats table of :func:`jmlink_analytics.fetch_stats`.
    links : pandas.DataFrame or None
        The links table of :func:`jmlink_analytics.fetch_links` (None when ``by`` is a stats column).
    by : str or list of str, default "channel"
        The column(s) to break down by; a link without a value shows as "(none)".
    metric : str, default "click_count"
        A counter or a rate (a rate from each group's sums).
    top : int, default 15
        Bars for the ``top`` largest groups; the rest add up to one grey "other" bar.
    ax : matplotlib.axes.Axes, optional
        Where to draw; the current Axes by default.
    **kwargs
        Passed to ``Axes.barh``.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per group (plus "other"), each labelled with its value.
    """
    stats = check_stats(stats, need_date=False)
    check_metric(metric)
    top = check_top(top)
    keys = normalize_by(by)
    if not keys:
        raise ValueError("by must name at least one column to break down by, e.g. 'channel'")
    ax = style.axes_or_current(ax)
    title = f"{style.LABELS[metric].split(' (')[0]} by {style.by_words(keys)}"
    with style.fonts(ax):
        table = summarize(stats, by=keys, links=links)
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
                other = rest[num] / rest[den] if rest[den] else np.nan
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
        ax.set_xlabel(style.LABELS[metric])
        style.number_axis(ax.xaxis, metric)
        largest = np.nanmax(values) if np.isfinite(values).any() else 0.0
        ax.set_xlim(0, largest * 1.18 if largest > 0 else 1.0)
        ax.grid(True, axis="x", color="#e5e5e5", linewidth=0.8)
        ax.set_axisbelow(True)
    return ax


def plot_platforms(stats: pd.DataFrame, metric: str = "click_count", *, freq: str = "D", ax: Axes | None = None,
                   **kwargs: Any) -> Axes:
    """Draw iOS against Android over time, one line each.

    Parameters
    ----------
    stats : pandas.DataFrame
        The stats table with ``ios`` and/or ``android`` rows
        (``fetch_stats(..., platform=["ios", "android"])``); ``all`` rows are ignored.
    metric : str, default "click_count"
        A counter or a rate.
    freq : str, default "D"
        ``"D"``, ``"W"``, ``"MS"`` or another pandas alias.
    ax : matplotlib.axes.Axes, optional
        Where to draw; the current Axes by default.
    **kwargs
        Passed to ``Axes.plot`` for each line.

    Returns
    -------
    matplotlib.axes.Axes
        A line per platform present; for a counter, the legend gives each platform's share of the total.

    Raises
    ------
    ValueError
        When ``stats`` has no ``ios`` or ``android`` row (only ``all``): a single line would not
        compare anything, so the message says how to fetch the platforms apart.
    """
    stats = check_stats(stats)
    check_metric(metric)
    if "platform" not in stats.columns:
        raise ValueError("plot_platforms needs stats' platform column (the table fetch_stats returns)")
    split = stats[stats["platform"].isin(["ios", "android"])]
    if split.empty:
        present = ", ".join(sorted({str(p) for p in pd.unique(stats["platform"])})) or "none"
        raise ValueError(f"plot_platforms needs ios and android rows; stats has platform(s): {present}. "
                         "Fetch them apart: fetch_stats(client, ..., platform=['ios', 'android'])")
    ax = style.axes_or_current(ax)
    word = style.period_word(freq)
    title = f"{style.LABELS[metric].split(' (')[0]} per {word}: iOS vs Android"
    with style.fonts(ax):
        data = trend_data(split, metric, by="platform", freq=freq, top=None)
        platforms = [p for p in ("ios", "android") if p in data.columns]
        data = data[platforms]
        labels = []
        for platform in platforms:
            label = _PLATFORM_STYLE[platform][0]
            if metric not in RATES:
                total = data.to_numpy(dtype=np.float64).sum()
                share = data[platform].sum() / total if total else np.nan
                label += f" ({style.number_text('ctr', share)} of {style.LABELS[metric].lower()})"
            labels.append(label)
        incomplete = style.incomplete_periods(split, data.index, freq)
        style.lines(ax, data, incomplete, labels, [_PLATFORM_STYLE[p][1] for p in platforms], **kwargs)
        ax.set_title(title)
        ax.set_ylabel(style.LABELS[metric])
        style.date_axis(ax.xaxis)
        style.number_axis(ax.yaxis, metric)
        ax.set_ylim(bottom=0)
        ax.grid(True, axis="y", color="#e5e5e5", linewidth=0.8)
        style.legend(ax, incomplete)
    return ax


def plot_heatmap(stats: pd.DataFrame, metric: str = "click_count", *, top: int = 20,
                 links: pd.DataFrame | None = None, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Draw the top links (rows) by day (columns), coloured by ``metric``, with a colour bar.

    Parameters
    ----------
    stats : pandas.DataFrame
        The stats table of :func:`jmlink_analytics.fetch_stats`.
    metric : str, default "click_count"
        A counter or a rate (a rate cell without a denominator stays blank).
    top : int, default 20
        Rows for the ``top`` links with the largest totals (of the metric, or of a rate's denominator).
    links : pandas.DataFrame, optional
        The links table: rows are labelled by key and name.
    ax : matplotlib.axes.Axes, optional
        Where to draw; the current Axes by default.
    **kwargs
        Passed to ``Axes.pcolormesh`` (``cmap``, ``vmax``, ...).

    Returns
    -------
    matplotlib.axes.Axes
        The heat map's Axes (the colour bar gets an Axes of its own beside it). Partial days,
        if any, are right of a dashed line.
    """
    stats = check_stats(stats)
    check_metric(metric)
    top = check_top(top)
    ax = style.axes_or_current(ax)
    title = f"{style.LABELS[metric].split(' (')[0]} per day, top {top} links"
    with style.fonts(ax) as families:
        data = trend_data(stats, metric, by="link_key", freq="D", top=top)
        data = data[[c for c in data.columns if c != "other"]] if len(data.columns) > top else data
        if data.empty or data.shape[1] == 0:
            return style.no_data(ax, title)
        days = data.index
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
        style.date_axis(ax.xaxis)
        partial = style.incomplete_periods(stats, days, "D")
        if partial.any() and not partial.all():
            ax.axvline(days[int(np.argmax(partial))].to_datetime64(), color="#333333", linestyle="--", linewidth=1)
            ax.set_xlabel("dashed line: partial days begin", fontsize=8, loc="left")
        ax.set_title(title + ("" if metric in RATES else f" (blank: no {style.LABELS[metric].lower()})"))
        colorbar = ax.figure.colorbar(mesh, ax=ax, pad=0.02)
        colorbar.set_label(style.LABELS[metric])
        style.number_axis(colorbar.ax.yaxis, metric)
    style.apply_fonts(families, colorbar.ax)
    return ax
