"""The GOCDB write API (specs/gocdb.md §12): JSON requests to
`/gocdbpi/v5/{site|service|endpoint}/{id}/{property}[/{key}]` that change extension properties, the
fields of services and endpoints, and the endpoints of a service.

A request is checked in GOCDB's order: URL and method (400/405), body (413/400), field formats (400),
"is the caller authenticated at all" (403), the entity (404), "is the caller's identifier a
write-enabled API credential of the owning site" (403), then the operation (405/409/400/501).
Writes go through the same services as browser edits, acting as the credential's owner, so they are
validated, all-or-nothing and audited alike. Success is 204 without a body or Content-Type; errors
are `{"Error": {"Code": ..., "Message": ..., "API-Documentation": ...}}` with that HTTP status.
"""

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.db import IntegrityError, models, transaction
from django.http import HttpResponse, JsonResponse

from egiportal import services as core
from egiportal.context import current_request_id, noting
from egiportal.pi import identify, slash_dn
from sites.choices import Action
from sites.models import APICredential, Site, SiteProperty
from sites.roles import authorise

from . import services
from .models import EndpointLocation, EndpointProperty, Service, ServiceProperty

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # bytes; GOCDB's bodies are a handful of short strings
MAX_ID = 2**63 - 1  # larger ids cannot exist (64-bit keys): such entities are simply not found
METHODS = ("POST", "PUT", "DELETE")
PROPERTIES, ENDPOINT = "extensionproperties", "endpoint"
CREDENTIAL_KINDS = set(APICredential.Kind.values)

# The write API's names of service and endpoint fields, and the model fields behind them.
SERVICE_FIELDS = {
    "hostname": "hostname",
    "description": "description",
    "production": "production",
    "beta": "beta",
    "monitored": "monitored",
    "notify": "notify",
    "host_dn": "dn",
    "host_ip": "ip_address",
    "host_ip_v6": "ipv6_address",
    "host_os": "operating_system",
    "host_arch": "architecture",
    "url": "url",
    "email": "email",
}
ENDPOINT_FIELDS = {
    "name": "name",
    "url": "url",
    "interfacename": "interface_name",
    "description": "description",
    "email": "email",
    "monitored": "monitored",
}
FIELDS = {"site": (Site, {}), "service": (Service, SERVICE_FIELDS), "endpoint": (EndpointLocation, ENDPOINT_FIELDS)}
PROPERTY_MODELS = {"site": SiteProperty, "service": ServiceProperty, "endpoint": EndpointProperty}

# C0/C1 control characters other than tab and line breaks (which the field formats judge), and lone
# surrogates: PostgreSQL refuses NUL and no database stores a surrogate, so they must never reach a save.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class WriteError(Exception):
    """A refused request: the HTTP status and GOCDB's message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Call:
    """A parsed request. `value` is the single value of `{"value": ...}`; `pairs` the object of an
    extension-properties or endpoint body (None when there was none)."""

    method: str
    entity_type: str
    entity_id: int
    prop: str
    key: str | None = None
    value: object = None
    pairs: dict | None = None

    def describe(self):
        return f"{short(self.entity_type)}'s {short(self.prop)}"


def docs():
    return settings.WRITE_API_DOCS_URL


def short(text, limit=100):
    """User-supplied text quoted in a message, cut to a readable length."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "…"


# ---------------------------------------------------------------- URL, method and body


def url_format():
    return (
        f"API requests should take the form {settings.PORTAL_URL}/gocdbpi"
        f"/APIVERSION/ENTITYTYPE/ENTITYID/ENTITYPROPERTY/[ENTITYPROPERTYKEY]. For more details see: {docs()}"
    )


def parse_url(path, method):
    """The Call of `path` (the part after /gocdbpi/) and `method`, or 400/405 as GOCDB answers."""
    # Empty segments (doubled or trailing slashes) are ignored, as Apache and GOCDB do.
    parts = [part for part in path.split("/") if part]
    if len(parts) not in (4, 5):
        raise WriteError(400, "Request URL has the wrong number of elements. " + url_format())
    version, entity_type, entity_id, prop, *rest = parts
    if version.lower() != "v5":
        raise WriteError(400, f'Unsupported API version: "{short(version.lower())}". ' + url_format())
    if not re.fullmatch(r"-?[0-9]{1,30}", entity_id):
        raise WriteError(
            400, f'Entity ID\'s should be integers. "{short(entity_id)}" is not an integer. ' + url_format()
        )
    if method == "GET":
        raise WriteError(
            405,
            '"GET" is not currently a supported request method. '
            f"Try the other API: {settings.PORTAL_URL}/gocdbpi/public/ (see {docs()})",
        )
    if method not in METHODS:
        raise WriteError(
            405, f'"{short(method)}" is not currently a supported request method. For more details see: {docs()}'
        )
    return Call(method, entity_type.lower(), int(entity_id), prop.lower(), rest[0] if rest else None)


def too_big():
    return WriteError(413, f"The request body is larger than {MAX_BODY} bytes.")


def read_body(request):
    """The raw body, at most MAX_BODY bytes (refused before reading when Content-Length says more)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        raise too_big()
    try:
        raw = request.read(MAX_BODY + 1)
    except RequestDataTooBig:
        raise too_big() from None
    if len(raw) > MAX_BODY:
        raise too_big()
    return raw


def unique_members(pairs):
    """object_pairs_hook: a member given twice is an error, not silently the last one."""
    data = {}
    for key, value in pairs:
        if key in data:
            raise WriteError(400, f'The JSON member "{short(key)}" is given more than once.')
        data[key] = value
    return data


def reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def decode_json(raw):
    """The body as a flat JSON object (GOCDB decodes with a maximum depth of 2)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WriteError(400, "The request body is not valid UTF-8.") from None
    try:
        data = json.loads(text, object_pairs_hook=unique_members, parse_constant=reject_constant)
    except RecursionError:  # the decoder recurses per level: thousands of "[" exhaust the stack
        raise WriteError(400, "The JSON message is nested too deeply.") from None
    except ValueError:
        raise WriteError(
            400,
            f"The JSON message is not correctly formatted. For more information on correctly formatting your request, see {docs()}",
        ) from None
    if not isinstance(data, dict):
        raise WriteError(
            400,
            'The JSON message must be an object such as {"value": "..."} or {"key": "value"}, not an array or a single value.',
        )
    if any(isinstance(value, (dict, list)) for value in data.values()):
        raise WriteError(400, "The JSON message is nested too deeply: member values must be strings or booleans.")
    return data


def parse_body(call, raw):
    """Put the body into `call.pairs` (extension properties without a key, endpoints) or `call.value`."""
    if not raw:
        return
    data = decode_json(raw)
    prop = short(call.prop)
    if call.prop == ENDPOINT or (call.prop == PROPERTIES and call.key is None):
        if not data:
            raise WriteError(
                400, f"Please specify the properties you wish to change. For more information see {docs()}"
            )
        call.pairs = data
        return
    hint = f'This should be provided in a JSON string {{"value":"<value for "{prop}">"}}, with no other pairs present.'
    if data.get("value") is None:
        raise WriteError(400, f'A value for "{prop}" should be provided. {hint}')
    if len(data) > 1:
        raise WriteError(400, f'Only one value for "{prop}" should be provided. {hint}')
    call.value = data["value"]


# ---------------------------------------------------------------- field formats


def check_text(value, what):
    """`value` if it is a JSON string without control characters, else 400."""
    if not isinstance(value, str):
        raise WriteError(400, f"{what} must be a JSON string.")
    if CONTROL.search(value):
        raise WriteError(400, f"{what} contains a control character.")
    return value


def clean_value(field, label, value):
    """`value` checked against the model field's type and format (§4), trimmed as forms trim it."""
    if isinstance(field, models.BooleanField):
        if not isinstance(value, bool):
            raise WriteError(400, f"{label} must be a JSON boolean (true or false).")
        return value
    text = check_text(value, label).strip()
    if len(text) > field.max_length:  # before the patterns, so that a huge value costs nothing
        raise WriteError(400, f"{label} may not be more than {field.max_length} characters.")
    try:
        field.clean(text, None)
    except ValidationError as exc:
        raise WriteError(400, f"{label} is not valid: {' '.join(exc.messages)}") from None
    return text


def clean_properties(model, pairs, deleting):
    """Checked, trimmed keys and values; on DELETE an empty value (or null) means "whatever it is"."""
    key_field, value_field = model._meta.get_field("key"), model._meta.get_field("value")
    cleaned = {}
    for key, value in pairs.items():
        name = clean_value(key_field, f'The property key "{short(key)}"', key)
        if name in cleaned:
            raise WriteError(400, f'The property key "{short(name)}" is given twice.')
        empty = value is None or value == ""
        cleaned[name] = None if deleting and empty else clean_value(value_field, f'The value of "{short(name)}"', value)
    return cleaned


def clean_endpoint(pairs):
    """The fields of an endpoint body, names compared case-insensitively; `name` is mandatory."""
    fields = {}
    for key, value in pairs.items():
        name = check_text(key, "An endpoint field name").lower()
        if name not in ENDPOINT_FIELDS:
            raise WriteError(
                400, f'"{short(key)}" is not an endpoint field; the fields are {", ".join(ENDPOINT_FIELDS)}.'
            )
        if name in fields:
            raise WriteError(400, f'The endpoint field "{name}" is given twice.')
        field = EndpointLocation._meta.get_field(ENDPOINT_FIELDS[name])
        fields[name] = clean_value(field, f'The value of "{name}"', value)
    if not fields.get("name"):
        raise WriteError(400, "A name must be specified when adding new endpoints.")
    return fields


KEY_ONLY_FOR_PROPERTIES = (
    "The API currently only supports specifying a key (5th URL element) in the URL for extension properties "
    "or deletion of endpoints."
)


def validate_endpoint_call(call):
    if call.entity_type != "service":
        raise WriteError(400, f"Endpoints should only be specified for Services, not {short(call.entity_type)}.")
    if call.method != "DELETE":
        if call.key is not None:
            raise WriteError(400, KEY_ONLY_FOR_PROPERTIES)
        if call.pairs is None:
            raise WriteError(400, "For methods other than 'DELETE' a value or set of values must be provided.")
        call.pairs = clean_endpoint(call.pairs)
        return
    if call.pairs is not None:
        raise WriteError(400, "Deleting an endpoint takes its ID in the URL and no request body.")
    if call.key is None:
        raise WriteError(400, "The ID of the endpoint must be specified.")
    if not re.fullmatch(r"[0-9]{1,30}", call.key):
        raise WriteError(400, "The ID of the endpoint must be an integer.")


def validate(call):
    """The shape of the request and the format of every value, before anyone is looked up (§12)."""
    if call.prop == ENDPOINT:
        return validate_endpoint_call(call)
    if call.key is not None and call.prop != PROPERTIES:
        raise WriteError(400, KEY_ONLY_FOR_PROPERTIES)
    if call.pairs is None and call.value is None:
        if call.method != "DELETE":
            raise WriteError(400, "For methods other than 'DELETE' a value or set of values must be provided.")
        if call.prop != PROPERTIES:
            raise WriteError(
                400, "The API currently only supports deleting without specifying values for extension properties."
            )
    if call.prop == PROPERTIES and call.key is not None:
        call.pairs = {call.key: call.value}
    model, fields = FIELDS.get(call.entity_type, (None, {}))
    if call.prop == PROPERTIES and call.pairs is not None and call.entity_type in PROPERTY_MODELS:
        call.pairs = clean_properties(PROPERTY_MODELS[call.entity_type], call.pairs, call.method == "DELETE")
    elif call.prop in fields and call.value is not None:
        call.value = clean_value(model._meta.get_field(fields[call.prop]), f'The value of "{call.prop}"', call.value)
    # Other entity types and properties are refused with 501 once the caller is known, as in GOCDB.


# ---------------------------------------------------------------- who may write


@dataclass(frozen=True)
class EntityType:
    """How to find an entity of the write API and the site that owns it."""

    queryset: Callable
    site: Callable
    missing: str


ENTITY_TYPES = {
    "site": EntityType(
        lambda: Site.objects.all(), lambda site: site, "A site with the specified id could not be found"
    ),
    "service": EntityType(
        lambda: Service.objects.select_related("site", "service_type"),
        lambda service: service.site,
        "A service with the specified id could not be found",
    ),
    "endpoint": EntityType(
        lambda: EndpointLocation.objects.select_related("service__site", "service__service_type"),
        lambda endpoint: endpoint.service.site,
        "An endpoint with the specified ID could not be found",
    ),
}


def check_identity_headers(request):
    """Refuse a front-proxy identity that no database can hold (a NUL, which an RFC 2253 `\\00` escape
    also yields) before identify() looks it up: PostgreSQL would fail the query."""
    for header in (settings.PI_CLIENT_DN_HEADER, settings.PI_OIDC_SUBJECT_HEADER):
        value = request.headers.get(header, "") if header else ""
        if CONTROL.search(value) or CONTROL.search(slash_dn(value.strip())):
            raise WriteError(403, "The identity presented through the front proxy contains control characters.")


def authenticated(caller):
    """The caller if it presented an API identifier at all. Browser sessions do not count: the API is
    exempt from CSRF protection, so a session cookie must never authorise a write."""
    if not caller.identifier or caller.kind not in CREDENTIAL_KINDS:
        raise WriteError(
            403,
            "You need to be authenticated to access this resource. "
            "Please provide a valid IGTF X.509 Certificate, an OIDC token or a portal API token",
        )
    return caller


def entity_type(call):
    kind = ENTITY_TYPES.get(call.entity_type)
    if kind is None:
        raise WriteError(
            501,
            f"Updating {short(call.entity_type)}s is not currently supported through the API, "
            f"for details of the currently supported methods see: {docs()}",
        )
    return kind


def find(kind, pk):
    entity = kind.queryset().filter(pk=pk).first() if abs(pk) <= MAX_ID else None
    if entity is None:
        raise WriteError(404, kind.missing)
    return entity


def write_credential(caller, site):
    """The caller's usable, write-enabled credential on `site` (GOCDB requires allowAPIWrite only when
    personal data is restricted; we always do). Records its use."""
    if caller.kind == APICredential.Kind.TOKEN:
        # A portal token belongs to exactly one site.
        credential = caller.credential if caller.credential.site_id == site.pk else None
    else:
        credential = (
            APICredential.objects.usable()
            .filter(site=site, kind=caller.kind, identifier=caller.identifier)
            .select_related("user")
            .first()
        )
    if credential is None or not credential.allow_write:
        reason = "" if credential is None else " (its API credential is registered without write access)"
        raise WriteError(
            403,
            f'The {caller.kind} identifier "{short(caller.identifier)}" is not authorised to alter the {site} site{reason}',
        )
    # Credentials act with their owner's rights: one whose owner lost the role must be renewed.
    if not authorise(credential.user, Action.EDIT_OBJECT, site):
        raise owner_lacks_role(credential)
    credential.touch()
    return credential


def owner_lacks_role(credential):
    return WriteError(
        403,
        f'The API credential "{short(credential.identifier)}" of site {credential.site} is owned by '
        f"{credential.user.username}, who no longer holds a role allowing this change. "
        "A current administrator of the site must renew the credential.",
    )


# ---------------------------------------------------------------- operations: extension properties


def set_properties(parent, actor, pairs, overwrite):
    """GOCDB answers every failure of adding properties (a key that exists, the limit) with 409."""
    try:
        core.set_properties(actor, parent, list(pairs.items()), overwrite=overwrite)
    except ValidationError as exc:
        raise WriteError(409, " ".join(exc.messages)) from None


def post_properties(call, parent, actor):
    """Add all, or nothing when any key already exists."""
    existing = parent.properties.filter(key__in=list(call.pairs)).values_list("key", flat=True).first()
    if existing is not None:
        raise WriteError(
            409, f'A property with name "{short(existing)}" already exists for this object, no properties were added.'
        )
    set_properties(parent, actor, call.pairs, overwrite=False)


def put_properties(call, parent, actor):
    set_properties(parent, actor, call.pairs, overwrite=True)


def delete_properties(call, parent, actor):
    """Delete the listed keys (each must exist and match its value when one is given), or all of them."""
    if call.pairs is None:
        keys = list(parent.properties.values_list("key", flat=True))
    else:
        stored = dict(parent.properties.filter(key__in=list(call.pairs)).values_list("key", "value"))
        for key, value in call.pairs.items():
            if key not in stored:
                raise WriteError(
                    404,
                    f'A property with key "{short(key)}" could not be found for {parent}. No properties have been deleted.',
                )
            if value is not None and stored[key] != value:
                raise WriteError(
                    409,
                    f'The value provided for the property with key "{short(key)}" does not match the existing one. '
                    "No properties have been deleted.",
                )
        keys = list(call.pairs)
    core.delete_properties(actor, parent, keys)


PROPERTY_OPERATIONS = {"POST": post_properties, "PUT": put_properties, "DELETE": delete_properties}


# ---------------------------------------------------------------- operations: service and endpoint fields


def set_field(call, obj, actor, name):
    """POST sets a field that is still empty (never a flag, which always has a value); PUT overwrites."""
    is_flag = isinstance(obj._meta.get_field(name), models.BooleanField)
    if call.method == "POST" and is_flag:
        raise WriteError(405, f"The post method is not supported for boolean values. For more details see: {docs()}")
    if call.method == "POST" and getattr(obj, name):
        raise WriteError(
            409,
            f"{call.prop} has already been set for this {call.entity_type}. Consider using a PUT request. "
            f"For more details see: {docs()}",
        )
    if call.method not in ("POST", "PUT"):
        raise WriteError(
            405,
            f'"{call.method}" is not currently a supported request method for altering {call.describe()} . '
            f"For more details see: {docs()}",
        )
    setattr(obj, name, call.value)
    if isinstance(obj, Service):
        save_service(obj, actor, name)
    else:
        save_endpoint(obj, actor, name)


def save_service(service, actor, name):
    # GOCDB refuses a production service that is not monitored with 403 (validateProductionMonitoredCombination).
    try:
        services.check_production_monitored(service)
    except ValidationError as exc:
        raise WriteError(403, " ".join(exc.messages)) from None
    if name == "hostname":
        try:
            services.check_unique_host(service)
        except ValidationError as exc:
            raise WriteError(409, " ".join(exc.messages)) from None
    services.update_service(actor, service, list(service.scopes.all()))


def save_endpoint(endpoint, actor, name):
    clash = name == "name" and services.endpoint_name_clash(endpoint.service, endpoint.name, endpoint.pk)
    if clash:
        raise WriteError(409, f"Please provide a unique name for this endpoint. {clash}")
    services.update_endpoint(actor, endpoint)


# ---------------------------------------------------------------- operations: the endpoints of a service


def create_endpoint(service, fields, actor):
    """A new endpoint: url required; the interface defaults to the type, monitoring to the service's."""
    if not fields.get("url"):
        raise WriteError(400, "A URL must be specified when adding new endpoints.")
    values = {ENDPOINT_FIELDS[name]: value for name, value in fields.items()}
    values.setdefault("monitored", service.monitored)
    services.create_endpoint(actor, EndpointLocation(service=service, **values))


def post_endpoint(call, service, actor):
    name = call.pairs["name"]
    if service.endpoints.filter(name=name).exists():
        raise WriteError(409, f"An endpoint named {short(name)} already exists for the {service.hostname} service.")
    create_endpoint(service, call.pairs, actor)


def put_endpoint(call, service, actor):
    """Update the endpoint with this name, or create it."""
    endpoint = service.endpoints.filter(name=call.pairs["name"]).first()
    if endpoint is None:
        return create_endpoint(service, call.pairs, actor)
    endpoint.service = service
    for name, value in call.pairs.items():
        setattr(endpoint, ENDPOINT_FIELDS[name], value)
    services.update_endpoint(actor, endpoint)


def delete_endpoint(call, service, actor):
    pk = int(call.key)
    endpoint = EndpointLocation.objects.select_related("service").filter(pk=pk).first() if pk <= MAX_ID else None
    if endpoint is None:
        raise WriteError(404, "An endpoint with the specified ID could not be found")
    if endpoint.service_id != service.pk:
        raise WriteError(400, "The endpoint specified does not belong to the service specified")
    services.delete_endpoint(actor, endpoint)


ENDPOINT_OPERATIONS = {"POST": post_endpoint, "PUT": put_endpoint, "DELETE": delete_endpoint}


def apply(call, entity, actor):
    """Perform the validated call on `entity` as `actor`."""
    if call.prop == PROPERTIES:
        return PROPERTY_OPERATIONS[call.method](call, entity, actor)
    if call.prop == ENDPOINT and call.entity_type == "service":
        return ENDPOINT_OPERATIONS[call.method](call, entity, actor)
    fields = FIELDS[call.entity_type][1]
    if call.prop in fields:
        return set_field(call, entity, actor, fields[call.prop])
    raise WriteError(
        501,
        f"Updating a {call.describe()} is not currently supported through the API, "
        f"for details of the currently supported methods see: {docs()}",
    )


def perform(call, entity, credential):
    """Run the operation in one transaction; map the services' refusals to the API's codes."""
    try:
        with transaction.atomic():
            apply(call, entity, credential.user)
    except PermissionDenied:
        raise owner_lacks_role(credential) from None
    except ValidationError as exc:
        raise WriteError(400, describe(exc)) from None
    except IntegrityError:  # a concurrent request added the same key or name first
        raise WriteError(409, "The change conflicts with a concurrent change; nothing was changed.") from None


def describe(exc):
    if hasattr(exc, "error_dict"):
        return " ".join(f"{field}: {message}" for field, messages in exc.message_dict.items() for message in messages)
    return " ".join(exc.messages)


# ---------------------------------------------------------------- the view


def error_response(code, message):
    body = {"Error": {"Code": code, "Message": message, "API-Documentation": docs()}}
    response = JsonResponse(body, status=code)
    if code == 405:
        response["Allow"] = ", ".join(METHODS)
    return response


def handle(http_request, path):
    call = parse_url(path, http_request.method)
    parse_body(call, read_body(http_request))
    validate(call)
    check_identity_headers(http_request)
    caller = authenticated(identify(http_request))
    kind = entity_type(call)
    entity = find(kind, call.entity_id)
    credential = write_credential(caller, kind.site(entity))
    with noting(f"via the write API, {credential.get_kind_display()} {credential.identifier}"):
        perform(call, entity, credential)


def write_view(http_request, request):
    """`/gocdbpi/<request>`: `request` is the path after /gocdbpi/ (GOCDB's rewrite parameter name).

    Exempt from CSRF checks (clients are programs, and only API credentials authorise a write).
    """
    try:
        handle(http_request, request)
    except WriteError as exc:
        return error_response(exc.code, exc.message)
    except Exception:
        # Clients expect GOCDB's JSON error form even here; the traceback goes to the log.
        logger.exception("Write API request failed: %s %s", http_request.method, http_request.path)
        return error_response(
            500,
            "Internal error. Please contact the portal administrators. "
            f"Message: unexpected failure (request id {current_request_id()})",
        )
    response = HttpResponse(status=204)
    del response["Content-Type"]
    return response


# What @csrf_exempt sets; its wrapper's own `request` parameter would clash with the URL's `request`.
write_view.csrf_exempt = True
