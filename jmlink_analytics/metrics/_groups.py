"""The shared machinery of :mod:`.metrics`: the platform rule, periods, links joined, group sums.

Every analysis starts the same way: check the stats table (:mod:`.._validate`), decide which rows count (the
platform rule, below), put dates into periods, and sum the four counters per group. Rates
are then computed from those sums, never averaged.

The platform rule
-----------------
A stats table may hold the ``all`` rows *and* the ``ios``/``android`` rows of the same link
(``fetch_stats(..., platform=["all", "ios", "android"])``); ``all`` is their sum, so adding
every row would count each click twice. Unless ``platform`` is one of the grouping columns,
each link counts through its ``all`` rows when it has any, and through the sum of its other
platform rows otherwise. Grouping by ``platform`` keeps every row, each platform value
(``all`` included) as its own group.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries import offsets
from pandas.tseries.frequencies import to_offset

__all__ = [
    "count_once",
    "freq_alias",
    "group_labels",
    "group_sums",
    "link_attributes",
    "period_of",
    "platform_mask",
    "rates_of",
    "sort_groups",
]

from .._validate import check_stats
from ..schema import COUNTERS, RATES
from ._ratio import ratio

logger = logging.getLogger("jmlink_analytics")

_NOT_KEYS = frozenset((*COUNTERS, *RATES, "is_partial"))

# friendly names -> pandas Period alias (start_time of the period is the period's label)
_FREQ_ALIASES = {
    "D": "D", "W": "W-SUN", "MS": "M", "M": "M", "ME": "M",
    "QS": "Q-DEC", "Q": "Q-DEC", "QE": "Q-DEC", "YS": "Y-DEC", "Y": "Y-DEC", "YE": "Y-DEC", "A": "Y-DEC",
    "AS": "Y-DEC",
}
_FREQ_HELP = ("'D' (day), 'W' (week from Monday), 'MS' (month), or a pandas alias of one day, week "
              "('W-SAT', ...), month ('ME'), quarter ('QS', 'QE') or year ('YS', 'YE')")


def resolve_by(stats: pd.DataFrame, by: list[str], links: Any, name: str = "by") -> tuple[list[str], list[str]]:
    """Split ``by`` into columns of ``stats`` and columns of ``links`` (joined on ``link_key``)."""
    if links is not None:
        if not isinstance(links, pd.DataFrame):
            raise TypeError(f"links must be None or the DataFrame fetch_links returns; got {type(links).__name__}")
        if "link_key" not in links.columns:
            raise ValueError("links lacks the column 'link_key' (use the DataFrame fetch_links returns)")
    stat_keys = [c for c in stats.columns if c not in _NOT_KEYS]
    link_keys = [c for c in links.columns if c != "link_key"] if links is not None else []
    stat_cols, link_cols = [], []
    for column in by:
        if column in stat_keys:
            stat_cols.append(column)
        elif column in link_keys:
            link_cols.append(column)
        else:
            allowed = f"columns of stats ({', '.join(map(str, stat_keys))})"
            if links is not None:
                allowed += f" or of links ({', '.join(map(str, link_keys))})"
            else:
                allowed += "; pass links=fetch_links(client) to group by a links column such as 'channel' or 'name'"
            raise ValueError(f"{name}={column!r} is not a column to group by; allowed: {allowed}")
    if link_cols and "link_key" not in stats.columns:
        raise ValueError(f"{name}={link_cols} needs stats' link_key column to join links on")
    return stat_cols, link_cols


def freq_alias(freq: Any, name: str = "freq") -> str:
    """The pandas Period alias for ``freq`` ("D", "W", "MS" or a pandas alias of a day/week/month/...)."""
    if not isinstance(freq, str):
        raise TypeError(f"{name} must be a string: {_FREQ_HELP}; got {type(freq).__name__}")
    if freq in _FREQ_ALIASES:
        return _FREQ_ALIASES[freq]
    try:
        offset = to_offset(freq)
    except ValueError:
        raise ValueError(f"{name} must be {_FREQ_HELP}; got {freq!r}") from None
    if offset.n == 1:
        # pandas-stubs leave out these offsets' attributes: read them by name
        weekday, starting, month = (getattr(offset, a, None) for a in ("weekday", "startingMonth", "month"))
        if isinstance(offset, offsets.Day):
            return "D"
        if isinstance(offset, offsets.Week) and weekday is not None:
            return f"W-{('MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN')[weekday]}"
        if isinstance(offset, offsets.MonthBegin | offsets.MonthEnd):
            return "M"
        if isinstance(offset, offsets.QuarterEnd) and starting == 12:
            return "Q-DEC"
        if isinstance(offset, offsets.QuarterBegin) and starting == 1:
            return "Q-DEC"
        if isinstance(offset, offsets.YearBegin | offsets.YearEnd) and month in (1, 12):
            return "Y-DEC"
    raise ValueError(f"{name} must be {_FREQ_HELP}; got {freq!r}")


# ------------------------------------------------------------------------------ rows and periods
def platform_mask(stats: pd.DataFrame, stat_cols: Sequence[str]) -> np.ndarray | None:
    """Rows to count under the platform rule (module docstring); ``None`` means every row."""
    if "platform" not in stats.columns or "platform" in stat_cols:
        return None
    is_all = (stats["platform"] == "all").to_numpy(dtype=bool)
    if not is_all.any() or is_all.all():
        return None
    if "link_key" not in stats.columns:
        keep = is_all
    else:
        keys = stats["link_key"]
        keep = is_all | ~keys.isin(pd.unique(keys[is_all])).to_numpy(dtype=bool)
    logger.debug("platform rule: %d of %d rows double-count the 'all' rows and are left out",
                 int((~keep).sum()), len(keep))
    return keep


def count_once(stats: pd.DataFrame, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """The rows of ``stats`` that count under the platform rule, so no click is counted twice.

    A stats table may hold a link's ``all`` rows and its ``ios``/``android`` rows; ``all`` is
    their sum. Unless ``platform`` is among ``by``, each link counts through its ``all`` rows
    when it has any, and through its other platform rows otherwise. Every summary, chart,
    report and the dashboard count this way.

    Parameters
    ----------
    stats : pandas.DataFrame
        The table of :func:`jmlink_analytics.fetch_stats`.
    by : str or list of str, optional
        The columns the caller groups by; with ``platform`` among them every row counts.

    Returns
    -------
    pandas.DataFrame
        ``stats`` itself when every row counts, else the rows that count (index kept).
    """
    check_stats(stats, need_date=False)
    keys = [] if by is None else [by] if isinstance(by, str) else list(by)
    keep = platform_mask(stats, keys)
    return stats if keep is None else stats[keep]


def period_of(dates: pd.Series, alias: str) -> np.ndarray:
    """The start of each date's period (same datetime64 unit as ``dates``)."""
    codes, uniques = pd.factorize(dates)
    index = pd.DatetimeIndex(uniques)
    starts = index.normalize() if alias == "D" else index.to_period(alias).start_time
    return starts.as_unit(dates.dt.unit).to_numpy()[codes]


def rates_of(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """``ctr``, ``open_rate``, ``install_rate`` from the frame's counters (NaN, never inf, on 0)."""
    return {rate: ratio(frame[num].to_numpy(dtype=np.float64), frame[den].to_numpy(dtype=np.float64))
            for rate, (num, den) in RATES.items()}


# ----------------------------------------------------------------------------------- group sums
def link_attributes(links: pd.DataFrame, columns: list[str], keys: pd.Series) -> pd.DataFrame:
    """The ``columns`` of ``links`` for each of ``keys`` (missing where the link is unknown)."""
    table = links[["link_key", *columns]]
    if table["link_key"].duplicated().any():
        logger.warning("links has duplicate link_key values; the first row of each is used")
        table = table.drop_duplicates("link_key")
    table = table.set_index(table["link_key"].astype(str).to_numpy())[columns]
    return table.reindex(keys.astype(str).to_numpy()).reset_index(drop=True)


def _key_codes(column: pd.Series) -> tuple[np.ndarray, int, Any]:
    """(codes >= 0, how many, a decoder codes -> values) of one key column; a missing value is a code of its own."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        raw, size = column.cat.codes.to_numpy().astype(np.int64), len(column.cat.categories)
        dtype = column.dtype
        return np.where(raw < 0, size, raw), size + 1, \
            lambda c: pd.Categorical.from_codes(np.where(c == size, -1, c), dtype=dtype)
    raw, uniques = pd.factorize(column, use_na_sentinel=True)
    size = len(uniques)
    values = pd.Series(uniques)  # labels 0 .. size - 1: the missing code (-1) reindexes to a typed NaN / NaT
    return np.where(raw < 0, size, raw).astype(np.int64), size + 1, \
        lambda c: values.reindex(np.where(c == size, -1, c)).array


def _fast_sum(frame: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame | None:
    """The sums of ``_sum_by`` with one bincount per column over dense key codes; None when that does not pay."""
    if not all(frame[v].dtype.kind in "iufb" and not isinstance(frame[v].dtype, pd.api.extensions.ExtensionDtype)
               for v in values):
        return None
    coded = [_key_codes(frame[k]) for k in keys]
    cells = float(np.prod([float(size) for _, size, _ in coded]))
    if cells > max(4 * len(frame), 1 << 16):
        return None
    flat = np.zeros(len(frame), dtype=np.int64)
    for codes, size, _ in coded:
        flat = flat * size + codes
    n_cells = int(cells)
    rows = np.bincount(flat, minlength=n_cells)
    used = np.flatnonzero(rows)
    out: dict[str, Any] = {}
    rest = used
    parts = []
    for _codes, size, _ in reversed(coded):
        parts.append(rest % size)
        rest = rest // size
    for key, (_codes, _size, decode), part in zip(keys, coded, reversed(parts), strict=True):
        out[key] = decode(part)
    for column in values:
        data = frame[column].to_numpy()
        if data.dtype.kind == "b":
            out[column] = np.bincount(flat, weights=data.astype(np.float64), minlength=n_cells)[used] > 0
        else:
            summed = np.bincount(flat, weights=data.astype(np.float64), minlength=n_cells)[used]
            out[column] = summed.astype(data.dtype) if data.dtype.kind in "iu" else summed
    return pd.DataFrame(out)


def _sum_by(frame: pd.DataFrame, keys: list[str], with_partial: bool) -> pd.DataFrame:
    """One row per group of ``keys``: the counters summed (and ``is_partial``: any row partial)."""
    values = [*COUNTERS, *(["is_partial"] if with_partial else [])]
    fast = _fast_sum(frame, keys, values) if len(frame) > 10_000 else None
    if fast is not None:
        return fast
    grouped = frame.groupby(keys, observed=True, dropna=False, sort=False)
    sums = grouped[list(COUNTERS)].sum()  # one pass over the four columns
    if with_partial:
        sums["is_partial"] = grouped["is_partial"].any()
    return sums.reset_index()


def group_sums(stats: pd.DataFrame, by: list[str], links: Any = None, *, alias: str | None = None,
               rows: np.ndarray | None = None, with_date: bool = False, with_partial: bool = False,
               name: str = "by") -> pd.DataFrame:
    """Sum the counters per group, after the platform rule.

    Returns a frame with the columns ``by`` (in order), then ``date`` (when ``with_date``) or
    ``period`` (when ``alias``), then the four counters (and ``is_partial``, any row partial,
    when ``with_partial``), one row per group, in no particular order; a RangeIndex.
    Missing key values (a link without a channel) form their own group, so the sums always
    add up to the input's.
    """
    stat_cols, link_cols = resolve_by(stats, by, links, name)
    mask = platform_mask(stats, stat_cols)
    if rows is not None:
        mask = rows if mask is None else mask & rows
    extra = ["date"] if with_date else []
    stage = [*stat_cols, *(["link_key"] if link_cols and "link_key" not in stat_cols else []), *extra]
    values = [*COUNTERS, *(["is_partial"] if with_partial else [])]
    has_partial = with_partial and "is_partial" in stats.columns
    columns = [*dict.fromkeys([*stage, *(["date"] if alias is not None else [])]), *COUNTERS,
               *(["is_partial"] if has_partial else [])]
    frame = stats[columns] if mask is None else stats.loc[mask, columns]
    if with_partial:
        partial = frame["is_partial"].fillna(False).astype(bool) if has_partial else False
        frame = frame.assign(is_partial=partial)
    if alias is not None:
        frame = frame.assign(period=period_of(frame["date"], alias))
        stage.append("period")
    final = [*by, *extra, *(["period"] if alias is not None else [])]
    agg = dict.fromkeys(COUNTERS, "sum") | ({"is_partial": "any"} if with_partial else {})
    if not stage:
        sums = frame.agg(agg).to_frame().T.reset_index(drop=True)
        for column in COUNTERS:
            sums[column] = sums[column].astype(frame[column].dtype)
        if with_partial:
            sums["is_partial"] = sums["is_partial"].astype(bool)
        return sums
    sums = _sum_by(frame, stage, with_partial)
    if link_cols:
        attributes = link_attributes(links, link_cols, sums["link_key"])
        for column in link_cols:
            sums[column] = attributes[column].array
        if "link_key" not in by:  # many links per group: add them up
            sums = _sum_by(sums, final, with_partial)
    return sums[[*final, *values]]


def _ascending_codes(column: pd.Series) -> np.ndarray:
    """Integer codes >= 0 that sort like ``column`` (categories in their order), missing values last."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy().astype(np.int64)
        size = len(column.cat.categories)
    else:
        codes, uniques = pd.factorize(column, sort=True, use_na_sentinel=True)
        codes, size = codes.astype(np.int64), len(uniques)
    return np.where(codes < 0, size, codes)


def sort_groups(frame: pd.DataFrame, descending: list[str], keys: list[str]) -> pd.DataFrame:
    """``frame`` sorted by the ``descending`` columns (largest first, missing last), then by ``keys``; a RangeIndex.

    Integer counters and key codes are packed into one int64 per row when they fit, and sorted
    with one ``argsort``: several times faster than ``sort_values`` on a few hundred thousand rows.
    """
    if frame.empty:
        return frame.reset_index(drop=True)
    digits: list[tuple[np.ndarray, int]] | None = []  # most significant first, each (codes >= 0, radix)
    for column in descending:
        values = frame[column].to_numpy()
        if values.dtype.kind not in "iu" or values.min() < 0:
            digits = None
            break
        top = int(values.max())
        assert digits is not None
        digits.append((top - values.astype(np.int64), top + 1))
    codes = [_ascending_codes(frame[k]) for k in keys]
    if digits is not None:
        digits += [(c, int(c.max()) + 1) for c in codes]
        if float(np.prod([float(radix) for _, radix in digits])) < 2.0**62:
            packed = np.zeros(len(frame), dtype=np.int64)
            for code, radix in digits:
                packed = packed * radix + code
            return frame.iloc[np.argsort(packed)].reset_index(drop=True)  # groups are unique: no ties
    order_keys = list(reversed(codes))
    for column in reversed(descending):
        values = frame[column].to_numpy(dtype=np.float64)
        order_keys.append(np.where(np.isnan(values), np.inf, -values))
    return frame.iloc[np.lexsort(order_keys)].reset_index(drop=True)


def group_labels(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """One text label per row from its key columns (``" · "`` between them, ``"(none)"`` for missing)."""
    parts = []
    for key in keys:
        column = frame[key]
        text = column.dt.strftime("%Y-%m-%d") if column.dtype.kind == "M" else column.astype(object).map(str)
        parts.append(text.where(column.notna() & (text.str.strip() != ""), "(none)").astype(object))
    label = parts[0]
    for part in parts[1:]:
        label = label + " · " + part
    return label.astype(object)
