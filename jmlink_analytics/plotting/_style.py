"""The look shared by the plots: labels, number formats, date axes, fonts, incomplete periods.

matplotlib is imported here and in :mod:`.plotting` only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, cast

import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator, PercentFormatter
from matplotlib.transforms import offset_copy

from ..metrics import freq_alias
from ..schema import RATES
from . import _fonts

__all__ = ["DAILY_UP_TO", "DASHED_NOTE", "OTHER_COLOR", "apply_fonts", "axes_or_current", "by_words", "date_axis",
           "fonts", "freq_alias", "headroom", "incomplete_periods", "legend", "lines", "link_labels", "no_data",
           "number_axis", "number_text", "palette", "period_word", "resolve_freq"]

#: Without ``freq``, the charts over time draw a point per day up to this many days of data, a week beyond.
DAILY_UP_TO = 90

OTHER_COLOR = "#9a9a9a"
DASHED_NOTE = "dashed, hollow: incomplete period"
_PERIOD_WORDS = {"D": "day", "M": "month", "Q-DEC": "quarter", "Y-DEC": "year"}
_NAME_CHARS = 18


def palette(n: int) -> list[str]:
    """``n`` distinct colours, none of them grey (grey is "other")."""
    from matplotlib import colormaps

    tab10, tab20b = colormaps["tab10"], colormaps["tab20b"]
    colors = [tab10(i) for i in range(10) if i != 7]
    colors += [tab20b(i) for i in range(20) if i % 4 in (0, 2)]
    return [mpl.colors.to_hex(colors[i % len(colors)]) for i in range(n)]


def by_words(keys: list[str]) -> str:
    """``"link"`` for ``link_key``, the column names otherwise (``channel · platform``)."""
    return " · ".join("link" if k == "link_key" else k for k in keys)


def axes_or_current(ax: Any) -> Axes:
    """``ax``, or the current Axes of pyplot when ``ax`` is None."""
    if ax is None:
        import matplotlib.pyplot as plt

        return plt.gca()
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
    return ax


@contextlib.contextmanager
def fonts(ax: Axes, *extra: Axes) -> Iterator[list[str]]:
    """Draw with the CJK-capable family list, and fix it on every text of ``ax`` (and ``extra``) afterwards.

    The ``rc_context`` covers the artists made inside it; :func:`apply_fonts` then sets the
    families on each Text already there (titles and axis labels predate the call) and on
    the tick labels matplotlib makes later, at draw time, after the context is gone.
    """
    families = _fonts.font_families()
    with mpl.rc_context({"font.family": families}):
        yield families
    apply_fonts(families, ax, *extra)


def apply_fonts(families: list[str], *axes: Axes) -> None:
    """Set ``families`` on every Text of each Axes, and on the tick labels it makes later.

    Emoji that no font of ``families`` draws are dropped from those texts (and from fixed
    tick labels), so matplotlib never warns about a missing glyph (see :func:`_fonts.drawable`).
    """
    for one in axes:
        for text in one.findobj(Text):
            text.set_fontfamily(families)
            raw = text.get_text()
            if not raw.isascii():
                text.set_text(_fonts.drawable(raw, families))
        for axis in (one.xaxis, one.yaxis):  # tick labels given as text (bars, heat map rows): fixed ticks
            if not isinstance(axis.get_major_locator(), FixedLocator):
                continue
            ticks = axis.get_ticklabels()
            texts = [t.get_text() for t in ticks]
            cleaned = [t if t.isascii() else _fonts.drawable(t, families) for t in texts]
            if cleaned != texts:
                axis.set_ticks(axis.get_ticklocs(), cleaned, fontsize=ticks[0].get_fontsize())
        one.tick_params(axis="both", which="both", labelfontfamily=families)


def resolve_freq(freq: str | None, stats: pd.DataFrame) -> str:
    """``freq``, or without one: ``"D"`` up to :data:`DAILY_UP_TO` days of ``stats``, ``"W"`` beyond."""
    if freq is not None:
        freq_alias(freq)  # refuses a bad one, naming freq
        return freq
    if stats.empty or "date" not in stats.columns:
        return "D"
    span = (stats["date"].max() - stats["date"].min()).days + 1
    return "D" if span <= DAILY_UP_TO else "W"


def period_word(freq: str) -> str:
    """The word for one period of ``freq`` in chart titles: ``"day"``, ``"week"``, ``"month"``, ...

    >>> period_word("D"), period_word("W"), period_word("MS")
    ('day', 'week', 'month')
    """
    alias = freq_alias(freq)
    return "week" if alias.startswith("W-") else _PERIOD_WORDS[alias]


def number_text(metric: str, value: float) -> str:
    """``12,345`` for a counter, ``12.3%`` for a rate, ``–`` for NaN."""
    if value is None or not np.isfinite(value):
        return "–"
    return f"{value:.1%}" if metric in RATES else f"{value:,.0f}"


def number_axis(axis: Any, metric: str) -> None:
    """Thousands separators for counters, percentages for rates."""
    if metric in RATES:
        axis.set_major_formatter(PercentFormatter(xmax=1.0))
    else:
        axis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.0f}"))


_MAX_TICKS = 8
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _tick_rows(periods: pd.DatetimeIndex, alias: str) -> tuple[np.ndarray, str]:
    """Positions (into ``periods``) of the ticks, at most ``_MAX_TICKS``, and their label style."""
    n = len(periods)
    rows = np.arange(n)
    if alias.startswith("Q") or alias.startswith("Y"):
        for step in (1, 2, 4, 5, 10, 20, 50):
            if -(-n // step) <= _MAX_TICKS:
                return rows[::step], "quarter" if alias.startswith("Q") else "year"
    if alias == "M":
        for step in (1, 2, 3, 6, 12, 24):
            if -(-n // step) <= _MAX_TICKS:
                return rows[::step], "month"
    if alias.startswith("W"):
        for step in (1, 2, 4, 8, 13, 26, 52):
            if -(-n // step) <= _MAX_TICKS:
                return rows[::step], "day"
    if alias == "D":
        for step in (1, 2, 3):
            if -(-n // step) <= _MAX_TICKS:
                return rows[::step], "day"
        mondays = rows[periods.day_of_week == 0]
        for step in (1, 2):
            if 0 < -(-len(mondays) // step) <= _MAX_TICKS:
                return mondays[::step], "day"
    firsts = rows[periods.day == 1] if alias in ("D", "M") else rows[(periods.day <= 7) & (rows >= 0)]
    if alias.startswith("W"):  # the first week starting in each month
        firsts = rows[np.r_[True, periods.month[1:] != periods.month[:-1]]]
    for step in (1, 2, 3, 6, 12, 24):
        picked = firsts[::step] if step == 1 else firsts[(periods.month[firsts] - 1) % step == 0]
        if 0 < len(picked) <= _MAX_TICKS:
            return picked, "day" if alias.startswith("W") else "month"
    return rows[:: max(1, -(-n // _MAX_TICKS))], "day"


def _tick_labels(stamps: pd.DatetimeIndex, style: str) -> list[str]:
    """Readable labels: ``Nov 3`` / ``Nov`` / ``2026 Q4`` / ``2026``; the year under the first and at a new year."""
    labels = []
    for i, stamp in enumerate(stamps):
        new_year = i == 0 or stamp.year != stamps[i - 1].year
        if style == "year":
            labels.append(f"{stamp.year}")
        elif style == "quarter":
            labels.append(f"{stamp.year} Q{stamp.quarter}")
        elif style == "month":
            labels.append(f"{_MONTHS[stamp.month - 1]}" + (f"\n{stamp.year}" if new_year else ""))
        else:
            labels.append(f"{_MONTHS[stamp.month - 1]} {stamp.day}" + (f"\n{stamp.year}" if new_year else ""))
    return labels


def date_axis(ax: Axes, periods: pd.DatetimeIndex, freq: str, *, cells: bool = False) -> None:
    """Fit the x axis to ``periods`` (period starts): limits half a period beyond the first and last,
    ticks only on periods that are there (at most 8), readable labels, no offset text.

    With ``cells`` (the heat map), each period is a cell from its start to the next one: the
    limits are the cells' edges and the ticks their centres.
    """
    if len(periods) == 0:
        return
    alias = freq_alias(freq)
    periods = pd.DatetimeIndex(periods)
    ends = pd.PeriodIndex(periods, freq=alias).end_time.normalize() + pd.Timedelta(days=1)
    rows, style = _tick_rows(periods, alias)
    if cells:
        starts, stops = periods.to_numpy(), ends.to_numpy()
        centres = starts + (stops - starts) / 2
        ax.set_xlim(mdates.date2num(starts[0]), mdates.date2num(stops[-1]))
        ax.set_xticks(centres[rows], _tick_labels(periods[rows], style))
    else:
        first_half = (ends[0] - periods[0]) / 2
        last_half = (ends[-1] - periods[-1]) / 2
        ax.set_xlim(mdates.date2num(periods[0] - first_half), mdates.date2num(periods[-1] + last_half))
        ax.set_xticks(periods.to_numpy()[rows], _tick_labels(periods[rows], style))
    ax.xaxis.set_minor_locator(NullLocator())
    if alias.startswith("W") and not ax.get_xlabel():
        ax.set_xlabel(f"week starting {periods[0].day_name()}", fontsize=8, color="#57606a")


def headroom(ax: Axes, *values: np.ndarray) -> None:
    """y from 0 to 8 % above the largest finite value (a flat line does not sit on the frame)."""
    tops = [float(np.nanmax(v)) for v in values if np.size(v) and np.isfinite(v).any()]
    top = max(tops) if tops else 0.0
    ax.set_ylim(0, top * 1.08 if top > 0 else 1.0)


def no_data(ax: Axes, title: str) -> Axes:
    ax.set_title(title)
    ax.text(0.5, 0.5, "no data to show", ha="center", va="center", transform=ax.transAxes, color="#6e7781")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def incomplete_periods(stats: pd.DataFrame, periods: pd.DatetimeIndex, freq: str) -> np.ndarray:
    """Flags over ``periods``: the period holds a partial day, or the data's dates cut it.

    Such a period's sum is not comparable with the others (a week of 3 days, today's half day).
    """
    alias = freq_alias(freq)
    if len(periods) == 0:
        return np.zeros(0, dtype=bool)
    days = pd.DatetimeIndex(pd.unique(stats["date"])).normalize()
    first, last = days.min(), days.max()
    ends = pd.PeriodIndex(periods, freq=alias).end_time.normalize()
    cut = (periods < first) | (ends > last)
    flags = np.asarray(cut, dtype=bool)
    if "is_partial" in stats.columns:
        partial = pd.DatetimeIndex(pd.unique(stats.loc[stats["is_partial"].fillna(False).astype(bool), "date"]))
        if len(partial):
            starts = pd.PeriodIndex(partial.normalize(), freq=alias).start_time
            flags |= np.asarray(periods.isin(starts.as_unit(periods.unit)), dtype=bool)
    return flags


def link_labels(keys: list[str], links: pd.DataFrame | None) -> list[str]:
    """``"KEY 名字"`` per link key when ``links`` has a name for it (names shortened), else the key."""
    if links is None or "name" not in links.columns or "link_key" not in links.columns:
        return [str(k) for k in keys]
    table = links.drop_duplicates("link_key")
    names = pd.Series(table["name"].astype(object).to_numpy(), index=table["link_key"].astype(str).to_numpy())
    out = []
    for key in keys:
        name = names.get(str(key))
        if name is None or pd.isna(name) or not str(name).strip():
            out.append(str(key))
            continue
        name = str(name).strip()
        short = name if len(name) <= _NAME_CHARS else name[:_NAME_CHARS - 1] + "…"
        out.append(f"{key} {short}")
    return out


def lines(ax: Axes, data: pd.DataFrame, incomplete: np.ndarray, labels: list[str], colors: list[Any],
          **kwargs: Any) -> list[Any]:
    """Draw one line per column; incomplete periods dashed with hollow markers; returns the solid lines.

    Every period with a value is visible: with up to 40 periods each gets a marker, and a
    period without a neighbour to join (a single period, or one between gaps) always does.
    """
    x = data.index.to_numpy()
    dots = len(x) <= 40
    kwargs.setdefault("linewidth", 1.8)
    drawn = []
    for column, label, color in zip(data.columns, labels, colors, strict=True):
        y = data[column].to_numpy(dtype=np.float64)
        other = color == OTHER_COLOR  # the sum of many groups: in the background
        width = kwargs["linewidth"] * (0.7 if other else 1.0)
        size = 6 if len(x) <= 3 else 3 if dots else 2.5  # a lone point must catch the eye
        if incomplete.any():
            dashed = np.where(_joined(incomplete), y, np.nan)
            hollow = np.flatnonzero(incomplete & _marked(np.where(incomplete, y, np.nan), dots)).tolist()
            ax.plot(x, dashed, color=color, linestyle=(0, (3, 2)), linewidth=width * 0.8, label="_nolegend_",
                    marker="o", markevery=hollow, markersize=size + 1, markerfacecolor="white",
                    markeredgecolor=color)
        solid = np.where(incomplete, np.nan, y)
        options = {"color": color, "label": label, "marker": "o", "markersize": size,
                   "markevery": np.flatnonzero(_marked(solid, dots)).tolist()}
        drawn.extend(ax.plot(x, solid, **(options | kwargs | {"linewidth": width})))  # the caller's options win
    return drawn


def _joined(incomplete: np.ndarray) -> np.ndarray:
    """Where the dashed line runs: the incomplete periods and their complete neighbours."""
    near = incomplete.copy()
    near[1:] |= incomplete[:-1]
    near[:-1] |= incomplete[1:]
    return near


def _marked(y: np.ndarray, dots: bool) -> np.ndarray:
    """Points that get a marker: every finite one when ``dots``, else the isolated ones."""
    finite = np.isfinite(y)
    if dots:
        return finite
    left = np.r_[False, finite[:-1]]
    right = np.r_[finite[1:], False]
    return finite & ~left & ~right


def _beyond(ax: Axes, right: Axes) -> Any:
    """The transform of ``ax``'s Axes coordinates, shifted right past ``right``'s tick labels and axis label.

    The shift is measured in points (text keeps its size when a layout resizes the Axes), so a
    legend anchored at x = 1 never covers the second axis' label: a fixed fraction of the
    Axes width (it was 1.09) did, when the ticks were wide ("10,000") or the figure narrow.
    """
    box = right.get_tightbbox()  # the figure's renderer
    points = 0.0 if box is None else max(0.0, (box.x1 - ax.bbox.x1) / ax.figure.dpi * 72)
    return offset_copy(ax.transAxes, fig=cast(Figure, ax.figure), x=points + 6, y=0, units="points")


def legend(ax: Axes, incomplete: np.ndarray, title: str | None = None, *, handles: list[Any] | None = None,
           labels: list[str] | None = None, right: Axes | None = None) -> None:
    """The legend (outside the Axes when long, beyond ``right``'s tick labels), with a note on dashed lines."""
    if handles is None or labels is None:
        handles, labels = ax.get_legend_handles_labels()
    handles, labels = list(handles), list(labels)
    if incomplete.any():
        handles.append(Line2D([], [], color="#555555", linestyle=(0, (3, 2)), marker="o", markersize=4,
                              markerfacecolor="white"))
        labels.append(DASHED_NOTE)
    if len(labels) <= 1 and not incomplete.any():
        return
    outside = len(labels) > 4
    if outside:
        ax.legend(handles, labels, title=title, fontsize=8, title_fontsize=8, frameon=False, loc="upper left",
                  **({"bbox_to_anchor": (1.01, 1.0)} if right is None
                     else {"bbox_to_anchor": (1.0, 1.0), "bbox_transform": _beyond(ax, right)}))
    else:
        ax.legend(handles, labels, title=title, fontsize=8, title_fontsize=8, framealpha=0.85, edgecolor="none",
                  loc="best")
