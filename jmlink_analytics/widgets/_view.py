"""What the dashboard shows, as plain functions: the headline and table HTML, the trend chart.

Everything taken from the data (link keys, names, channels) is HTML-escaped. No ipywidgets here,
so the views are testable on their own.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
from typing import Any

import numpy as np
import pandas as pd

from ..display import format_cell, html_table, metric_kind
from ..schema import COUNTERS, METRIC_LABELS, METRICS, PLATFORM_LABELS, RATES
from ._index import with_rates

__all__ = [
    "blank_figures", "change_text", "comparison", "draw_trend", "finish_trend", "headline_html", "png_output",
    "table_html", "top_links",
]

_UP, _DOWN = "#1a7f37", "#cf222e"


def fmt_value(metric: str, value: float) -> str:
    """A counter with thousands separators, a rate as a percentage, a missing value as "–" (the shared formatter)."""
    return format_cell(value, metric_kind(metric))


FIGURE_COLUMNS = ("current", "previous", "change", "pct_change", "compared")


def comparison(daily: pd.DataFrame, window: tuple[dt.date, dt.date],
               compared: tuple[dt.date, dt.date] | None = None,
               previous: tuple[dt.date, dt.date] | None = None) -> pd.DataFrame:
    """Headline figures: one row per metric; ``current``, ``previous``, ``change``, ``pct_change``, ``compared``.

    ``daily`` is the selection's per-day table (see ``StatsIndex.daily``). ``current`` sums the
    whole ``window`` (partial days included, as the report's totals do). The change is measured
    the report's way: over ``compared`` (the window's complete days, partial days left out)
    against the same number of days right before it, with
    :func:`~jmlink_analytics.compare_periods`: ``compared`` is the current value over those
    days, ``previous`` the value before, ``change`` their difference (a rate's in rate units,
    0.01 = one point), ``pct_change`` the relative change (NaN where the previous value is 0).
    Without ``compared`` (no previous period in the data, or only partial days) those are NaN.
    ``attrs["compared"]`` and ``attrs["previous"]`` hold the two windows (Timestamps) when compared.
    """
    from ..metrics import compare_periods, summarize

    dates = pd.to_datetime(daily["date"])
    inside = daily[(dates >= pd.Timestamp(window[0])) & (dates <= pd.Timestamp(window[1]))]
    totals = summarize(inside, by=None).iloc[0]
    table = pd.DataFrame(np.nan, index=pd.Index(list(METRICS), name="metric"), columns=list(FIGURE_COLUMNS))
    table["current"] = [float(totals[m]) for m in METRICS]
    if compared is not None:
        result = compare_periods(daily, compared, previous, by=None)  # previous: metrics.comparison_windows
        table.attrs.update(compared=result.attrs["current"], previous=result.attrs["previous"])
        row = result.iloc[0]
        for column, suffix in (("compared", "current"), ("previous", "previous"), ("change", "change")):
            table[column] = [float(row[f"{m}_{suffix}"]) for m in METRICS]
        table["pct_change"] = [float(row.get(f"{m}_rel_change", np.nan)) for m in METRICS]  # rates: in points
    return table


def blank_figures() -> pd.DataFrame:
    """Headline figures when nothing can be computed (start after end, no link): every value NaN."""
    return pd.DataFrame(np.nan, index=pd.Index(list(METRICS), name="metric"), columns=list(FIGURE_COLUMNS))


def change_text(metric: str, change: float, pct_change: float) -> tuple[str, int]:
    """The change as the dashboard, the report and the notebooks say it, and its sign once rounded.

    Counts change relatively (``"+12.5%"``), rates in percentage points (``"-1.2 pp"``); a change
    that rounds to zero is ``"0.0%"`` / ``"0.0 pp"`` with sign 0 (neutral, never ``"-0.0"``).
    A count that rises from 0 has no relative change: ``"+35 (from 0)"``.
    """
    if metric in RATES:
        shown = round(change * 100, 1)
        return ("0.0 pp", 0) if shown == 0 else (f"{shown:+.1f} pp", 1 if shown > 0 else -1)
    if math.isnan(pct_change):
        shown = round(change)
        return ("0 (from 0)", 0) if shown == 0 else (f"{shown:+,} (from 0)", 1 if shown > 0 else -1)
    shown = round(pct_change * 100, 1)
    return ("0.0%", 0) if shown == 0 else (f"{shown:+.1f}%", 1 if shown > 0 else -1)


def _change_html(metric: str, row: pd.Series) -> str:
    change, pct = row["change"], row["pct_change"]
    if math.isnan(change):
        return '<span style="color:#6e7781">no previous period</span>'
    text, sign = change_text(metric, change, pct)
    color = _UP if sign > 0 else _DOWN if sign < 0 else "#6e7781"
    arrow = "▲" if sign > 0 else "▼" if sign < 0 else "="
    before = html.escape(f"previous period: {fmt_value(metric, row['previous'])}", quote=True)
    return f'<span style="color:{color}" title="{before}">{arrow} {html.escape(text)}</span>'


def headline_html(figures: pd.DataFrame, caption: str, note: str = "") -> str:
    """The headline row: one card per metric with its value and the change vs the previous period."""
    cards = []
    for metric, row in zip(figures.index.astype(str), (figures.iloc[i] for i in range(len(figures))), strict=True):
        cards.append(
            '<div style="min-width:104px;padding:4px 10px;border-left:3px solid #d0d7de">'
            f'<div style="color:#57606a;font-size:12px">{METRIC_LABELS[metric]}</div>'
            f'<div style="font-size:20px;font-weight:600">{fmt_value(metric, row["current"])}</div>'
            f'<div style="font-size:12px">{_change_html(metric, row)}</div></div>'
        )
    extra = f'<div style="color:#9a6700;font-size:12px">{html.escape(note)}</div>' if note else ""
    return (
        f'<div style="font-size:13px;color:#24292f;margin-bottom:4px">{html.escape(caption)}</div>'
        f'<div style="display:flex;flex-wrap:wrap;gap:6px">{"".join(cards)}</div>{extra}'
    )


def top_links(per_link: pd.DataFrame, metric: str, top: int) -> pd.DataFrame:
    """The ``top`` links by ``metric`` (then clicks, then key), with rates; NaN rates last."""
    ranked = with_rates(per_link)
    ranked = ranked.sort_values([metric, "click_count", "link_key"], ascending=[False, False, True], na_position="last")
    return ranked.head(top).reset_index(drop=True)


def table_html(table: pd.DataFrame, metric: str) -> str:
    """The top-links table as escaped HTML (the shared table helper); the sort column is bold."""
    columns = ["link_key", "name", "channel", *COUNTERS, *RATES]
    labels = {"link_key": "Link", "name": "Name", "channel": "Channel", **METRIC_LABELS}
    return html_table(table, columns, labels=labels, kinds={"name": "text", "channel": "text"}, highlight=metric,
                      numbered=True, empty="No links in the selection.")


def draw_trend(ax: Any, frame: pd.DataFrame, metric: str, freq: str, title: str, *,
               by: str | None = None, links: pd.DataFrame | None = None) -> str:
    """Redraw the trend on the reused ``ax`` with :func:`~jmlink_analytics.plot_trend`: "Clicks per day · <title>".

    ``freq`` ``"auto"`` is plot_trend's rule (a point per day up to 90 days of ``frame``, per
    week beyond); returns the period drawn (``"D"``, ``"W"`` or ``"MS"``).

    ``frame`` is stats-shaped (``date``, counters, ``is_partial``; ``link_key`` when ``by``):
    the selection's daily totals, or a few links' daily sums for one line each. An empty
    ``frame`` draws plot_trend's "no data to show". The right-hand axis plot_trend may add
    for "other" is removed before each redraw, so the figure keeps one Axes of its own.
    """
    from ..plotting import period_word, plot_trend, resolve_freq

    freq = resolve_freq(None if freq == "auto" else freq, frame)
    for other in [a for a in ax.figure.axes if a is not ax]:
        other.remove()  # the right-hand "other" axis of the previous drawing
    ax.clear()
    ax.set_zorder(0)
    ax.patch.set_visible(True)
    heading = f"{METRIC_LABELS[metric]} per {period_word(freq)} · {title}"
    plot_trend(frame, metric, by=by, freq=freq, top=10 if by else None, links=links, title=heading, ax=ax)
    legend = ax.get_legend()
    outside = legend is not None and len(legend.get_texts()) > 4  # plot_trend puts long legends to the right
    # room below for a week's note ("week starting Monday") under two-line tick labels ("Jun 3\n2024")
    figure = ax.figure
    figure.subplots_adjust(right=0.79 if outside else 0.98, bottom=0.24 if ax.get_xlabel() else 0.17)
    if outside and legend is not None:  # and room on the right for the whole legend, however long its labels
        box = legend.get_window_extent(figure.canvas.get_renderer())
        overflow = (box.x1 - figure.bbox.x1) / figure.bbox.width + 0.01
        if overflow > 0:
            figure.subplots_adjust(right=max(0.45, 0.79 - overflow))
    return freq


def with_create_time(names: pd.DataFrame, links: pd.DataFrame | None) -> pd.DataFrame:
    """``names`` (``link_key``, ...) with each link's ``create_time`` from ``links``, when it has one.

    plot_trend starts a link's line in the period the link was created.
    """
    if links is None or "create_time" not in links.columns or "link_key" not in links.columns:
        return names
    table = links.drop_duplicates("link_key")
    created = pd.Series(pd.to_datetime(table["create_time"]).to_numpy(), index=table["link_key"].astype(str).to_numpy())
    return names.assign(create_time=names["link_key"].map(created))


def png_output(figure: Any) -> dict[str, Any]:
    """The figure rendered to PNG as an Output-widget display record."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    width, height = (figure.get_size_inches() * figure.dpi).round().astype(int)
    return {
        "output_type": "display_data",
        "data": {
            "image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
            "text/plain": f"<Figure size {width}x{height}>",
        },
        "metadata": {"image/png": {"width": int(width), "height": int(height)}},
    }


def window_caption(n_links: int, total_links: int, platform: str, start: dt.date, end: dt.date) -> str:
    """``"12 of 60 links · iOS + Android · 2024-05-01 – 2024-05-30 (30 days)"``."""
    days = (end - start).days + 1
    return (
        f"{n_links:,} of {total_links:,} links · {PLATFORM_LABELS.get(platform, platform)} · "
        f"{start:%Y-%m-%d} – {end:%Y-%m-%d} ({days} day{'s' if days != 1 else ''})"
    )


def finish_trend(ax: Any, metric: str, freq: str) -> bool:
    """Make what :func:`draw_trend` drew readable at every range; ``False`` when it drew no value at all.

    A lone bucket (one day, or one month) gets a marker and an x axis of about one bucket
    labelled with its date; an all-zero counter gets one tick at 0 (not "0 0 0 0" on a tiny
    range); a legend inside the axes moves where it hides least.
    """
    values = [np.asarray(line.get_ydata(), dtype=np.float64) for line in ax.get_lines()]
    if not any(np.isfinite(y).any() for y in values):
        return False
    for line, y in zip(ax.get_lines(), values, strict=True):
        if np.isfinite(y).sum() == 1 and line.get_marker() in (None, "None", "", " "):
            line.set_marker("o")  # a line of one point is invisible
    _fit_one_bucket(ax, values, freq)
    if metric not in RATES and max(np.nanmax(y) for y in values if np.isfinite(y).any()) <= 0:
        ax.set_ylim(0, 1)
        ax.set_yticks([0])
    legend = ax.get_legend()
    if legend is not None and legend.get_bbox_to_anchor().x0 < ax.bbox.x1:  # inside the axes
        legend.set_loc("best")
    return True


def _fit_one_bucket(ax: Any, values: list[np.ndarray], freq: str) -> None:
    """With a single time bucket, an x axis of about one bucket around it, labelled with its date.

    Left alone, matplotlib gives a lone date an axis of several years.
    """
    import matplotlib.dates as mdates

    xs = {float(mdates.date2num(np.asarray(line.get_xdata())[np.isfinite(y)][0]))
          for line, y in zip(ax.get_lines(), values, strict=True) if np.isfinite(y).sum() == 1}
    multi = any(np.isfinite(y).sum() > 1 for y in values)
    if len(xs) != 1 or multi:
        return
    (x,) = xs
    pad = {"D": 1.0, "W": 7.0}.get(freq, 31.0)
    ax.set_xlim(x - pad, x + pad)
    day = mdates.num2date(x)
    label = {"D": f"{day:%Y-%m-%d}", "W": f"week of {day:%Y-%m-%d}"}.get(freq, f"{day:%Y-%m}")
    ax.set_xticks([x], [label])
