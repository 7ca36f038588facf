"""Every service has the same skeleton (ARCHITECTURE.md, "Inside a service"), so whoever knows
one knows them all: these checks keep it that way."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

from shared.problems import Problem

SERVICES = ("listing", "auction", "settlement", "registry", "records")
ROOT = Path(__file__).resolve().parents[2]

REQUIRED = {"__init__", "config", "domain", "handlers", "schemas", "routes", "consumer",
            "metrics", "api", "migrations"}
ALLOWED = REQUIRED | {"store", "policies", "documents"}
"""``store`` is a module or a package; ``policies`` holds data files (fee and subsidy policies);
``documents`` renders what a service answers as PDF and CSV (the records service)."""


def _top_level(service: str) -> set[str]:
    names = set()
    for path in (ROOT / "services" / service).iterdir():
        if path.name == "__pycache__" or path.name.startswith("."):
            continue
        names.add(path.stem if path.suffix == ".py" else path.name)
    return names


def _sources(service: str) -> dict[Path, str]:
    return {p: p.read_text() for p in (ROOT / "services" / service).rglob("*.py")}


@pytest.mark.parametrize("service", SERVICES)
def test_the_layout_is_the_skeleton(service: str) -> None:
    names = _top_level(service)
    assert REQUIRED <= names, f"{service} lacks {sorted(REQUIRED - names)}"
    assert names <= ALLOWED, f"{service} has {sorted(names - ALLOWED)} outside the skeleton"
    assert "store" in names
    for package in ("domain", "routes"):
        assert (ROOT / "services" / service / package / "__init__.py").exists()
    assert (ROOT / "services" / service / "domain" / "errors.py").exists()


@pytest.mark.parametrize("service", SERVICES)
def test_the_consumer_is_only_the_event_table(service: str) -> None:
    tree = ast.parse((ROOT / "services" / service / "consumer.py").read_text())
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef)]
    assert not functions, f"{service}/consumer.py handles events itself: " + ", ".join(
        f.name for f in functions)


@pytest.mark.parametrize("service", SERVICES)
def test_the_domain_does_no_io(service: str) -> None:
    for path, source in _sources(service).items():
        if "domain" not in path.relative_to(ROOT / "services" / service).parts[:1]:
            continue
        for forbidden in ("import asyncpg", "from fastapi", "import fastapi", "aiokafka"):
            assert forbidden not in source, f"{path.relative_to(ROOT)} uses {forbidden}"


@pytest.mark.parametrize("service", SERVICES)
def test_events_leave_through_the_transaction_context(service: str) -> None:
    for path, source in _sources(service).items():
        where = path.relative_to(ROOT)
        assert not re.search(r"^\w+\s*=\s*OutboxWriter\(", source, re.M), \
            f"{where}: a module-level outbox writer"
        assert "region=" not in "".join(re.findall(r"outbox\.add\([^)]*\)", source)), \
            f"{where}: a region handed to the outbox"
        assert "unit_of_work(" not in source, f"{where}: runtime.transaction(once) instead"
        assert '"000000"' not in source, f"{where}: a placeholder region"
        assert "datetime.now(" not in source, f"{where}: the service clock instead"
        assert "extras[" not in source, f"{where}: a part of the ServiceSpec instead"


def _problem_classes(service: str) -> list[type[Problem]]:
    package = importlib.import_module(f"services.{service}")
    found: dict[str, type[Problem]] = {}
    for info in pkgutil.walk_packages(package.__path__, f"services.{service}."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Problem) and cls.__module__ == info.name and "slug" in vars(cls):
                found[cls.__qualname__ + cls.__module__] = cls
    return list(found.values())


@pytest.mark.parametrize("service", SERVICES)
def test_problem_types_are_prefixed_by_their_service(service: str) -> None:
    classes = _problem_classes(service)
    assert classes, f"{service} defines no problems of its own"
    for cls in classes:
        assert cls.slug.startswith(f"{service}-"), f"{cls.__module__}.{cls.__name__}: {cls.slug}"


@pytest.mark.parametrize("service", SERVICES)
def test_the_composition_declares_what_the_process_runs(service: str) -> None:
    source = (ROOT / "services" / service / "api.py").read_text()
    assert "ServiceSpec(" in source
    for gone in ("    background=", "extras"):
        assert gone not in source, f"{service}/api.py still uses {gone}"


def test_no_service_imports_another() -> None:
    for service in SERVICES:
        others = [s for s in SERVICES if s != service]
        for path, source in _sources(service).items():
            for other in others:
                assert f"services.{other}" not in source, \
                    f"{path.relative_to(ROOT)} imports services.{other}"
