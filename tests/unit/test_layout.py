"""The package's layout rules (docs/layout.md), read from the source with ``ast``: no import
cycle at any depth, imports between folders in the data flow's direction only, pytest only in
``plugin/``, no ``importlib`` loading of the package's own modules, few loose modules at the top."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "comfy_plugin"
LOOSE_LIMIT = 6
#: The folders and loose modules from the bottom up: each imports only what stands before it.
LAYERS = ("errors", "urls", "settings", "files", "client", "uiformat", "batchfile", "media", "server",
          "baselines", "run", "report", "project", "plugin", "convert", "__main__")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, inside functions too, except those under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            todo.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def _targets(name: str, path: Path, node: ast.Import | ast.ImportFrom, known: dict[str, Path]) -> set[str]:
    """The package's modules an import statement names (a package's ``__init__`` included)."""
    if isinstance(node, ast.Import):
        wanted = [alias.name for alias in node.names]
    else:
        if node.level:
            base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
            base = base[: len(base) - node.level + 1]
            stem = ".".join(base + ([node.module] if node.module else []))
        else:
            stem = node.module or ""
        # `from . import x`: the module x where there is one, else a name of the package itself
        wanted = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in known else stem for a in node.names]
    # The module named, not the packages above it: Python imports a parent package before its
    # modules, and a module that imports its own package's names is caught by naming it.
    return {target for target in wanted if target in known and target != name}


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: {t for node in _imports(ast.parse(path.read_text())) for t in _targets(name, path, node, known)}
            for name, path in known.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle, or [] when there is none (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        state[start] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                state[node] = 2
                stack.pop()
                continue
            nxt = todo.pop()
            if state.get(nxt) == 1:
                names = [n for n, _ in stack]
                return [*names[names.index(nxt):], nxt]
            if not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, sorted(graph.get(nxt, ()))))
    return []


def test_the_package_has_no_import_cycle():
    assert _cycle(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_lazy_imports_count_and_type_checking_blocks_do_not():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import x\n"
                     "def f():\n    from .b import y\n")
    assert sorted(str(node.module) for node in _imports(tree) if isinstance(node, ast.ImportFrom)) == ["b", "typing"]


def test_only_the_plugin_folder_imports_pytest():
    offenders = []
    for name, path in _modules().items():
        if name == "comfy_plugin.plugin" or name.startswith("comfy_plugin.plugin."):
            continue
        for node in _imports(ast.parse(path.read_text())):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(m.split(".")[0] in ("pytest", "_pytest", "xdist") for m in mods):
                offenders.append(name)
    assert offenders == []


def test_no_module_loads_the_package_through_importlib():
    offenders = [name for name, path in _modules().items() if "import_module(" in path.read_text()]
    assert offenders == []


def test_few_loose_modules_at_the_top():
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert len(loose) <= LOOSE_LIMIT, loose


def _folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_imports_between_folders_follow_the_data_flow():
    """batch file -> workflow -> client -> outputs -> verdicts -> reports: a folder never imports
    one above it (``LAYERS``), so the folders themselves form no cycle either."""
    graph = _graph()
    folders = {_folder(name) for name in graph} - {"__init__"}
    assert folders <= set(LAYERS), f"add {sorted(folders - set(LAYERS))} to LAYERS"
    upward = sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets
                    if _folder(a) != _folder(b) and "__init__" not in (_folder(a), _folder(b))
                    and LAYERS.index(_folder(a)) < LAYERS.index(_folder(b)))
    assert upward == []
