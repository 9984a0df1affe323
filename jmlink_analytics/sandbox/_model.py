"""How one synthetic link behaves: its traffic parameters and its simulated daily counters.

A :class:`LinkModel` is drawn cheaply for every link up front (so the planted spikes are
known at once); the daily counters are simulated on demand, per link, with numpy and a
random stream of the link's own, so the result depends only on the seed, the link and
``today``, never on the order in which links are asked for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PARTIAL_TODAY", "SPIKE_FACTOR", "SPIKE_MIN_AGE", "LinkModel", "draw_model", "make_idle", "make_steady",
           "simulate"]

#: Share of a normal day's traffic already counted in today's row.
PARTIAL_TODAY = 0.4
#: How far above its usual level a planted spike puts a day's traffic.
SPIKE_FACTOR = 8.0
#: A spike is never planted in a link's first days, so there is a baseline to see it against.
SPIKE_MIN_AGE = 14

# Relative traffic Monday..Sunday: consumer channels peak at the weekend, search and SMS midweek.
_WEEKEND_HEAVY = np.array([0.92, 0.90, 0.94, 0.98, 1.06, 1.28, 1.22])
_WEEKDAY_HEAVY = np.array([1.10, 1.12, 1.10, 1.06, 1.00, 0.78, 0.74])
_WEEKDAY_CHANNELS = frozenset({"短信", "百度", "知乎"})


@dataclass
class LinkModel:
    """The traffic parameters of one link (everything but the daily noise).

    ``created`` is the creation date; day offsets count from it (0 = the creation day).
    """

    created: dt.date
    stream: tuple[int, ...]             # the link's own random stream (seed words)
    base: float                         # mean exposures per day
    ctr: float                          # clicks per exposure
    p_open: float                       # opens per click
    p_install: float                    # installs per open
    ios_share: float                    # share of traffic on iOS
    weekly: np.ndarray = field(repr=False)  # multiplier per weekday, Monday first
    trend: float = 0.0                  # log growth per year
    bursts: list[tuple[int, int, float]] = field(default_factory=list)  # (start offset, days, peak factor)
    pauses: list[tuple[int, int]] = field(default_factory=list)         # (start offset, days) with no traffic
    end: int | None = None              # offset from which the campaign is over (no traffic)
    zero_prob: float = 0.0              # chance of an idle day
    spike: int | None = None            # offset of the planted spike, if any


def draw_model(rng: np.random.Generator, created: dt.date, today: dt.date, channel: str,
               stream: tuple[int, ...]) -> LinkModel:
    """Draw the traffic parameters of a link created on ``created`` (no spike, no forced idleness)."""
    age = (today - created).days
    weekly = (_WEEKDAY_HEAVY if channel in _WEEKDAY_CHANNELS else _WEEKEND_HEAVY) ** rng.uniform(0.5, 1.5)
    model = LinkModel(
        created=created,
        stream=stream,
        base=float(np.exp(rng.normal(np.log(400.0), 1.1))),
        ctr=float(rng.uniform(0.05, 0.25)),
        p_open=float(rng.uniform(0.35, 0.85)),
        p_install=float(rng.uniform(0.10, 0.60)),
        ios_share=float(rng.uniform(0.25, 0.60)),
        weekly=weekly,
        trend=float(rng.uniform(-0.8, 0.8)),
        zero_prob=float(rng.choice([0.0, 0.01, 0.03])),
    )
    for _ in range(int(rng.poisson(age / 60.0))):
        length = int(rng.integers(4, 12))
        model.bursts.append((int(rng.integers(0, age + 1)), length, float(rng.uniform(1.6, 3.0))))
    if age >= 10 and rng.random() < 0.15:
        model.pauses.append((int(rng.integers(1, age - 3)), int(rng.integers(3, 12))))
    if age >= 20 and rng.random() < 0.12:
        model.end = int(rng.integers(age // 2, age - 2))
    return model


def make_steady(model: LinkModel, rng: np.random.Generator, today: dt.date) -> bool:
    """Turn ``model`` into a steady link with one planted spike; False if it is too young."""
    age = (today - model.created).days
    last = age - 2  # never on today or yesterday, which are partial
    if last < SPIKE_MIN_AGE:
        return False
    model.spike = int(rng.integers(SPIKE_MIN_AGE, last + 1))
    model.base = max(model.base, float(rng.uniform(600.0, 2000.0)))
    model.ctr = max(model.ctr, 0.10)
    model.pauses, model.end, model.zero_prob = [], None, 0.0
    model.bursts = [b for b in model.bursts if b[0] > model.spike + 3 or b[0] + b[1] < model.spike - 21]
    return True


def make_idle(model: LinkModel, rng: np.random.Generator, today: dt.date) -> bool:
    """Give ``model`` a pause of a few idle days; False if the link is too young."""
    age = (today - model.created).days
    if age < 6 or model.spike is not None:
        return False
    model.pauses.append((int(rng.integers(1, age - 4)), 3))
    return True


def simulate(model: LinkModel, today: dt.date) -> np.ndarray:
    """Simulate the link's daily counters from its creation day to ``today``.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(3, days, 4)``: platforms ``all``, ``ios``, ``android``; one row per
        day from ``created`` to ``today``; the counters exposure, click, open, install.
        ``all`` is exactly ``ios + android``.
    """
    n = (today - model.created).days + 1
    if n <= 0:
        return np.zeros((3, 0, 4), dtype=np.int64)
    rng = np.random.default_rng(model.stream)
    t = np.arange(n)
    weekday = (model.created.weekday() + t) % 7
    level = model.base * np.exp(model.trend * t / 365.0) * model.weekly[weekday]
    level *= rng.gamma(25.0, 1.0 / 25.0, n)  # day-to-day demand noise (about 20 %)
    for start, length, peak in model.bursts:
        days = np.arange(start, min(start + length, n))
        level[days] *= 1.0 + (peak - 1.0) * np.sin(np.pi * (days - start + 0.5) / length)
    idle = rng.random(n) < model.zero_prob
    for start, length in model.pauses:
        idle[start:start + length] = True
    if model.end is not None:
        idle[model.end:] = True
    level[idle] = 0.0
    if model.spike is not None:
        usual = model.base * np.exp(model.trend * model.spike / 365.0) * model.weekly[weekday[model.spike]]
        level[model.spike] = SPIKE_FACTOR * usual
    level[n - 1] *= PARTIAL_TODAY

    out = np.empty((3, n, 4), dtype=np.int64)
    for p, share, skew in ((1, model.ios_share, 1.08), (2, 1.0 - model.ios_share, 0.94)):
        exposure = rng.poisson(level * share)
        click = rng.binomial(exposure, min(model.ctr * skew, 0.95))
        opened = rng.binomial(click, model.p_open)
        install = rng.binomial(opened, model.p_install)
        # Installs are attributed late now and then: on a rare day they exceed the opens.
        late = (rng.random(n) < 0.005) & (opened > 0)
        install[late] = opened[late] + 1
        out[p] = np.stack([exposure, click, opened, install], axis=1)
    out[0] = out[1] + out[2]
    return out
