"""Meta-tests of the REST API: every routed model has the generic API tests, and every model field of
a routed model can be filtered on."""

import importlib

import pytest
from django.db import models

from egiportal.api.testcases import APIModelTests
from egiportal.api.urls import router

TEST_MODULES = [
    "sites.tests.test_api",
    "sites.tests.test_api_roles",
    "endpoints.tests.test_api",
    "appliances.tests.test_api",
    "accounting.tests.test_api",
]
# Resources whose behaviour is not the generic CRUD one, each tested by its own module.
EXEMPT = {
    "role": "a workflow (request, approve, reject, revoke): sites/tests/test_api_roles.py",
    "certificationstatuslog": "append-only, created by a certification change: sites/tests/test_api_roles.py",
    "user": "only the caller: egiportal/tests/test_api_core.py",
    "apitoken": "only the caller's own, secrets shown once: egiportal/tests/test_api_core.py",
    "auditlog": "read-only: egiportal/tests/test_api_core.py",
    "virtualorganisation": "made by Check-in logins, edited by its managers: egiportal/tests/test_oidc_api.py",
    "applianceversion": "a lifecycle (working, verify, publish), expiry clamped: appliances/tests/test_api.py",
    "integrityjob": "read-only, started by verify/, cancel/ only: appliances/tests/test_api.py",
    "voimagelist": "read-only, changed by its VO's draft actions: appliances/tests/test_api.py",
    "publishedartefact": "read-only, immutable signed lists: appliances/tests/test_api.py",
    "cloudsummary": "read-only accounting table, per-user detail restricted: accounting/tests/test_api.py",
    "ipsummary": "read-only accounting table, per-user detail restricted: accounting/tests/test_api.py",
    "acceleratorsummary": "read-only accounting table, per-user detail restricted: accounting/tests/test_api.py",
    "storagesummary": "read-only accounting table, per-user detail restricted: accounting/tests/test_api.py",
    "cloudrecord": "read-only accounting table, per-user detail restricted: accounting/tests/test_api.py",
    "iprecord": "read-only accounting table, per-user detail restricted: accounting/tests/test_api.py",
    "acceleratorrecord": "read-only accounting table, per-user detail restricted: accounting/tests/test_api.py",
    "storagerecord": "read-only accounting table, per-user detail restricted: accounting/tests/test_api.py",
    "rawmessage": "read-only accounting table, per-user detail restricted: accounting/tests/test_api.py",
}


def routed_models():
    return {viewset.queryset.model for _, viewset, _ in router.registry}


def covered_models():
    covered = set()
    for name in TEST_MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, APIModelTests) and value.model is not None:
                covered.add(value.model)
    return covered


def test_every_routed_model_has_the_generic_api_tests():
    missing = {m._meta.model_name for m in routed_models() - covered_models()} - set(EXEMPT)
    assert not missing, f"models without APIModelTests: {sorted(missing)}"


@pytest.mark.parametrize("prefix", sorted(prefix for prefix, _, _ in router.registry))
def test_every_model_field_has_a_filter(prefix):
    viewset = next(v for p, v, _ in router.registry if p == prefix)
    filters = set(viewset.filterset_class.base_filters) if viewset.filterset_class else set()
    model = viewset.queryset.model
    missing = []
    for field in model._meta.get_fields():
        if not field.concrete or (field.one_to_one and field.remote_field.parent_link) or field.name == "kind":
            continue
        if isinstance(field, models.BinaryField):  # bytes (logos, signatures): never filterable
            continue
        names = {field.name, f"{field.name}_id", f"{field.name}__gte"}
        renamed = any(viewset.filterset_class.base_filters[name].field_name == field.name for name in filters)
        if isinstance(field, models.JSONField) or not (names & filters or renamed):
            missing.append(field.name)
    assert not missing or model._meta.model_name in EXEMPT, f"{prefix}: no filter for {missing}"
