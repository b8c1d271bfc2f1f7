"""Layers point one way: only abdb.cli uses typer/rich; only the data layer uses sqlalchemy.orm."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "abdb"
DATA_LAYER = ("db", "repositories", "unit_of_work.py", "database.py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_cli_imports_typer_or_rich(module: Path) -> None:
    if module.relative_to(PACKAGE).parts[0] == "cli":
        return
    offending = {name for name in _imports(module) if name.split(".")[0] in {"typer", "rich", "click"}}
    assert not offending


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_data_layer_imports_sqlalchemy_orm(module: Path) -> None:
    if module.relative_to(PACKAGE).parts[0] in DATA_LAYER:
        return
    assert not {name for name in _imports(module) if name.startswith("sqlalchemy.orm")}


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_domain_and_io_stay_pure_python(module: Path) -> None:
    if module.relative_to(PACKAGE).parts[0] not in {"domain", "io"}:
        return
    assert not {name for name in _imports(module) if name.split(".")[0] in {"sqlalchemy", "psycopg", "alembic"}}


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_services_open_units_of_work_only_through_the_database_they_are_given(module: Path) -> None:
    """The seam: a service gets a Database (its unit-of-work factory), so a test can hand it a fake one."""
    if module.relative_to(PACKAGE).parts[0] != "services":
        return
    calls = {
        node.func.id
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not calls & {"UnitOfWork", "sessionmaker", "build_engine", "create_engine"}
