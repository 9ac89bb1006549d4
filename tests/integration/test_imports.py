"""The modules of sklstm import each other without cycles.

Every module of sklstm and of its subpackages is parsed, imports inside
functions included, so a cycle hidden in a function (it works until someone
moves the import) counts as one. ``from sklstm import name`` is an edge to
the module ``sklstm.name`` when there is one, else to the package itself;
the package's lazy table (the module names written as strings in
``sklstm/__init__.py``, imported when ``sklstm.load`` and the like are first
used) counts as its imports.
"""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "sklstm"


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name, path):
    """The sklstm modules that the module ``name`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
        elif isinstance(node, ast.ImportFrom):
            raise AssertionError(f"{name} uses a relative import (line {node.lineno})")
        elif name == "sklstm" and isinstance(node, ast.Constant):
            if isinstance(node.value, str) and node.value in MODULES:
                found.add(node.value)  # the lazy table
    return {module for module in found if module in MODULES} - {name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycle(graph):
    """One cycle of ``graph`` as a list of modules, or None."""
    state = {}  # name -> "open" while on the path, "done" after

    def visit(name, path):
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target, [*path, target])
                if found:
                    return found
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state:
            found = visit(name, [name])
            if found:
                return found
    return None


def _reachable(graph, start):
    seen, todo = set(), [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def test_the_graph_sees_imports_inside_functions_and_the_lazy_table():
    # The command line's shared helpers import the resolver only inside
    # functions; the package imports the generator only through its lazy
    # table.
    assert "sklstm._resolve" in GRAPH["sklstm.cli._shared"]
    assert {"sklstm.generator", "sklstm.persistence"} <= GRAPH["sklstm"]


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"b"}}) is None


def test_sklstm_modules_import_each_other_without_cycles():
    assert _cycle(GRAPH) is None


def test_the_file_container_imports_no_estimator():
    reached = _reachable(GRAPH, "sklstm._archive")
    estimators = {"sklstm.generator", "sklstm.sequencer", "sklstm._state"}
    assert reached, "the container imports nothing of sklstm: check the graph"
    assert not reached & estimators
