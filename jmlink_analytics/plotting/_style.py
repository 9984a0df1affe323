"""The look shared by the plots: labels, number formats, date axes, fonts, incomplete periods.

matplotlib is imported here and in :mod:`.plotting` only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, PercentFormatter

from ..metrics._groups import freq_alias
from ..schema import RATES
from . import _fonts

__all__ = ["DASHED_NOTE", "LABELS", "OTHER_COLOR", "apply_fonts", "axes_or_current", "by_words", "date_axis", "fonts",
           "incomplete_periods", "legend", "lines", "link_labels", "no_data", "number_axis", "number_text", "palette",
           "period_word"]

LABELS = {
    "exposure_count": "Exposures",
    "click_count": "Clicks",
    "open_count": "Opens",
    "install_count": "Installs",
    "ctr": "CTR (clicks / exposures)",
    "open_rate": "Open rate (opens / clicks)",
    "install_rate": "Install rate (installs / clicks)",
}
OTHER_COLOR = "#9a9a9a"
DASHED_NOTE = "dashed: partial day or period cut by the date range"
_PERIOD_WORDS = {"D": "day", "M": "month", "Q-DEC": "quarter", "Y-DEC": "year"}
_NAME_CHARS = 18


def palette(n: int) -> list[str]:
    """``n`` distinct colours, none of them grey (grey is "other")."""
    from matplotlib import colormaps

    colors = [c for i, c in enumerate(colormaps["tab10"].colors) if i != 7]
    colors += [c for i, c in enumerate(colormaps["tab20b"].colors) if i % 4 in (0, 2)]
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
    """Set ``families`` on every Text of each Axes, and on the tick labels it makes later."""
    for one in axes:
        for text in one.findobj(Text):
            text.set_fontfamily(families)
        one.tick_params(axis="both", which="both", labelfontfamily=families)


def period_word(freq: str) -> str:
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


def date_axis(axis: Any) -> None:
    """Concise date ticks (``Jan``, ``08``, ``15``, with the year once in the corner)."""
    locator = AutoDateLocator(minticks=3, maxticks=10)
    axis.set_major_locator(locator)
    axis.set_major_formatter(ConciseDateFormatter(locator))


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
           **kwargs: Any) -> None:
    """Draw one line per column; incomplete periods dashed (a dashed line under a solid one with gaps)."""
    x = data.index.to_numpy()
    dots = len(x) <= 40
    kwargs.setdefault("linewidth", 1.8)
    for column, label, color in zip(data.columns, labels, colors, strict=True):
        y = data[column].to_numpy(dtype=np.float64)
        other = color == OTHER_COLOR  # the sum of many groups: in the background
        width = kwargs["linewidth"] * (0.7 if other else 1.0)
        if incomplete.any():
            ax.plot(x, y, color=color, linestyle=(0, (3, 2)), linewidth=width * 0.8, label="_nolegend_")
        solid = np.where(incomplete, np.nan, y)
        options = {"color": color, "label": label, "marker": "o" if dots and not other else None, "markersize": 3}
        ax.plot(x, solid, **(options | kwargs | {"linewidth": width}))  # the caller's options win


def legend(ax: Axes, incomplete: np.ndarray, title: str | None = None) -> None:
    """The legend (outside the Axes when long), with a note on dashed lines when there are any."""
    handles, labels = ax.get_legend_handles_labels()
    if incomplete.any():
        handles.append(Line2D([], [], color="#555555", linestyle=(0, (3, 2))))
        labels.append(DASHED_NOTE)
    if len(labels) <= 1 and not incomplete.any():
        return
    outside = len(labels) > 4
    ax.legend(handles, labels, title=title, fontsize=8, title_fontsize=8, frameon=False,
              loc="upper left", bbox_to_anchor=(1.01, 1.0) if outside else None)
