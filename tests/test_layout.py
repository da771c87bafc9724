"""The dependency rule: the library never pulls in the UI."""

import subprocess
import sys

from tests.conftest import REPO


def test_benchmarks_does_not_import_streamlit():
    code = (
        "import sys, pkgutil, importlib, benchmarks\n"
        "for m in pkgutil.iter_modules(benchmarks.__path__):\n"
        "    if m.name != '__main__': importlib.import_module('benchmarks.' + m.name)\n"
        "assert 'streamlit' not in sys.modules, 'benchmarks imported streamlit'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_no_dashboard_imports_in_library():
    for path in (REPO / "benchmarks").glob("*.py"):
        assert "from dashboard" not in path.read_text() and "import dashboard" not in path.read_text(), path
