"""The report folder: ``write_report`` (CSV tables, charts, one HTML page, an Excel workbook, Parquet).

``write_report`` is the toolkit's weekly job: it takes the stats and links tables, runs the
analysis (:mod:`.metrics`), draws the charts (:mod:`.plotting`) and writes everything a
colleague needs into one folder, with an ``index.html`` that can be mailed on its own.
Every file is written under a temporary name and moved into place.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import atomic_path
from .._validate import check_top
from ..display import label_platforms
from ..export import check_encoding, require_pyarrow, to_csv, write_parquet
from ..schema import COUNTERS
from ._analysis import ReportData, analyse, check_period
from ._workbook import SHEETS, write_workbook

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CHARTS", "REPORT_FORMATS", "SHEETS", "write_report"]

logger = logging.getLogger("jmlink_analytics")

#: The values ``formats`` takes.
REPORT_FORMATS = ("csv", "png", "html", "parquet", "xlsx")
#: The charts, in the order the page shows them (``charts/<name>.png``).
CHARTS = ("trend", "funnel", "channels", "platforms", "heatmap")
_STATS_REQUIRED = ("link_key", "platform", "date", *COUNTERS)
_TABLES = ("links", "daily", "summary_by_link", "summary_by_channel", "summary_by_platform", "period_comparison",
           "anomalies")
#: Decimal places of floats (rates, changes, scores) in the report's CSV files; Parquet keeps them all.
CSV_DECIMALS = 6


# -- checks ------------------------------------------------------------------------------------
def _check_formats(formats: Any) -> tuple[str, ...]:
    allowed = ", ".join(repr(f) for f in REPORT_FORMATS)
    values = [formats] if isinstance(formats, str) else formats
    try:
        values = list(values)
    except TypeError:
        raise TypeError(f"formats must be a list of {allowed}; got {type(formats).__name__}") from None
    bad = [v for v in values if not isinstance(v, str) or v not in REPORT_FORMATS]
    if bad or not values:
        raise ValueError(f"formats must be a non-empty list of {allowed}; got {formats!r}")
    return tuple(dict.fromkeys(values))


def _check_frames(stats: Any, links: Any) -> None:
    import pandas as pd

    if not isinstance(stats, pd.DataFrame):
        raise TypeError(f"stats must be the pandas DataFrame fetch_stats returns; got {type(stats).__name__}")
    missing = [c for c in _STATS_REQUIRED if c not in stats.columns]
    if missing:
        raise ValueError(f"stats lacks the column(s) {', '.join(missing)} (use the table fetch_stats returns)")
    if stats.empty:
        raise ValueError("stats has no rows: there is nothing to report")
    if links is not None and (not isinstance(links, pd.DataFrame) or "link_key" not in links.columns):
        raise TypeError("links must be None or the pandas DataFrame fetch_links returns (with a link_key column)")


# -- charts ------------------------------------------------------------------------------------
def _render_charts(data: ReportData) -> dict[str, bytes]:
    """Each chart as PNG bytes (matplotlib ``Figure`` objects: no pyplot state, no GUI backend)."""
    import io

    from matplotlib.figure import Figure

    from .. import plotting

    overall, split, names = data.overall, data.split, data.names
    draw = {
        "trend": (lambda ax: plotting.plot_trend(overall, "click_count", by="link_key", top=8, links=names, ax=ax),
                  (10, 4.8)),
        "funnel": (lambda ax: plotting.plot_funnel(overall, ax=ax), (8, 4.2)),
        "channels": (lambda ax: plotting.plot_breakdown(overall, "click_count", by="channel", links=names, ax=ax),
                     (8, 4.2)),
        "platforms": (lambda ax: plotting.plot_platforms(split, "click_count", links=names, ax=ax), (10, 4.2)),
        "heatmap": (lambda ax: plotting.plot_heatmap(overall, "click_count", top=20, links=names, ax=ax), (11, 6.5)),
    }
    charts: dict[str, bytes] = {}
    for name in CHARTS:
        if name == "platforms" and split is None:
            continue
        plot, size = draw[name]
        figure = Figure(figsize=size, dpi=100, layout="constrained")
        plot(figure.add_subplot())
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        charts[name] = buffer.getvalue()
    return charts


# -- writing -----------------------------------------------------------------------------------
def _for_csv(table: pd.DataFrame) -> pd.DataFrame:
    """Floats rounded to ``CSV_DECIMALS`` places (0.228571, not 0.22857142857142856); inf as empty."""
    import numpy as np

    floats = [c for c in table.columns if table[c].dtype.kind == "f"]
    if not floats:
        return table
    out = table.copy()
    out[floats] = out[floats].replace([np.inf, -np.inf], np.nan).round(CSV_DECIMALS)
    return out


def _possible_files(formats: Iterable[str]) -> list[str]:
    names: list[str] = []
    if "csv" in formats:
        names += [f"{table}.csv" for table in _TABLES]
    if "parquet" in formats:
        names.append("daily.parquet")
    if "xlsx" in formats:
        names.append("report.xlsx")
    if "png" in formats:
        names += [f"charts/{chart}.png" for chart in CHARTS]
    if "html" in formats:
        names.append("index.html")
    return names


def _write_bytes(path: Path, content: bytes) -> Path:
    with atomic_path(path) as temp:
        temp.write_bytes(content)
    logger.info("wrote %s (%s bytes)", path, f"{len(content):,}")
    return path


def write_report(
    stats: pd.DataFrame,
    links: pd.DataFrame | None,
    out_dir: str | os.PathLike[str],
    *,
    encoding: str = "utf-8-sig",
    formats: Iterable[str] = ("csv", "png", "html"),
    source: str | None = None,
    top: int = 20,
    period: tuple[Any, Any] | None = None,
) -> dict[str, Path]:
    """Write a report folder: CSV tables, charts and one self-contained HTML page.

    Parameters
    ----------
    stats : pandas.DataFrame
        The tidy table :func:`~jmlink_analytics.fetch_stats` returns (any platforms).
    links : pandas.DataFrame or None
        The table :func:`~jmlink_analytics.fetch_links` returns, for names and channels.
        ``None`` leaves out ``links.csv`` and gives every link the channel "(none)".
    out_dir : str or os.PathLike
        The folder (created when missing). Files of an earlier report there are replaced;
        optional files this report does not have (e.g. ``summary_by_platform.csv`` when
        the platforms are not split) are removed, so the folder never mixes two reports.
    encoding : {"utf-8-sig", "utf-8"}, default "utf-8-sig"
        Of the CSV files (see :func:`to_csv`); the HTML page is always UTF-8.
    formats : list of {"csv", "png", "html", "parquet", "xlsx"}, default ("csv", "png", "html")
        What to write. ``"parquet"`` adds ``daily.parquet`` and needs pyarrow
        (``pip install 'jmlink-analytics[parquet]'``). ``"xlsx"`` adds ``report.xlsx``, one
        workbook with a sheet per table (see :func:`~jmlink_analytics.to_excel`).
    source : str, optional
        Where the data came from, shown on the page: e.g. the API's base URL or
        "built-in sandbox app". Never pass a credential (user:password in a URL is removed).
    top : int, default 20
        Rows of each table shown on the page (the CSV files hold every row).
    period : (date-like, date-like), optional
        The days the report covers, both included; default: every day of ``stats``. Days of
        ``stats`` before it are not reported: they are the comparison's previous window and
        the anomalies' history (``jmlink-analytics report --days N`` fetches the N days before
        the period for this).

    Returns
    -------
    dict of str to pathlib.Path
        Each file written, keyed by its path relative to ``out_dir`` (``"daily.csv"``,
        ``"charts/trend.png"``, ``"index.html"``, ...).

    Notes
    -----
    The files: ``links.csv``; ``daily.csv`` (the stats with rates, the link's name and
    channel); ``summary_by_link.csv``, ``summary_by_channel.csv``,
    ``summary_by_platform.csv`` (only when both ios and android are in ``stats``);
    ``period_comparison.csv`` (the period's complete days against as many days right
    before them, :func:`~jmlink_analytics.metrics.comparison_windows`; only when ``stats``
    holds those days: otherwise the page says why there is no comparison); ``anomalies.csv``
    (the episodes of clicks per link reaching into the period, the largest impact first);
    ``charts/trend.png``, ``funnel.png``,
    ``channels.png``, ``platforms.png`` (split platforms only), ``heatmap.png``;
    ``index.html`` (charts embedded as data URIs, no external resources); ``report.xlsx``
    with the sheets "daily", "by link", "by channel", "by platform", "period comparison",
    "anomalies" and "links". When the daily table is longer than an Excel sheet
    (1,048,576 rows), its sheet holds the first rows under a note naming ``daily.csv`` /
    ``daily.parquet``; ``daily.csv`` is then written even without ``"csv"`` in ``formats``.

    In the CSV files floats (rates, changes, scores) are rounded to 6 decimal places and
    infinite values left empty; ``daily.parquet`` keeps full precision.

    Summaries, comparison, anomalies and all charts but ``platforms`` use the overall
    numbers: the ``all`` rows when present, else ios + android summed. No file name is
    derived from the data (link keys or names), so data cannot steer where files go.

    Examples
    --------
    >>> paths = jm.write_report(stats, links, "report", source=client.base_url)
    >>> paths["index.html"]
    PosixPath('report/index.html')
    >>> sorted(paths)  # doctest: +NORMALIZE_WHITESPACE
    ['anomalies.csv', 'charts/channels.png', 'charts/funnel.png', 'charts/heatmap.png', 'charts/platforms.png',
     'charts/trend.png', 'daily.csv', 'index.html', 'links.csv', 'summary_by_channel.csv', 'summary_by_link.csv',
     'summary_by_platform.csv']
    """
    formats = _check_formats(formats)
    encoding = check_encoding(encoding)
    shown = check_top(top)
    assert shown is not None
    top = shown
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a folder path (str or os.PathLike); got {type(out_dir).__name__}")
    _check_frames(stats, links)
    window = check_period(period, stats)
    if "parquet" in formats:
        require_pyarrow()
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)

    data = analyse(stats, links, source, window)
    written: dict[str, Path] = {}
    if "csv" in formats:
        for name, table in data.tables.items():
            written[f"{name}.csv"] = to_csv(_for_csv(table), out / f"{name}.csv", encoding=encoding)
    if "parquet" in formats:
        written["daily.parquet"] = write_parquet(data.tables["daily"], out / "daily.parquet")
    if "xlsx" in formats:
        # the sheets say "iOS" / "Android" as the page and the charts do; the CSV files (machine data, and the
        # daily table the workbook may write as daily.csv) keep the API's values
        sheets = {name: table if name == "daily" else label_platforms(table) for name, table in data.tables.items()}
        written.update(write_workbook(dataclasses.replace(data, tables=sheets), out, written,
                                      lambda table, path: to_csv(_for_csv(table), path, encoding=encoding)))
    if "png" in formats or "html" in formats:
        data.charts = _render_charts(data)
    if "png" in formats:
        for name, png in data.charts.items():
            written[f"charts/{name}.png"] = _write_bytes(out / "charts" / f"{name}.png", png)
    if "html" in formats:
        from ._page import render_page

        data.files, data.encoding = [*written, "index.html"], encoding
        page = render_page(data, top=top)
        written["index.html"] = _write_bytes(out / "index.html", page.encode("utf-8"))
    for stale in _possible_files(formats):
        if stale not in written and (out / stale).is_file():
            (out / stale).unlink()
            logger.info("removed %s (left from an earlier report; not part of this one)", out / stale)
    logger.info("write_report: %d files in %s", len(written), out)
    return written
