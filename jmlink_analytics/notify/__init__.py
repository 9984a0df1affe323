"""The morning digest: a few lines for the team's WeCom, DingTalk, Feishu (or Slack) group.

>>> d = jm.digest(stats, links, day="2024-06-29")
>>> print(d.markdown.splitlines()[0])
**JMLink daily digest · Sat 2024-06-29**
>>> from jmlink_analytics.notify import parse_webhooks
>>> hooks = parse_webhooks("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY")
>>> hooks
[Webhook(platform='wecom', url='https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***')]

``d.send(hooks)`` posts it (``jm.digest(...).message(hook)`` is the text each bot gets, fitted
to its size limit).

``jmlink-analytics digest`` runs it every morning, once a day per destination.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ._content import DEFAULT_DAYS, DEFAULT_TOP, DigestData, Episode, Headline, build, check_report_url, fetch_start
from ._platforms import BOT_PLATFORMS, LIMITS, Webhook, body_size, parse_webhooks
from ._render import fit, render
from ._send import Sender
from ._state import SentLog, default_state_path

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BOT_PLATFORMS",
    "DEFAULT_DAYS",
    "DEFAULT_TOP",
    "LIMITS",
    "Digest",
    "Episode",
    "Headline",
    "Sender",
    "SentLog",
    "Webhook",
    "body_size",
    "check_report_url",
    "default_state_path",
    "digest",
    "fetch_start",
    "parse_webhooks",
]

logger = logging.getLogger("jmlink_analytics")


class Digest:
    """A digest as data: the headline numbers, the episodes, and the message for each bot.

    Parameters
    ----------
    data : DigestData
        The numbers (kept as ``data``), as :func:`digest` builds them: call that, not this.

    Notes
    -----
    :attr:`markdown` and :attr:`text` render the numbers whole; :meth:`message` renders them
    for one destination within its platform's size limit.
    """

    def __init__(self, data: DigestData):
        self.data = data

    def __repr__(self) -> str:
        d = self.data
        return (f"Digest(day={d.day.isoformat()!r}, surges={len(d.surges) + d.more_surges}, "
                f"drops={len(d.drops) + d.more_drops})")

    @property
    def title(self) -> str:
        """The message's title (DingTalk's notification line, Feishu's card header)."""
        return f"JMLink daily digest {self.data.day:%Y-%m-%d}"

    @property
    def markdown(self) -> str:
        """The whole message as Markdown."""
        return render(self.data, "markdown")[0]

    @property
    def text(self) -> str:
        """The whole message as plain text."""
        return render(self.data, "text")[0]

    def _repr_markdown_(self) -> str:
        return self.markdown

    def message(self, hook: Webhook) -> tuple[str, int]:
        """The message for ``hook``'s platform, fitted to its size limit.

        Returns
        -------
        (str, int)
            The message and how many episode lines were left out to fit (the message says so).
        """
        flavour = {"dingtalk": "dingtalk", "slack": "slack"}.get(hook.platform, "markdown")
        return fit(self.data, flavour, body_size(hook, self.title), LIMITS[hook.platform][1])

    def send(self, hooks: list[Webhook], *, sender: Sender | None = None) -> None:
        """Post the digest to each of ``hooks`` (no once-a-day memory here: the command line keeps that).

        Raises
        ------
        WebhookError
            The first refusal, after every destination was tried.
        """
        own = sender is None
        sender = Sender() if sender is None else sender
        first = None
        try:
            for hook in hooks:
                message, _ = self.message(hook)
                try:
                    sender.send(hook, message, self.title)
                except Exception as exc:
                    logger.warning("%s", exc)
                    first = first or exc
        finally:
            if own:
                sender.close()
        if first is not None:
            raise first


def digest(stats: pd.DataFrame, links: pd.DataFrame | None = None, *, day: Any = None, days: int = DEFAULT_DAYS,
           top: int = DEFAULT_TOP, report_url: str | None = None) -> Digest:
    """The morning digest of ``stats``: one day against the same weekday a week before, and what is unusual now.

    Parameters
    ----------
    stats : pandas.DataFrame
        The table of :func:`jmlink_analytics.fetch_stats`, from at least ``days`` + 56 days
        before ``day`` (:func:`fetch_start`) so the anomalies have their history.
    links : pandas.DataFrame, optional
        The table of :func:`jmlink_analytics.fetch_links`: episodes are named by link name and
        channel (and always by the link key).
    day : date or str, optional
        The day reported; yesterday in China time (UTC+8) by default, the last day that has ended.
    days : int, default 7
        The lookback, 1 to 366: episodes of unusual clicks that began in the ``days`` days up to
        ``day``, or that are still going, are reported.
    top : int, default 5
        The most surges and the most drops listed (1 to 50), in the order of
        :func:`jmlink_analytics.find_anomalies` (most important first); the rest are counted.
    report_url : str, optional
        An http(s) address of the full report, linked at the end.

    Returns
    -------
    Digest
        The message as data: ``.markdown``, ``.text``, ``.message(webhook)`` and
        ``_repr_markdown_`` (a notebook shows it rendered).

    Notes
    -----
    Clicks, installs and CTR (clicks / exposures) count each link once (the platform rule of
    :func:`jmlink_analytics.count_once`). The day reported is usually still partial (JMLink may
    add to the last two days); the message says so, and the episodes are those of
    ``find_anomalies``, which scores final days only.

    Examples
    --------
    >>> d = jm.digest(stats, links, day="2024-06-29", top=3)
    >>> d.data.previous_day
    datetime.date(2024, 6, 22)
    >>> [item.label for item in d.data.headline]
    ['Clicks', 'Installs', 'CTR']
    """
    return Digest(build(stats, links, day=day, days=days, top=top, report_url=report_url))
