"""The report's ``index.html``: one self-contained page (inline CSS, charts as data URIs, no scripts).

Every piece of data on the page (link names, channels, the source) is HTML-escaped: names
are user input and may hold ``<``, ``>``, ``&`` or quotes.
"""

from __future__ import annotations

import base64
import datetime as dt
from html import escape
from typing import TYPE_CHECKING

from .._version import __version__
from ..display import change_sign, format_cell, html_table, is_missing, label_platforms
from ..metrics import ratio
from ..schema import COUNTERS, METRIC_LABELS, RATES, metric_label

if TYPE_CHECKING:
    import pandas as pd

    from ._analysis import ReportData

__all__ = ["render_page"]

_COUNTER_LABELS = {counter: metric_label(counter) for counter in COUNTERS}
_RATE_LABELS = {rate: metric_label(rate, long=True) for rate in RATES}
_CHART_CAPTIONS = {
    "trend": "Daily clicks of the top links",
    "funnel": "The funnel: exposure → click → open → install",
    "channels": "Clicks by channel",
    "platforms": "Clicks on iOS and Android",
    "heatmap": "Clicks per day of the top links",
}
_LABELS = {"link_key": "Link key", "name": "Name", "channel": "Channel", "platform": "Platform", "date": "Date",
           **METRIC_LABELS,
           "start": "From", "end": "To", "days": "Days", "expected": "Expected clicks", "actual": "Clicks",
           "change": "Change", "impact": "Clicks lost or gained", "score": "Score"}
#: Anomaly episodes shown per direction on the page (the CSV file has them all).
ANOMALY_ROWS = 10

_CSS = """
body{font-family:-apple-system,"Segoe UI","PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",
"WenQuanYi Micro Hei",sans-serif;margin:0 auto;max-width:1180px;padding:24px;color:#1f2328;background:#fff}
h1{font-size:26px;margin:0 0 6px}
h2{font-size:20px;margin:32px 0 10px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.meta{color:#57606a;margin:2px 0}.note{color:#57606a;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:12px;margin-top:18px}
.card{border:1px solid #d0d7de;border-radius:8px;padding:12px 14px}
.card .label{font-size:13px;color:#57606a}.card .value{font-size:24px;font-weight:600;margin:4px 0}
.card .change{font-size:12px;color:#57606a}.up{color:#1a7f37}.down{color:#cf222e}
figure{margin:16px 0}figure img{max-width:100%;height:auto;border:1px solid #eaeef2}
figcaption{font-size:13px;color:#57606a}
table{border-collapse:collapse;font-size:13px;margin:8px 0 4px}
th,td{padding:4px 10px;border-bottom:1px solid #eaeef2;text-align:left;white-space:nowrap}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}code{font-size:12px}h3{font-size:16px;margin:18px 0 6px}
"""


# -- tables ------------------------------------------------------------------------------------
def _label(column: str) -> str:
    if column in _LABELS:
        return _LABELS[column]
    for suffix, text in (("_rel_change", "change"), ("_change_pp", "change"), ("_change", "difference"),
                         ("_current", "current"), ("_previous", "previous")):
        if column.endswith(suffix):
            return f"{_label(column[: -len(suffix)])} {text}"
    return column


def table_html(df: pd.DataFrame, columns: list[str], *, top: int, empty: str = "None.") -> str:
    """An escaped HTML table of the first ``top`` rows of ``df`` (only the ``columns`` it has); platforms labelled."""
    if "platform" in columns:
        df = label_platforms(df.head(top))
    return html_table(df, columns, labels={c: _label(c) for c in columns}, kinds={"impact": "count"}, top=top,
                      empty=empty)


# -- page parts --------------------------------------------------------------------------------
def _days(data: ReportData) -> str:
    days = (data.end - data.start).days + 1
    return f"{days:,} day{'' if days == 1 else 's'}"


def _span(window: tuple[dt.date, dt.date]) -> str:
    return f"{window[0]:%Y-%m-%d} to {window[1]:%Y-%m-%d}"


def _cards(data: ReportData) -> str:
    cards = []
    for metric, label in (*_COUNTER_LABELS.items(), *_RATE_LABELS.items()):
        kind, change_kind = ("rate", "pp") if metric in _RATE_LABELS else ("count", "change")
        value = format_cell(data.totals[metric], kind)
        change = ""
        if (data.current_totals is not None and data.previous_totals is not None and data.current is not None
                and data.previous is not None):
            now, before = data.current_totals[metric], data.previous_totals[metric]
            if is_missing(now) or is_missing(before):
                delta = float("nan")
            elif kind == "rate":
                delta = now - before  # a difference of rates: percentage points
            else:
                delta = float(ratio(now - before, before))  # a relative change (NaN from 0)
            sign = change_sign(delta, change_kind)
            css = {1: "up", -1: "down", 0: ""}[sign]
            text = format_cell(delta, change_kind)
            change = (f'<div class="change">{escape(_span(data.current))}: {escape(format_cell(now, kind))} '
                      f'(<span class="{css}">{escape(text)}</span> vs {escape(_span(data.previous))})</div>')
        cards.append(f'<div class="card"><div class="label">{escape(label)}</div>'
                     f'<div class="value">{escape(value)}</div>{change}</div>')
    return f'<section class="cards">{"".join(cards)}</section>' + _comparison_note(data)


def _comparison_note(data: ReportData) -> str:
    """What the cards' changes compare, or why there is none."""
    if data.current is not None and data.previous is not None:
        days = (data.current[1] - data.current[0]).days + 1
        empty = ""
        if data.previous_totals is not None and not any(data.previous_totals.get(c, 0) for c in COUNTERS):
            # seen in a 365-day report of an app younger than a year: every change read "–" with no reason
            empty = (f" The {days:,} before have no exposures, clicks, opens or installs (the links did not exist "
                     "yet, or had no traffic): a change from nothing is not a number, so it shows as –.")
        return (f'<p class="note">Changes: the {days:,} complete day{"" if days == 1 else "s"} '
                f"{escape(_span(data.current))} against the {days:,} before ({escape(_span(data.previous))}); "
                f"partial days are left out.{escape(empty)}</p>")
    how = ""
    if data.history_start is not None and data.history_start >= data.start and "partial" not in data.comparison_note:
        how = (" To compare, give write_report stats that start as many days earlier and period=(start, end); "
               "<code>jmlink-analytics report</code> fetches them.")
    return f'<p class="note">No change is shown: {escape(data.comparison_note)}.{how}</p>'


def _charts(data: ReportData) -> str:
    figures = []
    for name, png in data.charts.items():
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        caption = escape(_CHART_CAPTIONS.get(name, name))
        figures.append(f'<figure><img src="{uri}" alt="{caption}"><figcaption>{caption}</figcaption></figure>')
    return "<h2>Charts</h2>" + "".join(figures) if figures else ""


def _tables(data: ReportData, top: int) -> str:
    counters_rates = [*_COUNTER_LABELS, *_RATE_LABELS]
    tables = data.tables
    parts = []
    if "summary_by_channel" in tables:
        parts.append("<h2>Channels</h2>" + table_html(tables["summary_by_channel"], ["channel", *counters_rates],
                                                        top=top))
    if "summary_by_platform" in tables:
        parts.append("<h2>Platforms</h2>" + table_html(tables["summary_by_platform"], ["platform", *counters_rates],
                                                         top=top))
    parts.append("<h2>Top links by clicks</h2>" + table_html(
        tables["summary_by_link"], ["link_key", "name", "channel", *counters_rates], top=top))
    if "period_comparison" in tables and data.current is not None and data.previous is not None:
        comparison = tables["period_comparison"]
        if "click_count_change" in comparison.columns:
            comparison = comparison.reindex(comparison["click_count_change"].abs()
                                            .sort_values(ascending=False, kind="stable").index)
        columns = ["link_key", "name", "channel"]
        for metric in ("click_count", "install_count"):
            columns += [f"{metric}_previous", f"{metric}_current", f"{metric}_rel_change"]
        columns += ["install_rate_previous", "install_rate_current", "install_rate_change_pp"]
        parts.append(f"<h2>Biggest changes: {escape(_span(data.current))} vs {escape(_span(data.previous))}</h2>"
                     '<p class="note">Links sorted by the size of their change in clicks; complete days only. '
                     "Counts change in percent of the previous period, rates in percentage points (pp).</p>"
                     + table_html(comparison, columns, top=top))
    if "period_comparison" not in tables:
        parts.append(f"<h2>Biggest changes</h2><p class=\"note\">No comparison: {escape(data.comparison_note)}.</p>")
    anomalies = tables["anomalies"]
    columns = ["link_key", "name", "channel", "start", "end", "days", "expected", "actual", "change", "impact",
               "score"]
    rows = min(top, ANOMALY_ROWS)
    parts.append("<h2>Anomalies in daily clicks</h2>"
                 '<p class="note">Runs of days far from what the link\'s previous 14 days lead to expect on that '
                 "weekday (a robust score: how many typical day-to-day wobbles away; above 3.5 counts), one row "
                 "per run, the largest first: by the clicks the run lost or gained against the expected, so a "
                 "long outage comes before a one-day dip. Partial days are left out; a link needs 7 days of "
                 "history. anomalies.csv has every run.</p>")
    first = data.history_start or data.start
    short = (data.end - first).days + 1 <= 7  # no day has 7 days of history before it
    for direction, heading in (("surge", "Top surges"), ("drop", "Top drops")):
        chosen = anomalies[anomalies["direction"] == direction] if "direction" in anomalies else anomalies.iloc[:0]
        empty = (f"No {direction}s can be found in {_days(data)}: a link needs 7 days "
                 "of history." if short else f"No {direction}s in this range.")
        parts.append(f"<h3>{heading}</h3>" + table_html(chosen, columns, top=rows, empty=empty))
    return "".join(parts)


def render_page(data: ReportData, *, top: int = 20) -> str:
    """The report page as HTML text (UTF-8, self-contained)."""
    title = f"JMLink report: {_span((data.start, data.end))}"
    source = escape(data.source) if data.source else "not stated"
    made = data.generated_at.strftime("%Y-%m-%d %H:%M") + " (UTC+8)"
    partial = ""
    if data.partial_days:
        shown = ", ".join(f"{d:%Y-%m-%d}" for d in data.partial_days)
        partial = (f'<p class="note">Partial days (may still grow): {escape(shown)}. They count in the totals, '
                   "not in the comparison or the anomalies.</p>")
    bom = " with a byte-order mark (for Excel)" if data.encoding == "utf-8-sig" else " without a byte-order mark"
    files = "".join(f"<li><code>{escape(name)}</code></li>" for name in data.files)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{escape(title)}</h1>"
        f'<p class="meta">{_days(data)} · {data.n_links:,} links · platforms: {escape(data.platforms)}</p>'
        f'<p class="meta">Data source: {source}</p>'
        f'<p class="meta">Made {escape(made)} by jmlink-analytics {escape(__version__)}</p></header>\n'
        f"{_cards(data)}\n{partial}\n{_charts(data)}\n{_tables(data, top)}\n"
        f"<h2>Files in this report</h2><ul>{files}</ul>\n"
        f'<p class="note">CSV files are UTF-8{bom}; text cells that would start a spreadsheet formula '
        "begin with a ' quote.</p>\n</body>\n</html>\n"
    )
