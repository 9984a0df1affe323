"""What the report puts in ``report.xlsx``: the sheets, in order, and a daily sheet a person can work with.

The CSV and Parquet files hold the daily table as the API gives it: one row per link, platform
and day (730,000 rows for 1,000 links over a year on two platforms). Nobody works with that in
Excel: filtering it to one link still shows each day twice, and a pivot table has to be built
before a chart. The workbook's ``daily`` sheet is that pivot, built once:

- one row per day and link, the platforms side by side ("Clicks", "Clicks iOS", "Clicks
  Android", ...) with the link's name and channel beside its key, while the report has at most
  :data:`DAILY_BY_LINK_ROWS` link-days (e.g. 130 links for a year, 1,600 for a month): every
  number of ``daily.csv`` is in it, nothing is cut;
- past that, one row per day and channel (how many links, the counters per platform side by
  side, the rates), under a note naming the file with the full table (``daily.csv`` /
  ``daily.parquet``, written beside the workbook when the report has neither).

Every sheet has the page's labels as headers, counts as integers, rates, changes and points as
the page shows them, and a print setup (see :func:`~jmlink_analytics.to_excel`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..export import fits_sheet, to_excel
from ..schema import COUNTERS

if TYPE_CHECKING:
    import pandas as pd

    from ._analysis import ReportData

__all__ = ["DAILY_BY_LINK_ROWS", "SHEETS", "daily_sheet", "write_workbook"]

logger = logging.getLogger("jmlink_analytics")

#: The sheets of report.xlsx, in order: table -> sheet name.
SHEETS = {"daily": "daily", "summary_by_link": "by link", "summary_by_channel": "by channel",
          "summary_by_platform": "by platform", "period_comparison": "period comparison", "anomalies": "anomalies",
          "links": "links"}
#: Link-days up to which the daily sheet has a row per day and link (past it: per day and channel).
DAILY_BY_LINK_ROWS = 50_000
_PLATFORMS = ("ios", "android")


def _side_by_side(overall: pd.DataFrame, split: pd.DataFrame | None,
                  keys: Callable[[pd.DataFrame], list[pd.Series]]) -> pd.DataFrame:
    """``overall`` summed per day and ``keys(frame)``, each counter followed by its iOS and Android sums."""
    import pandas as pd

    def summed(frame: pd.DataFrame) -> pd.DataFrame:
        # grouped by Series (categoricals where possible), so the 3.65 million rows are never copied with a key
        return frame[list(COUNTERS)].groupby([frame["date"], *keys(frame)], observed=True, sort=True).sum()

    table = summed(overall)
    order: list[str] = []
    for counter in COUNTERS:
        order.append(counter)
        if split is not None:
            order += [f"{counter}_{platform}" for platform in _PLATFORMS]
    if split is not None:
        platforms = split["platform"]
        parts = [summed(split[platforms == platform]).add_suffix(f"_{platform}") for platform in _PLATFORMS]
        table = table.join(pd.concat(parts, axis=1), how="left")
    return table[order].reset_index()


def _channel_of(names: pd.DataFrame) -> Callable[[pd.DataFrame], list[pd.Series]]:
    """``frame -> [channel]``: each row's link's channel (``(none)`` without one), a categorical by link code."""
    import numpy as np
    import pandas as pd

    channel = names.assign(link_key=names["link_key"].astype(str)).set_index("link_key")["channel"]

    def keys(frame: pd.DataFrame) -> list[pd.Series]:
        links = frame["link_key"]
        if not isinstance(links.dtype, pd.CategoricalDtype):
            links = links.astype("category")
        per_link = pd.Series(links.cat.categories.astype(str)).map(channel).astype(object).fillna("(none)")
        labels, per_link_codes = np.unique(per_link.to_numpy(dtype=str), return_inverse=True)
        codes = per_link_codes[links.cat.codes.to_numpy()]
        return [pd.Series(pd.Categorical.from_codes(codes, categories=labels.tolist()), index=frame.index,
                          name="channel")]

    return keys


def daily_sheet(data: ReportData) -> tuple[pd.DataFrame, str | None]:
    """The ``daily`` sheet of the workbook and, when it is per channel, the note to put above it.

    Parameters
    ----------
    data : ReportData
        The analysis (its overall and per-platform tables, the links' names and channels).

    Returns
    -------
    (pandas.DataFrame, str or None)
        One row per day and link (name, channel, counters with the platforms side by side,
        rates, partial day), sorted by link then day; or, past :data:`DAILY_BY_LINK_ROWS`
        link-days, one row per day and channel, with a note saying so.
    """
    from .. import metrics
    from ._analysis import _with_names

    overall, split, names = data.overall, data.split, data.names
    partial = overall.groupby("date", sort=True)["is_partial"].any() if "is_partial" in overall else None
    if len(overall) <= DAILY_BY_LINK_ROWS:
        table = _with_names(_side_by_side(overall, split, lambda frame: [frame["link_key"]]), names)
        table = table.sort_values(["link_key", "date"], kind="stable", ignore_index=True)
        table.insert(0, "date", table.pop("date"))
        note = None
    else:
        by_channel = _channel_of(names)
        table = _side_by_side(overall, split, by_channel)
        links = overall["link_key"].groupby([overall["date"], *by_channel(overall)], observed=True,
                                             sort=True).nunique()
        table.insert(2, "links", links.to_numpy())
        table["channel"] = table["channel"].astype(table["channel"].cat.categories.dtype)  # text, as before
        days = (data.end - data.start).days + 1
        note = (f"One row per day and channel: {len(overall):,} link-days ({data.n_links:,} links, {days:,} days) "
                "are too many rows to work with here. One row per link, platform and day: {full} in the same "
                "folder as this workbook.")
    table = metrics.add_rates(table)
    if partial is not None:
        table["is_partial"] = table["date"].map(partial).fillna(False).astype(bool)
    return table, note


def write_workbook(data: ReportData, out: Path, written: dict[str, Path],
                   write_csv: Callable[[pd.DataFrame, Path], Path]) -> dict[str, Path]:
    """Write ``report.xlsx`` (and ``daily.csv`` when the workbook must point to a full table not yet written).

    Parameters
    ----------
    data : ReportData
        The analysis.
    out : pathlib.Path
        The report folder.
    written : dict of str to pathlib.Path
        The files already written (``daily.csv``, ``daily.parquet`` may hold the full table).
    write_csv : callable
        ``(table, path) -> path``: how the report writes a CSV file (its encoding and rounding).

    Returns
    -------
    dict of str to pathlib.Path
        The files written, by name.
    """
    files: dict[str, Path] = {}
    daily, note = daily_sheet(data)
    notes, full_tables = {}, {}
    if note is not None or not fits_sheet(len(daily)):
        if "daily.csv" not in written and "daily.parquet" not in written:
            logger.warning("write_report: the workbook's daily sheet is a summary of %s daily rows; writing "
                           "daily.csv as well, so the full table is in the folder", f"{len(data.tables['daily']):,}")
            files["daily.csv"] = write_csv(data.tables["daily"], out / "daily.csv")
        full = " and ".join(name for name in ("daily.csv", "daily.parquet") if name in written or name in files)
        if note is not None:
            notes["daily"] = note.format(full=full)
        full_tables["daily"] = f"{full} in the same folder as this workbook"
    tables = {**data.tables, "daily": daily}
    sheets = {sheet: tables[table] for table, sheet in SHEETS.items() if table in tables}
    title = f"JMLink report {data.start:%Y-%m-%d} to {data.end:%Y-%m-%d}"
    files["report.xlsx"] = to_excel(sheets, out / "report.xlsx", full_tables=full_tables, labels=True, title=title,
                                    notes=notes)
    return files
