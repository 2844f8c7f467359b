"""The code's shape: one-way imports between packages, no cycle between modules, small modules."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("extractors", "transforms", "warehouse", "flows", "sandbox")
MAX_LINES = 400
# what each package may import of ours (the design's one direction; warehouse may read the
# table catalogue, the sandbox the resource declarations it serves)
ALLOWED = {
    "extractors": {"extractors"},
    "transforms": {"transforms"},
    "warehouse": {"warehouse", "transforms"},
    "sandbox": {"sandbox", "extractors"},
    "flows": set(PACKAGES),
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(path: Path, known: set[str]) -> set[str]:
    """Our modules ``path`` imports, at any depth of its code (TYPE_CHECKING included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph = {}
    for name, path in modules.items():
        # a module's own enclosing package is not an edge: Python imports it first anyway
        imported = _imports(path, known)
        graph[name] = {m for m in imported if m != name and not name.startswith(m + ".")}
    return graph


def test_no_import_cycle_between_our_modules():
    try:
        tuple(TopologicalSorter(_graph()).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_packages_import_only_downstream():
    wrong = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        for target in targets
        if target.split(".")[0] not in ALLOWED[module.split(".")[0]]
    ]
    assert not wrong


def test_no_module_is_over_400_lines():
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert not {name: n for name, n in sizes.items() if n > MAX_LINES}


def test_the_pipeline_never_imports_the_application():
    wrong = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if module.startswith("flows.pipeline")
        for target in targets
        if target.startswith("flows.app")
    ]
    assert not wrong
