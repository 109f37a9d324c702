"""The layers of docs/architecture.md, checked on the source: who may import what, no import
cycle, no module too long without a reason, no fat asset.

Static (``ast``) rather than by importing: an import inside a function counts as much as one at
the top, and nothing is executed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("aco_assets", "orchestration", "ml")

_PURE = frozenset({"dagster", "duckdb", "mlflow"})
# folder -> the libraries none of its modules may import; the Dagster package and the
# orchestration import dagster, only storage imports duckdb or mlflow, and the model no
# scikit-learn (its GMM is tested against scikit-learn, not built on it)
FORBIDDEN: dict[str, frozenset[str]] = {
    "ml": _PURE | {"sklearn"},
    "aco_assets/hydrophone": _PURE | {"torch"},
    "aco_assets/synth": _PURE | {"torch"},
    "aco_assets/yardstick": _PURE | {"torch"},
    "aco_assets/signal": _PURE | {"torch"},
    "aco_assets/scoring": _PURE,
    "aco_assets/review": _PURE | {"torch"},
    "aco_assets/reporting": _PURE | {"torch"},
    "aco_assets/storage": frozenset({"dagster"}),
    "aco_assets/defs": frozenset({"duckdb", "mlflow"}),
    "orchestration": frozenset({"duckdb", "mlflow"}),
}
# the layers above the pure code: nothing below them imports them
UPPER = ("aco_assets.defs", "orchestration")
LONG = 400  # lines; a longer module says why at its top
LONG_REASON = "Why this module is long:"
ASSET_BODY = 45  # lines of an asset or check function, decorator and docstring excluded
ASSET_DECORATORS = {
    "asset",
    "multi_asset",
    "asset_check",
    "multi_asset_check",
    "observable_source_asset",
}


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str) -> list[str]:
    """Every module ``name`` imports (absolute, dotted), anywhere but under TYPE_CHECKING."""
    is_package = MODULES[name].name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    out: list[str] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                out.extend(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    parent = base[: len(base) - child.level + 1]
                    module = ".".join(parent + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                for alias in child.names:  # `from pkg import submodule` imports the submodule
                    sub = f"{module}.{alias.name}"
                    out.append(sub if sub in MODULES else module)
            visit(child)

    visit(TREES[name])
    return out


IMPORTS = {name: _imports(name) for name in MODULES}


def _folder_of(name: str) -> str | None:
    path = MODULES[name].relative_to(ROOT).as_posix()
    matches = [folder for folder in FORBIDDEN if path.startswith(folder + "/")]
    return max(matches, key=len) if matches else None


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_each_folder_imports_only_the_libraries_of_its_layer(folder):
    offences = [
        f"{name} imports {imported}"
        for name in MODULES
        if _folder_of(name) == folder
        for imported in IMPORTS[name]
        if imported.split(".")[0] in FORBIDDEN[folder]
    ]
    assert not offences, "\n".join(offences)


def test_no_module_below_the_dagster_layers_imports_them():
    offences = [
        f"{name} imports {imported}"
        for name in MODULES
        if not name.startswith(UPPER)
        for imported in IMPORTS[name]
        if imported.startswith(UPPER)
    ]
    assert not offences, "\n".join(offences)


def test_every_module_belongs_to_a_layer():
    homeless = [n for n in MODULES if _folder_of(n) is None and n not in PACKAGES]
    assert not homeless, f"modules outside the folders of FORBIDDEN: {homeless}"


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            strong(v)
    return out


def test_the_project_has_no_import_cycle():
    # a package's __init__ importing its own modules is how a package exports them, not a cycle
    graph = {
        name: sorted({i for i in IMPORTS[name] if i in MODULES and not name.startswith(i + ".")})
        for name in MODULES
    }
    assert not _cycles(graph), _cycles(graph)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]


def test_a_long_module_says_why_at_its_top():
    long = [
        f"{name} ({n} lines)"
        for name, path in MODULES.items()
        if (n := len(path.read_text().splitlines())) > LONG
        and LONG_REASON not in (ast.get_docstring(TREES[name]) or "")
    ]
    assert not long, f"modules over {LONG} lines without '{LONG_REASON}' in their docstring: {long}"


def _asset_functions():
    for name, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for deco in node.decorator_list:
                    target = deco.func if isinstance(deco, ast.Call) else deco
                    attr = getattr(target, "attr", getattr(target, "id", None))
                    if attr in ASSET_DECORATORS:
                        yield name, node


def test_asset_bodies_are_thin():
    fat = []
    for name, node in _asset_functions():
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        lines = body[-1].end_lineno - body[0].lineno + 1 if body else 0
        if lines > ASSET_BODY:
            fat.append(f"{name}.{node.name}: {lines} lines")
    assert not fat, f"asset bodies over {ASSET_BODY} lines: {fat}"


def test_the_asset_finder_sees_every_asset_module():
    modules = {name for name, _ in _asset_functions()}
    assert {"aco_assets.defs.ingest.day_ingest", "aco_assets.defs.model.detector"} <= modules


def test_each_asset_sits_in_the_package_of_its_group():
    misplaced = []
    for name, node in _asset_functions():
        if not name.startswith("aco_assets.defs."):
            continue
        for deco in node.decorator_list:
            for kw in getattr(deco, "keywords", []):
                if kw.arg == "group_name" and isinstance(kw.value, ast.Constant):
                    if name.split(".")[2] != kw.value.value:
                        misplaced.append(f"{name}.{node.name}: group {kw.value.value!r}")
    assert not misplaced, misplaced


# Importing these loads none of the libraries named, also through what they import: the pure
# domain reaches DuckDB and MLflow only through aco_assets.storage, and these never do.
LOADS_NONE_OF: dict[str, frozenset[str]] = {
    "ml": _PURE | {"sklearn"},
    "aco_assets.hydrophone": _PURE | {"torch"},
    "aco_assets.synth": _PURE | {"torch"},
    "aco_assets.yardstick": _PURE | {"torch"},
    "aco_assets.signal": _PURE | {"torch"},
    "aco_assets.review.render": _PURE | {"torch"},
    "aco_assets.scoring.evaluation": _PURE | {"torch"},
    "aco_assets.scoring.protocol": _PURE | {"torch"},
    "aco_assets.storage.paths": _PURE | {"torch"},
}


@pytest.mark.parametrize("package", sorted(LOADS_NONE_OF))
def test_the_pure_domain_loads_no_orchestration_library(package):
    modules = sorted(n for n in MODULES if n == package or n.startswith(package + "."))
    forbidden = sorted(LOADS_NONE_OF[package])
    code = (
        f"import importlib, sys\nfor m in {modules!r}:\n    importlib.import_module(m)\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({forbidden!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]", f"importing {package} loads {out.stdout.strip()}"
