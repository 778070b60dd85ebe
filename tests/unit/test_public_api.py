"""The façade exports exactly its public names, and the layers import only downwards."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import transfer

PACKAGE = Path(transfer.__file__).parent

# layer of each top-level module or sub-package (DESIGN.md); the edge may import anything.
LAYERS = {
    "errors": 0,
    "models": 0,
    "redaction": 0,
    "settings": 1,
    "config_load": 1,
    "integrity": 1,
    "localfiles": 0,
    "http": 2,
    "checkpoint": 2,
    "reporting.events": 2,
    "reporting.report": 2,
    "reporting.report_html": 2,
    "reporting.charts": 2,
    "reporting.live": 2,
    "reporting.causes": 2,
    "reporting.report_markdown": 2,
    "sources": 3,
    "targets": 3,
    "pipeline": 4,
    "migrate": 4,
    "runner": 5,
}
EDGE = {"commands", "__main__", "__init__", "sandbox", "reporting.progress", "reporting.logsetup"}


def _layer_of(module: str) -> int | None:
    parts = module.split(".")
    for size in (2, 1):
        name = ".".join(parts[:size])
        if name in EDGE:
            return None
        if name in LAYERS:
            return LAYERS[name]
    return None


def test_all_lists_exactly_the_public_names() -> None:
    for name in transfer.__all__:
        assert hasattr(transfer, name), name
    exported = {
        name
        for name, value in vars(transfer).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert exported == set(transfer.__all__) - {"__version__"}


def test_imports_flow_downwards_only() -> None:
    offences = []
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        own = _layer_of(module)
        if own is None:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("transfer.")
            ):
                imported = node.module.removeprefix("transfer.")
                if imported.split(".")[0] == "sandbox":
                    offences.append(f"{module} imports the sandbox")
                    continue
                layer = _layer_of(imported)
                if layer is not None and layer > own:
                    offences.append(f"{module} (layer {own}) imports {imported} (layer {layer})")
    assert not offences, "\n".join(offences)


def test_sources_and_targets_never_import_each_other() -> None:
    for side, other in (("sources", "transfer.targets"), ("targets", "transfer.sources")):
        for path in (PACKAGE / side).glob("*.py"):
            assert other not in path.read_text(), f"{path.name} imports {other}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module → the modules of the package it imports, anywhere in its text (function bodies
    and ``if TYPE_CHECKING:`` blocks too: a circle only the type checker sees is still one)."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in paths)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                submodules = {f"{base}.{a.name}" for a in node.names} & paths.keys()
                found.update(submodules or ({base} & paths.keys()))
        graph[module] = found - {module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_back_through_others() -> None:
    graph = _import_graph()
    assert "transfer.settings" in graph["transfer.config_load"]  # the graph sees imports
    assert not _cycles(graph)


def test_the_cycle_check_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_work_asks_for_capabilities_not_classes() -> None:
    """Only the wiring names a concrete source or target; the rest asks the Protocols and
    their facets (``target.admin``), so a new implementation plugs in without touching them."""
    concrete = ("sources.bintray", "sources.http_index", "targets.artifactory", "targets.webdav")
    graph = _import_graph()
    offences = [
        f"{module} imports {imported}"
        for module, imports in graph.items()
        if module.split(".")[1:2] in (["pipeline"], ["migrate"], ["runner"])
        and module != "transfer.runner.wiring"
        for imported in imports
        if imported.removeprefix("transfer.") in concrete
    ]
    assert not offences, "\n".join(offences)
