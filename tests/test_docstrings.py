"""The docstrings a user reads: examples that run, and what a user needs first.

Every example in the package's docstrings runs under ``--doctest-modules`` (the root
``conftest.py`` gives them a sandbox): none may be skipped. Every public function and class
opens with a one-line summary and at most one short paragraph, then its ``Parameters`` (where
it takes any), the other numpydoc sections in numpydoc's order, the reasoning in ``Notes`` and
the ``Examples`` last.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import jmlink_analytics as jm

PACKAGE = Path(jm.__file__).parent
ROOT = PACKAGE.parent

#: numpydoc's sections in numpydoc's order (a class's Attributes follow its Parameters).
SECTIONS = ("Parameters", "Attributes", "Methods", "Returns", "Yields", "Other Parameters", "Raises", "Warns",
            "Warnings", "See Also", "Notes", "References", "Examples")
_SKIP = re.compile(r"doctest:[^\n]*[+]SKIP", re.IGNORECASE)


def _public_modules() -> list[str]:
    """The package and its public rooms (subpackages and modules not starting with ``_``)."""
    names = ["jmlink_analytics"]
    for info in pkgutil.iter_modules([str(PACKAGE)]):
        if not info.name.startswith("_"):
            names.append(f"jmlink_analytics.{info.name}")
    return names


def _public_objects() -> dict[str, Any]:
    """Every function and class in ``jmlink_analytics.__all__`` and the rooms' ``__all__``, once."""
    found: dict[str, Any] = {}
    seen: set[int] = set()
    for module_name in _public_modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and id(obj) not in seen:
                seen.add(id(obj))
                found[f"{module_name}.{name}"] = obj
    return found


def _public_methods(objects: dict[str, Any]) -> dict[str, Any]:
    """The public methods and properties the package's public classes define themselves."""
    found: dict[str, Any] = {}
    for key, cls in objects.items():
        if not inspect.isclass(cls) or not cls.__module__.startswith("jmlink_analytics"):
            continue
        for name, member in vars(cls).items():
            member = getattr(member, "__func__", member)  # classmethod, staticmethod
            if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property)):
                found[f"{key}.{name}"] = member
    return found


PUBLIC = _public_objects()
DOCUMENTED = {**PUBLIC, **_public_methods(PUBLIC)}


def _own_doc(obj: Any) -> str:
    """The object's own docstring, cleaned (a class does not inherit its base's here)."""
    raw = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__  # a property's: its doc=
    return inspect.cleandoc(raw) if isinstance(raw, str) else ""


def _parameters(obj: Any) -> list[str]:
    """The parameters a user passes: a function's, or those of a class's own constructor."""
    target: Callable[..., Any] | None = obj
    if inspect.isclass(obj):
        target = obj.__dict__.get("__init__") or obj.__dict__.get("__new__")
        if target is None:
            return []  # inherited: documented on the base class
    try:
        signature = inspect.signature(target)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return []
    return [name for name in signature.parameters if name not in ("self", "cls")]


def _sections(doc: str) -> list[tuple[int, str]]:
    """(line number, title) of each numpydoc section header: a title over a line of dashes."""
    lines = doc.splitlines()
    return [(i, lines[i].strip()) for i in range(len(lines) - 1)
            if lines[i].strip() and re.fullmatch(r"-{3,}", lines[i + 1].strip())]


def test_the_doctests_run_in_the_test_suite() -> None:
    """``make test`` collects the package's docstring examples as tests."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in config["addopts"].split()
    assert "jmlink_analytics" in config["testpaths"]


def test_no_docstring_example_is_skipped() -> None:
    """A ``# doctest: +SKIP`` would let an example go stale unseen: every example runs."""
    skipped = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _SKIP.search(line):
                skipped.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not skipped, "docstring examples marked +SKIP (make them run):\n" + "\n".join(skipped)


def test_every_public_name_of_the_package_is_checked() -> None:
    """The checks below cover each function and class of ``jmlink_analytics.__all__`` (and the rooms')."""
    names = [name for name in jm.__all__ if inspect.isfunction(getattr(jm, name)) or inspect.isclass(getattr(jm, name))]
    checked = {id(obj) for obj in PUBLIC.values()}
    assert len(names) > 30 and all(id(getattr(jm, name)) in checked for name in names)
    assert "jmlink_analytics.find_anomalies" in PUBLIC and "jmlink_analytics.plotting.period_word" in PUBLIC


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_docstring_opens_with_a_summary_line(name: str) -> None:
    """A one-line summary, then a blank line (or nothing): what help() and IDE tooltips show."""
    doc = _own_doc(DOCUMENTED[name])
    assert doc, f"{name} has no docstring"
    lines = doc.splitlines()
    assert lines[0].strip() and lines[0] == lines[0].lstrip(), f"{name}: the docstring must open with its summary"
    assert len(lines) == 1 or not lines[1].strip(), (
        f"{name}: the summary must be one line followed by a blank line; got {lines[:2]}")


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_docstring_sections_come_in_numpydoc_order(name: str) -> None:
    """Summary, at most one short paragraph, then Parameters ... Raises, See Also, Notes, Examples."""
    doc = _own_doc(DOCUMENTED[name])
    sections = _sections(doc)
    titles = [title for _, title in sections]
    unknown = [title for title in titles if title not in SECTIONS]
    assert not unknown, f"{name}: unknown docstring sections {unknown} (numpydoc's are {SECTIONS})"
    order = [SECTIONS.index(title) for title in titles]
    assert order == sorted(order) and len(set(order)) == len(order), (
        f"{name}: sections {titles} out of numpydoc's order (Parameters first, Notes and Examples last)")
    if sections:
        head = "\n".join(doc.splitlines()[:sections[0][0]])
        paragraphs = [p for p in re.split(r"\n\s*\n", head) if p.strip()]
        assert len(paragraphs) <= 2, (
            f"{name}: {len(paragraphs)} paragraphs before {titles[0]}: keep the summary and one short "
            "paragraph there, and move the reasoning to Notes")


#: The package's public API (``jmlink_analytics.__all__``): what the README and the notebooks use.
API = sorted(name for name in jm.__all__ if inspect.isfunction(getattr(jm, name)) or inspect.isclass(getattr(jm, name)))


@pytest.mark.parametrize("name", API)
def test_public_api_docstring_lists_its_parameters_before_any_notes(name: str) -> None:
    """What a user passes comes first: a Parameters section, before Notes and Examples."""
    obj = getattr(jm, name)
    parameters = _parameters(obj)
    if not parameters:
        return
    titles = [title for _, title in _sections(_own_doc(obj))]
    # a dataclass record (a result the user reads, not builds) documents its fields as Attributes
    heading = "Attributes" if hasattr(obj, "__dataclass_fields__") and "Parameters" not in titles else "Parameters"
    assert heading in titles, f"jmlink_analytics.{name} takes {parameters} but its docstring has no {heading} section"
    later = [titles.index(title) for title in ("Notes", "Examples") if title in titles]
    assert all(titles.index(heading) < index for index in later), (
        f"jmlink_analytics.{name}: {heading} must come before Notes and Examples; got {titles}")
