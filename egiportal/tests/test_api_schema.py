"""The OpenAPI schema of /api/v1/ (egiportal.api.schema): it is valid OpenAPI 3, generated without
warnings, and describes for every registered endpoint its filters, rendering options, paging, bulk
writes, related objects, custom properties, ETags and error replies."""

import io

import pytest
from django.core.management import call_command
from django.test import Client
from drf_spectacular.drainage import GENERATOR_STATS
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from egiportal.api.schema import ERRORS, AutoSchema
from egiportal.api.urls import router
from egiportal.api.viewsets import MAX_BULK, RESERVED_PARAMS, PortalViewSet

ROUTES = [(prefix, viewset) for prefix, viewset, _ in router.registry if issubclass(viewset, PortalViewSet)]
CREATES = [(prefix, viewset) for prefix, viewset in ROUTES if "post" in viewset.http_method_names]
BULK = [(prefix, viewset) for prefix, viewset in ROUTES if {"put", "patch", "delete"} & set(viewset.http_method_names)]
WRITES = ("post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def spec():
    """The schema as served (JSON), fetched once: generation walks every endpoint."""
    response = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def list_path(prefix):
    return f"/api/v1/{prefix}/"


def detail_path(prefix):
    return f"/api/v1/{prefix}/{{id}}/"


def parameters(operation, location="query"):
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == location}


def resolve(spec, schema):
    """`schema`, or the component it references."""
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


# ---------------------------------------------------------------- validity


def test_schema_is_valid_openapi(spec):
    assert spec["openapi"].startswith("3.0")
    validate(spec)


def test_validator_rejects_a_broken_schema(spec):
    """The validation above is real: a response without a description is refused."""
    broken = {**spec, "paths": {"/x/": {"get": {"responses": {"200": {}}}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_generation_has_no_warnings():
    """Every serializer field, filter and authentication class is understood (no guessed "string")."""
    GENERATOR_STATS.reset()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=io.StringIO(), stderr=io.StringIO())
    assert not GENERATOR_STATS


def test_every_route_is_described(spec):
    assert ROUTES, "no API routes registered"
    for prefix, _ in ROUTES:
        assert list_path(prefix) in spec["paths"]
        assert detail_path(prefix) in spec["paths"]
    assert len({op["operationId"] for _, _, op in operations(spec)}) == len(list(operations(spec)))


def test_default_schema_class_is_ours():
    from rest_framework.settings import api_settings

    assert api_settings.DEFAULT_SCHEMA_CLASS is AutoSchema


# ---------------------------------------------------------------- reads: filters, rendering, paging


@pytest.mark.parametrize("prefix,viewset", ROUTES, ids=[prefix for prefix, _ in ROUTES])
def test_list_describes_every_filter_and_option(spec, prefix, viewset):
    params = parameters(spec["paths"][list_path(prefix)]["get"])
    filters = set(viewset.filterset_class.base_filters) if viewset.filterset_class else set()
    missing = (filters | RESERVED_PARAMS) - set(params)
    assert not missing, f"{prefix}: undocumented query parameters {sorted(missing)}"
    assert params["limit"]["schema"]["type"] == "integer"
    assert params["cursor"]["schema"] == {"type": "integer", "minimum": 0}
    assert set(params["format"]["schema"]["enum"]) == {"json", "xml", "csv"}
    assert params["brief"]["schema"]["type"] == "boolean"
    fields = list(viewset.serializer_class().fields)
    for name in ("fields", "omit"):
        assert params[name]["schema"] == {"type": "array", "items": {"type": "string", "enum": fields}}
        assert params[name]["explode"] is False


def test_filter_shapes(spec):
    """Repeatable values explode (`?x=a&x=b`), `__in` lists are comma-separated, relation ids are
    whole numbers, properties are `key=value` strings and flags booleans."""
    params = parameters(spec["paths"]["/api/v1/sites/"]["get"])
    assert params["domain"]["explode"] is True and params["domain"]["schema"]["type"] == "array"
    assert params["domain__in"]["explode"] is False and params["domain__in"]["style"] == "form"
    assert params["id"]["schema"]["items"]["type"] == "integer"
    assert params["ngi_id"]["schema"]["items"] == {"type": "integer", "minimum": 0}
    assert params["property"]["schema"] == {"type": "array", "items": {"type": "string"}}
    assert "key=value" in params["property"]["description"]
    assert params["notify"]["schema"]["type"] == "boolean"
    assert params["created__gte"]["schema"] == {"type": "string", "format": "date-time"}
    assert params["ngi"]["schema"]["type"] == "array" and "commas" in params["ngi"]["description"]
    assert set(params["certification_status"]["schema"]["items"]["enum"]) >= {"Certified", "Suspended"}
    assert params["scope_match"]["schema"]["enum"] == ["all", "any"]


def test_paginated_reply(spec):
    schema = resolve(
        spec, spec["paths"]["/api/v1/sites/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    )
    assert schema["required"] == ["results"]  # `count` is absent in cursor mode
    assert schema["properties"]["next"]["nullable"] is True
    assert resolve(spec, schema["properties"]["results"]["items"])["properties"]["name"]["type"] == "string"


@pytest.mark.parametrize("prefix,viewset", ROUTES, ids=[prefix for prefix, _ in ROUTES])
def test_detail_read(spec, prefix, viewset):
    operation = spec["paths"][detail_path(prefix)]["get"]
    assert {"brief", "fields", "omit"} <= set(parameters(operation))
    assert parameters(operation, "path")["id"]["schema"]["type"] == "integer"
    assert "ETag" in operation["responses"]["200"]["headers"]


def test_other_renderings_are_text(spec):
    content = spec["paths"]["/api/v1/sites/{id}/"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/json", "application/xml", "text/csv"}
    for media in ("application/xml", "text/csv"):
        assert resolve(spec, content[media]["schema"])["type"] == "string"


# ---------------------------------------------------------------- objects


def test_replies_promise_only_the_brief_fields(spec):
    """`?fields`/`?omit` may drop any field of a full object; the brief form of a related object is fixed."""
    schemas = spec["components"]["schemas"]
    assert "required" not in schemas["Site"]
    assert schemas["BriefNGI"]["required"] == ["display", "id", "name", "url"]
    assert schemas["Site"]["description"] == "One site."
    assert schemas["BriefSite"]["description"] == "One site, in short form."
    assert "pattern" not in schemas["Site"]["properties"]["description"]  # checks input, not stored data
    assert "pattern" in schemas["SiteRequest"]["properties"]["description"]


def test_related_objects(spec):
    schemas = spec["components"]["schemas"]
    assert schemas["Site"]["properties"]["ngi"] == {"$ref": "#/components/schemas/BriefNGI"}
    assert schemas["Site"]["properties"]["scopes"]["items"] == {"$ref": "#/components/schemas/BriefScope"}
    written = schemas["SiteRequest"]["properties"]["ngi"]
    assert [choice["type"] for choice in written["oneOf"]] == ["integer", "string", "object"]
    assert "name" in written["description"]
    assert "ngi" in schemas["SiteRequest"]["required"]
    scopes = schemas["SiteRequest"]["properties"]["scopes"]
    assert scopes["type"] == "array" and len(scopes["items"]["oneOf"]) == 3


def test_properties_object(spec):
    field = spec["components"]["schemas"]["Site"]["properties"]["properties"]
    assert field["type"] == "object"
    assert field["additionalProperties"] == {"type": "string"}
    assert "key" in field["description"]


def test_blank_alternatives_are_not_exclusive(spec):
    """An optional e-mail may be "" which its pattern also allows: `anyOf`, as `oneOf` would refuse ""."""
    field = spec["components"]["schemas"]["SiteRequest"]["properties"]["alarm_email"]
    assert "oneOf" not in field
    assert {"type": "string", "maxLength": 0} in field["anyOf"]


# ---------------------------------------------------------------- writes


@pytest.mark.parametrize("prefix,viewset", BULK, ids=[prefix for prefix, _ in BULK])
def test_bulk_writes(spec, prefix, viewset):
    item = spec["paths"][list_path(prefix)]
    basename = prefix.replace("-", "_")
    bulk = (("put", "bulk_update"), ("patch", "bulk_partial_update"), ("delete", "bulk_destroy"))
    offered = [(method, action) for method, action in bulk if method in viewset.http_method_names]
    assert [method for method, _ in offered] == [method for method, _ in bulk if method in item]
    for method, action in offered:
        operation = item[method]
        assert operation["operationId"] == f"{basename}_{action}"
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body["type"] == "array" and body["minItems"] == 1 and body["maxItems"] == MAX_BULK
        with_id = body["items"] if method == "delete" else body["items"]["allOf"][1]
        assert with_id["required"] == ["id"] and with_id["properties"]["id"]["type"] == "integer"
        assert "404" in operation["responses"]
    if "put" in item:
        assert item["put"]["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    if "patch" in item:
        assert "If-Match" in parameters(item["patch"], "header")
    if "delete" in item:
        assert "204" in item["delete"]["responses"]


def test_sites_offer_every_bulk_write(spec):
    assert {"get", "post", "put", "patch", "delete"} <= set(spec["paths"]["/api/v1/sites/"])


@pytest.mark.parametrize("prefix,viewset", CREATES, ids=[prefix for prefix, _ in CREATES])
def test_create_takes_one_or_a_list(spec, prefix, viewset):
    operation = spec["paths"][list_path(prefix)]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    one, many = body["oneOf"]
    assert many == {"type": "array", "items": one, "minItems": 1, "maxItems": MAX_BULK}
    reply = operation["responses"]["201"]["content"]["application/json"]["schema"]
    assert reply["oneOf"][1] == {"type": "array", "items": reply["oneOf"][0]}


def test_if_match_on_detail_writes(spec):
    item = spec["paths"]["/api/v1/sites/{id}/"]
    for method in ("put", "patch", "delete"):
        assert "If-Match" in parameters(item[method], "header")
        assert "412" in item[method]["responses"]
    assert "If-Match" not in parameters(item["get"], "header")


# ---------------------------------------------------------------- errors and authentication


def test_every_operation_documents_its_errors(spec):
    for path, method, operation in operations(spec):
        codes = set(operation["responses"])
        assert {"400", "401", "404", "429"} <= codes, (path, method)
        if method in WRITES:
            assert "403" in codes, (path, method)
        if method == "delete":
            assert "409" in codes, (path, method)
        if method in ("post", "put", "patch") and "405" not in codes:  # a taken name, a key that exists
            assert "409" in codes, (path, method)
        for code in codes & set(ERRORS):
            content = operation["responses"][code]["content"]
            assert resolve(spec, content["application/json"]["schema"]), (path, method, code)
    assert "Retry-After" in spec["paths"]["/api/v1/sites/"]["get"]["responses"]["429"]["headers"]


def test_error_components(spec):
    schemas = spec["components"]["schemas"]
    assert schemas["Error"]["required"] == ["detail"]
    assert schemas["Conflict"]["properties"]["dependents"]["type"] == "array"
    assert [choice["type"] for choice in schemas["ValidationError"]["oneOf"]] == ["object", "array"]
    site_delete = spec["paths"]["/api/v1/sites/{id}/"]["delete"]["responses"]["409"]
    assert site_delete["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Conflict"}
    # A write's 409 (a clash with stored data) has the messages of a 400.
    service_create = spec["paths"]["/api/v1/services/"]["post"]["responses"]["409"]
    assert service_create["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ValidationError"}


@pytest.mark.django_db
def test_documented_error_shapes_match_real_replies(spec, admin_client):
    """Replies of the real API have the documented error shapes (one request per kind)."""
    from jsonschema import Draft4Validator

    def check(response, name):
        schema = {**spec["components"]["schemas"][name], "components": spec["components"]}
        Draft4Validator(schema).validate(response.json())

    check(admin_client.get("/api/v1/sites/?colour=red"), "ValidationError")
    check(admin_client.get("/api/v1/sites/999999/"), "Error")
    check(admin_client.patch("/api/v1/sites/", [{"name": "x"}], content_type="application/json"), "ValidationError")
    assert Client().get("/api/v1/sites/", HTTP_AUTHORIZATION="Token egit_wrong").status_code == 401


def test_token_security_scheme(spec):
    scheme = spec["components"]["securitySchemes"]["tokenAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    assert {"tokenAuth": []} in spec["paths"]["/api/v1/sites/"]["post"]["security"]
    assert {} in spec["paths"]["/api/v1/sites/"]["get"]["security"]  # reads need no token


def test_list_filter_through_a_relation_path():
    """A ListFilter over a path (not a field of the model) is typed by its form field."""
    from django import forms

    from egiportal.api.schema import PortalFilterExtension
    from egiportal.api.viewsets import StrictFilterBackend
    from egiportal.filtersets import ListFilter
    from sites.models import Site

    extension = PortalFilterExtension(StrictFilterBackend())
    by_id = ListFilter(field_name="ngi__projects", base=forms.IntegerField(min_value=0), label="Project id")
    by_name = ListFilter(field_name="ngi__name", base=forms.CharField(), split=True)
    ids = extension.list_parameter(None, Site, "project_id", by_id)
    names = extension.list_parameter(None, Site, "ngi_name__in", by_name)
    assert ids["schema"]["items"] == {"type": "integer", "minimum": 0} and ids["explode"] is True
    assert "Project id" in ids["description"]
    assert names["schema"]["items"] == {"type": "string"} and names["explode"] is False
