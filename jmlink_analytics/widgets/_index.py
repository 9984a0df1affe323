"""The dashboard's data engine: the stats table pre-indexed once, then cheap aggregates per redraw.

A redraw over 1,000 links x 365 days x 2 platforms (730,000 rows) must stay well under
300 ms, so nothing here groups the full frame again. At construction the counters go into a
dense (platform, link, counter, day) array (fetch_stats' tables are dense, so it costs about
what the frame does): a selection's per-day sums are then one matrix-vector product over a
day slice, its per-link sums one slice sum, a few milliseconds in all. Tables too big for
that array (``dense_limit_bytes``) use the row path: rows sorted by day, a window found by
binary search, sums by ``numpy.bincount``. Only the small results (a few hundred days, a
thousand links) become DataFrames, and those are handed to :mod:`jmlink_analytics.metrics`
and :mod:`jmlink_analytics.plotting`, so the dashboard counts exactly as they do (including
their platform rule). No ipywidgets here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..schema import COUNTERS
from ..schema import PLATFORMS as _PLATFORMS

__all__ = ["Selection", "StatsIndex", "with_rates"]

_REQUIRED = ("link_key", "platform", "date", *COUNTERS)


def with_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with ``ctr``, ``open_rate``, ``install_rate`` from the counters (:func:`metrics.add_rates`)."""
    from ..metrics import add_rates

    return add_rates(frame)


@dataclass(frozen=True)
class Selection:
    """What the controls select, resolved to index terms.

    Attributes
    ----------
    links : numpy.ndarray of bool
        One flag per link of :attr:`StatsIndex.keys`.
    platforms : tuple of str
        The platform values of the rows to count (e.g. ``("ios", "android")``).
    start, end : int
        Day offsets from :attr:`StatsIndex.first_day`, inclusive.
    """

    links: np.ndarray
    platforms: tuple[str, ...]
    start: int
    end: int


class StatsIndex:
    """The stats table reduced to arrays that answer the dashboard's questions quickly.

    Parameters
    ----------
    stats : pandas.DataFrame
        The tidy stats table of :func:`jmlink_analytics.fetch_stats` (at least ``link_key``,
        ``platform``, ``date`` and the four counters; ``is_partial`` optional).
    links : pandas.DataFrame, optional
        The links table of :func:`jmlink_analytics.fetch_links`; its ``name`` and ``channel``
        label the links and feed the text filter.

    Raises
    ------
    TypeError
        When ``stats`` or ``links`` is not a DataFrame.
    ValueError
        When a required column is missing, the table is empty, a platform is unknown, a date
        is missing, or a counter is not numeric.
    """

    #: The dense (platform, link, day) cube is used up to this size; larger tables use the row path.
    dense_limit_bytes = 256 * 2**20

    def __init__(self, stats: Any, links: Any = None) -> None:
        frame = _check_stats(stats)
        self.stats = frame
        dates = pd.to_datetime(frame["date"]).to_numpy().astype("datetime64[D]")
        first, last = dates.min(), dates.max()
        #: first and last day of the data
        self.first_day: dt.date = pd.Timestamp(first).date()
        self.last_day: dt.date = pd.Timestamp(last).date()
        self.n_days = int((last - first).astype(int)) + 1
        day = (dates - first).astype(np.int64)

        key_codes, keys = pd.factorize(frame["link_key"], sort=True)
        #: link keys present in the stats, sorted; link code i is keys[i]
        self.keys: np.ndarray = np.asarray([str(k) for k in keys], dtype=object)
        self.code_of = {key: i for i, key in enumerate(self.keys)}
        platform_codes, platform_values = pd.factorize(frame["platform"])
        to_code = np.array([_PLATFORMS.index(str(p)) for p in platform_values], dtype=np.int8)
        platform_codes = np.asarray(to_code[platform_codes], dtype=np.intp)
        #: the platform values present, in the order all, ios, android
        self.platforms = tuple(p for i, p in enumerate(_PLATFORMS) if i in set(to_code.tolist()))

        order = np.argsort(day, kind="stable")
        self._order = order  # sorted position -> row position in `stats`
        self._day = day[order]
        self._link = key_codes[order].astype(np.int64)
        self._platform = platform_codes[order].astype(np.int8)
        values = np.column_stack([frame[c].to_numpy(dtype=np.float64) for c in COUNTERS])
        self._values = np.ascontiguousarray(values[order])
        # _bounds[d] = first sorted position of day d, so day window [a, b] is _bounds[a]:_bounds[b + 1]
        self._bounds = np.searchsorted(self._day, np.arange(self.n_days + 1))
        if "is_partial" in frame.columns:
            partial_days = np.unique(day[frame["is_partial"].fillna(False).to_numpy(dtype=bool)])
        else:
            partial_days = np.empty(0, dtype=np.int64)
        self._partial_days = partial_days
        self._counted, self._counts = self._platform_rule(frame, order)
        self._cube = self._dense_cube() if self._counts is not None or self._counted is None else None

        self.names, self.channels = _labels(self.keys, links)
        self._names = np.asarray(self.names, dtype=object)
        self._channels = np.asarray(self.channels, dtype=object)
        totals = np.bincount(self._link, weights=self._values[:, 1], minlength=len(self.keys))
        #: link codes ordered by total clicks (most first), then by key: the order of the picker
        self.ranked = np.lexsort((np.arange(len(self.keys)), -totals))
        self._haystack = [
            f"{k} {n} {c}".casefold() for k, n, c in zip(self.keys, self.names, self.channels, strict=True)
        ]

    # ------------------------------------------------------------------ lookups
    def day_of(self, value: dt.date) -> int:
        """Day offset of ``value`` from :attr:`first_day` (may fall outside the data)."""
        return (value - self.first_day).days

    def date_of(self, day: int) -> dt.date:
        """The calendar date of a day offset."""
        return self.first_day + dt.timedelta(days=int(day))

    def is_partial(self, day: int) -> bool:
        """Whether day offset ``day`` is a partial day (``is_partial``: it may still grow)."""
        return bool(np.isin(day, self._partial_days))

    def label(self, code: int) -> str:
        """``"KEY · name · channel"`` for the picker (empty parts left out)."""
        parts = [self.keys[code], self.names[code], self.channels[code]]
        return " · ".join(p for p in parts if p)

    def matching(self, text: str) -> list[int]:
        """Link codes, ranked, whose key, name or channel contains every word of ``text`` (any case)."""
        words = text.casefold().split()
        if not words:
            return list(self.ranked)
        return [int(i) for i in self.ranked if all(w in self._haystack[i] for w in words)]

    def link_mask(self, keys: Iterable[str]) -> np.ndarray:
        """Boolean flags over :attr:`keys` for the given link keys (unknown keys ignored)."""
        mask = np.zeros(len(self.keys), dtype=bool)
        codes = [self.code_of[k] for k in keys if k in self.code_of]
        mask[codes] = True
        return mask

    def platform_rows(self, choice: str) -> tuple[str, ...]:
        """The platform values a toggle choice counts.

        ``"all"`` follows the platform rule of :mod:`jmlink_analytics.metrics`: a link counts
        through its ``all`` rows when it has any, otherwise through the sum of its ios and android
        rows, so nothing is counted twice and totals equal ``summarize``'s.
        """
        if choice != "all":
            return (choice,)
        if self._counted is not None and not (self._counted & (self._platform != 0)).any():
            return ("all",)  # every link counts through its ``all`` rows
        return self.platforms

    def _platform_rule(self, frame: pd.DataFrame, order: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The rows that count when every platform is chosen, by the public rule of :mod:`jmlink_analytics.metrics`.

        Returns the flags in sorted-row order (``None``: every row counts) and the same rule per
        (platform, link) cell, ``counts[platform slot, link]`` (``None`` when the rule does not
        decide per cell; then only the row path can apply it).
        """
        from ..metrics import platform_mask

        keep = platform_mask(frame, [])
        if keep is None:
            return None, None
        counted = np.asarray(keep, dtype=bool)[order]
        cells = len(self.platforms) * len(self.keys)
        slot = np.full(len(_PLATFORMS), -1, dtype=np.int64)
        slot[[_PLATFORMS.index(p) for p in self.platforms]] = np.arange(len(self.platforms))
        cell = slot[self._platform] * len(self.keys) + self._link
        rows = np.bincount(cell, minlength=cells)
        kept = np.bincount(cell, weights=counted, minlength=cells)
        if np.any((kept > 0) & (kept < rows)):  # the rule splits a cell: leave it to the row path
            return counted, None
        return counted, (kept > 0).reshape(len(self.platforms), len(self.keys))

    def _rule_applies(self, sel: Selection) -> bool:
        """Whether the platform rule decides which rows count (every platform value chosen, and it matters)."""
        return self._counted is not None and len(sel.platforms) > 1 and set(sel.platforms) == set(self.platforms)

    def _link_masks(self, sel: Selection) -> dict[str, np.ndarray]:
        """Per platform value of the selection, the links whose rows of that platform count (cube path)."""
        if self._rule_applies(sel) and self._counts is not None:
            return {p: sel.links & self._counts[self.platforms.index(p)] for p in sel.platforms}
        return dict.fromkeys(sel.platforms, sel.links)

    # ------------------------------------------------------------------ aggregates
    def _dense_cube(self) -> np.ndarray | None:
        """Counters as a dense (platform, link, counter, day) array, if it fits in ``dense_limit_bytes``.

        fetch_stats' tables are dense (every day of every link), so the cube costs little more
        than the frame, and a window's sums become slices and one matrix-vector product.
        """
        n_links, n_days, n_platforms = len(self.keys), self.n_days, len(self.platforms)
        cells = n_platforms * n_links * n_days
        if cells * len(COUNTERS) * 8 > self.dense_limit_bytes:
            return None
        slot = np.full(len(_PLATFORMS), -1, dtype=np.int64)
        slot[[_PLATFORMS.index(p) for p in self.platforms]] = np.arange(n_platforms)
        flat = (slot[self._platform] * n_links + self._link) * n_days + self._day
        cube = np.empty((n_platforms, n_links, len(COUNTERS), n_days))
        for j in range(len(COUNTERS)):  # bincount also adds up duplicate rows, as the row path does
            counts = np.bincount(flat, weights=self._values[:, j], minlength=cells)
            cube[:, :, j, :] = counts.reshape(n_platforms, n_links, n_days)
        return cube

    def _rows(self, sel: Selection, start: int, end: int) -> np.ndarray | slice:
        """Sorted positions of the selected rows of days ``start..end`` (a slice when nothing is masked)."""
        start, end = max(start, 0), min(end, self.n_days - 1)
        if start > end:
            return slice(0, 0)
        lo, hi = int(self._bounds[start]), int(self._bounds[end + 1])
        rule = self._rule_applies(sel)
        if not rule and len(sel.platforms) == len(self.platforms) and sel.links.all():
            return slice(lo, hi)
        links, platforms = self._link[lo:hi], self._platform[lo:hi]
        keep = np.zeros(hi - lo, dtype=bool)
        for platform in sel.platforms:
            keep |= platforms == _PLATFORMS.index(platform)
        if not sel.links.all():
            keep &= sel.links[links]
        if rule and self._counted is not None:  # the rule applies only where there are flags
            keep &= self._counted[lo:hi]
        return lo + np.flatnonzero(keep)

    def _sums(self, sel: Selection, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-day (days start..end) and per-link (every link) counter sums of the selection, float64."""
        n = max(end - start + 1, 0)
        per_day = np.zeros((n, len(COUNTERS)))
        per_link = np.zeros((len(self.keys), len(COUNTERS)))
        first, last = max(start, 0), min(end, self.n_days - 1)
        if first > last:
            return per_day, per_link
        if self._cube is None:
            rows = self._rows(sel, start, end)
            days, links, values = self._day[rows] - start, self._link[rows], self._values[rows]
            for j in range(len(COUNTERS)):
                per_day[:, j] = np.bincount(days, weights=values[:, j], minlength=n)[:n]
                per_link[:, j] = np.bincount(links, weights=values[:, j], minlength=len(self.keys))
            per_link[~sel.links] = 0.0
            return per_day, per_link
        window = per_day[first - start:last - start + 1]
        for platform, mask in self._link_masks(sel).items():
            block = self._cube[self.platforms.index(platform), :, :, first:last + 1]  # (links, counters, days)
            if mask.all():
                window += block.sum(axis=0).T
                per_link += block.sum(axis=2)
            elif mask.any():
                window += np.tensordot(mask.astype(np.float64), block, axes=(0, 0)).T
                per_link[mask] += block[mask].sum(axis=2)
        return per_day, per_link

    def daily(self, sel: Selection, start: int | None = None) -> pd.DataFrame:
        """Per-day sums of the selection from day ``start`` (default: the window's) to its end.

        Returns one row per day: ``date``, the four counters (int64) and ``is_partial`` (the
        day may still grow), i.e. a stats table of the selection's total that
        :func:`~jmlink_analytics.summarize`, :func:`~jmlink_analytics.compare_periods` and
        :func:`~jmlink_analytics.plot_trend` take as it is.
        """
        start = sel.start if start is None else start
        day_sums, _link_sums = self._sums(sel, start, sel.end)
        frame = self._day_frame(start, len(day_sums))
        for j, name in enumerate(COUNTERS):
            frame[name] = day_sums[:, j].round().astype(np.int64)
        frame["is_partial"] = np.isin(np.arange(start, start + len(day_sums)), self._partial_days)
        return frame

    def per_link(self, sel: Selection) -> pd.DataFrame:
        """One row per selected link: ``link_key``, ``name``, ``channel`` and its four counters (int64)."""
        _day_sums, link_sums = self._sums(sel, sel.start, sel.end)
        codes = np.flatnonzero(sel.links)
        frame = pd.DataFrame({
            "link_key": self.keys[codes].astype(str),
            "name": self._names[codes],
            "channel": self._channels[codes],
        })
        for j, name in enumerate(COUNTERS):
            frame[name] = link_sums[codes, j].round().astype(np.int64)
        return frame

    def per_link_day(self, sel: Selection) -> pd.DataFrame:
        """Per link and day sums of the selected links (meant for a few links: one line each).

        Returns a stats-shaped table: ``link_key``, ``date``, the four counters, ``is_partial``.
        """
        codes = np.flatnonzero(sel.links)
        n = max(sel.end - sel.start + 1, 0)
        sums = np.zeros((len(codes), len(COUNTERS), n))
        first, last = max(sel.start, 0), min(sel.end, self.n_days - 1)
        if first <= last:
            position = np.full(len(self.keys), -1)
            position[codes] = np.arange(len(codes))
            if self._cube is not None:
                for platform, mask in self._link_masks(sel).items():
                    block = self._cube[self.platforms.index(platform)][:, :, first:last + 1]
                    sums[position[mask], :, first - sel.start:last - sel.start + 1] += block[mask]
            else:
                rows = self._rows(sel, first, last)
                flat = position[self._link[rows]] * n + self._day[rows] - sel.start
                for j in range(len(COUNTERS)):
                    sums[:, j, :] += np.bincount(flat, weights=self._values[rows, j],
                                                 minlength=len(codes) * n).reshape(len(codes), n)
        frame = pd.concat([self._day_frame(sel.start, n)] * len(codes), ignore_index=True)
        frame.insert(0, "link_key", np.repeat(self.keys[codes].astype(str), n))
        for j, name in enumerate(COUNTERS):
            frame[name] = sums[:, j, :].reshape(-1).round().astype(np.int64)
        frame["is_partial"] = np.tile(np.isin(np.arange(sel.start, sel.start + n), self._partial_days), len(codes))
        return frame

    def _day_frame(self, start: int, n: int) -> pd.DataFrame:
        return pd.DataFrame({"date": pd.date_range(self.date_of(start), periods=n, freq="D")})

    def positions(self, sel: Selection) -> np.ndarray:
        """Row positions in :attr:`stats` of the selection, in the table's order."""
        rows = self._rows(sel, sel.start, sel.end)
        return np.sort(self._order[rows])


def _check_stats(stats: Any) -> pd.DataFrame:
    if not isinstance(stats, pd.DataFrame):
        raise TypeError(
            f"stats must be a pandas DataFrame of fetch_stats' shape; got {type(stats).__name__}"
        )
    missing = [c for c in _REQUIRED if c not in stats.columns]
    if missing:
        raise ValueError(
            f"stats is missing column(s) {', '.join(missing)}; expected the fetch_stats columns "
            f"{', '.join(_REQUIRED)} (and is_partial)"
        )
    if stats.empty:
        raise ValueError("stats has no rows: fetch a date range with data first")
    unknown = sorted({str(p) for p in pd.unique(stats["platform"])} - set(_PLATFORMS))
    if unknown:
        raise ValueError(f"stats has unknown platform value(s) {unknown}; allowed: {', '.join(_PLATFORMS)}")
    for column in COUNTERS:
        if not pd.api.types.is_numeric_dtype(stats[column]) or pd.api.types.is_bool_dtype(stats[column]):
            raise ValueError(f"stats column {column!r} must be numeric; got dtype {stats[column].dtype}")
        if stats[column].isna().any():
            raise ValueError(f"stats column {column!r} has missing values")
    try:
        dates = pd.to_datetime(stats["date"])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"stats column 'date' must hold dates: {exc}") from None
    if dates.isna().any():
        raise ValueError("stats column 'date' has missing values")
    if stats["link_key"].isna().any():
        raise ValueError("stats column 'link_key' has missing values")
    return stats.reset_index(drop=True)


def _labels(keys: np.ndarray, links: Any) -> tuple[list[str], list[str]]:
    """Name and channel per key from the links table ("" where unknown)."""
    if links is None:
        return [""] * len(keys), [""] * len(keys)
    if not isinstance(links, pd.DataFrame):
        raise TypeError(f"links must be a pandas DataFrame of fetch_links' shape or None; got {type(links).__name__}")
    if "link_key" not in links.columns:
        raise ValueError("links is missing column 'link_key' (expected the fetch_links columns)")
    table = links.drop_duplicates("link_key").set_index(links.drop_duplicates("link_key")["link_key"].astype(str))
    columns = []
    for column in ("name", "channel"):
        if column in table.columns:
            values = table[column].astype(object).reindex(list(keys))
            columns.append(["" if pd.isna(v) else str(v) for v in values])
        else:
            columns.append([""] * len(keys))
    return columns[0], columns[1]
