"""Progress bars for long fetches: a notebook bar under Jupyter, a text bar on stderr elsewhere.

``tqdm.auto`` picks the notebook bar inside a Jupyter kernel. When ipywidgets (``IProgress``)
is missing or the notebook bar cannot be built, the plain text bar is used instead; a
progress bar never makes a fetch fail.
"""

from __future__ import annotations

import logging
import sys
import warnings
from typing import Any

__all__ = ["SHOW_ABOVE", "ProgressBar", "progress_bar", "wants_bar"]

logger = logging.getLogger("jmlink_analytics")

#: ``progress=None`` shows a bar when more than this many requests are needed.
SHOW_ABOVE = 8


class ProgressBar:
    """A minimal progress bar interface: ``update(n)``, ``close()``, context manager.

    The base class shows nothing; :func:`progress_bar` returns it when no bar is wanted.
    """

    def update(self, n: int = 1) -> None:
        """Advance by ``n`` steps."""

    def close(self) -> None:
        """Finish the bar."""

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _TqdmBar(ProgressBar):
    def __init__(self, bar: Any):
        self._bar = bar

    def update(self, n: int = 1) -> None:
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


def _auto_tqdm() -> Any:
    """``tqdm.auto.tqdm`` (the notebook bar inside Jupyter), without its import-time warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TqdmExperimentalWarning, and the "IProgress not found" TqdmWarning
        from tqdm.auto import tqdm
    return tqdm


def _text_tqdm() -> Any:
    from tqdm.std import tqdm

    return tqdm


def wants_bar(progress: bool | None, n_steps: int) -> bool:
    """Whether to show a bar: always for ``True``, never for ``False``, above :data:`SHOW_ABOVE` for ``None``."""
    if progress is None:
        return n_steps > SHOW_ABOVE
    return bool(progress)


def progress_bar(total: int, *, progress: bool | None, desc: str, unit: str = "req") -> ProgressBar:
    """Return a progress bar of ``total`` steps, or a silent one.

    Parameters
    ----------
    total : int
        The number of steps.
    progress : bool or None
        ``True`` always shows a bar, ``False`` never, ``None`` when ``total`` > :data:`SHOW_ABOVE`.
    desc, unit : str
        The bar's label and step unit.
    """
    if not wants_bar(progress, total):
        return ProgressBar()
    options = {"total": total, "desc": desc, "unit": unit, "dynamic_ncols": True}
    try:
        bar = _auto_tqdm()(**options)
    except Exception as exc:  # e.g. ImportError: IProgress not found (ipywidgets missing or too old)
        logger.debug("notebook progress bar unavailable (%s); using the text bar", exc)
        bar = _text_tqdm()(file=sys.stderr, **options)
    return _TqdmBar(bar)
