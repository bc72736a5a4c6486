"""Imports point one way: every top-level package may import only the layers below it, and no
two modules import each other, directly or round a longer loop. Imports inside functions count."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. A package may import itself and any package listed before it.
LAYERS = ["core", "nlu", "knowledge", "index", "tickets", "bot", "connectors", "jobs", "server", "cli"]
RANK = {name: n for n, name in enumerate(LAYERS)}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported project module) for every import statement anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield node.lineno, candidate if candidate in MODULES else base


def _project_target(name: str) -> str | None:
    """The project module an import resolves to (the longest known prefix), or None."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for _, name in _imports(module, path):
            target = _project_target(name)
            if target is not None and target != module:
                graph[module].add(target)
    return graph


def test_every_layer_is_a_package() -> None:
    for package in LAYERS:
        assert (ROOT / package / "__init__.py").is_file(), package


def test_imports_point_down_only() -> None:
    upward: list[str] = []
    for module, path in MODULES.items():
        own = RANK[module.split(".")[0]]
        for line, name in _imports(module, path):
            top = name.split(".")[0]
            if top in RANK and RANK[top] > own:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not upward, "imports from a lower layer into a higher one:\n" + "\n".join(upward)


def test_no_module_cycles() -> None:
    graph = _graph()
    # Package __init__ modules are entered whenever a submodule is imported; an edge from a
    # submodule to its own package's __init__ is not a dependency of design.
    for module, targets in graph.items():
        graph[module] = {t for t in targets if not module.startswith(t + ".")}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, "modules that import each other: " + "; ".join(" ↔ ".join(c) for c in cycles)


@pytest.mark.parametrize("layer", ["core", "nlu", "knowledge", "index", "tickets", "bot"])
def test_lower_layers_never_import_a_web_framework(layer: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for module, path in MODULES.items()
        if module.split(".")[0] == layer
        for line, name in _imports(module, path)
        if name.split(".")[0] in {"fastapi", "starlette", "uvicorn"}
    ]
    assert not offenders, "\n".join(offenders)
