"""PI methods get_service_group and get_service_group_role."""

from collections import defaultdict

from django.db.models import Prefetch

from egiportal.models import Identity
from egiportal.pi import (
    Listing,
    extensions_filter,
    grouped,
    scope_filter,
    url_template,
    yes_no,
)
from egiportal.pixml import Writer
from sites.models import Role

from ..models import (
    ServiceGroup,
    ServiceGroupProperty,
)
from .service_endpoints import PROPERTY_COLUMNS, ServiceChildren, write_extensions, write_scopes

# ---------------------------------------------------------------- get_service_group, get_service_group_role

GROUP_PARAMS = frozenset({"service_group_name", "scope", "scope_match"})
GROUP_COLUMNS = ("pk", "name", "description", "monitored", "email")
MEMBER_COLUMNS = ("hostname", "service_type__name", "ip_address", "ipv6_address", "dn", "production", "monitored")


def filter_groups(query):
    qs = query.like(ServiceGroup.objects.all(), "service_group_name", "name")
    qs = scope_filter(query, qs)
    return extensions_filter(query, qs).values_list(*GROUP_COLUMNS, named=True)


def group_writer(group, url):
    """`<SERVICE_GROUP>` opened, with NAME, DESCRIPTION, MONITORED, CONTACT_EMAIL and GOCDB_PORTAL_URL."""
    w = Writer("SERVICE_GROUP", ID=group.pk, PRIMARY_KEY=f"{group.pk}G0")
    w.leaf("NAME", group.name)
    w.leaf("DESCRIPTION", group.description)
    w.leaf("MONITORED", yes_no(group.monitored))
    w.leaf("CONTACT_EMAIL", group.email)
    w.leaf("GOCDB_PORTAL_URL", url.format(group.pk))
    return w


def get_service_group(query):
    group_url, service_url = url_template("endpoints:servicegroup"), url_template("endpoints:service")

    def render(groups):
        """Members (fewer children than get_service's, all always present), then the group's scopes
        and extensions; six queries per page or batch."""
        ids = [group.pk for group in groups]
        links = ServiceGroup.services.through.objects.filter(servicegroup_id__in=ids).order_by("service_id")
        members = grouped(
            links.values_list("servicegroup_id", "service_id", *(f"service__{c}" for c in MEMBER_COLUMNS))
        )
        children = ServiceChildren.of(sorted({row[1] for rows in members.values() for row in rows}))
        scopes = ServiceGroup.scopes.through.objects.filter(servicegroup_id__in=ids).order_by("scope_id")
        scopes = grouped(scopes.values_list("servicegroup_id", "scope__name"))
        properties = ServiceGroupProperty.objects.filter(parent_id__in=ids).order_by("pk")
        properties = grouped(properties.values_list(*PROPERTY_COLUMNS))
        for group in groups:
            w = group_writer(group, group_url)
            for _, service_id, hostname, type_name, ip, ipv6, dn, production, monitored in members.get(group.pk, ()):
                w.open("SERVICE_ENDPOINT", PRIMARY_KEY=f"{service_id}G0")
                w.leaf("HOSTNAME", hostname)
                w.leaf("GOCDB_PORTAL_URL", service_url.format(service_id))
                w.leaf("SERVICE_TYPE", type_name)
                w.leaf("HOST_IP", ip)
                w.leaf("HOST_IPV6", ipv6)
                w.leaf("HOSTDN", dn)
                w.leaf("IN_PRODUCTION", yes_no(production))
                w.leaf("NODE_MONITORED", yes_no(monitored))
                children.write(w, service_id, with_email=True)
                w.close("SERVICE_ENDPOINT")
            write_scopes(w, scopes.get(group.pk, ()))
            write_extensions(w, properties.get(group.pk, ()))
            yield w.done("SERVICE_GROUP")

    return Listing(filter_groups(query), render)


def get_service_group_role(query):
    url = url_template("endpoints:servicegroup")

    def render(groups):
        """Every role over each group, pending ones included (GOCDB quirk, §13.7); two queries per page
        or batch. CERTDN is the user's default identity; users have no public page (empty URL)."""
        roles = Role.objects.filter(owned_entity_id__in=[group.pk for group in groups]).select_related("user")
        roles = roles.prefetch_related(Prefetch("user__identities", queryset=Identity.objects.order_by("pk")))
        by_group = defaultdict(list)
        for role in roles.order_by("pk"):
            by_group[role.owned_entity_id].append(role)
        for group in groups:
            w = group_writer(group, url)
            for role in by_group[group.pk]:
                w.open("USER")
                w.leaf("FORENAME", role.user.first_name)
                w.leaf("SURNAME", role.user.last_name)
                w.leaf("CERTDN", role.user.default_identity())
                w.leaf("GOCDB_PORTAL_URL")
                w.leaf("ROLE", role.get_role_type_display())
                w.close("USER")
            yield w.done("SERVICE_GROUP")

    return Listing(filter_groups(query), render)
