"""The line between the layers (STYLE.md): metrics read tables and never draw; pages draw
and never open files or run SQL themselves."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent
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
    for path in sorted((ROOT / "metrics").glob("*.py")):
        assert not imported(path) & DRAWING, path.name


def test_pages_never_open_files_or_run_sql() -> None:
    for path in sorted((ROOT / "dashboards").glob("*.py")):
        forbidden = {"open", "duckdb.connect", "con.sql", "con.execute", "Path.read_text"} & calls(path)
        assert not forbidden, (path.name, forbidden)
