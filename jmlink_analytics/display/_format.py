"""One way to show a value in a table cell, for the report page, the dashboard and the notebooks.

Every cell the toolkit shows as text goes through :func:`format_cell` with a *kind*:

========== ================================ =============================================
kind       what it holds                    shown as
========== ================================ =============================================
``count``  a counter (clicks, installs)     ``12,345``
``rate``   a rate as a fraction (0.1234)    ``12.3%``
``change`` a relative change (fraction)     ``+12.3%`` (a count's change)
``pp``     a rate difference (rate units)   ``+1.2 pp`` (percentage points)
``points`` a difference already in points   ``+1.2 pp`` (a ``*_change_pp`` column)
``score``  a robust z-score                 ``+7.4``
``number`` any other number                 ``1,234.5``
``date``   a date or timestamp              ``2026-11-03``
``text``   anything else                    as is
========== ================================ =============================================

A missing value (None, NaN, NaT, pd.NA, infinity) is always :data:`MISSING` ("–"). A change
that rounds to zero is shown unsigned (``0.0%``, ``0.0 pp``, never ``-0.0 pp``) and
:func:`change_sign` says 0 for it, so its colour is neutral too.

The vocabulary of changes: a *count* changes relatively (``change``: +0.25 is +25%), a *rate*
changes by a difference in percentage points (``pp``: 0.12 -> 0.15 is +3.0 pp), never a
percent of a percent.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from ..schema import COUNTERS, RATES

__all__ = ["KINDS", "MISSING", "change_sign", "column_kind", "format_cell", "is_missing", "metric_kind"]

#: How a missing value looks, everywhere.
MISSING = "–"
#: The kinds :func:`format_cell` knows.
KINDS = ("count", "rate", "change", "pp", "points", "score", "number", "date", "text")
_DECIMALS = {"rate": 1, "change": 1, "pp": 1, "points": 1, "score": 1, "number": 1}


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT, pd.NA and infinities."""
    if value is None:
        return True
    try:
        if value != value:  # NaN, NaT
            return True
    except TypeError:  # pd.NA refuses to be a bool
        return True
    if isinstance(value, float | int) and not isinstance(value, bool):
        return math.isinf(value)
    try:
        return math.isinf(float(value))
    except (TypeError, ValueError):
        return False


def metric_kind(metric: str) -> str:
    """``"rate"`` for a rate, ``"count"`` for a counter (and anything else)."""
    return "rate" if metric in RATES else "count"


def _rounded(value: float, kind: str) -> float:
    """``value`` as it is shown: in percent for rate/change/pp, rounded to the shown decimals."""
    scaled = value * 100 if kind in ("rate", "change", "pp") else value
    return round(scaled, _DECIMALS.get(kind, 0)) + 0.0  # + 0.0: -0.0 becomes 0.0


def change_sign(value: Any, kind: str = "change") -> int:
    """+1, -1 or 0: the direction of a change *as shown* (0 when it rounds to zero or is missing)."""
    if is_missing(value):
        return 0
    shown = _rounded(float(value), kind)
    return 1 if shown > 0 else -1 if shown < 0 else 0


def format_cell(value: Any, kind: str = "text") -> str:
    """``value`` as the text of a table cell of ``kind`` (see the module docstring).

    Parameters
    ----------
    value : object
        The value; None, NaN, NaT, pd.NA and infinities are shown as :data:`MISSING`.
    kind : str, default "text"
        One of :data:`KINDS`.

    Returns
    -------
    str
        Plain text (not HTML-escaped).

    Examples
    --------
    >>> format_cell(12345, "count"), format_cell(0.1234, "rate"), format_cell(-0.25, "change")
    ('12,345', '12.3%', '-25.0%')
    >>> format_cell(0.012, "pp"), format_cell(-0.0004, "pp"), format_cell(float("nan"), "count")
    ('+1.2 pp', '0.0 pp', '–')
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if is_missing(value):
        return MISSING
    if kind == "text":
        return str(value)
    if kind == "date":
        if isinstance(value, dt.date | dt.datetime) or hasattr(value, "strftime"):
            return f"{value:%Y-%m-%d}"
        return str(value)
    number = float(value)
    if kind == "count":
        return f"{round(number):,}"
    shown = _rounded(number, kind)
    sign = "+" if kind in ("change", "pp", "points", "score") and shown > 0 else ""
    if kind == "rate":
        return f"{shown:.1f}%"
    if kind == "change":
        return f"{sign}{shown:,.1f}%"
    if kind in ("pp", "points"):
        return f"{sign}{shown:.1f} pp"
    if kind == "score":
        return f"{sign}{shown:.1f}"
    return f"{shown:,.1f}"


def column_kind(column: str) -> str:
    """The kind of a column of the toolkit's tables, from its name.

    ``*_rel_change`` and ``*_pct_change`` -> change; ``*_change_pp`` -> points; a rate's ``*_change`` -> pp;
    a counter's ``*_change`` -> count (a difference of counts); rates -> rate; counters,
    ``actual`` and ``expected`` -> count; ``score`` -> score; ``date``, ``start``, ``end``
    -> date; anything else -> text.
    """
    if column.endswith(("_rel_change", "_pct_change")) or column == "change":
        return "change"
    if column.endswith("_change_pp"):
        return "points"
    if column.endswith("_change"):
        base = column[: -len("_change")]
        return "pp" if base in RATES else "count"
    if column in ("date", "start", "end", "peak_date", "period"):
        return "date"
    if column == "score":
        return "score"
    for rate in RATES:
        if column == rate or column.startswith(f"{rate}_"):
            return "rate"
    for counter in COUNTERS:
        if column == counter or column.startswith(f"{counter}_"):
            return "count"
    if column in ("actual", "expected", "value", "days"):
        return "count"
    return "text"
