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

from ..export._format import format_cell, metric_kind
from ..export._html import html_table
from ..schema import COUNTERS, METRICS, RATES
from ._index import with_rates

__all__ = [
    "LABELS", "blank_figures", "comparison", "draw_trend", "headline_html", "png_output", "table_html", "top_links",
]

LABELS = {
    "exposure_count": "Exposures",
    "click_count": "Clicks",
    "open_count": "Opens",
    "install_count": "Installs",
    "ctr": "CTR",
    "open_rate": "Open rate",
    "install_rate": "Install rate",
}
_UP, _DOWN = "#1a7f37", "#cf222e"


def fmt_value(metric: str, value: float) -> str:
    """A counter with thousands separators, a rate as a percentage, a missing value as "–" (the shared formatter)."""
    return format_cell(value, metric_kind(metric))


def comparison(daily: pd.DataFrame, start: dt.date, end: dt.date, has_previous: bool) -> pd.DataFrame:
    """Headline figures: one row per metric, columns ``current``, ``previous``, ``change``, ``pct_change``.

    ``daily`` is the selection's per-day table (see ``StatsIndex.daily``) covering the window
    ``start..end`` and, when ``has_previous``, the same number of days before it: the figures
    are :func:`~jmlink_analytics.compare_periods`' (rates from sums; ``pct_change`` NaN where the
    previous value is 0). Without a previous period only ``current`` is filled (the rest NaN).
    """
    from ..metrics._summaries import compare_periods, summarize

    columns = ["current", "previous", "change", "pct_change"]
    if has_previous:
        row = compare_periods(daily, (start, end), by=None).iloc[0]
        values = [[row[f"{m}_{c}"] for c in columns] for m in METRICS]
    else:
        row = summarize(daily, by=None).iloc[0]
        values = [[row[m], np.nan, np.nan, np.nan] for m in METRICS]
    table = pd.DataFrame(values, index=pd.Index(list(METRICS), name="metric"), columns=columns, dtype=np.float64)
    return table


def blank_figures() -> pd.DataFrame:
    """Headline figures when nothing can be computed (start after end): every value NaN."""
    return pd.DataFrame(np.nan, index=pd.Index(list(METRICS), name="metric"),
                        columns=["current", "previous", "change", "pct_change"])


def _change_html(metric: str, row: pd.Series) -> str:
    change, pct = row["change"], row["pct_change"]
    if math.isnan(change):
        return '<span style="color:#6e7781">no previous period</span>'
    if metric in RATES:
        text = f"{change * 100:+.1f} pp"
    elif math.isnan(pct):
        text = f"{int(change):+,} (from 0)"
    else:
        text = f"{pct:+.1%}"
    color = _UP if change > 0 else _DOWN if change < 0 else "#6e7781"
    arrow = "▲" if change > 0 else "▼" if change < 0 else "="
    before = html.escape(f"previous period: {fmt_value(metric, row['previous'])}", quote=True)
    return f'<span style="color:{color}" title="{before}">{arrow} {html.escape(text)}</span>'


def headline_html(figures: pd.DataFrame, caption: str, note: str = "") -> str:
    """The headline row: one card per metric with its value and the change vs the previous period."""
    cards = []
    for metric, row in figures.iterrows():
        cards.append(
            '<div style="min-width:104px;padding:4px 10px;border-left:3px solid #d0d7de">'
            f'<div style="color:#57606a;font-size:12px">{LABELS[metric]}</div>'
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
    labels = {"link_key": "Link", "name": "Name", "channel": "Channel", **LABELS}
    return html_table(table, columns, labels=labels, kinds={"name": "text", "channel": "text"}, highlight=metric,
                      numbered=True, empty="No links in the selection.")


def draw_trend(ax: Any, frame: pd.DataFrame, metric: str, freq: str, title: str, *,
               by: str | None = None, links: pd.DataFrame | None = None) -> None:
    """Redraw the trend on the reused ``ax`` with :func:`~jmlink_analytics.plot_trend`: "Clicks per day · <title>".

    ``frame`` is stats-shaped (``date``, counters, ``is_partial``; ``link_key`` when ``by``):
    the selection's daily totals, or a few links' daily sums for one line each. An empty
    ``frame`` draws plot_trend's "no data to show". The right-hand axis plot_trend may add
    for "other" is removed before each redraw, so the figure keeps one Axes of its own.
    """
    from ..plotting._lines import plot_trend
    from ..plotting._style import period_word

    for other in [a for a in ax.figure.axes if a is not ax]:
        other.remove()  # the right-hand "other" axis of the previous drawing
    ax.clear()
    ax.set_zorder(0)
    ax.patch.set_visible(True)
    heading = f"{LABELS[metric]} per {period_word(freq)} · {title}"
    plot_trend(frame, metric, by=by, freq=freq, top=10, links=links, title=heading, ax=ax)
    legend = ax.get_legend()
    outside = legend is not None and len(legend.get_texts()) > 4  # plot_trend puts long legends to the right
    ax.figure.subplots_adjust(right=0.79 if outside else 0.98)


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
    names = {"all": "all platforms", "ios": "iOS", "android": "Android"}
    days = (end - start).days + 1
    return (
        f"{n_links:,} of {total_links:,} links · {names.get(platform, platform)} · "
        f"{start:%Y-%m-%d} – {end:%Y-%m-%d} ({days} day{'s' if days != 1 else ''})"
    )
