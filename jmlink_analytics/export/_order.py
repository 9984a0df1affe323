"""Putting the dataset's rows in order by two integer keys, the cheap way when the rows allow it.

The dataset holds the same rows in two orders: a day file is in (day, link-platform) order,
fetch_stats' table in (link-platform, day) order. Writing turns the second into the first,
reading the first into the second; either way the rows are usually a full grid in the other
order, and then the permutation is the transpose of that grid (a copy several times faster
than a gather). :class:`RowOrder` finds the cheapest permutation that is right for any rows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RowOrder"]


class RowOrder:
    """The permutation that sorts rows by (``major``, ``minor``), two integer arrays of one length.

    ``kind`` is ``"same"`` (already in order), ``"transpose"`` (the rows are a full grid in
    (minor, major) order: every minor value holds the same majors, in order; ``grid`` is its
    shape) or ``"take"`` (``index``: a stable radix sort on the major key when the rows of one
    major are already in minor order, else a lexsort).
    """

    def __init__(self, major: np.ndarray, minor: np.ndarray) -> None:
        self.kind, self.index, self.grid = "same", np.empty(0, dtype=np.intp), (0, 0)
        n = len(major)
        if n < 2:
            return
        if bool(((major[1:] > major[:-1]) | ((major[1:] == major[:-1]) & (minor[1:] > minor[:-1]))).all()):
            return
        low = major.min()
        n_major = len(np.unique(major)) if n <= 1 << 16 else int(np.count_nonzero(np.bincount(major - low)))
        if n % n_major == 0:
            rows = n // n_major
            grid_major, grid_minor = major.reshape(rows, n_major), minor.reshape(rows, n_major)
            if (bool((grid_major[:, 1:] > grid_major[:, :-1]).all()) and bool((grid_major == grid_major[0]).all())
                    and bool((grid_minor == grid_minor[:, :1]).all())
                    and bool((grid_minor[1:, 0] > grid_minor[:-1, 0]).all())):
                self.kind, self.grid = "transpose", (rows, n_major)
                return
        shifted = (major - low).astype(np.uint16 if int(major.max() - low) < 1 << 16 else np.int64)
        index = np.argsort(shifted, kind="stable")  # radix sort on 16-bit keys: input order kept within a major
        same = shifted[index][1:] == shifted[index][:-1]
        ordered_minor = minor[index]
        if not bool((ordered_minor[1:][same] > ordered_minor[:-1][same]).all()):
            index = np.lexsort((minor, major))
        self.kind, self.index = "take", index

    def apply(self, values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``values`` (one per row) in the order; into ``out`` when given (``values`` itself when in order)."""
        if self.kind == "take":
            return np.take(values, self.index, out=out)
        if self.kind == "same":
            if out is None:
                return values
            out[:] = values
            return out
        rows, n_major = self.grid
        if out is None:
            out = np.empty_like(values)
        np.copyto(out.reshape(n_major, rows), values.reshape(rows, n_major).T)
        return out
