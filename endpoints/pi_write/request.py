"""The write API's request checks: URL and method, JSON body, and the format of every value."""

import json
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from sites.models import Site, SiteProperty

from ..models import EndpointLocation, EndpointProperty, Service, ServiceProperty

METHODS = ("POST", "PUT", "DELETE")
PROPERTIES, ENDPOINT = "extensionproperties", "endpoint"

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
