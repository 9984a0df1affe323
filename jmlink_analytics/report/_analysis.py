"""The analysis behind a report: the overall numbers, the tables and the headline figures.

:func:`analyse` turns the stats and links tables into a :class:`ReportData`, which
:mod:`._write` writes as files and :mod:`._page` shows as a page. It calls :mod:`..metrics`
and nothing that writes. Rows are counted under the public platform rule
(:func:`~jmlink_analytics.metrics.count_once`), and changes speak one vocabulary: a count's
change is relative (a fraction, shown in percent), a rate's a difference in percentage
points; partial days are left out of every comparison and of the anomalies.

The report covers a *period*; the stats may hold days before it (the CLI fetches the N days
before an N-day report), which serve only as the comparison's previous window and as the
anomalies' history. The windows are :func:`~jmlink_analytics.metrics.comparison_windows`'.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._dates import CHINA_TZ

if TYPE_CHECKING:
    import pandas as pd

from ..metrics import comparison_windows, count_once
from ..schema import COUNTERS, METRICS, RATES

__all__ = ["ReportData", "analyse", "check_period", "comparison_columns", "daily_table"]

logger = logging.getLogger("jmlink_analytics")

_NO_CHANNEL = "(none)"


@dataclass
class ReportData:
    """Everything the page shows; the tables are also the CSV files."""

    start: dt.date
    end: dt.date
    source: str | None
    generated_at: dt.datetime
    platforms: str
    n_links: int
    partial_days: list[dt.date]
    totals: dict[str, float]
    current_totals: dict[str, float] | None = None
    previous_totals: dict[str, float] | None = None
    current: tuple[dt.date, dt.date] | None = None
    previous: tuple[dt.date, dt.date] | None = None
    comparison_note: str = ""  # why there is no comparison, when there is none
    history_start: dt.date | None = None  # the first day of the stats (before ``start`` when history was fetched)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    charts: dict[str, bytes] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    encoding: str = "utf-8-sig"
    overall: Any = None  # the overall stats (see _split_platforms), the ios/android rows, the link labels
    split: Any = None
    names: Any = None


def _clean_source(source: Any) -> str | None:
    """The data source as shown on the page: text, with any user:password@ of a URL removed."""
    if source is None:
        return None
    from urllib.parse import urlsplit, urlunsplit

    text = str(source)
    try:
        parts = urlsplit(text)
        if parts.username or parts.password:
            host = parts.hostname or ""
            netloc = f"{host}:{parts.port}" if parts.port else host
            text = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    except ValueError:
        pass
    return text


def _split_platforms(stats: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None, str]:
    """(the overall table, the ios/android table when both are there, a label of what overall means).

    Overall counts each link under the platform rule (:func:`jmlink_analytics.metrics.count_once`):
    its ``all`` rows when it has them, otherwise its iOS + Android rows summed per day, so
    nothing is counted twice.
    """
    import pandas as pd

    present = {str(p) for p in stats["platform"].unique()}
    both = {"ios", "android"} <= present
    split = stats[stats["platform"].isin(["ios", "android"])].reset_index(drop=True) if both else None
    if not both and "all" not in present:
        only = next(iter(sorted(present)))
        return stats.reset_index(drop=True), None, f"{only} only"
    label = "all platforms" if "all" in present else "iOS + Android"
    counted = count_once(stats)
    if {str(p) for p in counted["platform"].unique()} == {"all"}:
        return counted.reset_index(drop=True), split, label
    grouped = counted.groupby(["link_key", "date"], observed=True, sort=True)
    overall = grouped[list(COUNTERS)].sum().reset_index()
    overall["is_partial"] = (grouped["is_partial"].any().to_numpy() if "is_partial" in counted.columns
                             else False)
    categories = (stats["platform"].cat.categories if isinstance(stats["platform"].dtype, pd.CategoricalDtype)
                  else ["all", "ios", "android"])
    overall.insert(1, "platform", pd.Series(pd.Categorical(["all"] * len(overall), categories=categories)))
    return overall, split, label


def _report_links(links: pd.DataFrame | None, stats: pd.DataFrame) -> pd.DataFrame:
    """The links with a readable channel label (missing or empty -> "(none)") for the summaries."""
    import pandas as pd

    if links is None:
        frame = pd.DataFrame({"link_key": pd.unique(stats["link_key"].astype(str))})
        frame["name"] = pd.NA
        frame["channel"] = _NO_CHANNEL
        return frame
    frame = links.drop_duplicates("link_key").copy()
    for column in ("name", "channel"):
        if column not in frame.columns:
            frame[column] = pd.NA
    channel = frame["channel"].astype(object)
    frame["channel"] = channel.where(channel.notna() & (channel.astype(str).str.strip() != ""), _NO_CHANNEL)
    frame["channel"] = frame["channel"].astype("category")
    return frame


def _with_names(table: pd.DataFrame, names: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the link's name and channel right after ``link_key`` (looked up once per link)."""
    import numpy as np
    import pandas as pd

    if "link_key" not in table.columns:
        return table
    keys = table["link_key"]
    if isinstance(keys.dtype, pd.CategoricalDtype):
        codes, distinct = keys.cat.codes.to_numpy(), keys.cat.categories
    else:
        codes, distinct = pd.factorize(keys, use_na_sentinel=True)
    distinct = pd.Index(distinct).astype(str)
    lookup = names.assign(link_key=names["link_key"].astype(str)).set_index("link_key")
    out = table.copy()
    position = list(out.columns).index("link_key") + 1
    for offset, column in enumerate(("name", "channel")):
        if column not in out.columns:
            per_link = np.append(lookup[column].reindex(distinct).astype(object).to_numpy(), np.nan)
            out.insert(position + offset, column, per_link[np.where(codes < 0, len(distinct), codes)])
    return out


def daily_table(stats: pd.DataFrame, links: pd.DataFrame | None = None) -> pd.DataFrame:
    """The report's ``daily.csv`` (and ``jmlink-analytics stats``' table): the stats, their rates, name and channel.

    Parameters
    ----------
    stats : pandas.DataFrame
        The table of :func:`~jmlink_analytics.fetch_stats`.
    links : pandas.DataFrame, optional
        The table of :func:`~jmlink_analytics.fetch_links`; without it names are missing and
        channels "(none)".

    Returns
    -------
    pandas.DataFrame
        ``link_key``, ``name``, ``channel``, then the stats' other columns and the three rates.
    """
    from .. import metrics

    return _with_names(metrics.add_rates(stats), _report_links(links, stats))


def _totals(frame: pd.DataFrame, window: tuple[dt.date, dt.date] | None = None) -> dict[str, float]:
    """The counters and rates of ``frame`` (within ``window``), as :func:`~jmlink_analytics.summarize` sums them."""
    import pandas as pd

    from ..metrics import summarize

    if window is not None:
        frame = frame[(frame["date"] >= pd.Timestamp(window[0])) & (frame["date"] <= pd.Timestamp(window[1]))]
    row = summarize(frame, by=None).iloc[0]
    return {m: float(row[m]) for m in METRICS}


def comparison_columns(keys: list[str]) -> list[str]:
    """The columns of ``period_comparison.csv``, in the toolkit's vocabulary of changes.

    Per counter ``_previous``, ``_current``, ``_change`` (current - previous, a count) and
    ``_rel_change`` (the relative change as a fraction: 0.25 is +25 %); per rate
    ``_previous``, ``_current`` and ``_change_pp`` (the difference in percentage points).
    """
    columns = list(keys)
    for metric in METRICS:
        columns += [f"{metric}_previous", f"{metric}_current"]
        columns += [f"{metric}_change_pp"] if metric in RATES else [f"{metric}_change", f"{metric}_rel_change"]
    return columns


def check_period(period: Any, stats: pd.DataFrame) -> tuple[dt.date, dt.date]:
    """The report's (start, end): ``period`` checked, or the span of ``stats``; raises naming ``period``."""
    import pandas as pd

    from .._dates import to_date

    dates = stats["date"]
    first, last = dates.min().date(), dates.max().date()
    if period is None:
        return first, last
    if isinstance(period, str) or not hasattr(period, "__len__") or len(period) != 2:
        raise TypeError(f"period must be None or a (start, end) pair of dates; got {period!r}")
    start, end = (to_date(value, f"period[{i}]") for i, value in enumerate(period))
    if start > end:
        raise ValueError(f"period starts after it ends: {start} > {end}")
    inside = (dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))
    if not inside.any():
        raise ValueError(f"period {start} to {end} holds no row of stats ({first} to {last})")
    return start, end


def _in_period(frame: pd.DataFrame | None, start: dt.date, end: dt.date) -> pd.DataFrame | None:
    import pandas as pd

    if frame is None:
        return None
    dates = frame["date"]
    return frame[((dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))).to_numpy()].reset_index(drop=True)


def analyse(stats: pd.DataFrame, links: pd.DataFrame | None, source: str | None,
            period: tuple[dt.date, dt.date] | None = None) -> ReportData:
    """Run the report's analysis.

    Parameters
    ----------
    stats : pandas.DataFrame
        The tidy stats table (any platforms; checked by the caller); it may reach back before
        ``period`` (the comparison's previous window, the anomalies' history).
    links : pandas.DataFrame or None
        The links table, for names and channels.
    source : str or None
        Where the data came from, for the page (credentials in a URL are removed).
    period : (date, date), optional
        The days the report covers (checked by :func:`check_period`); default: all of ``stats``.

    Returns
    -------
    ReportData
        The tables (``links``, ``daily``, the summaries, ``period_comparison`` when the
        stats hold the days before the period's complete days, ``anomalies``: the surge and
        drop episodes of each link's daily clicks that reach into the period), the headline
        totals, the windows, and ``comparison_note`` saying why there is no comparison.
    """
    import pandas as pd

    from .. import metrics

    start, end = period if period is not None else check_period(None, stats)
    overall_all, split_all, platforms = _split_platforms(stats)
    overall, split = _in_period(overall_all, start, end), _in_period(split_all, start, end)
    shown = _in_period(stats, start, end)
    assert overall is not None and shown is not None
    names = _report_links(links, shown)
    dates = shown["date"]
    partial_rows = shown["is_partial"].astype(bool) if "is_partial" in shown else None
    partial = sorted({d.date() for d in dates[partial_rows]}) if partial_rows is not None else []
    first = stats["date"].min().date()
    data = ReportData(start=start, end=end, source=_clean_source(source),
                      generated_at=dt.datetime.now(CHINA_TZ), platforms=platforms,
                      n_links=int(shown["link_key"].nunique()), partial_days=partial, totals=_totals(overall),
                      history_start=first)
    tables = data.tables
    if links is not None:
        tables["links"] = links
    tables["daily"] = daily_table(shown, links)
    tables["summary_by_link"] = _with_names(metrics.summarize(overall, by="link_key"), names)
    tables["summary_by_channel"] = metrics.summarize(overall, by="channel", links=names)
    if split is not None:
        tables["summary_by_platform"] = metrics.summarize(split, by="platform")
    all_partial = overall_all.loc[overall_all["is_partial"].astype(bool).to_numpy(), "date"] \
        if "is_partial" in overall_all else pd.Series([], dtype="datetime64[ns]")
    windows = comparison_windows(start, end, partial_days=pd.unique(all_partial), first=first)
    if windows.current is not None and windows.previous is not None:
        data.current, data.previous = windows.current, windows.previous
        data.previous_totals = _totals(overall_all, data.previous)
        data.current_totals = _totals(overall_all, data.current)
        comparison = metrics.compare_periods(overall_all, tuple(pd.Timestamp(d) for d in data.current),
                                             tuple(pd.Timestamp(d) for d in data.previous), by="link_key",
                                             include_partial=False)
        tables["period_comparison"] = _with_names(comparison[comparison_columns(["link_key"])], names)
    else:
        data.comparison_note = windows.note
        logger.info("write_report: %s to %s: %s", start, end, windows.note)
    anomalies = metrics.find_anomalies(overall_all, "click_count", by="link_key")
    anomalies = anomalies[(anomalies["end"] >= pd.Timestamp(start)).to_numpy()].reset_index(drop=True)
    tables["anomalies"] = _with_names(anomalies, names)
    data.overall, data.split, data.names = overall, split, names
    return data
