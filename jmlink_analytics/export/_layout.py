"""The dataset's shape and its private files: layout, platform mode, version, lock and staging.

A dataset root holds, besides its data folders, one private folder ``_jmlink/`` with two
EMPTY files: ``lock`` (the writers' ``fcntl`` lock) and the shape, recorded once in the file's
name, e.g. ``version=1,layout=days,platforms=split,partition=dt``. Empty because Polars'
``scan_parquet(root)`` refuses a tree holding any non-empty file that is not Parquet, and
``_`` because pyarrow, Spark and Hive skip such folders; DuckDB's ``**/*.parquet`` glob does
not match them. Files being written are staged OUTSIDE the root, in the hidden sibling
folder ``.<root name>.jmlink-staging``, so no glob over the root ever sees one, even when a
killed run leaves it behind (the next writer removes it).

The shape: ``layout`` is ``days`` (``root/dt=YYYY-MM-DD/``) or ``apps``
(``root/app=NAME/dt=YYYY-MM-DD/``), ``platforms`` is ``all`` (one row per link and day) or
``split`` (``ios`` and ``android`` rows): summing a day that held both would count every
click twice.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import DatasetShapeError

__all__ = ["LAYOUTS", "PLATFORM_MODES", "Shape", "check_app", "check_shape", "platform_mode"]

VERSION = 1
LAYOUTS = ("days", "apps")
PLATFORM_MODES = ("all", "split")
PRIVATE = "_jmlink"
LEGACY_STAGING = ".staging-"  # what versions before the lock left inside the root
_SHAPE_FILE = re.compile(r"version=(\d+),layout=(\w+),platforms=(\w+),partition=(\w+)")
_DAY_DIR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=\d{4}-\d{2}-\d{2}")
_APP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_WORDS = {"null", "none", "true", "false"}


@dataclass(frozen=True)
class Shape:
    """What a dataset is: ``layout`` (days / apps), ``platforms`` (all / split) and the day folders' key."""

    layout: str
    platforms: str
    partition: str = "dt"

    def file_name(self) -> str:
        """The name of the marker file in ``root/_jmlink/`` that records this shape."""
        return f"version={VERSION},layout={self.layout},platforms={self.platforms},partition={self.partition}"

    def describe(self) -> str:
        """The shape in words, for error messages: ``"dt=YYYY-MM-DD folders without apps, platform 'all' rows"``."""
        where = (f"app=NAME/{self.partition}=YYYY-MM-DD folders" if self.layout == "apps"
                 else f"{self.partition}=YYYY-MM-DD folders without apps")
        rows = "platform 'all' rows" if self.platforms == "all" else "'ios' and 'android' rows"
        return f"{where}, {rows}"


def check_app(name: object, what: str = "app") -> str:
    """``name`` if it is a safe app folder name that no engine reads as a number, a date or a boolean."""
    if not isinstance(name, str) or not _APP_NAME.fullmatch(name) or name.lower() in _WORDS or _number(name):
        raise ValueError(f"{what} must be a name of up to 64 letters, digits, _ and -, starting with a letter and not "
                         f"a number, date or true/false/null (engines read app=001 as 1, app=1e3 as 1000), e.g. "
                         f"shop_cn; got {name!r}")
    return name


def _number(text: str) -> bool:
    try:
        float(text)  # inf, nan, infinity: Spark's inference reads them as doubles too
    except ValueError:
        return False
    return True


def platform_mode(platforms: object) -> str:
    """``all`` or ``split`` for a set of platform names; a set holding both is a DatasetShapeError."""
    names = {str(p) for p in platforms}  # type: ignore[attr-defined]
    if "all" in names and names - {"all"}:
        raise DatasetShapeError(f"the rows mix platform 'all' with {', '.join(sorted(names - {'all'}))}: a day "
                                "holding both counts every click twice; write them into two datasets")
    return "all" if names == {"all"} else "split"


def private_dir(root: Path) -> Path:
    return root / PRIVATE


def lock_file(root: Path) -> Path:
    """The lock file of the dataset at ``root`` (its folder created when missing)."""
    folder = private_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "lock"


def staging_dir(root: Path) -> Path:
    """Where the writers of ``root`` stage files: outside it, unless ``root`` is a mount point."""
    sibling = root.parent / f".{root.name}.jmlink-staging"
    try:
        same_device = os.stat(root).st_dev == os.stat(root.parent).st_dev
    except OSError:
        same_device = False
    return sibling if same_device and os.access(root.parent, os.W_OK) else private_dir(root) / "staging"


def clean_staging(root: Path) -> None:
    """Remove what killed writers left (called under the lock: no live writer is staging then)."""
    leftovers = [staging_dir(root)]
    for folder in (root, *[p for p in _entries(root) if p.name.startswith("app=")]):
        leftovers += [p for p in _entries(folder) if p.name.startswith(LEGACY_STAGING)]
    for path in leftovers:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(path)


def _entries(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def recorded_shape(root: Path) -> Shape | None:
    """The shape recorded in ``root/_jmlink/``, or None when none is."""
    try:
        names = [n for n in os.listdir(private_dir(root)) if n.startswith("version=")]
    except (FileNotFoundError, NotADirectoryError):
        return None
    if len(names) > 1:
        raise DatasetShapeError(f"{private_dir(root)} records {len(names)} shapes ({', '.join(sorted(names))}); "
                                "keep the one that matches the data")
    if not names:
        return None
    match = _SHAPE_FILE.fullmatch(names[0])
    if match is None or match.group(2) not in LAYOUTS or match.group(3) not in PLATFORM_MODES:
        raise DatasetShapeError(f"{private_dir(root)} records an unknown shape {names[0]!r}")
    if int(match.group(1)) > VERSION:
        raise DatasetShapeError(f"{root} is a dataset of version {match.group(1)}, written by a newer jmlink-analytics "
                                f"(this one writes version {VERSION}): upgrade it")
    return Shape(match.group(2), match.group(3), match.group(4))


def _inferred_shape(root: Path) -> Shape | None:
    """The shape of a dataset written before shapes were recorded, from its folders and one file."""
    folders = [p for p in _entries(root) if not p.name.startswith((".", "_"))]
    apps = [p for p in folders if p.name.startswith("app=")]
    days = [p for p in folders if _DAY_DIR.fullmatch(p.name)]
    if apps and days:
        raise DatasetShapeError(f"{root} holds both app= folders ({apps[0].name}) and day folders ({days[0].name}); "
                                "move one of them to its own dataset")
    if not apps and not days:
        return None
    layout = "apps" if apps else "days"
    sample = [f for app in apps for d in _entries(app) if _DAY_DIR.fullmatch(d.name) for f in d.glob("*.parquet")]
    if days:
        sample = [f for d in days for f in d.glob("*.parquet")]
    partition = (sample[0].parent.name if sample else days[0].name).split("=")[0] if sample or days else "dt"
    if not sample:
        return Shape(layout, "", partition)
    import pyarrow.parquet as pq

    values = pq.read_table(sample[0], columns=["platform"]).column("platform").unique().to_pylist()
    return Shape(layout, platform_mode(values), partition)


def current_shape(root: Path) -> Shape | None:
    """The shape ``root`` records, else the one its folders show (an older dataset), else None."""
    return recorded_shape(root) or _inferred_shape(root)


def check_shape(root: Path, wanted: Shape, *, what: str = "the write") -> Shape | None:
    """Raise DatasetShapeError naming both shapes when ``wanted`` does not fit the dataset at ``root``."""
    have = current_shape(root)
    if have is None:
        return None
    problems = []
    if have.layout != wanted.layout:
        problems.append("app= folders" if have.layout == "apps" else "day folders without app=")
    if have.platforms and have.platforms != wanted.platforms:
        problems.append("platform 'all' rows" if have.platforms == "all" else "'ios'/'android' rows")
    if have.partition != wanted.partition:
        problems.append(f"the partition key {have.partition!r}")
    if problems:
        raise DatasetShapeError(f"{root} holds {have.describe()}; {what} would add {wanted.describe()}: mixing them "
                                f"breaks every engine's reads or sums ({', '.join(problems)} differ). Write into "
                                "another folder, or match the dataset")
    return have


def record_shape(root: Path, shape: Shape) -> None:
    """Record ``shape`` in ``root/_jmlink/`` unless one is recorded (called under the lock)."""
    if recorded_shape(root) is not None:
        return
    folder = private_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / shape.file_name(), "x"):
        pass


_APP_FOLDER = re.compile(r"app=(.*)")


def split_app(root: Path, app: str | None) -> tuple[Path, str | None]:
    """(the dataset's root, the app) for ``root`` and ``app``: a folder ``X/app=NAME`` is app NAME of ``X``."""
    if app is not None:
        return root, check_app(app)
    match = _APP_FOLDER.fullmatch(root.name)
    if match is None:
        return root, None
    return root.parent, check_app(match.group(1), f"the folder {root.name!r}: the app")
