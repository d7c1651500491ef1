"""Business operations of the endpoints app.

Every operation takes the acting user first, checks the role rules of specs/gocdb.md §5.5, validates
through the models and the business rules of §2.5–§2.6 and §8, writes inside one transaction and
records the change in the audit log.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from egiportal.services import (
    check_minimum_scopes,
    check_reserved_scopes,
    delete_audited,
    require,
    save_audited,
)
from sites.choices import Action

from .models import Downtime, EndpointLocation, Service

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
        raise ValidationError(
            {"hostname": f"A {service.service_type.name} service named {service.hostname} already exists."}
        )


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
    check_minimum_scopes(scopes, settings.MINIMUM_SCOPES)
    allowed = set(service.site.scopes.all())
    if service.pk:
        # A reserved scope the service already carries may stay (the helper's contract, as for sites).
        allowed |= set(Service.objects.get(pk=service.pk).scopes.all())
    check_reserved_scopes(actor, scopes, allowed, "site")


@transaction.atomic
def create_service(actor, service, scopes):
    """Add a service to a site: needs SITE_ADD_SERVICE on that site."""
    _check_parents(service)
    require(actor, Action.SITE_ADD_SERVICE, service.site, f"You may not add services to site {service.site}.")
    scopes = list(scopes)
    _service_rules(actor, service, scopes)
    return save_audited(actor, service, m2m={"scopes": scopes})


@transaction.atomic
def update_service(actor, service, scopes):
    """Edit a service (EDIT_OBJECT on its site). Moving it to another site is for administrators,
    and only while no ongoing or future downtime ties it to its current site."""
    stored = Service.objects.select_related("site").get(pk=service.pk)
    require(
        actor, Action.EDIT_OBJECT, stored, f"You may not edit service {stored}: you need a role on site {stored.site}."
    )
    _check_parents(service)
    if stored.site_id != service.site_id:
        _check_move(actor, stored)
    scopes = list(scopes)
    _service_rules(actor, service, scopes)
    return save_audited(actor, service, m2m={"scopes": scopes})


def _check_move(actor, stored):
    if not actor.is_superuser:
        raise PermissionDenied("Only portal administrators may move a service to another site.")
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
        delete_audited(actor, downtime, f"Deleted with service {service}")
    return delete_audited(actor, service)


def endpoint_name_clash(service, name, pk=None):
    """The error message when `service` already has another endpoint called `name`, else None."""
    clash = EndpointLocation.objects.filter(service=service, name=name.strip()).exclude(pk=pk)
    if name.strip() and clash.exists():
        return f"Service {service} already has an endpoint named {name.strip()}."
    return None


def _check_endpoint_name(endpoint):
    endpoint.name = (endpoint.name or "").strip()
    message = endpoint_name_clash(endpoint.service, endpoint.name, endpoint.pk)
    if message:
        raise ValidationError({"name": message})


def _endpoint_rules(endpoint):
    if endpoint.service_id is None:
        raise ValidationError({"service": "Choose the service of the endpoint."})
    if not endpoint.interface_name:
        # GOCDB's default: the interface is named after the service type.
        endpoint.interface_name = endpoint.service.service_type.name
    _check_endpoint_name(endpoint)


@transaction.atomic
def create_endpoint(actor, endpoint):
    """Add an endpoint location to a service (EDIT_OBJECT on the service's site)."""
    _endpoint_rules(endpoint)
    service = endpoint.service
    require(actor, Action.EDIT_OBJECT, service, f"You may not add endpoints to service {service}.")
    return save_audited(actor, endpoint)


@transaction.atomic
def update_endpoint(actor, endpoint):
    """Edit an endpoint location (EDIT_OBJECT on the service's site); it stays with its service."""
    stored = EndpointLocation.objects.select_related("service").get(pk=endpoint.pk)
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
