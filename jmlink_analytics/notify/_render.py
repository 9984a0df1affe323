"""A digest as lines a person reads on a phone, in each bot's flavour of Markdown, within its size limit.

Fitting never cuts a line (or a character) in half: lines are kept or dropped whole, the least
important first (the lowest-ranked surge, then the lowest-ranked drop, and so on: a drop of a
link that broke matters more than a surge of the same rank), and each section says how many of
its episodes are not shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ._content import DigestData, Episode, Headline

__all__ = ["FLAVOURS", "Flavour", "fit", "render"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


@dataclass(frozen=True)
class Flavour:
    """How one kind of message marks text up."""

    name: str
    bold: Callable[[str], str]
    code: Callable[[str], str]
    italic: Callable[[str], str]
    link: Callable[[str, str], str]
    newline: str


def _md_link(text: str, url: str) -> str:
    return f"[{text}]({url})"


FLAVOURS: dict[str, Flavour] = {
    # WeCom's markdown subset, Feishu's card markdown (lark_md) and the generic Markdown agree on these
    "markdown": Flavour("markdown", lambda s: f"**{s}**", lambda s: f"`{s}`", lambda s: f"*{s}*", _md_link, "\n"),
    # DingTalk's markdown joins single newlines into one paragraph: a line ends with two spaces
    "dingtalk": Flavour("dingtalk", lambda s: f"**{s}**", lambda s: f"`{s}`", lambda s: f"*{s}*", _md_link, "  \n"),
    "slack": Flavour("slack", lambda s: f"*{s}*", lambda s: f"`{s}`", lambda s: f"_{s}_",
                     lambda text, url: f"<{url}|{text}>", "\n"),
    "text": Flavour("text", str, str, str, lambda text, url: f"{text}: {url}", "\n"),
}


def _plain(value: str | None) -> str:
    """User text on one line: control characters (a newline in a link's name) become one space."""
    return _CONTROL.sub(" ", value or "").strip()


def _count(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _minus(text: str) -> str:
    return text.replace("-", "\u2212", 1) if text.startswith("-") else text


def _change(item: Headline) -> str:
    if item.value is None or item.previous is None:
        return "no comparison"
    if item.is_rate:
        return _minus(f"{(item.value - item.previous) * 100:+.1f} pp") + f" vs {_percent(item.previous)}"
    if item.previous == 0:
        return f"vs {_count(item.previous)}"
    return _minus(f"{item.value / item.previous - 1:+.1%}") + f" vs {_count(item.previous)}"


def _headline_line(item: Headline, f: Flavour) -> str:
    value = _percent(item.value) if item.is_rate else _count(item.value)
    return f"• {item.label} {f.bold(value)} ({_change(item)})"


def _who(episode: Episode, f: Flavour) -> str:
    name = _plain(episode.name) or "(no name)"
    channel = _plain(episode.channel)
    return f"{name} · {channel} {f.code(episode.link_key)}" if channel else f"{name} {f.code(episode.link_key)}"


def _episode_line(episode: Episode, f: Flavour) -> str:
    change = (_minus(f"{episode.actual / episode.expected - 1:+.0%}") if episode.expected > 0 else "new traffic")
    clicks = f"{_count(episode.actual)} clicks vs ~{_count(episode.expected)} expected ({change})"
    if episode.days == 1 and not episode.ongoing:
        when = f"on {episode.start:%m-%d}"
    else:
        span = f"{episode.days} day{'s' if episode.days != 1 else ''}"
        when = (f"since {episode.start:%m-%d} ({span}, still going)" if episode.ongoing
                else f"{episode.start:%m-%d} to {episode.end:%m-%d} ({span})")
    return f"• {_who(episode, f)}: {clicks}, {when}"


def _more(n: int, noun: str, f: Flavour) -> str:
    return f.italic(f"… and {n} more {noun}{'s' if n != 1 else ''} not shown")


def render(data: DigestData, flavour: str = "markdown", *, keep: int | None = None) -> tuple[str, int]:
    """The message of ``data`` in ``flavour``, keeping the ``keep`` most important episode lines (all by default).

    Returns
    -------
    (str, int)
        The message, and how many episode lines were left out for size.
    """
    f = FLAVOURS[flavour]
    order = _importance(data)
    keep = len(order) if keep is None else max(0, min(keep, len(order)))
    kept = set(order[:keep])
    lines = [f.bold(f"JMLink daily digest · {data.day:%a %Y-%m-%d}"),
             f"{data.day:%a %m-%d} vs {data.previous_day:%a %m-%d}, the same weekday a week before "
             f"({data.links:,} links)"]
    lines += [_headline_line(item, f) for item in data.headline]
    for title, noun, episodes, beyond in (("📉 Drops in clicks", "drop", data.drops, data.more_drops),
                                          ("📈 Surges in clicks", "surge", data.surges, data.more_surges)):
        shown = [e for e in episodes if (noun, id(e)) in kept]
        left = len(episodes) - len(shown) + beyond
        lines.append("")
        lines.append(f.bold(title))
        if not episodes and not beyond:
            lines.append(f"• none new or still going since {data.lookback_start:%m-%d}")
        lines += [_episode_line(e, f) for e in shown]
        if left:
            lines.append(_more(left, noun, f))
    lines.append("")
    lines += [f.italic(note) for note in data.notes]
    if data.partial:
        lines.append(f.italic(f"{data.day:%m-%d} is still partial: JMLink may add to the last two days' counts. "
                              f"Episodes are scored up to {data.last_scored:%m-%d}." if data.last_scored else
                              f"{data.day:%m-%d} is still partial: JMLink may add to the last two days' counts."))
    if data.report_url:
        lines.append(f.link("Full report", data.report_url))
    while lines and not lines[-1]:
        lines.pop()
    return f.newline.join(lines), len(order) - keep


def _importance(data: DigestData) -> list[tuple[str, int]]:
    """Every episode line, most important first: drop 1, surge 1, drop 2, surge 2, ..."""
    order: list[tuple[str, int]] = []
    for rank in range(max(len(data.drops), len(data.surges))):
        if rank < len(data.drops):
            order.append(("drop", id(data.drops[rank])))
        if rank < len(data.surges):
            order.append(("surge", id(data.surges[rank])))
    return order


def fit(data: DigestData, flavour: str, size: Callable[[str], int], limit: int) -> tuple[str, int]:
    """The message with as many episode lines as fit: ``size(message) <= limit``.

    Parameters
    ----------
    size : callable
        The bytes the platform counts for a message (its content, or the whole request body).
    limit : int
        The platform's limit in those bytes.

    Returns
    -------
    (str, int)
        The message and the number of episode lines left out.

    Raises
    ------
    ValueError
        When even the message without any episode line is over the limit.
    """
    keep = len(_importance(data))
    while True:
        message, left_out = render(data, flavour, keep=keep)
        if size(message) <= limit:
            return message, left_out
        if keep == 0:
            raise ValueError(f"the digest does not fit in {limit:,} bytes even without its episode lines "
                             f"({size(message):,} bytes)")
        keep -= 1
