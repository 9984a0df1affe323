"""The package's layout (shared/design.md, "rooms by concept"): who may import whom, sizes, the namespace.

Each room imports only rooms below it, and no module imports itself back through any chain,
lazy (inside a function) or under ``TYPE_CHECKING`` alike. The graph is read from the source
with ``ast``, so an import a test never executes still counts.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import jmlink_analytics as jm

PACKAGE = Path(jm.__file__).parent

#: Each room and its level: a room may import rooms of a lower level only (and itself).
LEVELS: dict[str, int] = {
    "_version": 0, "schema": 0, "errors": 0, "_dates": 0,
    "_validate": 1, "_sqlite": 1, "_files": 1,
    "client": 2,
    "data": 3, "sandbox": 3,
    "metrics": 4, "display": 4,
    "export": 5,
    "plotting": 6,
    "report": 7, "widgets": 7, "notify": 7,
    "cli": 8,
}
#: The public namespace and ``python -m`` may reach every room.
NAMESPACE = {"jmlink_analytics", "jmlink_analytics.__main__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("jmlink_analytics"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("jmlink_analytics"))
    found.discard(name)
    return {m for m in found if m in modules}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _room(module: str) -> str:
    return module.split(".")[1]


def test_every_module_belongs_to_a_room_of_the_design():
    rooms = {_room(m) for m in _modules() if m not in NAMESPACE}
    assert rooms <= set(LEVELS), f"modules outside the design's rooms: {sorted(rooms - set(LEVELS))}"


def test_each_room_imports_only_rooms_below_it():
    wrong = []
    for module, targets in _graph().items():
        if module in NAMESPACE:
            continue
        for target in targets:
            here, there = _room(module), _room(target)
            if there != here and LEVELS[there] >= LEVELS[here]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the one-way data flow:\n" + "\n".join(sorted(wrong))


def _is_private_module(module: str) -> bool:
    """``jmlink_analytics.<room>._<module>``: a module its room keeps to itself."""
    parts = module.split(".")
    return len(parts) > 2 and any(part.startswith("_") for part in parts[2:])


def test_no_room_imports_another_rooms_private_module():
    wrong = []
    for module, targets in _graph().items():
        if module in NAMESPACE:
            continue
        for target in targets:
            if _room(target) != _room(module) and _is_private_module(target):
                wrong.append(f"{module} -> {target}")
    assert not wrong, ("imports of another room's private module (import from the room's package, which "
                       "names its seams in __all__):\n" + "\n".join(sorted(wrong)))


def test_no_room_imports_another_rooms_private_name():
    wrong = []
    for name, path in _modules().items():
        if name in NAMESPACE:
            continue
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            target = ".".join([*base, *([node.module] if node.module else [])])
            if len(target.split(".")) < 2 or _room(target) == _room(name):
                continue
            wrong += [f"{name}: from {target} import {a.name}" for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
    assert not wrong, "imports of another room's private name:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle_lazy_or_not():
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_400_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 400, f"{path.relative_to(PACKAGE)} has {lines} lines: split it by responsibility"


def test_dir_lists_the_public_names_only():
    names = dir(jm)
    assert names == sorted(jm.__all__)
    for private in ("Any", "TYPE_CHECKING", "annotations", "importlib", "logging"):
        assert private not in names
    for public in ("COUNTERS", "RATES", "METRICS", "PLATFORMS", "STATS_COLUMNS", "join_links", "fetch_stats",
                   "Store", "count_once"):
        assert public in names
    for name in names:
        getattr(jm, name)  # every listed name resolves


def test_the_vocabulary_is_defined_once_in_schema():
    from jmlink_analytics import schema

    assert jm.COUNTERS is schema.COUNTERS and jm.RATES is schema.RATES and jm.PLATFORMS is schema.PLATFORMS
    for path in PACKAGE.rglob("*.py"):
        if path.name == "schema.py" or path.parent.name == "sandbox":  # the sandbox keeps its own on purpose
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                if isinstance(node, ast.AnnAssign) else []
            for target in targets:
                assert not (isinstance(target, ast.Name) and target.id in schema.__all__ and target.id.isupper()), \
                    f"{path.relative_to(PACKAGE)} defines {target.id} again"


def test_the_package_ships_its_type_hints():
    assert (PACKAGE / "py.typed").is_file()


def test_import_is_light():
    code = "import sys, jmlink_analytics; print(sorted(m for m in ('pandas', 'matplotlib', 'ipywidgets', " \
           "'requests', 'numpy') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
