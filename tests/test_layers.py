"""The line between the layers (STYLE.md): metrics read tables and never draw; pages draw
and never open files or run SQL themselves; the web app reads built files and never loads
input; the app and the readers do not pull in the models."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

DRAWING = {"dash", "dash_ag_grid", "dash_bootstrap_components", "plotly", "flask"}


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    return {name.split(".")[0] for name in names}


def calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}


def test_metrics_never_draw() -> None:
    for path in sorted((ROOT / "metrics").rglob("*.py")):
        assert not imported(path) & DRAWING, path.name


def test_pages_never_open_files_or_run_sql() -> None:
    for path in sorted((ROOT / "dashboards").rglob("*.py")):
        forbidden = {"open", "duckdb.connect", "con.sql", "con.execute", "Path.read_text"} & calls(path)
        assert not forbidden, (path.name, forbidden)


def test_the_web_app_never_loads_input() -> None:
    """Only the error every command reports bad input with (a bad auth file, here) is shared."""
    for path in sorted((ROOT / "dashboards").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert {m for m in modules if m.split(".")[0] == "pipelines"} <= {"pipelines.errors"}, path.name


def test_readers_never_import_the_models() -> None:
    """metrics.readers serve the app and notebooks: a status list comes from metrics.vocabulary,
    not from the scoring code (which would bring statsmodels into every web worker)."""
    models = {"metrics.quiet", "metrics.sites", "metrics.training", "metrics.estimators", "metrics.stages"}
    for path in sorted((ROOT / "metrics" / "readers").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not {m for m in modules if m.startswith(tuple(models))}, path.name


def test_serving_the_app_imports_no_model() -> None:
    """The whole app, pages and all, as `adoption serve` makes it: no statsmodels, no scipy."""
    code = (
        "import sys; from pathlib import Path; from app import create_app; create_app(Path('x.duckdb'));"
        "print(sorted(m for m in ('statsmodels', 'scipy', 'metrics.quiet', 'pipelines') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
