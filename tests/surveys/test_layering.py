"""surveys sits at the top beside dashboard (DESIGN.md): neither imports the other, and nothing
below them (measures, sessions_app, accounts) imports surveys."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_apps(app):
    """The top-level packages each module of `app` imports, as {module path: {package, ...}}."""
    found = {}
    for path in (ROOT / app).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    "app, forbidden",
    [
        ("surveys", "dashboard"),
        ("dashboard", "surveys"),
        ("measures", "surveys"),
        ("sessions_app", "surveys"),
        ("accounts", "surveys"),
    ],
)
def test_imports_point_one_way(app, forbidden):
    offenders = sorted(path for path, names in imported_apps(app).items() if forbidden in names)
    assert offenders == [], f"{app} must not import {forbidden}"


def test_the_check_sees_imports():
    # A check that finds nothing anywhere could never fail: surveys does import measures.
    assert any("measures" in names for names in imported_apps("surveys").values())
