"""``SyntheticApp``: a deterministic JMLink app — its short links and their daily statistics.

Everything follows from a ``seed`` and a ``today``: the same pair gives the same links,
the same counters and the same planted spikes on every machine and Python version.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import numpy as np

from .._dates import china_today, format_date, to_date
from ._model import SPIKE_MIN_AGE, LinkModel, draw_model, make_idle, make_steady, simulate

__all__ = ["CHANNELS", "PLATFORM_INDEX", "SyntheticApp"]

PLATFORM_INDEX = {"all": 0, "ios": 1, "android": 2}
COUNTERS = ("exposure_count", "click_count", "open_count", "install_count")
_ROW_JSON = '{"iday":"%s","exposure_count":%d,"click_count":%d,"open_count":%d,"install_count":%d}'

CHANNELS = ("微信", "朋友圈", "QQ", "微博", "抖音", "小红书", "短信", "百度", "知乎", "B站")
_CHANNEL_WEIGHTS = np.array([20, 10, 8, 8, 14, 10, 8, 8, 6, 8], dtype=float)
_NAMES = (
    "618大促", "双11预热", "新用户拉新", "老带新邀请", "春节红包", "会员日", "周年庆", "限时秒杀",
    "直播间导流", "开学季", "夏日清凉节", "品牌曝光", "应用商店下载", "公众号推文", "短信召回",
    "社群裂变", "达人种草", "年货节", "母亲节专题", "七夕活动", "国庆出游", "中秋礼盒", "新品首发",
    "积分兑换", "签到有礼", "test001",
)
#: Names real users type that a spreadsheet would read as a formula.
_FORMULA_NAMES = ("-50%限时折扣", "@小红书达人合作", "=新人礼包")
_TITLES = ("商品详情", "限时优惠，立即下载", "好友邀请你一起玩", "新人专享红包", "点击打开App")
_DESCS = ("产品介绍、说明", "下载即送新人礼包", "打开App领取优惠券", "邀请好友得现金奖励")
_DOMAINS = ("demo.jmlk.co", "shop.jmlk.co")
_JUMP_TYPES = ("DOWNLOAD", "LANDING_PAGE", "SCHEME")
_KEY_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
_STREAM_META, _STREAM_STATS, _STREAM_ADDED = 1, 2, 3


def _optional_text(rng: np.random.Generator, choices: tuple[str, ...]) -> str | None:
    """Text, ``None`` or ``""``, as the documented records show."""
    roll = rng.random()
    if roll < 0.2:
        return None
    if roll < 0.3:
        return ""
    return str(rng.choice(choices))


class SyntheticApp:
    """A deterministic synthetic JMLink app: links newest first, daily stats per link.

    Parameters
    ----------
    links : int, default 120
        How many links the app starts with.
    days : int, default 180
        The span of creation dates, ending ``today``; the oldest link is ``days - 1`` days old.
    seed : int, default 0
        The random seed; the same seed and ``today`` give the same app.
    today : date or str, optional
        The app's "today" (its last, partial day of statistics); China's today by default.

    Attributes
    ----------
    today : datetime.date
    spikes : list of (str, datetime.date)
        The planted spikes: a day of about 8 times the link's usual traffic, on platform
        ``all`` (and on ``ios`` and ``android``, which share it).
    """

    def __init__(self, links: int = 120, days: int = 180, *, seed: int = 0,
                 today: dt.date | str | None = None):
        if isinstance(links, bool) or not isinstance(links, int) or links < 0:
            raise ValueError(f"links must be an integer >= 0; got {links!r}")
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValueError(f"days must be an integer >= 1; got {days!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
        self.seed = seed
        self.days = days
        self.today: dt.date = china_today() if today is None else to_date(today, "today")
        self._lock = threading.Lock()
        self._links: list[dict[str, Any]] = []      # newest first
        self._models: dict[str, LinkModel] = {}
        self._cache: dict[str, np.ndarray] = {}
        self._added = 0
        # Every link is created between the first day of the span and today: their idays, formatted once.
        self._calendar_start = self.today - dt.timedelta(days=days - 1)
        self._calendar = [format_date(self._calendar_start + dt.timedelta(days=i)) for i in range(days)]
        self._generate(links)

    def __repr__(self) -> str:
        return (f"SyntheticApp(links={len(self._links)}, days={self.days}, seed={self.seed}, "
                f"today={format_date(self.today)!r})")

    # -- the links --------------------------------------------------------------------------
    @property
    def links(self) -> list[dict[str, Any]]:
        """The link records in the API's shape and field order, newest first (a new list)."""
        return list(self._links)

    @property
    def spikes(self) -> list[tuple[str, dt.date]]:
        """The planted spikes as ``(link_key, date)``, in link creation order."""
        return [(key, m.created + dt.timedelta(days=m.spike))
                for key, m in sorted(self._models.items(), key=lambda kv: kv[1].stream)
                if m.spike is not None]

    def __contains__(self, link_key: object) -> bool:
        return link_key in self._models

    def _generate(self, n: int) -> None:
        rng = np.random.default_rng([self.seed, _STREAM_META])
        today = self.today
        ages = np.sort((self.days - 1) * rng.random(n) ** 0.6)[::-1].astype(int)
        if n:
            ages[0] = self.days - 1
        with_time = rng.random(n) < 0.3
        seconds = rng.integers(8 * 3600, 22 * 3600, n)
        created = [dt.datetime.combine(today - dt.timedelta(days=int(a)), dt.time())
                   + dt.timedelta(seconds=int(s) if t else 0) for a, t, s in zip(ages, with_time, seconds, strict=True)]
        order = sorted(range(n), key=lambda i: created[i])
        ids = 10000 + np.cumsum(rng.integers(1, 6, n))
        records: list[dict[str, Any]] = []
        taken: set[str] = set()
        for rank, i in enumerate(order):
            name = None
            if rank < len(_FORMULA_NAMES) * 2 and rank % 2 == 1 and n >= 4:
                name = _FORMULA_NAMES[rank // 2]
            elif rank == 2:
                name = records[0]["name"]  # names are not unique
            record, model = self._make_link(rng, int(ids[rank]), created[i], bool(with_time[i]), taken, name,
                                            stream=(self.seed, _STREAM_STATS, rank))
            records.append(record)
            self._models[record["link_key"]] = model
        self._plant(rng, [r["link_key"] for r in records])
        self._links = records[::-1]
        self._next_id = int(ids[-1]) if n else 10000

    def _plant(self, rng: np.random.Generator, keys_oldest_first: list[str]) -> None:
        """Plant a few spikes on steady links, and make sure some days are idle."""
        wanted = min(max(len(keys_oldest_first) // 30, 1), 8)
        candidates = [k for k in keys_oldest_first
                      if (self.today - self._models[k].created).days - 2 >= SPIKE_MIN_AGE]
        for key in candidates[::max(len(candidates) // wanted, 1)][:wanted]:
            make_steady(self._models[key], rng, self.today)
        if not any(m.pauses or m.end is not None for m in self._models.values()):
            for key in keys_oldest_first:
                if make_idle(self._models[key], rng, self.today):
                    break

    def _make_link(self, rng: np.random.Generator, link_id: int, created: dt.datetime, with_time: bool,
                   taken: set[str], name: str | None, stream: tuple[int, ...]) -> tuple[dict[str, Any], LinkModel]:
        while True:
            key = "".join(rng.choice(_KEY_ALPHABET, 4))
            if key not in taken and key not in self._models:
                taken.add(key)
                break
        channel = str(rng.choice(CHANNELS, p=_CHANNEL_WEIGHTS / _CHANNEL_WEIGHTS.sum()))
        if name is None:
            name = str(rng.choice(_NAMES))
            if rng.random() < 0.3:
                name = f"{name}{int(rng.integers(1, 13)):02d}"
        scheme = f"demoapp://open?page={key}"
        end_of_today = dt.datetime.combine(self.today, dt.time(23, 59, 59))
        age = (self.today - created.date()).days
        updated = min(created + dt.timedelta(days=int(rng.integers(0, min(age, 20) + 1)),
                                             seconds=int(rng.integers(0, 7200))), end_of_today)
        fmt = "%Y-%m-%d %H:%M:%S" if with_time else "%Y-%m-%d"
        record = {
            "id": link_id,
            "link_key": key,
            "name": name,
            "channel": channel,
            "app_domain": str(rng.choice(_DOMAINS, p=[0.8, 0.2])),
            "share_title": _optional_text(rng, _TITLES),
            "share_desc": _optional_text(rng, _DESCS),
            "android_uri": scheme if rng.random() < 0.85 else "androidUri",
            "ios_uri": scheme if rng.random() < 0.85 else "iosUri",
            "jump_link_type": str(rng.choice(_JUMP_TYPES, p=[0.8, 0.15, 0.05])),
            "landing_page": str(rng.choice(["https://www.jiguang.cn", f"https://m.example.com/promo/{key}", ""])),
            "create_time": created.strftime(fmt),
            "update_time": updated.strftime(fmt),
        }
        if rng.random() < 0.1:
            record["landing_page"] = None
        model = draw_model(rng, created.date(), self.today, channel, stream)
        return record, model

    def add_links(self, n: int = 1) -> list[dict[str, Any]]:
        """Create ``n`` links today; they come first in the listing. Thread-safe.

        Returns
        -------
        list of dict
            The new records, newest first.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an integer >= 0; got {n!r}")
        with self._lock:
            new: list[dict[str, Any]] = []
            newest = self._created(self._links[0]) if self._links else None
            for _ in range(n):
                rng = np.random.default_rng([self.seed, _STREAM_ADDED, self._added])
                floor = dt.datetime.combine(self.today, dt.time(9))
                created = max(floor, newest + dt.timedelta(seconds=1)) if newest else floor
                created = min(created + dt.timedelta(seconds=int(rng.integers(0, 60))),
                              dt.datetime.combine(self.today, dt.time(23, 59, 59)))
                self._next_id += int(rng.integers(1, 6))
                record, model = self._make_link(rng, self._next_id, created, True, set(), None,
                                                stream=(self.seed, _STREAM_ADDED, self._added, 1))
                self._models[record["link_key"]] = model
                self._added += 1
                newest = created
                new.append(record)
            self._links = new[::-1] + self._links
        return new[::-1]

    @staticmethod
    def _created(record: dict[str, Any]) -> dt.datetime:
        return dt.datetime.fromisoformat(record["create_time"])

    # -- the statistics ---------------------------------------------------------------------
    def counters(self, link_key: str) -> np.ndarray:
        """The link's simulated counters, int64 ``(3, days, 4)`` from its creation day to today (cached).

        Platforms in the order ``all``, ``ios``, ``android``; counters exposure, click, open, install.
        """
        array = self._cache.get(link_key)
        if array is None:
            array = simulate(self._models[link_key], self.today)
            array.flags.writeable = False
            self._cache[link_key] = array  # racing threads compute the same array: harmless
        return array

    def created(self, link_key: str) -> dt.date:
        """The creation date of a link (its first day of statistics)."""
        return self._models[link_key].created

    def stats(self, link_key: str, start: dt.date | str, end: dt.date | str, platform: str = "all", *,
              omit_zero_days: bool = False) -> list[dict[str, Any]]:
        """The API's stat rows of one link: ``iday`` and the four counters, oldest first.

        Days before the link was created and after ``today`` have no rows; with
        ``omit_zero_days`` days whose four counters are all zero are left out too.

        Raises
        ------
        KeyError
            For an unknown link key.
        ValueError
            For an unknown platform.
        """
        rows = self._rows(link_key, start, end, platform, omit_zero_days)
        return [{"iday": iday, "exposure_count": exposure, "click_count": click, "open_count": opened,
                 "install_count": install} for iday, exposure, click, opened, install in rows]

    def stats_json(self, link_key: str, start: dt.date | str, end: dt.date | str, platform: str = "all", *,
                   omit_zero_days: bool = False) -> str:
        """The stat answer ``{"data": [...]}`` as compact JSON text: :meth:`stats` rendered, only faster."""
        rows = self._rows(link_key, start, end, platform, omit_zero_days)
        return '{"data":[' + ",".join(_ROW_JSON % row for row in rows) + "]}"

    def _rows(self, link_key: str, start: dt.date | str, end: dt.date | str, platform: str,
              omit_zero_days: bool) -> list[tuple[str, int, int, int, int]]:
        if platform not in PLATFORM_INDEX:
            raise ValueError(f"platform must be one of 'all', 'ios', 'android'; got {platform!r}")
        start, end = to_date(start, "start"), to_date(end, "end")
        created = self._models[link_key].created
        lo = max((start - created).days, 0)
        hi = min((end - created).days, (self.today - created).days)
        if hi < lo:
            return []
        block = self.counters(link_key)[PLATFORM_INDEX[platform], lo:hi + 1].tolist()
        first = (created - self._calendar_start).days + lo
        rows = [(iday, *counts) for iday, counts in zip(self._calendar[first:first + len(block)], block, strict=True)]
        if omit_zero_days:
            rows = [row for row in rows if row[1] or row[2] or row[3] or row[4]]
        return rows
