"""PI methods answered from sites: sites, NGIs, projects, users, contacts and certification
(specs/gocdb.md §11.8). Element names, order and empty elements follow GOCDB exactly.

Role names in the output (ROLE_NAME, USER_ROLE) and in `roletype` are GOCDB's role type names, the
labels of `RoleType`. Contacts and user roles list GRANTED roles only. We do not store a user's
title, working hours, legacy SSO user name or home site, nor is there a user detail page, so those
elements are present and empty.
"""

from datetime import UTC

from django.contrib.auth import get_user_model
from django.db.models import Count, Prefetch
from django.db.models.functions import Lower

from egiportal.models import Identity, related_count
from egiportal.pi import (
    PRIVATE,
    PROTECTED,
    PUBLIC,
    Listing,
    Method,
    extensions_filter,
    grouped,
    scope_filter,
    url_template,
)
from egiportal.pixml import element, sub, sub_if

from .choices import EntityKind, Infrastructure, RoleStatus, RoleType
from .models import NGI, CertificationStatusLog, Country, Project, Role, Scope, Site, SiteProperty

SITE_PARAMS = frozenset(
    {
        "sitename",
        "roc",
        "country",
        "certification_status",
        "exclude_certification_status",
        "production_status",
        "scope",
        "scope_match",
        "extensions",
    }
)
ROLE_VALUES = {label: value for value, label in RoleType.choices}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# ---------------------------------------------------------------- values


def number(value):
    """A float as PHP prints it (precision 14): 45.5, 13.662742, 7, 0.3, 1.0E-5.

    PHP's addIfNotEmpty treats 0.0 as empty, so a zero coordinate is omitted: None is returned.
    """
    if not value:
        return None
    text = f"{value:.14G}"
    if "E" in text:
        mantissa, exponent = text.split("E")
        mantissa = mantissa if "." in mantissa else mantissa + ".0"
        text = f"{mantissa}E{int(exponent):+d}"
    return text


def php_date(moment, short_year=False):
    """PHP's `d-M-Y H.i.s` (`d-M-y H.i.s` with short_year) in UTC, whatever the locale."""
    moment = moment.astimezone(UTC)
    year = f"{moment.year % 100:02d}" if short_year else f"{moment.year:04d}"
    return f"{moment.day:02d}-{MONTHS[moment.month - 1]}-{year} {moment:%H.%M.%S}"


# ---------------------------------------------------------------- shared filters and blocks


def filter_sites(query, qs=None):
    """The site filters shared by get_site, get_site_list, get_site_contacts and get_site_security_info
    (each method's whitelist decides which of them can be present)."""
    qs = Site.objects.all() if qs is None else qs
    qs = query.like(qs, "sitename", "short_name")
    qs = query.like(qs, "roc", "ngi__name")
    qs = query.like(qs, "country", "country__name")
    qs = query.like(qs, "certification_status", "certification_status")
    qs = query.like(qs, "production_status", "infrastructure")
    if "exclude_certification_status" in query:
        qs = qs.exclude(certification_status__like=query.get("exclude_certification_status"))
    qs = scope_filter(query, qs)
    return extensions_filter(query, qs)


def extensions(parent, properties):
    """`<EXTENSIONS>` with one `<EXTENSION>` (LOCAL_ID, KEY, VALUE) per (parent id, id, key, value)."""
    block = sub(parent, "EXTENSIONS")
    for _, pk, key, value in properties:
        ext = sub(block, "EXTENSION")
        sub(ext, "LOCAL_ID", pk)
        sub(ext, "KEY", key)
        sub(ext, "VALUE", value)
    return block


def scopes(parent, scope_list):
    block = sub(parent, "SCOPES")
    for scope in scope_list:
        sub(block, "SCOPE", scope.name)
    return block


def site_children(ids):
    """Scope names and properties of the sites `ids`, by site id, in id order (two queries): plain rows,
    as Django's prefetch machinery cost more than the rest of a get_site page."""
    links = Site.scopes.through.objects.filter(site_id__in=ids).order_by("scope_id")
    props = SiteProperty.objects.filter(parent_id__in=ids).order_by("pk")
    return grouped(links.values_list("site_id", "scope__name")), grouped(
        props.values_list("parent_id", "pk", "key", "value")
    )


# GOCDB sorts scopes by id (Helpers::orderArrById), not by name.
SCOPES = Prefetch("scopes", queryset=Scope.objects.order_by("pk").only("name"))


def granted_roles(query=None):
    """Prefetch of an entity's GRANTED roles in id order (as `granted_roles`), with each user and
    their identities (for CERTDN).

    `roletype`, when given, is a GOCDB role name matched exactly; GOCDB applies it while rendering,
    so entities without a matching role are still listed, with no contacts. Its `%%` default is
    honoured too.
    """
    roles = Role.objects.filter(status=RoleStatus.GRANTED).select_related("user").order_by("pk")
    roles = roles.prefetch_related("user__identities")
    wanted = query.get("roletype") if query is not None else None
    if wanted is not None and wanted != "%%":
        roles = roles.filter(role_type=ROLE_VALUES[wanted]) if wanted in ROLE_VALUES else roles.none()
    return Prefetch("roles", queryset=roles, to_attr="granted_roles")


def contact(parent, role, working_hours=False):
    """A `<CONTACT>` of a role holder (get_site_contacts, get_roc_contacts, get_project_contacts)."""
    user = role.user
    el = sub(parent, "CONTACT", USER_ID=f"{user.pk}G0", PRIMARY_KEY=f"{user.pk}G0")
    sub(el, "FORENAME", user.first_name)
    sub(el, "SURNAME", user.last_name)
    sub(el, "TITLE")
    sub(el, "EMAIL", user.email)
    sub(el, "TEL", user.telephone)
    if working_hours:
        sub(el, "WORKING_HOURS_START")
        sub(el, "WORKING_HOURS_END")
    sub(el, "CERTDN", user.default_identity())
    sub(el, "ROLE_NAME", role.get_role_type_display())
    return el


# ---------------------------------------------------------------- sites


SITE_COLUMNS = (
    "short_name", "official_name", "primary_key", "description", "home_url", "email", "telephone", "alarm_email",
    "giis_url", "country__code", "country__name", "ngi__name", "infrastructure", "certification_status", "timezone",
    "latitude", "longitude", "csirt_email", "notify", "domain", "ip_range", "ipv6_range",
)  # fmt: skip


def get_site(query):
    # Only the rendered columns: no join to the OwnedEntity parent tables, no timestamps to parse.
    qs = filter_sites(query).select_related("ngi", "country").only(*SITE_COLUMNS)
    url = url_template("sites:site")

    def render(sites):
        scope_names, properties = site_children([site.pk for site in sites])
        for site in sites:
            el = element("SITE", ID=site.pk, PRIMARY_KEY=site.primary_key, NAME=site.short_name)
            sub_if(el, "PRIMARY_KEY", site.primary_key)
            sub_if(el, "SHORT_NAME", site.short_name)
            sub_if(el, "OFFICIAL_NAME", site.official_name)
            sub_if(el, "SITE_DESCRIPTION", site.description)
            sub(el, "GOCDB_PORTAL_URL", url.format(site.pk))
            sub_if(el, "HOME_URL", site.home_url)
            sub_if(el, "CONTACT_EMAIL", site.email)
            sub_if(el, "CONTACT_TEL", site.telephone)
            sub_if(el, "ALARM_EMAIL", site.alarm_email)
            sub_if(el, "GIIS_URL", site.giis_url)
            sub_if(el, "COUNTRY_CODE", site.country.code)
            sub_if(el, "COUNTRY", site.country.name)
            sub(el, "ROC", site.ngi.name)
            sub_if(el, "PRODUCTION_INFRASTRUCTURE", site.infrastructure)
            sub_if(el, "CERTIFICATION_STATUS", site.certification_status)
            sub_if(el, "TIMEZONE", site.timezone)
            sub_if(el, "LATITUDE", number(site.latitude))
            sub_if(el, "LONGITUDE", number(site.longitude))
            sub_if(el, "CSIRT_EMAIL", site.csirt_email)
            sub(el, "NOTIFICATIONS", "TRUE" if site.notify else "FALSE")
            domain = sub(el, "DOMAIN")
            sub_if(domain, "DOMAIN_NAME", site.domain)
            sub_if(el, "SITE_IP", site.ip_range)
            sub_if(el, "SITE_IPV6", site.ipv6_range)
            block = sub(el, "SCOPES")
            for _, name in scope_names.get(site.pk, ()):
                sub(block, "SCOPE", name)
            extensions(el, properties.get(site.pk, ()))
            yield el

    return Listing(qs, render)


def get_site_list(query):
    qs = filter_sites(query).select_related("ngi", "country")

    def render(sites):
        for site in sites:
            yield element(
                "SITE",
                ID=site.pk,
                PRIMARY_KEY=site.primary_key,
                NAME=site.short_name,
                COUNTRY=site.country.name,
                COUNTRY_CODE=site.country.code,
                ROC=site.ngi.name,
                SUBGRID="",
                GIIS_URL=site.giis_url,
            )

    return Listing(qs, render)


def site_header(site):
    """The `<SITE>` start shared by get_site_contacts and get_site_security_info (ID with G0)."""
    el = element("SITE", ID=f"{site.pk}G0", PRIMARY_KEY=site.primary_key, NAME=site.short_name)
    sub(el, "PRIMARY_KEY", site.primary_key)
    sub(el, "SHORT_NAME", site.short_name)
    return el


def get_site_contacts(query):
    qs = filter_sites(query).prefetch_related(granted_roles(query))

    def render(sites):
        for site in sites:
            el = site_header(site)
            for role in site.granted_roles:
                contact(el, role)
            yield el

    return Listing(qs, render)


def get_site_security_info(query):
    def render(sites):
        for site in sites:
            el = site_header(site)
            sub(el, "CSIRT_EMAIL", site.csirt_email)
            sub(el, "CSIRT_TEL", site.csirt_tel)
            yield el

    return Listing(filter_sites(query), render)


# ---------------------------------------------------------------- NGIs, subgrids, projects


def get_ngi(query):
    qs = scope_filter(query, query.like(NGI.objects.all(), "roc", "name"))
    qs = qs.annotate(site_count=related_count(Site.objects.all(), "ngi")).prefetch_related(SCOPES)

    def render(ngis):
        for ngi in ngis:
            el = element("NGI", ID=ngi.pk, NAME=ngi.name)
            sub(el, "PRIMARY_KEY", ngi.pk)
            sub(el, "NAME", ngi.name)
            sub(el, "OBJECT_ID", ngi.pk)
            sub(el, "DESCRIPTION", ngi.description)
            sub(el, "EMAIL", ngi.email)
            sub(el, "GGUS_SU", ngi.ggus_su)
            sub(el, "ROD_EMAIL", ngi.rod_email)
            sub(el, "HELPDESK_EMAIL", ngi.helpdesk_email)
            sub(el, "SECURITY_EMAIL", ngi.security_email)
            sub(el, "SITE_COUNT", ngi.site_count)
            scopes(el, ngi.scopes.all())
            yield el

    return Listing(qs, render)


def get_roc_list(query):
    def render(ngis):
        for ngi in ngis:
            yield element("ROC", PRIMARY_KEY=f"{ngi.pk}G0", ROC_NAME=ngi.name)

    return Listing(query.like(NGI.objects.all(), "roc", "name"), render)


def get_subgrid_list(query):
    """Subgrids are a GOCDB legacy this portal does not have: always a valid, empty result."""
    return []


def get_roc_contacts(query):
    qs = query.like(NGI.objects.all(), "roc", "name").prefetch_related(granted_roles(query))
    url = url_template("sites:ngi")

    def render(ngis):
        for ngi in ngis:
            el = element("ROC", ID=ngi.pk, ROC_NAME=ngi.name)
            sub(el, "ROCNAME", ngi.name)
            sub(el, "MAIL_CONTACT", ngi.email)
            sub(el, "GOCDB_PORTAL_URL", url.format(ngi.pk))
            for role in ngi.granted_roles:
                contact(el, role)
            yield el

    return Listing(qs, render)


def get_project_contacts(query):
    """Project contacts. GOCDB's `project` filter replaces the cursor clause (§13.8); here it is
    simply one more filter, so paging works with it."""
    qs = query.like(Project.objects.all(), "project", "name").prefetch_related(granted_roles())

    def render(projects):
        for project in projects:
            el = element("Project", ID=project.pk, NAME=project.name)
            for role in project.granted_roles:
                contact(el, role, working_hours=True)
            yield el

    return Listing(qs, render)


# ---------------------------------------------------------------- users


def requested_role_types(query):
    """The role type values named by `roletype` (GOCDB names, comma-separated, OR), or None."""
    if "roletype" not in query:
        return None
    names = [name for name in query.get("roletype").split(",") if name]
    return [ROLE_VALUES[name] for name in names if name in ROLE_VALUES]


def get_user(query):
    """Users by DN (LIKE on any linked identity), names (LIKE) and role types.

    With `roletype`, users holding a granted role of one of the types are listed, and only those
    roles are shown: GOCDB fetch-joins the filtered roles, so its USER_ROLE list is narrowed alike.
    """
    qs = get_user_model().objects.all()
    for name in ("dn", "dnlike"):
        if name in query:
            qs = qs.filter(pk__in=Identity.objects.filter(value__like=query.get(name)).values("user_id"))
    qs = query.like(qs, "forename", "first_name")
    qs = query.like(qs, "surname", "last_name")
    roles = Role.objects.filter(status=RoleStatus.GRANTED).order_by("pk")
    types = requested_role_types(query)
    if types is not None:
        roles = roles.filter(role_type__in=types)
        qs = qs.filter(pk__in=roles.values("user_id"))
    entity = "owned_entity__"
    roles = roles.select_related(*(f"{entity}{kind}_entity" for kind in EntityKind.values), f"{entity}site_entity__ngi")
    projects = Project.objects.order_by("pk")
    qs = qs.prefetch_related(
        "identities",
        Prefetch("roles", queryset=roles, to_attr="granted_roles"),
        Prefetch(f"granted_roles__{entity}site_entity__ngi__projects", queryset=projects),
        Prefetch(f"granted_roles__{entity}ngi_entity__projects", queryset=projects),
    )

    def render(users):
        for user in users:
            el = element("EGEE_USER", ID=f"{user.pk}G0", PRIMARY_KEY=f"{user.pk}G0")
            sub(el, "FORENAME", user.first_name)
            sub(el, "SURNAME", user.last_name)
            for tag in ("TITLE", "DESCRIPTION", "GOCDB_PORTAL_URL"):
                sub(el, tag)
            sub(el, "EMAIL", user.email)
            sub(el, "TEL", user.telephone)
            sub(el, "WORKING_HOURS_START")
            sub(el, "WORKING_HOURS_END")
            sub(el, "CERTDN", user.default_identity())
            for tag in ("SSOUSERNAME", "APPROVED", "ACTIVE", "HOMESITE"):
                sub(el, tag)
            for role in user.granted_roles:
                user_role(el, role)
            yield el

    return Listing(qs, render)


def user_role(parent, role):
    """`<USER_ROLE>`: role name, the entity it is held over and the projects that recognise it."""
    kind = role.owned_entity.kind
    entity = role.owned_entity.concrete
    el = sub(parent, "USER_ROLE")
    sub(el, "USER_ROLE", role.get_role_type_display())
    sub(el, "ON_ENTITY", entity.short_name if kind == EntityKind.SITE else entity.name)
    sub(el, "ENTITY_TYPE", kind)
    sub_if(el, "PRIMARY_KEY", entity_key(kind, entity))
    block = sub(el, "RECOGNISED_IN_PROJECTS")
    for project in reachable_projects(kind, entity):
        sub(block, "PROJECT", project.name, ID=project.pk)
    return el


def entity_key(kind, entity):
    """GOCDB's PRIMARY_KEY of a role's entity: site.primary_key, sg.id + "G0", else the bare id."""
    if kind == EntityKind.SITE:
        return entity.primary_key
    return f"{entity.pk}G0" if kind == EntityKind.SERVICEGROUP else entity.pk


def reachable_projects(kind, entity):
    """Projects upwards of a role's entity (site -> NGI -> projects); none for service groups."""
    if kind == EntityKind.SITE:
        return entity.ngi.projects.all()
    if kind == EntityKind.NGI:
        return entity.projects.all()
    return [entity] if kind == EntityKind.PROJECT else []


# ---------------------------------------------------------------- certification


def get_cert_status_date(query):
    """Production sites with their certification status and when it last changed."""
    qs = Site.objects.filter(infrastructure=Infrastructure.PRODUCTION)
    qs = query.like(qs, "certification_status", "certification_status")
    qs = query.like(qs, "roc", "ngi__name")

    def render(sites):
        for site in sites:
            el = element("site", ID=site.pk)
            sub(el, "name", site.short_name)
            sub(el, "cert_status", site.certification_status)
            if site.certification_status_changed:
                # PHP 'd-M-y H.i.s A': a 24-hour clock followed by AM/PM, as GOCDB prints it.
                moment = site.certification_status_changed.astimezone(UTC)
                sub(el, "cert_date", f"{php_date(moment, short_year=True)} {'AM' if moment.hour < 12 else 'PM'}")
            yield el

    return Listing(qs, render)


def get_cert_status_changes(query):
    """Certification status changes (log rows), optionally of sites LIKE `site` within dates.

    Deliberate difference (§13.3): GOCDB's code takes `enddate` as the lower bound and `startdate`
    as the upper one, the opposite of its documentation. We follow the documented meaning, which
    every client reading the docs expects: changes after `startdate` and before `enddate` (both
    exclusive, as in GOCDB).
    """
    qs = query.like(CertificationStatusLog.objects.select_related("site"), "site", "site__short_name")
    start, end = query.date("startdate"), query.date("enddate")
    if start is not None:
        qs = qs.filter(added_date__gt=start)
    if end is not None:
        qs = qs.filter(added_date__lt=end)

    def render(logs):
        for log in logs:
            el = element("result", ID=log.pk)
            sub(el, "TIME", php_date(log.added_date))
            sub(el, "UNIX_TIME", int(log.added_date.timestamp()))
            sub(el, "SITE", log.site.short_name)
            sub(el, "OLD_STATUS", log.old_status)
            sub(el, "NEW_STATUS", log.new_status)
            sub(el, "CHANGED_BY", log.added_by)
            sub(el, "COMMENT", log.reason)
            yield el

    return Listing(qs, render)


def get_site_count_per_country(query):
    """Every country with its number of sites (0 allowed), sorted case-insensitively by name.

    `scope` is a single scope name that both the site and its NGI must carry; an empty value means
    no scope filter (§17.3). Sites are counted once each, where GOCDB's join on scopes can count a
    site once per scope when no scope is given.
    """
    sites = query.like(Site.objects.order_by(), "certification_status", "certification_status")
    sites = query.like(sites, "production_status", "infrastructure")
    if query.get("scope"):
        scope = query.get("scope")
        sites = sites.filter(scopes__name=scope, ngi__scopes__name=scope)
    counts = dict(sites.values_list("country_id").annotate(n=Count("pk", distinct=True)))
    replies = []
    for country in Country.objects.order_by(Lower("name"), "pk"):
        el = element("SITE")
        sub(el, "COUNTRY", country.name)
        sub(el, "COUNT", counts.get(country.pk, 0))
        replies.append(el)
    return replies


# ---------------------------------------------------------------- access test


def access_test(query):
    """Reached only past the strict level-3 check: says who the caller was taken to be."""
    query.extra["root_attrs"] = {"identifier": query.caller.identifier}
    return [element("authorized", "true")]


CONTACT_SITE_PARAMS = frozenset({"sitename", "roc", "country", "roletype", "scope", "scope_match"})

METHODS = {
    "get_site": Method(get_site, SITE_PARAMS, PRIVATE, pageable=True),
    # get_site_list shares get_site's whitelist (so cursors are accepted) but is never paged (§11.4).
    "get_site_list": Method(get_site_list, SITE_PARAMS | {"next_cursor", "prev_cursor"}, PUBLIC),
    "get_site_contacts": Method(get_site_contacts, CONTACT_SITE_PARAMS, PRIVATE, pageable=True),
    # The docs call it unpaged, but GOCDB's code accepts cursors and pages it: we page it too, so a
    # cursor never silently returns everything.
    "get_site_security_info": Method(get_site_security_info, SITE_PARAMS - {"extensions"}, PRIVATE, pageable=True),
    "get_ngi": Method(get_ngi, frozenset({"roc", "scope", "scope_match"}), PRIVATE, pageable=True),
    "get_roc_list": Method(get_roc_list, frozenset({"roc"}), PUBLIC),
    "get_subgrid_list": Method(get_subgrid_list, frozenset({"subgrid"}), PUBLIC),
    "get_roc_contacts": Method(get_roc_contacts, frozenset({"roc", "roletype"}), PRIVATE, pageable=True),
    "get_project_contacts": Method(get_project_contacts, frozenset({"project"}), PRIVATE, pageable=True),
    "get_user": Method(
        get_user, frozenset({"dn", "dnlike", "forename", "surname", "roletype"}), PRIVATE, pageable=True
    ),
    "get_cert_status_date": Method(
        get_cert_status_date, frozenset({"certification_status", "roc"}), PROTECTED, pageable=True
    ),
    "get_cert_status_changes": Method(
        get_cert_status_changes, frozenset({"site", "startdate", "enddate"}), PRIVATE, pageable=True
    ),
    "get_site_count_per_country": Method(
        get_site_count_per_country, frozenset({"certification_status", "production_status", "scope"}), PUBLIC
    ),
    "access_test": Method(access_test, frozenset(), PRIVATE),
}
