"""The core is below every app: no module of egiportal/ imports a portal app, not even inside a function.

Only the project's wiring may name the apps (the URL confs, settings, WSGI/ASGI and the Celery app), and
the tests, migrations and test helpers. What the core needs from an app it receives through an explicit
hook (PORTAL_GRANT_SOURCES, the AppConfig attributes read by egiportal.portal_apps).
"""

import ast
from pathlib import Path

import pytest

from egiportal import portal_apps

CORE = Path(__file__).resolve().parents[1]
WIRING = {"urls.py", "api/urls.py", "settings.py", "wsgi.py", "asgi.py", "celery.py"}


def core_modules():
    for path in sorted(CORE.rglob("*.py")):
        relative = path.relative_to(CORE).as_posix()
        parts = relative.split("/")
        if relative in WIRING or "tests" in parts or "migrations" in parts or parts[-1].startswith("testing"):
            continue
        yield relative, path


def imported_modules(path):
    """Every module name an import statement of `path` names, at any depth (functions included)."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def app_names():
    names = {config.name for config in portal_apps.portal_apps()}
    assert {"sites", "endpoints"} <= names  # the walk below checks something
    return names


def test_the_walk_sees_the_core():
    found = dict(core_modules())
    assert {"models.py", "permissions.py", "services.py", "views.py"} <= set(found)
    assert not WIRING & set(found)
    assert "django.db" in set(imported_modules(found["models.py"]))


@pytest.mark.parametrize("relative,path", list(core_modules()), ids=lambda value: str(value))
def test_core_module_imports_no_app(relative, path):
    apps = app_names()
    offending = sorted(name for name in imported_modules(path) if name.split(".")[0] in apps)
    assert not offending, f"egiportal/{relative} imports {', '.join(offending)}: give the core a hook instead"


def test_the_check_fails_on_a_function_local_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from sites.models import Site\n    import endpoints.models\n")
    assert {"sites.models", "endpoints.models"} <= set(imported_modules(sample))
