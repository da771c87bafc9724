"""The dependency rules the tree is built on: the library never pulls in the UI, lower subpackages never import
higher ones, result records stay light, and the top of benchmarks/ stays small."""

import ast
import subprocess
import sys

import pytest

from tests.conftest import REPO

LIBRARY = REPO / "benchmarks"
# Lowest first; a subpackage may import only those of a lower rank (siblings of one rank never import each other).
RANK = {"core": 0, "store": 1, "analysis": 1, "runtimes": 1, "harness": 2, "distill": 2, "loadtest": 2, "jobs": 3}
TOP = 4  # modules directly in benchmarks/ (the CLI) may import everything


def _imports(path) -> set[str]:
    """Every module `path` imports, at any depth (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _rank(module: str) -> int:
    parts = module.split(".")
    return RANK.get(parts[1], TOP) if len(parts) > 1 and parts[1] in RANK else TOP


def _library_files():
    return sorted(LIBRARY.rglob("*.py"))


def test_benchmarks_does_not_import_streamlit():
    code = (
        "import sys, pkgutil, importlib, benchmarks\n"
        "for m in pkgutil.walk_packages(benchmarks.__path__, 'benchmarks.'):\n"
        "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
        "assert 'streamlit' not in sys.modules, 'benchmarks imported streamlit'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_result_records_do_not_import_transformers():
    code = (
        "import sys, benchmarks.harness.results, benchmarks.harness.store, benchmarks.harness.machines\n"
        "import benchmarks.harness.selection, benchmarks.harness.speedups, benchmarks.harness.tables\n"
        "import benchmarks.harness.comparison\n"
        "assert 'transformers' not in sys.modules, 'result records imported transformers'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


@pytest.mark.parametrize("path", _library_files(), ids=lambda p: str(p.relative_to(LIBRARY)))
def test_lower_layers_never_import_higher_ones(path):
    relative = path.relative_to(LIBRARY)
    own = RANK.get(relative.parts[0], TOP) if len(relative.parts) > 1 else TOP
    package = relative.parts[0] if len(relative.parts) > 1 else None
    for module in _imports(path):
        # streamlit: the subprocess test above
        assert not module.startswith("dashboard"), f"{relative} imports {module}"
        if not module.startswith("benchmarks."):
            continue
        target = module.split(".")[1]
        if target == package:
            continue
        rank = _rank(module)
        assert rank < own or own == TOP, f"{relative} (rank {own}) imports {module} (rank {rank})"


def test_every_subpackage_says_what_it_holds_and_may_import():
    for name in RANK:
        doc = ast.get_docstring(ast.parse((LIBRARY / name / "__init__.py").read_text()))
        assert doc and "import" in doc and len(doc.splitlines()) == 2, f"benchmarks/{name}/__init__.py docstring"


def test_the_top_of_the_library_stays_small():
    assert len(list(LIBRARY.glob("*.py"))) <= 6
    assert {p.name for p in LIBRARY.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == set(RANK)
