"""Who may write (an API credential of the owning site) and the operations on properties, fields and endpoints."""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction

from egiportal import permissions
from egiportal import services as core
from egiportal.errors import CONFLICT, FORBIDDEN, NOT_FOUND, Conflict, error_code
from egiportal.identity import slash_dn
from sites.choices import Action
from sites.models import APICredential, Site

from .. import services
from ..models import EndpointLocation, Service
from .request import CONTROL, ENDPOINT, ENDPOINT_FIELDS, FIELDS, PROPERTIES, WriteError, docs, short

MAX_ID = 2**63 - 1  # larger ids cannot exist (64-bit keys): such entities are simply not found
CREDENTIAL_KINDS = set(APICredential.Kind.values)

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
    exempt from CSRF protection, so a session cookie must never authorise a write. Personal API tokens
    do not count either: the write API acts only for credentials registered by the site itself."""
    if caller.token is not None:
        raise WriteError(
            403,
            "A personal API token cannot use the write API: a site administrator registers a site API "
            "credential (a portal token, an X.509 DN or an OIDC subject) on the site page.",
        )
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
    if not permissions.authorise(credential.user, Action.EDIT_OBJECT, site):
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


def first_key(exc):
    """The key of the first pair or key a property service refused (its error's params name it)."""
    return short(exc.error_list[0].params["key"])


def set_properties(parent, actor, pairs, existing):
    """GOCDB answers every refusal of adding properties (a key that exists, the limit) with 409."""
    try:
        core.set_properties(actor, parent, list(pairs.items()), existing=existing)
    except ValidationError as exc:
        if error_code(exc) == CONFLICT:
            message = (
                f'A property with name "{first_key(exc)}" already exists for this object, no properties were added.'
            )
        else:
            message = " ".join(exc.messages)
        raise WriteError(409, message) from None


def post_properties(call, parent, actor):
    """Add all, or nothing when any key already exists."""
    set_properties(parent, actor, call.pairs, existing=core.REFUSE_EXISTING)


def put_properties(call, parent, actor):
    set_properties(parent, actor, call.pairs, existing=core.UPDATE_EXISTING)


def delete_properties(call, parent, actor):
    """Delete the listed keys (each must exist and match its value when one is given), or all of them."""
    try:
        core.delete_properties(actor, parent, call.pairs)
    except ValidationError as exc:
        code = error_code(exc)
        if code == NOT_FOUND:
            message = f'A property with key "{first_key(exc)}" could not be found for {parent}.'
        elif code == CONFLICT:
            message = (
                f'The value provided for the property with key "{first_key(exc)}" does not match the existing one.'
            )
        else:
            raise
        raise WriteError(404 if code == NOT_FOUND else 409, message + " No properties have been deleted.") from None


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
        services.save_service(actor, obj)
        return
    try:
        services.save_endpoint(actor, obj)
    except Conflict as exc:
        raise WriteError(409, f"Please provide a unique name for this endpoint. {' '.join(exc.messages)}") from None


# ---------------------------------------------------------------- operations: the endpoints of a service


def create_endpoint(service, fields, actor):
    """A new endpoint: url required; save_endpoint gives the defaults of what is not given (monitoring
    as the service's, the interface named after its type)."""
    if not fields.get("url"):
        raise WriteError(400, "A URL must be specified when adding new endpoints.")
    values = {"monitored": None, **{ENDPOINT_FIELDS[name]: value for name, value in fields.items()}}
    try:
        services.save_endpoint(actor, EndpointLocation(service=service, **values))
    except Conflict:
        name = short(values["name"])
        raise WriteError(409, f"An endpoint named {name} already exists for the {service.hostname} service.") from None


def post_endpoint(call, service, actor):
    create_endpoint(service, call.pairs, actor)


def put_endpoint(call, service, actor):
    """Update the endpoint with this name, or create it."""
    endpoint = service.endpoints.filter(name=call.pairs["name"]).first()
    if endpoint is None:
        return create_endpoint(service, call.pairs, actor)
    endpoint.service = service
    for name, value in call.pairs.items():
        setattr(endpoint, ENDPOINT_FIELDS[name], value)
    services.save_endpoint(actor, endpoint)


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
    except (ValidationError, PermissionDenied, IntegrityError) as exc:
        raise write_error(exc, credential) from None


def write_error(exc, credential):
    """GOCDB's reply to a service's error code."""
    code = error_code(exc)
    if code == FORBIDDEN:
        return owner_lacks_role(credential)
    if isinstance(exc, IntegrityError):  # a concurrent request added the same key or name first
        return WriteError(409, "The change conflicts with a concurrent change; nothing was changed.")
    if code == CONFLICT:
        return WriteError(409, " ".join(exc.messages))
    if code == NOT_FOUND:
        return WriteError(404, " ".join(exc.messages))
    # GOCDB refuses a production service that is not monitored with 403 (validateProductionMonitoredCombination).
    if "monitored" in getattr(exc, "error_dict", {}):
        return WriteError(403, " ".join(exc.messages))
    return WriteError(400, describe(exc))


def describe(exc):
    if hasattr(exc, "error_dict"):
        return " ".join(f"{field}: {message}" for field, messages in exc.message_dict.items() for message in messages)
    return " ".join(exc.messages)
