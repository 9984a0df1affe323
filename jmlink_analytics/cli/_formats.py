"""The file format of ``links`` / ``stats``: from ``--format``, else from the suffix of ``--out``."""

from __future__ import annotations

from pathlib import Path

__all__ = ["BINARY_FORMATS", "SUFFIX_FORMATS", "table_format"]

#: The suffixes ``--out`` may end in, and the format each means.
SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}
#: Formats that are not text: never written to stdout.
BINARY_FORMATS = ("parquet", "xlsx")


def table_format(out: str, fmt: str | None) -> str:
    """The format to write ``out`` in; raises ``ValueError`` (a usage error) when it cannot be told.

    Parameters
    ----------
    out : str
        ``--out``: a file, or ``-`` for stdout.
    fmt : str or None
        ``--format``, when given.

    Returns
    -------
    str
        ``"csv"``, ``"json"``, ``"parquet"`` or ``"xlsx"``.

    Raises
    ------
    ValueError
        For a binary format on stdout, an unknown suffix without ``--format`` (never CSV text
        under another name), or a suffix that says another format than ``--format``.
    """
    if out == "-":
        fmt = fmt or "csv"
        if fmt in BINARY_FORMATS:
            raise ValueError(f"--format {fmt} needs --out FILE ({fmt} is a binary format, not for stdout)")
        return fmt
    suffix = Path(out).suffix.lower()
    known = ", ".join(SUFFIX_FORMATS)
    by_suffix = SUFFIX_FORMATS.get(suffix)
    if fmt is None:
        if by_suffix is None:
            raise ValueError(f"--out {out}: the file name must end in one of {known} (or give --format); "
                             f"got {suffix or 'no suffix'}")
        return by_suffix
    if by_suffix is not None and by_suffix != fmt:
        raise ValueError(f"--out {out} names a {by_suffix} file but --format is {fmt}; make them agree")
    return fmt
