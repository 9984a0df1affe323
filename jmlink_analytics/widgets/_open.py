"""``dashboard(client, ...)``: fetch the links and stats, then open a :class:`~._dashboard.Dashboard` on them."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ._dashboard import Dashboard

if TYPE_CHECKING:
    from ..client import JMLinkClient
    from ..data import Store

__all__ = ["dashboard"]


def dashboard(client: JMLinkClient, *, start: Any, end: Any = None,
              platform: str | Sequence[str] = ("ios", "android"), store: Store | None = None,
              progress: bool | None = None) -> Dashboard:
    """Fetch the links and their stats, then return a :class:`Dashboard` of them.

    Parameters
    ----------
    client : JMLinkClient
        The API client (or a sandbox's ``client()``).
    start, end : date-like
        The date range (``end=None``: today, UTC+8), as for :func:`~jmlink_analytics.fetch_stats`.
    platform : str or sequence of str, default ("ios", "android")
        ``"all"``, ``"ios"``, ``"android"`` or several; split platforms let the dashboard compare them.
    store : Store, optional
        A local cache, so reopening the dashboard asks only for new days.
    progress : bool or None, default None
        The fetch's progress bar, as for :func:`~jmlink_analytics.fetch_stats`. In a notebook the
        bar is shown while fetching and removed when the data is in, so neither a finished bar
        nor its saved "0%" text stays above the dashboard.

    Returns
    -------
    Dashboard
    """
    from ..data import fetch_links, fetch_stats

    platforms = platform if isinstance(platform, str) else list(platform)
    with _while_fetching(enabled=progress is not False):
        links = fetch_links(client, store=store)
        stats = fetch_stats(client, start=start, end=end, platform=platforms, store=store, progress=progress)
    return Dashboard(stats, links)


@contextlib.contextmanager
def _while_fetching(*, enabled: bool) -> Iterator[None]:
    """In a Jupyter kernel, show what the block displays (the progress bar) in a place removed afterwards.

    The block's output goes into an :class:`ipywidgets.Output` displayed with a display id; at
    the end that display is replaced by nothing and the widget closed. Warnings raised inside
    are raised again after, outside the removed area. Elsewhere (a script, a terminal) this
    does nothing.
    """
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        get_ipython = None
    shell = get_ipython() if get_ipython is not None else None
    if not enabled or shell is None or getattr(shell, "kernel", None) is None:
        yield
        return
    area = widgets.Output()
    handle = display(area, display_id=True)
    try:
        with warnings.catch_warnings(record=True) as caught, area:
            warnings.simplefilter("default")
            yield
    finally:
        area.clear_output()
        if handle is not None:
            handle.update({"text/plain": ""}, raw=True)
        area.close()
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
