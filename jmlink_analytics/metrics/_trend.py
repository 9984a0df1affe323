"""The metric per period and group, wide: the data of the trend chart (re-exported by :mod:`.metrics`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validate import check_metric, check_stats, check_top, normalize_by
from ..schema import COUNTERS, RATES
from ._groups import freq_alias, group_labels, group_sums
from ._ratio import ratio

__all__ = ["trend_data"]


def trend_data(stats: pd.DataFrame, metric: str = "click_count", *, by: str | list[str] | None = None,
               freq: str = "D", top: int | None = 10, links: pd.DataFrame | None = None) -> pd.DataFrame:
    """The metric per period and group, wide: what :func:`~jmlink_analytics.plot_trend` draws.

    Parameters
    ----------
    stats : pandas.DataFrame
        The stats table of :func:`jmlink_analytics.fetch_stats`.
    metric : str, default "click_count"
        A counter or a rate (a rate from each period's sums).
    by : str or list of str, optional
        Grouping column(s), as in :func:`summarize`; ``None``: one column, ``"total"``.
    freq : str, default "D"
        The period, as in :func:`summarize`.
    top : int or None, default 10
        Keep the ``top`` groups with the largest totals (of the metric, or of a rate's
        denominator), and add the rest up as one column ``"other"``; ``None`` keeps all.
    links : pandas.DataFrame, optional
        The links table, to group by its columns.

    Returns
    -------
    pandas.DataFrame
        Index ``period`` (every period from the first to the last date, start of the
        period), one column per group labelled by its key(s) as text (``" · "`` between
        several keys, ``"(none)"`` for a missing one), largest first, then ``"other"``.
        Counters are 0 in periods without rows; rates are NaN where the denominator is 0.
        ``attrs["others"]`` holds how many groups ``"other"`` adds up (0 without it).
    """
    stats = check_stats(stats)
    check_metric(metric)
    keys = normalize_by(by)
    alias = freq_alias(freq)
    top = check_top(top, allow_none=True)
    sums = group_sums(stats, keys, links, alias=alias)
    if stats.empty:
        periods = pd.DatetimeIndex([], name="period")
    else:
        periods = pd.period_range(stats["date"].min(), stats["date"].max(), freq=alias).start_time
        periods = periods.as_unit(stats["date"].dt.unit).rename("period")
    rank_by = RATES[metric][1] if metric in RATES else metric
    if keys:
        groups = sums.groupby(keys, observed=True, dropna=False, sort=False).ngroup().to_numpy()
        first = np.empty(int(groups.max()) + 1 if len(groups) else 0, dtype=np.int64)
        first[groups[::-1]] = np.arange(len(groups))[::-1]  # first row of each group
        # groups whose labels coincide (a missing and an empty channel are both "(none)") are drawn as one
        label_codes, labels = pd.factorize(group_labels(sums.iloc[first], keys).to_numpy())
        codes = label_codes[groups]
        labels = np.asarray(labels, dtype=object)
        totals = np.bincount(codes, weights=sums[rank_by].to_numpy(dtype=np.float64), minlength=len(labels))
        order = sorted(range(len(labels)), key=lambda i: (-totals[i], labels[i]))
        kept = order if top is None or len(order) <= top else order[:top]
        column_of = np.full(len(labels), len(kept), dtype=np.int64)
        column_of[kept] = np.arange(len(kept))
        rest = "other" if "other" not in labels else "(other)"
        columns = [*labels[kept], *([rest] if len(kept) < len(order) else [])]
        position = column_of[codes]
    else:
        columns, position = ["total"], np.zeros(len(sums), dtype=np.int64)
    slot = np.searchsorted(periods.to_numpy(), sums["period"].to_numpy())
    cells = len(periods) * (len(columns) + 1)
    flat = slot * (len(columns) + 1) + position
    wide = {}
    for column in COUNTERS:
        counts = np.bincount(flat, weights=sums[column].to_numpy(dtype=np.float64), minlength=cells)
        wide[column] = pd.DataFrame(counts.reshape(len(periods), len(columns) + 1)[:, :len(columns)],
                                    index=periods, columns=columns)
    if metric in RATES:
        num, den = (wide[c].to_numpy(dtype=np.float64) for c in RATES[metric])
        out = pd.DataFrame(ratio(num, den), index=periods, columns=columns)
    else:
        out = wide[metric]
        out = out.astype(np.int64) if stats[metric].dtype.kind in "iu" else out
    out.columns.name = None
    out.attrs["others"] = len(order) - len(kept) if keys else 0
    return out

