"""The package's import graph: no cycles, nothing importing upwards, small modules.

Read from the source with `ast` (every `import` and `from ... import`, at any depth, deferred ones
included), so the check covers imports that only run inside functions.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "kerascnn"


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path, modules: set[str]) -> set[str]:
    """The kerascnn modules `path` imports (`from kerascnn import x` counts as kerascnn.x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            # The longest prefix that is a module: "kerascnn.layers.Conv2D" -> kerascnn.layers.
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name.startswith("kerascnn"):
                found.add(name)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {name: _imports(path, modules) - {name} for name, path in paths.items()}


def _is_package_init(name: str) -> bool:
    return (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists()


def test_no_import_cycles_between_modules(graph):
    # A package's __init__ importing its own modules is not a cycle worth reporting; leave the
    # package roots out and look for cycles among the modules themselves.
    edges = {m: {d for d in deps if not _is_package_init(d)} for m, deps in graph.items()
             if not _is_package_init(m)}
    state: dict[str, int] = {}
    cycles = []

    def visit(module, stack):
        state[module] = 1
        for dependency in sorted(edges.get(module, ())):
            if state.get(dependency) == 1:
                cycles.append(stack[stack.index(dependency):] + [dependency])
            elif dependency not in state:
                visit(dependency, stack + [dependency])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


@pytest.mark.parametrize("importer, forbidden", [
    ("kerascnn.registry", "kerascnn.analysis"),
    ("kerascnn.saving", "kerascnn.transfer"),
    ("kerascnn.safe_loading", "kerascnn.transfer"),
])
def test_lower_modules_do_not_import_higher_ones(graph, importer, forbidden):
    offending = {d for d in graph[importer] if d == forbidden or d.startswith(forbidden + ".")}
    assert offending == set()


def test_nothing_imports_the_command_line(graph):
    importers = {m for m, deps in graph.items() if "kerascnn.cli" in deps}
    assert importers <= {"kerascnn.console", "kerascnn.__main__"}


def test_model_modules_do_not_import_each_other(graph):
    models = {m for m in graph if m.startswith("kerascnn.models.")}
    assert {m: graph[m] & models for m in models if graph[m] & models} == {}


def test_no_module_passes_400_lines():
    lengths = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines())
               for p in PACKAGE.rglob("*.py")}
    assert {name: n for name, n in lengths.items() if n > 400} == {}
