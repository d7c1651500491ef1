"""Business operations of the endpoints app.

Every operation takes the acting user first, checks the role rules of specs/gocdb.md §5.5, validates
through the models and the business rules of §2.5–§2.6 and §8, writes inside one transaction and
records the change in the audit log.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from egiportal import audit
from egiportal.choices import AuditAction
from egiportal.errors import Conflict, Forbidden
from egiportal.permissions import require
from egiportal.services import check_scopes, delete_audited, locked_row, save_audited
from sites.choices import Action, RoleStatus, RoleType
from sites.choices import AuditAction as SiteAction
from sites.models import Role

from .choices import AuditAction as EndpointAction
from .choices import Classification
from .models import Downtime, EndpointLocation, Service, ServiceGroup

# ---------------------------------------------------------------------------------------------
# Services (service endpoints) and endpoint locations
# ---------------------------------------------------------------------------------------------


def _check_parents(service):
    """Site and type are needed by every rule below; report them as field errors, not crashes."""
    errors = {}
    if service.site_id is None:
        errors["site"] = "Choose the site of the service."
    if service.service_type_id is None:
        errors["service_type"] = "Choose the type of the service."
    if errors:
        raise ValidationError(errors)


def check_unique_host(service):
    """(host name, type) is unique across sites; several of them inside one site are allowed (§2.5)."""
    clash = (
        Service.objects.filter(hostname__iexact=service.hostname, service_type_id=service.service_type_id)
        .exclude(site_id=service.site_id)
        .exclude(pk=service.pk)
    )
    if clash.exists():
        raise Conflict({"hostname": f"A {service.service_type.name} service named {service.hostname} already exists."})


def check_production_monitored(service):
    """Production implies monitored, unless the service type is exempt from monitoring (§7.3)."""
    if service.production and not service.monitored and not service.service_type.monitoring_exempt:
        raise ValidationError(
            {
                "monitored": f"A production service must be monitored ({service.service_type.name} services "
                "are not exempt from monitoring)."
            }
        )


def _service_rules(actor, service, scopes):
    service.full_clean()
    check_unique_host(service)
    check_production_monitored(service)
    check_scopes(actor, service, scopes, service.site, "site")


@transaction.atomic
def save_service(actor, service, *, scopes=None):
    """Add a service to a site (SITE_ADD_SERVICE there) or edit one (EDIT_OBJECT on its site), the one
    write path of services. `scopes` None: a new service takes its site's scopes, an edited one keeps
    its own. Moving a service to another site is for administrators, and only while no ongoing or
    future downtime ties it to its current site."""
    if service.pk is None:
        _check_parents(service)
        require(actor, Action.SITE_ADD_SERVICE, service.site, f"You may not add services to site {service.site}.")
        scopes = list(service.site.scopes.all() if scopes is None else scopes)
    else:
        stored = locked_row(service, "site")
        require(
            actor,
            Action.EDIT_OBJECT,
            stored,
            f"You may not edit service {stored}: you need a role on site {stored.site}.",
        )
        _check_parents(service)
        if stored.site_id != service.site_id:
            _check_move(actor, stored)
        scopes = list(stored.scopes.all() if scopes is None else scopes)
    _service_rules(actor, service, scopes)
    return save_audited(actor, service, m2m={"scopes": scopes})


def _check_move(actor, stored):
    if not actor.is_superuser:
        raise Forbidden("Only portal administrators may move a service to another site.")
    # A downtime belongs to exactly one site; moving a service out of a pending one would break that.
    if Downtime.objects.filter(services=stored, end__gt=timezone.now()).exists():
        raise ValidationError(
            {"site": f"Service {stored} has ongoing or future downtimes at {stored.site}; end or delete them first."}
        )


@transaction.atomic
def delete_service(actor, service):
    """Delete a service (EDIT_OBJECT on its site) with every downtime that affected only it (§2.5)."""
    require(actor, Action.EDIT_OBJECT, service, f"You may not delete service {service}: you need a role on its site.")
    own_downtimes = (
        Downtime.objects.filter(pk__in=service.downtimes.values("pk"))
        .annotate(n_services=Count("services"))
        .filter(n_services=1)
    )
    for downtime in own_downtimes:
        delete_audited(actor, downtime, message=f"Deleted with service {service}")
    return delete_audited(actor, service)


def endpoint_name_clash(service, name, pk=None):
    """The error message when `service` already has another endpoint called `name`, else None."""
    clash = EndpointLocation.objects.filter(service=service, name=name.strip()).exclude(pk=pk)
    if name.strip() and clash.exists():
        return f"Service {service} already has an endpoint named {name.strip()}."
    return None


def with_endpoint_defaults(endpoint):
    """GOCDB's defaults of a new endpoint: monitored as its service (when `monitored` is None, i.e. not
    given) and, for any endpoint, an empty interface named after the service type."""
    if endpoint.pk is None and endpoint.monitored is None:
        endpoint.monitored = endpoint.service.monitored
    if not endpoint.interface_name:
        endpoint.interface_name = endpoint.service.service_type.name
    return endpoint


def _endpoint_rules(endpoint):
    if endpoint.service_id is None:
        raise ValidationError({"service": "Choose the service of the endpoint."})
    with_endpoint_defaults(endpoint)
    endpoint.name = (endpoint.name or "").strip()
    message = endpoint_name_clash(endpoint.service, endpoint.name, endpoint.pk)
    if message:
        raise Conflict({"name": message})


@transaction.atomic
def save_endpoint(actor, endpoint):
    """Add an endpoint location to a service or edit one (EDIT_OBJECT on the service's site), the one
    write path of endpoints; an endpoint stays with the service it was created for."""
    if endpoint.pk is None:
        _endpoint_rules(endpoint)
        service = endpoint.service
        require(actor, Action.EDIT_OBJECT, service, f"You may not add endpoints to service {service}.")
        return save_audited(actor, endpoint)
    stored = locked_row(endpoint, "service")
    require(actor, Action.EDIT_OBJECT, stored, f"You may not edit endpoint {stored} of {stored.service}.")
    if stored.service_id != endpoint.service_id:
        raise ValidationError({"service": "An endpoint cannot be moved to another service."})
    _endpoint_rules(endpoint)
    return save_audited(actor, endpoint)


@transaction.atomic
def delete_endpoint(actor, endpoint):
    """Delete an endpoint location (EDIT_OBJECT on the service's site)."""
    require(actor, Action.EDIT_OBJECT, endpoint, f"You may not delete endpoint {endpoint} of {endpoint.service}.")
    return delete_audited(actor, endpoint)


# -- end services, endpoint locations --


# Declaring a downtime up to 48 h in the past is allowed (late declaration of an outage).
PAST_LIMIT = timedelta(hours=48)
# A downtime declared at least 24 h ahead is SCHEDULED; EGI policy then freezes it for the last 24 h.
NOTICE = timedelta(hours=24)
# "End now" ends a minute from now, so the end is never in the past when tools read it.
END_DELAY = timedelta(seconds=60)

MSG_NO_SERVICE = "A downtime must affect at least one service"
MSG_MULTI_SITE = "Downtime creation for multiple sites not supported yet"
MSG_START_AFTER_END = "A downtime cannot start after it's ended."
MSG_START_TOO_OLD = "The requested start time of the downtime must be within the last 48 hrs"
MSG_ENDED = "Can't edit a downtime that has already finished."
MSG_SCHEDULED_LOCKED = "Cannot edit or delete a SCHEDULED downtime starting within 24 hours."
MSG_EXTENDED = "Downtimes can't be extended - please add a new downtime."
MSG_START_IN_PAST = "Downtime start date can only be changed to a date in the future"
MSG_SCHEDULED_START = "A SCHEDULED downtime can't start less than 24 hours from now."
MSG_NOT_ONGOING = "Downtime isn't on-going."
MSG_STARTED = "This downtime has already started."


def classify(start, now=None):
    """SCHEDULED when announced more than 24 h ahead, else UNSCHEDULED (§7.1 rule 6)."""
    now = now or timezone.now()
    return Classification.SCHEDULED if start > now + NOTICE else Classification.UNSCHEDULED


def _affected(services, endpoints):
    """Services and endpoints of a downtime; selecting an endpoint adds its parent service (§7.1)."""
    endpoints = list(EndpointLocation.objects.filter(pk__in=[e.pk for e in endpoints]).select_related("service"))
    wanted = {s.pk for s in services} | {e.service_id for e in endpoints}
    services = list(Service.objects.filter(pk__in=wanted).select_related("site", "service_type"))
    if not services:
        raise ValidationError(MSG_NO_SERVICE)
    sites = {s.site for s in services}
    if len(sites) != 1:
        raise ValidationError(MSG_MULTI_SITE)
    return sites.pop(), services, endpoints


def _require_site(actor, site):
    require(actor, Action.EDIT_OBJECT, site, f"You do not have permission over {site}.")


def _check_dates(start, end, now):
    if start >= end:
        raise ValidationError({"end": MSG_START_AFTER_END})
    if start < now - PAST_LIMIT:
        raise ValidationError({"start": MSG_START_TOO_OLD})


def save_downtime(actor, downtime, *, services=None, endpoints=None):
    """Declare (§7.1 "addDowntime") or edit ("editDowntime") a downtime of services and endpoints of one
    site, the one write path of downtimes. `downtime` carries severity, description, start and end (UTC).

    On an edit, `services` None keeps the affected services, and `endpoints` None keeps the endpoints of
    the services that stay affected: those of a service that leaves go with it (else they would bring
    it back, see `_affected`).
    """
    if downtime.pk is None:
        return _declare_downtime(actor, downtime, services or (), endpoints or ())
    return _edit_downtime(actor, downtime, services, endpoints)


@transaction.atomic
def _declare_downtime(actor, downtime, services, endpoints):
    site, services, endpoints = _affected(services, endpoints)
    _require_site(actor, site)
    now = timezone.now()
    _check_dates(downtime.start, downtime.end, now)
    downtime.site = site
    downtime.classification = classify(downtime.start, now)
    return save_audited(actor, downtime, m2m={"services": services, "endpoints": endpoints}, saved=_declared)


def _declared(downtime):
    """GOCDB's identifier for new downtimes: "<id>G0"."""
    downtime.primary_key = f"{downtime.pk}G0"
    downtime.save(update_fields=["primary_key", "last_updated"])


def check_editable(downtime, now=None):
    """Raise ValidationError unless the stored downtime may still be edited (§7.1 "editDowntime")."""
    now = now or timezone.now()
    if downtime.end < now:
        raise ValidationError(MSG_ENDED)
    if downtime.classification == Classification.SCHEDULED and downtime.start < now + NOTICE:
        raise ValidationError(MSG_SCHEDULED_LOCKED)


def _check_edit_dates(stored, start, end, now):
    """The EGI "shortening and extension" policy: never longer; a moved start lies in the future."""
    if end - start > stored.end - stored.start:
        raise ValidationError({"end": MSG_EXTENDED})
    if start != stored.start and start < now:
        raise ValidationError({"start": MSG_START_IN_PAST})
    if stored.classification == Classification.SCHEDULED and start < now + NOTICE:
        raise ValidationError({"start": MSG_SCHEDULED_START})


@transaction.atomic
def _edit_downtime(actor, downtime, services, endpoints):
    """Needs EDIT_OBJECT on the site of the old and of the new services; reclassifies; replaces links."""
    stored = locked_row(downtime, "site")
    _require_site(actor, stored.site)
    now = timezone.now()
    check_editable(stored, now)
    if endpoints is None:
        kept = None if services is None else {s.pk for s in services}
        endpoints = [e for e in stored.endpoints.all() if kept is None or e.service_id in kept]
    if services is None:
        services = stored.services.all()
    site, services, endpoints = _affected(services, endpoints)
    _require_site(actor, site)
    _check_edit_dates(stored, downtime.start, downtime.end, now)
    _check_dates(downtime.start, downtime.end, now)
    downtime.site = site
    downtime.classification = classify(downtime.start, now)
    downtime.primary_key = stored.primary_key
    return save_audited(actor, downtime, m2m={"services": services, "endpoints": endpoints})


@transaction.atomic
def end_downtime(actor, downtime):
    """End an ongoing downtime a minute from now (§7.1 "endDowntime")."""
    downtime = locked_row(downtime, "site")
    _require_site(actor, downtime.site)
    now = timezone.now()
    if not downtime.start <= now < downtime.end:
        raise ValidationError(MSG_NOT_ONGOING)
    before = downtime.audit_state()
    # min(): ending "now" must never lengthen a downtime that ends within the minute anyway.
    downtime.end = min(downtime.end, now + END_DELAY)
    downtime.save(update_fields=["end", "last_updated"])
    audit.record(actor, EndpointAction.DOWNTIME_END, downtime, before, downtime.audit_state(), "Ended now")
    return downtime


@transaction.atomic
def delete_downtime(actor, downtime):
    """Delete a downtime that has not started; SCHEDULED ones not within 24 h of their start."""
    stored = locked_row(downtime, "site")
    _require_site(actor, stored.site)
    now = timezone.now()
    if stored.start <= now:
        raise ValidationError(MSG_STARTED)
    if stored.classification == Classification.SCHEDULED and stored.start < now + NOTICE:
        raise ValidationError(MSG_SCHEDULED_LOCKED)
    return delete_audited(actor, downtime)


def allowed_downtime_actions(downtime, can_edit_site, now=None):
    """Which of edit / end / delete the page should offer, given EDIT_OBJECT on the site."""
    now = now or timezone.now()
    if not can_edit_site:
        return {"edit": False, "end": False, "delete": False}
    locked = downtime.classification == Classification.SCHEDULED and downtime.start < now + NOTICE
    return {
        "edit": downtime.end >= now and not locked,
        "end": downtime.start <= now < downtime.end,
        "delete": downtime.start > now and not locked,
    }


# -- service groups ---------------------------------------------------------------------------------


def _group_rules(actor, group, scopes):
    check_scopes(actor, group, scopes)
    clash = ServiceGroup.objects.filter(name=group.name).exclude(pk=group.pk)
    if clash.exists():
        raise Conflict({"name": f"A service group named {group.name} already exists."})


@transaction.atomic
def save_service_group(actor, group, *, scopes=None, members=None):
    """Create or edit a service group, the one write path of groups. Any registered user creates one and
    becomes its Service Group Administrator (§2.10); editing needs EDIT_OBJECT on the group. `scopes`
    and `members` (the member services, of any site) None keep the stored ones (none for a new group).
    New members are applied as the difference to the stored ones, audited as "Services changed"."""
    new = group.pk is None
    if new and (actor is None or not actor.is_authenticated):
        raise Forbidden("Log in to create a service group.")
    stored = None if new else locked_row(group)
    if stored is not None:
        require(actor, Action.EDIT_OBJECT, stored, f"You may not edit service group {stored}.")
    if scopes is None:
        scopes = stored.scopes.all() if stored is not None else ()
    scopes = list(scopes)
    _group_rules(actor, group, scopes)
    save_audited(actor, group, m2m={"scopes": scopes})
    if members is not None:
        current, wanted = set(group.services.all()), set(members)
        if current != wanted:
            _change_members(actor, group, add=wanted - current, remove=current - wanted)
    if new:
        role = Role.objects.create(
            user=actor,
            role_type=RoleType.SERVICE_GROUP_ADMIN,
            owned_entity=group.ownedentity_ptr,
            status=RoleStatus.GRANTED,
        )
        audit.record(actor, SiteAction.ROLE_GRANT, role, None, role.snapshot(), "Creator of the service group")
    return group


@transaction.atomic
def delete_service_group(actor, group):
    """Delete a group; its roles and properties go with it, its services stay (EDIT_OBJECT)."""
    require(actor, Action.EDIT_OBJECT, group, f"You may not delete service group {group}.")
    return delete_audited(actor, group)


@transaction.atomic
def change_group_services(actor, group, add=(), remove=()):
    """Add and remove member services (of any site) in one audited step (EDIT_OBJECT on the group)."""
    require(actor, Action.EDIT_OBJECT, group, f"You may not change the services of service group {group}.")
    add, remove = list(add), list(remove)
    both = {s.pk for s in add} & {s.pk for s in remove}
    if both:
        raise ValidationError("A service cannot be added and removed at the same time.")
    if not add and not remove:
        raise ValidationError("Select services to add or to remove.")
    return _change_members(actor, group, add, remove)


def _change_members(actor, group, add, remove):
    before = locked_row(group).audit_state()
    group.services.add(*add)
    group.services.remove(*remove)
    group.save(update_fields=["last_updated"])
    audit.record(actor, AuditAction.UPDATE, group, before, group.audit_state(), "Services changed")
    return group
