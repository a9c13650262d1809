"""The ``hypewatch`` package's import graph, read from the source with ``ast``: no cycle,
and the stages and the scheduler stay clear of the command line.

Every ``import`` and ``from ... import`` counts, wherever it is (module level, inside a
function, under ``TYPE_CHECKING``): an import inside a function is a dependency too, only
a later one.
"""

from __future__ import annotations

import ast
from pathlib import Path

from hypewatch.settings import PROJECT_ROOT

PACKAGE = "hypewatch"

UI = ("typer", "rich", "click")
"""Command-line libraries: the stages and the scheduler print nothing, parse no option."""

CLEAN = ("hypewatch.stages", "hypewatch.schedule")
"""Modules the command line, the scheduler and the Ray engine call: none imports cli*."""


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module name an import statement anywhere in ``tree`` names, with ``from X
    import y`` giving both ``X`` and ``X.y`` (``y`` may be a module)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package, up level - 1 more
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = package[: len(package) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def import_graph(root: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """For each module of the package at ``root``: the package's modules it imports, and
    every module name it imports (outside ones too)."""
    files = {module_name(root, p): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    names: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names[module] = imported(tree, module, path.name == "__init__.py")
        graph[module] = {n for n in names[module] if n in files and n != module}
    return graph, names


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
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
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def a_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One closed path through ``component``, for the failure message."""
    members = set(component)
    path, seen = [component[0]], {component[0]: 0}
    while True:
        nxt = sorted(graph[path[-1]] & members)[0]
        if nxt in seen:
            return [*path[seen[nxt] :], nxt]
        seen[nxt] = len(path)
        path.append(nxt)


def problems(root: Path) -> list[str]:
    """What this file's tests assert, as lines (empty: all is well)."""
    graph, names = import_graph(root)
    found = []
    for component in cycles(graph):
        found.append(
            f"import cycle of {len(component)} modules ({', '.join(component)}), e.g. "
            + " -> ".join(a_cycle(graph, component))
        )
    for module in CLEAN:
        if module not in graph:
            found.append(f"{module} is missing")
            continue
        cli = {n for n in graph[module] if n.startswith(f"{PACKAGE}.cli")}
        ui = {n.split(".")[0] for n in names[module]} & set(UI)
        found.extend(f"{module} imports {name}" for name in sorted(cli | ui))
    return found


ROOT = PROJECT_ROOT / PACKAGE


def test_the_graph_sees_imports_inside_functions() -> None:
    tree = ast.parse(
        "import a.b\nfrom c import d\ndef f():\n    from hypewatch.cli import out\n"
        "    from . import settings\n"
    )
    assert imported(tree, "hypewatch.stages", False) == {
        "a.b", "c", "c.d", "hypewatch.cli", "hypewatch.cli.out", "hypewatch", "hypewatch.settings",
    }  # fmt: skip
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert a_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]


def test_the_package_has_no_import_cycle() -> None:
    graph, _ = import_graph(ROOT)
    assert {"hypewatch.cli", "hypewatch.cli_topics", "hypewatch.schedule"} <= set(graph)
    found = [line for line in problems(ROOT) if line.startswith("import cycle")]
    assert not found, "\n".join(found)


def test_stages_and_the_scheduler_import_no_command_line() -> None:
    found = [line for line in problems(ROOT) if not line.startswith("import cycle")]
    assert not found, "\n".join(found)
