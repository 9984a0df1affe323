"""The digest's numbers: yesterday against the same weekday a week before, and the episodes that matter now.

:func:`digest` reads a stats table (and the links table, for names and channels) and returns a
:class:`~jmlink_analytics.digest.Digest`: the message as data. Rendering it for one bot, within
that bot's size limit, is :mod:`._render`'s job.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._dates import china_today, to_date
from .._validate import check_int
from ..metrics import ratio

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_DAYS", "DEFAULT_TOP", "HISTORY_DAYS", "Episode", "Headline", "build", "fetch_start"]

#: Episodes that began in this many days up to the reported day (or are still going) are reported.
DEFAULT_DAYS = 7
#: Surges and drops listed at most, each.
DEFAULT_TOP = 5
#: Days of history before the lookback that find_anomalies needs (its 14-day window, weekday factors).
HISTORY_DAYS = 56
#: The metrics of the headline, in order: (column or rate, label).
HEADLINE_METRICS = (("click_count", "Clicks"), ("install_count", "Installs"), ("ctr", "CTR"))


@dataclass(frozen=True)
class Headline:
    """One headline metric: the reported day's value and the same weekday's a week before."""

    metric: str
    label: str
    value: float | None
    previous: float | None

    @property
    def is_rate(self) -> bool:
        """Whether the values are a rate (shown as a percentage, compared in points)."""
        return self.metric == "ctr"


@dataclass(frozen=True)
class Episode:
    """One surge or drop of a link's clicks, as the digest tells it."""

    link_key: str
    name: str | None
    channel: str | None
    direction: str           # "surge" or "drop"
    start: dt.date
    end: dt.date
    days: int
    expected: float
    actual: float
    ongoing: bool            # still going on the last day that was scored
    new: bool                # began within the lookback


@dataclass
class DigestData:
    """Everything a digest says, before any rendering."""

    day: dt.date
    previous_day: dt.date
    headline: list[Headline]
    surges: list[Episode]
    drops: list[Episode]
    more_surges: int                     # found but beyond ``top``
    more_drops: int
    partial: bool                        # the reported day may still grow
    last_scored: dt.date | None          # the last day find_anomalies scored (the last final day)
    lookback_start: dt.date
    links: int
    report_url: str | None = None
    notes: list[str] = field(default_factory=list)


def fetch_start(day: dt.date, days: int) -> dt.date:
    """The first day to fetch for a digest of ``day`` with a lookback of ``days``."""
    return day - dt.timedelta(days=days + HISTORY_DAYS)


def _day_sums(stats: pd.DataFrame, day: dt.date) -> dict[str, float] | None:
    import pandas as pd

    rows = stats[stats["date"] == pd.Timestamp(day)]
    if rows.empty:
        return None
    return {column: float(rows[column].sum()) for column in ("exposure_count", "click_count", "install_count")}


def _metric(sums: dict[str, float] | None, metric: str) -> float | None:
    if sums is None:
        return None
    if metric == "ctr":
        value = float(ratio(sums["click_count"], sums["exposure_count"]))  # the one safe division
        return None if math.isnan(value) else value
    return sums[metric]


def _text(value: Any) -> str | None:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def build(stats: pd.DataFrame, links: pd.DataFrame | None = None, *, day: Any = None, days: int = DEFAULT_DAYS,
          top: int = DEFAULT_TOP, report_url: str | None = None) -> DigestData:
    """The numbers of a digest (see :func:`jmlink_analytics.digest.digest` for the arguments)."""
    import pandas as pd

    from .._validate import check_stats
    from ..metrics import count_once, find_anomalies

    stats = check_stats(stats)
    days = check_int(days, "days", 1, 366)
    top = check_int(top, "top", 1, 50)
    if report_url is not None:
        report_url = check_report_url(report_url)
    day = china_today() - dt.timedelta(days=1) if day is None else to_date(day, "day")
    if links is not None and "link_key" not in links.columns:
        raise ValueError("links must be the table of fetch_links (with a link_key column)")
    counted = count_once(stats)
    previous_day = day - dt.timedelta(days=7)
    now_sums, before_sums = _day_sums(counted, day), _day_sums(counted, previous_day)
    headline = [Headline(metric, label, _metric(now_sums, metric), _metric(before_sums, metric))
                for metric, label in HEADLINE_METRICS]
    notes = []
    if now_sums is None:
        notes.append(f"No data for {day:%Y-%m-%d} in the table.")
    day_rows = counted[counted["date"] == pd.Timestamp(day)]
    partial = bool(day_rows["is_partial"].any()) if not day_rows.empty else False

    upto = counted[counted["date"] <= pd.Timestamp(day)]
    final = upto.loc[~upto["is_partial"], "date"]
    last_scored = pd.Timestamp(final.max()).date() if not final.empty else None
    lookback_start = day - dt.timedelta(days=days - 1)
    surges: list[Episode] = []
    drops: list[Episode] = []
    more = {"surge": 0, "drop": 0}
    if last_scored is not None:
        episodes = find_anomalies(upto, "click_count", by="link_key")
        names = _link_names(links)
        for row in episodes.to_dict("records"):
            key, direction = str(row["link_key"]), str(row["direction"])
            start, end = pd.Timestamp(row["start"]).date(), pd.Timestamp(row["end"]).date()
            ongoing, new = end == last_scored, start >= lookback_start
            if not (ongoing or new):
                continue
            kept = surges if direction == "surge" else drops
            if len(kept) >= top:  # the frame's row order is find_anomalies' ranking: most important first
                more[direction] += 1
                continue
            name, channel = names.get(key, (None, None))
            kept.append(Episode(key, name, channel, direction, start, end, int(row["days"]), float(row["expected"]),
                                float(row["actual"]), ongoing, new))
    return DigestData(day, previous_day, headline, surges, drops, more["surge"], more["drop"], partial, last_scored,
                      lookback_start, int(stats["link_key"].nunique()), report_url, notes)


def _link_names(links: pd.DataFrame | None) -> dict[str, tuple[str | None, str | None]]:
    if links is None or links.empty:
        return {}
    names = links["name"] if "name" in links.columns else [None] * len(links)
    channels = links["channel"] if "channel" in links.columns else [None] * len(links)
    return {str(key): (_text(name), _text(channel))
            for key, name, channel in zip(links["link_key"], names, channels, strict=True) if _text(key)}


def check_report_url(url: Any) -> str:
    """``url`` if it is an http(s) address a message can link to, else a ValueError naming ``report_url``."""
    from urllib.parse import urlsplit

    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ValueError(f"report_url must be an http:// or https:// address; got {url!r}")
    if any(ch.isspace() or ch in "()<>[]" for ch in url):
        raise ValueError("report_url must not hold spaces or ( ) < > [ ] (percent-encode them): "
                         "they would break the message's link")
    return url
