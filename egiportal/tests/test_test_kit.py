"""Meta-tests of the test kit: every model with a routed browser page has a ViewModelTests class, and every
model routed in the REST API an APIModelTests class. Routed models come from the URL resolver; test
classes from importing every `<app>/tests/test_*.py` module, so a new view or app cannot slip through."""

import importlib
from pathlib import Path

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from egiportal.api.testcases import APIModelTests
from egiportal.testcases import ViewModelTests

# REST routes without the generic API tests, and why. An entry that gains a test or loses its route fails.
API_EXEMPTIONS = {
    "sites.certificationstatuslog": "append-only log written by the certification service; tested in test_api_roles",
    "sites.role": "requests and decisions, not a create-or-update model; tested in test_api_roles",
    "egiportal.user": "read-only directory of users; tested in test_api_core",
    "egiportal.apitoken": "a user's own tokens only, secrets shown once; tested in test_api_core",
    "egiportal.auditlog": "the read-only change list; tested in test_api_core",
    "egiportal.virtualorganisation": "made by Check-in logins, managers edit one field; tested in test_oidc_api",
    "appliances.applianceversion": "a lifecycle (working, verify, publish), expiry clamped; tested in test_api",
    "appliances.integrityjob": "read-only, started by a version's verify/, cancel/ only; tested in test_api",
    "appliances.voimagelist": "read-only, changed by its VO's draft actions; tested in test_api",
    "appliances.publishedartefact": "read-only, immutable signed lists; tested in test_api",
    "accounting.cloudsummary": "read-only accounting table, per-user detail restricted; tested in test_api",
    "accounting.ipsummary": "read-only accounting table, per-user detail restricted; tested in test_api",
    "accounting.acceleratorsummary": "read-only accounting table, per-user detail restricted; tested in test_api",
    "accounting.storagesummary": "read-only accounting table, per-user detail restricted; tested in test_api",
    "accounting.cloudrecord": "read-only accounting table, per-user detail restricted; tested in test_api",
    "accounting.iprecord": "read-only accounting table, per-user detail restricted; tested in test_api",
    "accounting.acceleratorrecord": "read-only accounting table, per-user detail restricted; tested in test_api",
    "accounting.storagerecord": "read-only accounting table, per-user detail restricted; tested in test_api",
    "accounting.rawmessage": "read-only accounting table, per-user detail restricted; tested in test_api",
}

# URL name suffixes of the generic pages, and the ViewModelTests attribute that names each.
PAGES = {"_list": "list_url", "": "detail_url", "_history": "history_url"}
PAGES |= {"_add": "add_url", "_edit": "edit_url", "_delete": "delete_url"}


def routes(patterns=None, namespace=""):
    """(URL name, view callback) of every route, URL confs included."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from routes(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            yield (f"{namespace}{pattern.name}" if pattern.name else None), pattern.callback


def model_of(view_class, initkwargs):
    queryset = initkwargs.get("queryset", getattr(view_class, "queryset", None))
    if queryset is not None:
        return queryset.model
    return initkwargs.get("model", getattr(view_class, "model", None))


def browser_routes():
    """{model: {URL name, ...}} of the browser views that declare their model (a queryset or `model`)."""
    found = {}
    for name, callback in routes():
        view_class = getattr(callback, "view_class", None)
        if view_class is None or issubclass(view_class, APIView):
            continue
        model = model_of(view_class, getattr(callback, "view_initkwargs", {}))
        if model is not None:
            found.setdefault(model, set()).add(name)
    return found


def api_models():
    """The models of the REST API's viewsets."""
    return {model_of(callback.cls, {}) for _, callback in routes() if getattr(callback, "cls", None)} - {None}


def import_test_modules():
    """Import every app's test modules, so that their test classes exist."""
    base = Path(settings.BASE_DIR)
    names = [".".join(path.relative_to(base).with_suffix("").parts) for path in sorted(base.glob("*/tests/test_*.py"))]
    return [importlib.import_module(name) for name in names]


# Imported while pytest collects, as pytest itself imports them: a few modules build things at import
# time (the schemathesis schema) that need the database, which is closed to code running inside a test.
TEST_MODULES = import_test_modules()


def subclasses(cls):
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *subclasses(sub)]
    return found


def classes_testing(base):
    return {sub.model: sub for sub in subclasses(base) if sub.model is not None and sub.__name__.startswith("Test")}


def label(model):
    return model._meta.label_lower


def test_the_kit_finds_routes_and_test_classes():
    routed = browser_routes()
    assert {"sites.site", "endpoints.service", "egiportal.virtualorganisation"} <= {label(m) for m in routed}
    assert "endpoints.downtime" in {label(m) for m in api_models()}
    assert len(TEST_MODULES) > 30


def test_every_routed_browser_model_has_view_model_tests():
    tested = classes_testing(ViewModelTests)
    missing = sorted(label(model) for model in browser_routes() if model not in tested)
    assert not missing, f"routed browser views without a ViewModelTests subclass: {missing}"


def test_view_model_tests_cover_every_generic_page_of_their_model():
    tested = classes_testing(ViewModelTests)
    uncovered = []
    for model, names in browser_routes().items():
        test = tested.get(model)
        lists = [name for name in names if name.endswith("_list")]
        if test is None or len(lists) != 1:
            continue
        base = lists[0].removesuffix("_list")
        for suffix, attribute in PAGES.items():
            name = f"{base}{suffix}"
            if name in names and getattr(test, attribute) != name:
                uncovered.append(f"{test.__name__}.{attribute} = {name!r}")
    assert not uncovered, f"routed pages the ViewModelTests do not visit: {uncovered}"


def test_every_rest_model_has_api_model_tests():
    tested = {label(model) for model in classes_testing(APIModelTests)}
    routed = {label(model) for model in api_models()}
    missing = sorted(routed - tested - set(API_EXEMPTIONS))
    assert not missing, f"REST-routed models without an APIModelTests subclass: {missing}"
    stale = sorted(name for name in API_EXEMPTIONS if name in tested or name not in routed)
    assert not stale, f"API_EXEMPTIONS entries to remove (now tested, or no longer routed): {stale}"
