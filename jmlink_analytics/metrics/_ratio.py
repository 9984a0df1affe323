"""The one safe division of the toolkit: ``ratio(numerator, denominator)``, NaN (never inf) where it is 0."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ratio"]


def ratio(numerator: Any, denominator: Any) -> np.ndarray:
    """``numerator / denominator`` element-wise, as float64; NaN where the denominator is 0 or missing.

    Parameters
    ----------
    numerator, denominator : array-like or scalar
        Numbers of broadcastable shapes (arrays, Series, scalars).

    Returns
    -------
    numpy.ndarray
        float64; NaN (never inf, never a warning) where ``denominator`` is 0 or NaN.

    Examples
    --------
    >>> ratio([1, 2, 3], [2, 0, 4]).tolist()
    [0.5, nan, 0.75]
    """
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    safe = np.where(den != 0, den, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / safe, np.nan)
