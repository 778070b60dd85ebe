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
    "http": 2,
    "checkpoint": 2,
    "reporting.events": 2,
    "reporting.report": 2,
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
