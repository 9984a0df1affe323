"""The Jupyter dashboard: pick links, dates, platform, metric and period; see totals, trend, top links.

``Dashboard(stats, links)`` is an :class:`ipywidgets.VBox`, so a notebook displays it by
evaluating it. Every control change redraws once; changes made together inside
:meth:`Dashboard.hold` redraw once at the end. The data work behind a redraw is done on arrays
prepared at construction (see ``_dashboard_data``), and the chart reuses one matplotlib Figure
rendered with Agg, never through pyplot, so no figure leaks and nothing is shown twice.
"""

from __future__ import annotations

import contextlib
import html
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import ipywidgets as widgets
except ImportError as exc:  # pragma: no cover - exercised by a test that hides ipywidgets
    raise ImportError(
        "The jmlink-analytics dashboard needs ipywidgets, which is missing. Install it with "
        "`pip install ipywidgets` (it is a dependency of jmlink-analytics: "
        "`pip install --force-reinstall jmlink-analytics` restores it)."
    ) from exc

import numpy as np
import pandas as pd

from .._validate import check_int
from ..metrics import comparison_windows
from ..schema import METRIC_LABELS, METRICS, PLATFORM_LABELS
from . import _view as view
from ._export import export_frame, export_target, write_export
from ._index import Selection, StatsIndex

if TYPE_CHECKING:
    from matplotlib.figure import Figure


__all__ = ["Dashboard"]

logger = logging.getLogger("jmlink_analytics")

_FREQS = (("Auto", "auto"), ("Day", "D"), ("Week", "W"), ("Month", "MS"))
#: The platform buttons are as wide as the longest label needs ("All platforms" was cut to "All platf…" at 80px).
PLATFORM_BUTTON_WIDTH = "118px"
_LINES = 10  # picking 2 to this many links draws one line per link


class Dashboard(widgets.VBox):
    """An interactive view of the stats table: filter links, pick a window, see what changed.

    Parameters
    ----------
    stats : pandas.DataFrame
        The tidy stats table of :func:`~jmlink_analytics.fetch_stats` (columns ``link_key``,
        ``platform``, ``date``, the four counters; ``is_partial`` optional). Split platforms
        (``["ios", "android"]``) let the platform toggle compare them.
    links : pandas.DataFrame, optional
        The links table of :func:`~jmlink_analytics.fetch_links`; its names and channels label
        the links and are searched by the filter.
    top : int, default 10
        Rows of the top-links table.
    export_path : str or path, default "dashboard_selection.csv"
        The initial path of the CSV export.

    Attributes
    ----------
    controls : dict of str to ipywidgets.Widget
        ``"filter"`` (Text over key, name and channel; applied on Enter), ``"links"``
        (SelectMultiple of the links matching the filter), ``"start"``, ``"end"`` (DatePicker),
        ``"platform"`` (ToggleButtons), ``"metric"`` (Dropdown: the 4 counters and 3 rates),
        ``"freq"`` (ToggleButtons: ``"auto"``, the default: a day per point up to 90 days, a week
        beyond; ``"D"``, ``"W"``, ``"MS"``), ``"export_path"`` (Text: a ``.csv`` or ``.xlsx`` name).
    headline, table : ipywidgets.HTML
        Totals and rates of the selection with the change vs the previous period; the top
        links by the chosen metric.
    chart : ipywidgets.Output
        The trend chart (a PNG of :attr:`figure`).
    figure : matplotlib.figure.Figure
        The chart's figure, reused by every redraw.
    headline_figures : pandas.DataFrame
        The numbers behind the headline: index = metric, columns ``current`` (the window),
        ``previous``, ``change``, ``pct_change`` and ``compared`` (the window's complete days,
        the side of the change opposite ``previous``); all but ``current`` NaN when the
        previous period is not in the data. ``attrs["compared"]`` and ``attrs["previous"]``
        hold the two windows compared.
    top_table : pandas.DataFrame
        The rows behind the table.
    redraw_count : int
        How many times the views were redrawn (1 after construction).

    Raises
    ------
    TypeError, ValueError
        When ``stats`` or ``links`` is not a table of the expected shape.

    Notes
    -----
    The links counted are the selected ones, or, when none is selected, every link the
    filter matches (all links for an empty filter). Changing the filter keeps the selected
    links it still matches.

    As in the report, counts change in percent, rates in percentage points, and partial days
    count in the totals but not in the change, which compares the window's complete days with
    as many days right before them. Impossible selections (start after end, no link matching
    the filter) are said in the headline, and the chart shows the reason instead of an empty
    axis.
    """

    def __init__(self, stats: pd.DataFrame, links: pd.DataFrame | None = None, *, top: int = 10,
                 export_path: str | Path = "dashboard_selection.csv") -> None:
        top = check_int(top, "top", 1)
        index = StatsIndex(stats, links)
        self._index = index
        names = pd.DataFrame({"link_key": index.keys.astype(str), "name": index.names})
        self._link_table = names.assign(channel=index.channels)  # what the export joins
        self._link_names = view.with_create_time(names, links)  # what the chart labels (and starts lines) by
        self._top = top
        self._hold_depth = 0
        self._pending = False
        self._drawn: tuple[Any, ...] | None = None
        self.redraw_count = 0

        wide = widgets.Layout(width="430px")
        self.controls: dict[str, widgets.Widget] = {
            "filter": widgets.Text(description="Filter", placeholder="key, name or channel; Enter applies",
                                   continuous_update=False, layout=wide),
            "links": widgets.SelectMultiple(options=self._options(""), rows=9, description="Links", layout=wide),
            "start": widgets.DatePicker(value=index.first_day, min=index.first_day, max=index.last_day,
                                        description="Start"),
            "end": widgets.DatePicker(value=index.last_day, min=index.first_day, max=index.last_day,
                                      description="End"),
            "platform": widgets.ToggleButtons(options=self._platform_options(), description="Platform",
                                              style={"button_width": PLATFORM_BUTTON_WIDTH}),
            "metric": widgets.Dropdown(options=[(METRIC_LABELS[m], m) for m in METRICS], value="click_count",
                                       description="Metric"),
            "freq": widgets.ToggleButtons(options=_FREQS, value="auto", description="Per",
                                          style={"button_width": "64px"}),
            "export_path": widgets.Text(value=str(export_path), description="Export to", layout=wide),
        }
        self.headline = widgets.HTML()
        self.chart = widgets.Output()
        self.table = widgets.HTML()
        self.export_button = widgets.Button(description="Export", icon="download",
                                            tooltip="Write the selected daily rows to the file: CSV, or a workbook "
                                                    "when its name ends in .xlsx")
        self.export_status = widgets.HTML()
        self.figure = self._new_figure()

        c = self.controls
        left = widgets.VBox([c["filter"], c["links"]])
        right = widgets.VBox([c["start"], c["end"], c["platform"], c["metric"], c["freq"]])
        export_row = widgets.HBox([c["export_path"], self.export_button, self.export_status])
        super().__init__(children=[widgets.HBox([left, right]), self.headline, self.chart, self.table, export_row])

        c["filter"].observe(self._on_filter, names="value")
        for name in ("links", "start", "end", "platform", "metric", "freq"):
            c[name].observe(self._on_control, names="value")
        self.export_button.on_click(self._on_export)
        self.redraw()

    # ------------------------------------------------------------------ public API
    def selection(self) -> pd.DataFrame:
        """The rows of ``stats`` the controls select (links, platform, date window), in the table's order."""
        sel = self._selection()
        return self._index.stats.iloc[self._index.positions(sel)].reset_index(drop=True)

    @contextlib.contextmanager
    def hold(self) -> Iterator[Dashboard]:
        """Batch control changes: redraw once when the block ends (only if something changed).

        >>> import datetime as dt
        >>> dash = jm.Dashboard(stats, links)
        >>> with dash.hold():
        ...     dash.controls["start"].value = dt.date(2024, 6, 8)
        ...     dash.controls["end"].value = dt.date(2024, 6, 21)
        >>> dash.redraw_count  # once when built, once for the block
        2
        >>> len(dash.selection())  # 12 links x 2 platforms x 14 days
        336
        """
        self._hold_depth += 1
        try:
            yield self
        finally:
            self._hold_depth -= 1
            if self._hold_depth == 0 and self._pending:
                self._pending = False
                self._request_redraw()

    def redraw(self) -> None:
        """Recompute and redraw the headline, the chart and the table now."""
        sel = self._selection()
        self._drawn = self._state(sel)
        self.redraw_count += 1
        self.export_status.value = ""  # an earlier "Wrote N rows" must not sit next to another selection
        idx = self._index
        metric, freq = self.controls["metric"].value, self.controls["freq"].value
        problem = self._problem(sel)
        if problem is not None:
            message, table_note, _reason = problem
            self.headline.value = f'<div style="color:#cf222e">{html.escape(message)}</div>'
            self.headline_figures = view.blank_figures()
            self.top_table = view.top_links(idx.per_link(sel).iloc[:0], metric, self._top)
            self.table.value = f"<p><i>{html.escape(table_note)}</i></p>"
            self._show_empty(message)
            return
        start, end = idx.date_of(sel.start), idx.date_of(sel.end)
        # the change is measured the report's way (one definition: metrics.comparison_windows)
        partial_days = [idx.date_of(d) for d in range(sel.start, sel.end + 1) if idx.is_partial(d)]
        windows = comparison_windows(start, end, partial_days=partial_days, first=idx.date_of(0))
        compared = windows.current
        daily = idx.daily(sel, sel.start - (compared[1] - start).days - 1 if compared is not None else sel.start)
        self.headline_figures = view.comparison(daily, (start, end), compared, windows.previous)
        n_days = sel.end - sel.start + 1
        current = daily.iloc[len(daily) - n_days:].reset_index(drop=True)
        n_links = int(sel.links.sum())
        caption = view.window_caption(n_links, len(idx.keys), self._platform_caption(), start, end)
        partial = [idx.date_of(d) for d in range(sel.start, sel.end + 1) if idx.is_partial(d)]
        if windows.previous is not None:
            caption += f" · change vs {windows.previous[0]:%Y-%m-%d} – {windows.previous[1]:%Y-%m-%d}"
        else:
            caption += f" · no change is shown: {windows.note}"
        note = ""
        if partial:
            days = ", ".join(f"{d:%Y-%m-%d}" for d in partial)
            note = (f"{len(partial)} partial day{'s' if len(partial) != 1 else ''} (may still grow): {days}. "
                    "They count in the totals, not in the change"
                    + (f" (measured over {start:%Y-%m-%d} – {compared[1]:%Y-%m-%d})." if compared is not None
                       else "."))
        self.headline.value = view.headline_html(self.headline_figures, caption, note)
        self.top_table = view.top_links(idx.per_link(sel), metric, self._top)
        self.table.value = view.table_html(self.top_table, metric)
        title = f"{n_links:,} link{'s' if n_links != 1 else ''} · {self._platform_caption()}"
        if 2 <= len(self.controls["links"].value) <= _LINES:  # a few links picked: one line each
            self._show_chart(idx.per_link_day(sel), metric, freq, title, by="link_key")
        else:
            self._show_chart(current, metric, freq, title)

    def export(self, path: str | Path | None = None) -> Path:
        """Write the :meth:`selection` rows as the report's ``daily.csv`` has them (name, channel, rates).

        Written with :func:`~jmlink_analytics.to_csv` (Excel-safe UTF-8 with BOM), or with
        :func:`~jmlink_analytics.to_excel` when the path ends in ``.xlsx``.

        Parameters
        ----------
        path : str or path, optional
            The file to write, ending in ``.csv`` or ``.xlsx``; by default the *Export to* box
            (relative paths are relative to the kernel's working folder, i.e. the notebook's).

        Returns
        -------
        pathlib.Path
            The file written.

        Raises
        ------
        ValueError
            When the path does not end in ``.csv`` or ``.xlsx`` (``sel.txt`` would hold CSV under
            another name), or the selection is impossible (start after end, no link): nothing is
            written, so the last export is kept.
        """
        return self._export(path)[0]

    # ------------------------------------------------------------------ internals
    def _options(self, text: str) -> list[tuple[str, str]]:
        idx = self._index
        return [(idx.label(i), str(idx.keys[i])) for i in idx.matching(text)]

    def _platform_options(self) -> list[tuple[str, str]]:
        present = self._index.platforms
        split = [p for p in ("ios", "android") if p in present]
        choices = ["all"] if "all" in present or len(split) > 1 else []
        return [(PLATFORM_LABELS[p], p) for p in (*choices, *split)]

    def _platform_caption(self) -> str:
        choice = self.controls["platform"].value
        rows = self._index.platform_rows(choice)
        return " + ".join(PLATFORM_LABELS[p] for p in rows)

    def _selection(self) -> Selection:
        idx, c = self._index, self.controls
        chosen = c["links"].value
        if chosen:
            links = idx.link_mask(chosen)
        else:
            links = np.zeros(len(idx.keys), dtype=bool)
            links[[i for i in idx.matching(c["filter"].value)]] = True
        start = idx.day_of(c["start"].value) if c["start"].value is not None else 0
        end = idx.day_of(c["end"].value) if c["end"].value is not None else idx.n_days - 1
        return Selection(links, idx.platform_rows(c["platform"].value), start, end)

    def _problem(self, sel: Selection) -> tuple[str, str, str] | None:
        """Why the selection cannot be shown (headline message, table note, short reason), or ``None``."""
        if sel.start > sel.end:
            return ("Start is after end: pick a start on or before the end date.",
                    "Nothing to rank until the start is on or before the end date.", "start is after end")
        if not sel.links.any():
            text = self.controls["filter"].value.strip()
            return (f"No link matches the filter “{text}”: change or clear the filter.",
                    "No links in the selection.", "no link matches the filter")
        return None

    def _state(self, sel: Selection) -> tuple[Any, ...]:
        c = self.controls
        lines = 2 <= len(c["links"].value) <= _LINES  # a line per picked link, even when all are picked
        return (np.flatnonzero(sel.links).tobytes(), sel.platforms, sel.start, sel.end,
                c["metric"].value, c["freq"].value, lines)

    def _request_redraw(self) -> None:
        if self._hold_depth:
            self._pending = True
        elif self._state(self._selection()) != self._drawn:
            self.redraw()

    def _on_control(self, _change: dict[str, Any]) -> None:
        self._request_redraw()

    def _on_filter(self, change: dict[str, Any]) -> None:
        links = self.controls["links"]
        with self.hold():
            kept = set(links.value)
            options = self._options(change["new"] or "")
            links.options = options  # resets the value
            links.value = tuple(key for _label, key in options if key in kept)
            self._request_redraw()  # with nothing selected, the filter alone changes what is counted

    def _export(self, path: str | Path | None) -> tuple[Path, int]:
        target = export_target(self.controls["export_path"].value if path is None else path)
        sel = self._selection()
        problem = self._problem(sel)
        if problem is not None:
            raise ValueError(f"nothing to export: {problem[2]} (the last export is kept)")
        frame = export_frame(self._index.stats.iloc[self._index.positions(sel)], self._link_table)
        return write_export(frame, target), len(frame)

    def _on_export(self, _button: Any) -> None:
        try:
            written, rows = self._export(None)
        except (OSError, ValueError) as exc:
            logger.warning("dashboard: export failed: %s", exc)
            self.export_status.value = f'<span style="color:#cf222e">Export failed: {html.escape(str(exc))}</span>'
            return
        self.export_status.value = f"Wrote {rows:,} rows to <code>{html.escape(str(written.resolve()))}</code>"

    def _new_figure(self) -> Figure:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        # fixed margins: a layout engine would cost more than the rest of a redraw
        figure = Figure(figsize=(9.5, 3.4), dpi=96)
        FigureCanvasAgg(figure)
        figure.add_subplot()
        figure.subplots_adjust(left=0.09, right=0.98, top=0.9, bottom=0.17)
        return figure

    def _show_chart(self, frame: pd.DataFrame, metric: str, freq: str, title: str, *, by: str | None = None) -> None:
        ax = self.figure.axes[0]
        freq = view.draw_trend(ax, frame, metric, freq, title, by=by, links=self._link_names)
        if not view.finish_trend(ax, metric, freq):  # e.g. a rate without a single click: no point at all
            self._show_empty(f"{METRIC_LABELS[metric]}: no value in this window ({title})")
            return
        self.chart.outputs = (view.png_output(self.figure),)

    def _show_empty(self, message: str) -> None:
        """A clean empty chart: the reason in the middle, no axis, no ticks."""
        ax = self.figure.axes[0]
        ax.clear()
        ax.set_axis_off()
        ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#6e7781", wrap=True)
        self.figure.subplots_adjust(right=0.98)
        self.chart.outputs = (view.png_output(self.figure),)

    def __repr__(self) -> str:
        idx = self._index
        return (f"<Dashboard: {len(idx.keys)} links, {idx.first_day:%Y-%m-%d} – {idx.last_day:%Y-%m-%d}, "
                f"platforms {', '.join(idx.platforms)}>")


