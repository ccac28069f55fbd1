"""The package layout of LAYOUT.md holds: what import-linter and ruff cannot see is checked here.

import-linter (the contracts in pyproject.toml, run by `make test`) checks layers, cycles and
forbidden libraries; ruff checks imports at top (PLC0415) and file calls (TID251). This file
checks the rest with ``ast``: no private name imported across modules, no module
``__getattr__``, deferred imports only where LAYOUT rule 6 allows them, docstring-only
``__init__`` files, no module over 500 lines — and that import-linter really fails a broken tree.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "oncoresist"
#: Libraries slow to import: the only ones a module may import inside a function (rule 6).
HEAVY = {"mlflow", "shap", "xgboost", "dask", "distributed", "jinja2", "matplotlib"}
ROOT_MODULES = {"__init__", "__main__", "exceptions", "paths", "defaults"}
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def _tree(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))


def _imports(name: str):
    """``(node, imported module, imported names, inside a function)`` of one module."""
    tree = _tree(name)
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            inside |= {id(n) for n in ast.walk(node) if n is not node}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node, node.module, [a.name for a in node.names], id(node) in inside
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, [], id(node) in inside


@cache
def _loads_heavy_library(name: str, seen: frozenset[str] = frozenset()) -> bool:
    """Whether importing ``name`` (a module of ours) imports a heavy library at module level."""
    if name not in MODULES or name in seen:
        return False
    for _node, module, names, deferred in _imports(name):
        if deferred:
            continue
        if module.split(".")[0] in HEAVY:
            return True
        targets = [module] + [f"{module}.{n}" for n in names]
        if any(_loads_heavy_library(t, seen | {name}) for t in targets):
            return True
    return False


def test_only_the_base_modules_sit_at_the_top_of_the_package():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == ROOT_MODULES


def test_no_module_is_over_500_lines():
    long = {n: len(p.read_text().splitlines()) for n, p in MODULES.items()}
    assert {n: k for n, k in long.items() if k > MAX_LINES} == {}


def test_no_private_name_is_imported_from_another_module():
    found = [
        f"{MODULES[name].relative_to(ROOT)}:{node.lineno} imports {module}.{imported}"
        for name in MODULES
        for node, module, names, _ in _imports(name)
        if module.split(".")[0] == "oncoresist"
        for imported in names
        if imported.startswith("_") and not imported.startswith("__")
    ]
    found += [
        f"{MODULES[name].relative_to(ROOT)}:{node.lineno} imports private module {module}"
        for name in MODULES
        for node, module, _, _ in _imports(name)
        if module.split(".")[0] == "oncoresist"
        and any(part.startswith("_") and not part.startswith("__") for part in module.split("."))
    ]
    assert found == []


def _defined_names(name: str) -> set[str]:
    names: set[str] = set()
    for node in _tree(name).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Try):  # optional imports: `try: import fcntl`
            names |= {a.asname or a.name for n in ast.walk(node) if isinstance(n, ast.Import)
                      for a in n.names}  # fmt: skip
    return names


def test_no_module_re_exports_a_name_it_imports():
    """One address per name: ``__all__`` lists only what the module defines (rule 5)."""
    found = []
    for name in MODULES:
        if name == "oncoresist.contract":  # the one facade LAYOUT allows
            continue
        for node in _tree(name).body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                listed = {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
                found += [f"{name}.{n}" for n in sorted(listed - _defined_names(name))]
    assert found == []


def test_no_module_defines_a_module_level_getattr():
    found = [
        name
        for name in MODULES
        for node in _tree(name).body
        if isinstance(node, ast.FunctionDef) and node.name in {"__getattr__", "__dir__"}
    ]
    assert found == []


def test_subpackage_inits_are_docstrings_only():
    for name, path in MODULES.items():
        if path.name != "__init__.py" or name in {"oncoresist", "oncoresist.contract"}:
            continue
        body = _tree(name).body
        assert len(body) == 1 and isinstance(body[0], ast.Expr), f"{path} does work"
        assert isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)


def test_the_root_init_imports_nothing_from_the_package():
    assert [m for _, m, _, _ in _imports("oncoresist") if m.startswith("oncoresist")] == []


def test_deferred_imports_only_keep_a_heavy_library_off_a_path():
    """Outside cli/, an import inside a function must load a heavy library (rule 6)."""
    wrong = []
    for name in MODULES:
        if name.startswith("oncoresist.cli"):
            continue
        for node, module, names, deferred in _imports(name):
            if not deferred:
                continue
            top = module.split(".")[0]
            ours = [module] + [f"{module}.{n}" for n in names]
            if top in HEAVY or (top == "oncoresist" and any(map(_loads_heavy_library, ours))):
                continue
            wrong.append(f"{MODULES[name].relative_to(ROOT)}:{node.lineno} defers {module}")
    assert wrong == []


def test_a_deferral_noqa_names_a_heavy_library(tmp_path):
    # The `noqa: PLC0415` comments must sit on imports the rule above accepts; a stray one on
    # anything else (a stdlib module, say) is caught here even if ruff were told to ignore it.
    stray = []
    for name, path in MODULES.items():
        lines = path.read_text().splitlines()
        for node, module, _, _ in _imports(name):
            text = "\n".join(lines[node.lineno - 1 : node.end_lineno])
            if "PLC0415" in text and module.split(".")[0] not in HEAVY | {"oncoresist"}:
                stray.append(f"{path.relative_to(ROOT)}:{node.lineno} {module}")
    assert stray == []


def test_the_cli_entry_point_loads_no_heavy_library():
    # `oncoresist --help` must stay fast: the command modules defer everything heavy.
    code = (
        "import sys, oncoresist.cli.app; "
        f"print(sorted(set({sorted(HEAVY)!r}) & {{m.split('.')[0] for m in sys.modules}}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def _lint_imports() -> str:
    found = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("import-linter is not installed (it is a dev extra)")
        pytest.skip("import-linter is not installed")
    return found


def _run_lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [_lint_imports(), "--no-cache"], cwd=root, env=env, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("layout")
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    shutil.copytree(PACKAGE, copy / "src" / "oncoresist", ignore=shutil.ignore_patterns("*.pyc"))
    return copy


def test_import_linter_keeps_every_contract_of_the_tree(tree_copy):
    result = _run_lint_imports(tree_copy)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("models/bundle.py", "from oncoresist.pipelines import train  # injected", "Layers"),
        ("explain/drivers.py", "import mlflow  # injected", "mlflow only in tracking"),
        ("simulate/draw.py", "import yaml  # injected", "File formats"),
    ],
    ids=["layer", "library", "file-format"],
)
def test_import_linter_reports_an_injected_forbidden_import(tree_copy, module, line, broken):
    target = tree_copy / "src" / "oncoresist" / module
    original = target.read_text()
    try:
        target.write_text(original + f"\n{line}\n")
        result = _run_lint_imports(tree_copy)
    finally:
        target.write_text(original)
    assert result.returncode != 0
    assert broken in result.stdout
    assert "injected" not in original


def _resolves(dotted: str) -> bool:
    """Whether ``oncoresist.a.b.c`` names a module or an attribute chain of one."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


OLD_NEW_TABLE = "### Python API: old → new imports"


def test_docs_readme_and_notebooks_name_only_existing_python_paths():
    import re

    pattern = re.compile(r"\boncoresist(?:\.[A-Za-z_]\w*)+")
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    texts += sorted((ROOT / "notebooks").glob("*.ipynb"))
    stale = set()
    for path in texts:
        text = path.read_text()
        if OLD_NEW_TABLE in text:  # the README's 0.1 → 0.2 table names the old paths on purpose
            before, _, after = text.partition(OLD_NEW_TABLE)
            text = before + after[after.index("\n## ") :]
        for found in pattern.findall(text):
            found = found.rstrip(".")
            if found.endswith((".py", ".md", ".yaml", ".csv", ".html", ".db")):
                continue
            if not _resolves(found):
                stale.add(f"{path.relative_to(ROOT)}: {found}")
    assert sorted(stale) == []
