"""Parquet files (pyarrow, the ``parquet`` extra): one table per file, written atomically."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .._files import atomic_path

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PARQUET_HINT", "require_pyarrow", "write_parquet"]

logger = logging.getLogger("jmlink_analytics")

#: How to get pyarrow, named by every error about it.
PARQUET_HINT = "pip install 'jmlink-analytics[parquet]'"


def require_pyarrow(what: str = "Parquet output") -> None:
    """Raise a clear ImportError when pyarrow (the ``parquet`` extra) is missing."""
    try:
        import pyarrow.dataset  # noqa: F401
    except ImportError:
        raise ImportError(f"{what} needs pyarrow: {PARQUET_HINT}") from None


def write_parquet(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` as Parquet (pyarrow), atomically; the index is not written."""
    require_pyarrow()
    target = Path(path).expanduser()
    with atomic_path(target) as temp:
        df.to_parquet(temp, engine="pyarrow", index=False)
    logger.info("wrote %s (%d rows, Parquet)", target, len(df))
    return target
