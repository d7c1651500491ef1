"""Deterministic synthetic federations for load tests and benchmarks (`manage.py seed_federation`).

The same options (above all the seed) always give the same federation: every random draw comes
from a `random.Random` seeded by the seed and the index of the thing being drawn, never from
database ids, so names, counts and relative times are identical from run to run.

Every synthetic project, NGI, site and service group carries `MARK` at the end of its
description; that is how `flush_synthetic()` finds them again without touching real data.

Speed: projects, NGIs, sites and service groups use multi-table inheritance (OwnedEntity), which
`bulk_create` refuses, so they are saved one by one. Everything else (services, endpoints, scope
and downtime links, properties, downtimes) is bulk-inserted per chunk of sites, which keeps memory
bounded at ten times EGI's size.
"""

import contextlib
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import CharField, Max, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from endpoints.choices import Classification, Severity
from endpoints.models import (
    Downtime,
    EndpointLocation,
    EndpointProperty,
    Service,
    ServiceGroup,
    ServiceGroupProperty,
    ServiceProperty,
    ServiceType,
)

from .choices import CertificationStatus, Infrastructure
from .models import NGI, CertificationStatusLog, Country, Project, Role, Scope, Site, SiteProperty

MARK = "[synthetic]"
SITES_PER_CHUNK = 250
BATCH = 5000

# (ISO code, TLD, dialling code, time zone, latitude, longitude, cities). ASCII city names only,
# because they end up in host names.
COUNTRIES = [
    ("NL", "nl", "31", "Europe/Amsterdam", 52.1, 5.3, ["Amsterdam", "Utrecht", "Leiden", "Delft", "Groningen"]),
    ("DE", "de", "49", "Europe/Berlin", 51.2, 10.4, ["Karlsruhe", "Hamburg", "Munich", "Aachen", "Dresden", "Jena"]),
    ("IT", "it", "39", "Europe/Rome", 42.8, 12.5, ["Bologna", "Bari", "Catania", "Padova", "Napoli", "Torino"]),
    ("GB", "uk", "44", "Europe/London", 53.0, -1.5, ["Glasgow", "Manchester", "Oxford", "London", "Lancaster"]),
    ("FR", "fr", "33", "Europe/Paris", 46.6, 2.4, ["Lyon", "Grenoble", "Marseille", "Strasbourg", "Orsay"]),
    ("ES", "es", "34", "Europe/Madrid", 40.2, -3.6, ["Santander", "Valencia", "Barcelona", "Madrid", "Granada"]),
    ("PT", "pt", "351", "Europe/Lisbon", 39.6, -8.0, ["Lisboa", "Coimbra", "Braga", "Porto"]),
    ("PL", "pl", "48", "Europe/Warsaw", 52.0, 19.4, ["Krakow", "Poznan", "Warszawa", "Wroclaw", "Gdansk"]),
    ("CZ", "cz", "420", "Europe/Prague", 49.8, 15.5, ["Praha", "Brno", "Ostrava", "Plzen"]),
    ("SK", "sk", "421", "Europe/Bratislava", 48.7, 19.7, ["Bratislava", "Kosice", "Zilina"]),
    ("HU", "hu", "36", "Europe/Budapest", 47.2, 19.5, ["Budapest", "Debrecen", "Szeged"]),
    ("GR", "gr", "30", "Europe/Athens", 39.1, 22.9, ["Athens", "Thessaloniki", "Patras", "Heraklion"]),
    ("BG", "bg", "359", "Europe/Sofia", 42.7, 25.5, ["Sofia", "Plovdiv", "Varna"]),
    ("RO", "ro", "40", "Europe/Bucharest", 45.9, 24.9, ["Bucuresti", "Cluj", "Iasi", "Magurele"]),
    ("HR", "hr", "385", "Europe/Zagreb", 45.1, 15.2, ["Zagreb", "Split", "Rijeka"]),
    ("SI", "si", "386", "Europe/Ljubljana", 46.1, 14.9, ["Ljubljana", "Maribor"]),
    ("RS", "rs", "381", "Europe/Belgrade", 44.0, 20.9, ["Beograd", "Novi-Sad", "Nis"]),
    ("TR", "tr", "90", "Europe/Istanbul", 39.0, 35.2, ["Ankara", "Istanbul", "Izmir"]),
    ("CH", "ch", "41", "Europe/Zurich", 46.8, 8.2, ["Zurich", "Geneva", "Bern", "Lugano"]),
    ("AT", "at", "43", "Europe/Vienna", 47.5, 14.6, ["Wien", "Innsbruck", "Graz"]),
    ("BE", "be", "32", "Europe/Brussels", 50.5, 4.5, ["Brussel", "Gent", "Leuven"]),
    ("SE", "se", "46", "Europe/Stockholm", 60.1, 18.6, ["Stockholm", "Umea", "Lund", "Uppsala"]),
    ("NO", "no", "47", "Europe/Oslo", 60.5, 8.5, ["Oslo", "Bergen", "Tromso"]),
    ("FI", "fi", "358", "Europe/Helsinki", 61.9, 25.7, ["Helsinki", "Espoo", "Kajaani"]),
    ("DK", "dk", "45", "Europe/Copenhagen", 56.3, 9.5, ["Kobenhavn", "Aarhus"]),
    ("IE", "ie", "353", "Europe/Dublin", 53.4, -8.2, ["Dublin", "Galway", "Cork"]),
    ("IL", "il", "972", "Asia/Jerusalem", 31.0, 34.9, ["Rehovot", "Haifa", "Tel-Aviv"]),
    ("TW", "tw", "886", "Asia/Taipei", 23.7, 121.0, ["Taipei", "Hsinchu", "Tainan"]),
    ("ZA", "za", "27", "Africa/Johannesburg", -30.6, 22.9, ["Johannesburg", "Cape-Town", "Durban"]),
    ("BR", "br", "55", "America/Sao_Paulo", -14.2, -51.9, ["Sao-Paulo", "Rio", "Campinas"]),
]
ORGS = [("uni", "University of"), ("inst", "Institute of Physics"), ("rc", "Research Centre"), ("nrc", "National Lab")]

# Site kinds: weight, label, and the service types they run (repeats make a type more likely).
SITE_KINDS = {
    "CLOUD": (
        30,
        "Cloud",
        [
            "org.openstack.nova",
            "org.openstack.nova",
            "org.openstack.keystone",
            "org.openstack.keystone",
            "org.openstack.glance",
            "org.openstack.cinder",
            "org.openstack.swift",
            "eu.egi.cloud.accounting",
            "eu.egi.cloud.accounting",
            "eu.egi.cloud.vm-metadata.vmcatcher",
            "eu.egi.cloud.information.bdii",
            "org.kubernetes.api",
            "eu.egi.GPU",
        ],
    ),
    "GRID": (
        40,
        "Grid",
        [
            "ARC-CE",
            "ARC-CE",
            "org.opensciencegrid.htcondorce",
            "Site-BDII",
            "Site-BDII",
            "APEL",
            "gLite-APEL",
            "SRM",
            "xrootd",
            "webdav",
            "globus-GRIDFTP",
            "org.squid-cache.Squid",
            "emi.ARGUS",
            "UI",
            "eu.egi.MPI",
        ],
    ),
    "STORAGE": (
        15,
        "Storage",
        [
            "SRM",
            "SRM",
            "xrootd",
            "xrootd",
            "webdav",
            "webdav",
            "org.dcache.storage",
            "eu.egi.storage.accounting",
            "globus-GRIDFTP",
            "FTS",
            "Site-BDII",
            "org.onedata.oneprovider",
        ],
    ),
    "HPC": (10, "HPC", ["ARC-CE", "eu.egi.MPI", "eu.egi.MPI", "eu.egi.GPU", "eu.egi.GPU", "Site-BDII", "APEL", "UI"]),
    "CORE": (
        5,
        "Core services",
        [
            "Top-BDII",
            "VOMS",
            "MyProxy",
            "ngi.ARGO",
            "FTS",
            "org.onedata.onezone",
            "egi.MSGBroker",
            "webdav",
        ],
    ),
}

# Host name prefix and endpoint URL template per service type.
TYPE_HOSTS = {
    "org.openstack.nova": ("nova", "https://{h}:8774/v2.1"),
    "org.openstack.keystone": ("keystone", "https://{h}:5000/v3"),
    "org.openstack.glance": ("glance", "https://{h}:9292/v2"),
    "org.openstack.cinder": ("cinder", "https://{h}:8776/v3"),
    "org.openstack.swift": ("swift", "https://{h}:8080/swift/v1"),
    "eu.egi.cloud.accounting": ("cloud-acct", "https://{h}/"),
    "eu.egi.cloud.vm-metadata.vmcatcher": ("cloudkeeper", "https://{h}:50505/"),
    "eu.egi.cloud.information.bdii": ("cloud-bdii", "ldap://{h}:2170/GLUE2DomainID=site,o=glue"),
    "eu.egi.storage.accounting": ("storage-acct", "https://{h}/"),
    "org.kubernetes.api": ("k8s-api", "https://{h}:6443/"),
    "ARC-CE": ("arc-ce", "https://{h}:443/arex"),
    "org.opensciencegrid.htcondorce": ("htcondor-ce", "https://{h}:9619/"),
    "Site-BDII": ("site-bdii", "ldap://{h}:2170/mds-vo-name=resource,o=grid"),
    "Top-BDII": ("top-bdii", "ldap://{h}:2170/mds-vo-name=local,o=grid"),
    "SRM": ("srm", "httpg://{h}:8446/srm/managerv2"),
    "xrootd": ("xrootd", "root://{h}:1094/"),
    "webdav": ("webdav", "davs://{h}:443/"),
    "globus-GRIDFTP": ("gridftp", "gsiftp://{h}:2811/"),
    "org.squid-cache.Squid": ("squid", "http://{h}:3128/"),
    "org.dcache.storage": ("dcache", "https://{h}:2880/"),
    "FTS": ("fts", "https://{h}:8446/"),
    "VOMS": ("voms", "https://{h}:8443/voms/"),
    "MyProxy": ("myproxy", "myproxy://{h}:7512/"),
}

DOWNTIME_TEXT = {
    Severity.OUTAGE: [
        "Scheduled maintenance of the cloud controller",
        "Kernel upgrade and reboot of all worker nodes",
        "Network intervention at the data centre",
        "Storage migration to new hardware",
        "Power maintenance in the machine room",
        "Middleware upgrade to the latest release",
        "Cooling failure in the server room",
        "Security patching of the hypervisors",
        "Firmware update of the storage controllers",
        "Operating system upgrade of the service host",
    ],
    Severity.WARNING: [
        "Service at risk during network maintenance",
        "Rolling upgrade of the worker nodes",
        "Possible short interruptions during the database backup",
        "At risk during the replacement of a disk server",
        "Reduced capacity while nodes are drained",
        "At risk during the certificate renewal",
    ],
}
VOS = ["atlas", "cms", "lhcb", "alice", "biomed", "vo.access.egi.eu", "fedcloud.egi.eu", "enmr.eu", "eiscat.se"]
CLOUD_TYPES = {"org.openstack.nova", "org.openstack.keystone", "org.kubernetes.api", "eu.egi.GPU"}
STORAGE_TYPES = {"SRM", "xrootd", "webdav", "org.dcache.storage", "org.openstack.swift", "globus-GRIDFTP"}


@dataclass
class SeedOptions:
    """What to build. `services_per_site` and `downtimes_per_service` are averages."""

    sites: int = 350
    seed: int = 1
    services_per_site: float = 8.6
    downtimes_per_service: float = 10.0
    now: datetime | None = None
    counts: dict = field(default_factory=dict)


class SyntheticDataExists(Exception):
    """Synthetic data is already in the database (flush it first)."""


def classify(start, inserted):
    """§7.1 rule 6: SCHEDULED if the downtime starts more than 24 h after it was declared."""
    return Classification.SCHEDULED if start > inserted + timedelta(hours=24) else Classification.UNSCHEDULED


def synthetic_sites():
    return Site.objects.filter(description__endswith=MARK)


def rng_for(seed, *parts):
    """An independent random stream per (seed, thing), so draws never depend on order or chunking."""
    return random.Random("-".join(str(p) for p in (seed, *parts)))


@contextlib.contextmanager
def explicit_timestamps(model):
    """Let bulk_create store our `created`/`last_updated` values instead of now().

    Downtimes need a realistic insert time, because their classification is computed from it.
    The command is single-threaded, so flipping the field flags for the duration is safe.
    """
    created, updated = model._meta.get_field("created"), model._meta.get_field("last_updated")
    saved = created.auto_now_add, updated.auto_now
    created.auto_now_add = updated.auto_now = False
    try:
        yield
    finally:
        created.auto_now_add, updated.auto_now = saved


def reserve_ids(model, count):
    """`count` fresh primary-key values of `model`, so rows can carry their "<id>G0" key from the
    start: updating 300,000 rows afterwards costs more than inserting them."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [row[0] for row in cursor.fetchall()]
        # SQLite serialises writers and this transaction has written already, so the ids above the
        # highest ever used (AUTOINCREMENT remembers it in sqlite_sequence) are ours.
        top = model.objects.aggregate(top=Max("pk"))["top"] or 0
        if connection.vendor == "sqlite":
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            top = max(top, row[0] if row else 0)
        return list(range(top + 1, top + count + 1))


def _raw_delete(queryset):
    # A plain DELETE: the ORM collector would load hundreds of thousands of rows into memory. The
    # callers delete children first, in dependency order, so no cascade is skipped.
    return queryset._raw_delete(queryset.db)


def flush_synthetic():
    """Delete every synthetic project, NGI, site, service group and all that hangs off them."""
    with transaction.atomic():
        sites = synthetic_sites()
        services = Service.objects.filter(site__in=sites)
        downtimes = Downtime.objects.filter(site__in=sites)
        groups = ServiceGroup.objects.filter(description__endswith=MARK)
        _raw_delete(Downtime.endpoints.through.objects.filter(downtime__in=downtimes))
        _raw_delete(Downtime.services.through.objects.filter(downtime__in=downtimes))
        deleted = _raw_delete(downtimes)
        _raw_delete(ServiceGroup.services.through.objects.filter(service__in=services))
        _raw_delete(EndpointProperty.objects.filter(parent__service__in=services))
        _raw_delete(EndpointLocation.objects.filter(service__in=services))
        _raw_delete(ServiceProperty.objects.filter(parent__in=services))
        _raw_delete(Service.scopes.through.objects.filter(service__in=services))
        deleted += _raw_delete(services)
        _raw_delete(SiteProperty.objects.filter(parent__in=sites))
        _raw_delete(CertificationStatusLog.objects.filter(site__in=sites))
        _raw_delete(Site.scopes.through.objects.filter(site__in=sites))
        for queryset in (groups, sites, NGI.objects.filter(description__endswith=MARK)):
            deleted += queryset.delete()[0]
        deleted += Project.objects.filter(description__endswith=MARK).delete()[0]
    return deleted


class FederationBuilder:
    """Builds one synthetic federation; `build()` returns the row counts it created."""

    def __init__(self, options):
        self.o = options
        self.now = options.now or timezone.now().replace(second=0, microsecond=0)
        self.rng = rng_for(options.seed, "federation")
        self.counts = dict.fromkeys(
            [
                "projects",
                "ngis",
                "sites",
                "services",
                "endpoints",
                "downtimes",
                "downtime_services",
                "downtime_endpoints",
                "scope_links",
                "properties",
                "service_groups",
            ],
            0,
        )
        self.service_ids = []  # in generation order, for service groups
        self.service_number = 0  # numbers the services' addresses

    def build(self):
        if Project.objects.filter(description__endswith=MARK).exists() or synthetic_sites().exists():
            raise SyntheticDataExists("Synthetic data is already present; pass --flush to replace it.")
        with transaction.atomic():
            self._load_reference()
            ngis = self._ngis(self._projects())
            sites = self._sites(ngis)
            for start in range(0, len(sites), SITES_PER_CHUNK):
                self._fill_sites(sites[start : start + SITES_PER_CHUNK])
            self._service_groups()
            self._primary_keys()
        return self.counts

    # -- reference data --------------------------------------------------------------------------

    def _load_reference(self):
        self.scopes = {s.name: s for s in Scope.objects.all()}
        for name, description in [("EGI", "Resources of the EGI federation"), ("FedCloud", "EGI Federated Cloud")]:
            if name not in self.scopes:
                self.scopes[name] = Scope.objects.create(name=name, description=description)
        self.wlcg = self.scopes.get("wlcg")
        self.types = {t.name: t for t in ServiceType.objects.all()}
        if not self.types:
            raise ValueError("No service types: run `manage.py migrate` first.")
        self.countries = {c.code: c for c in Country.objects.filter(code__in=[c[0] for c in COUNTRIES])}
        self.pools = {}
        for kind, (_weight, _label, names) in SITE_KINDS.items():
            self.pools[kind] = [self.types[n] for n in names if n in self.types] or list(self.types.values())

    def _link(self, through, owner_field, owner_id, scopes):
        rows = [through(**{owner_field: owner_id, "scope_id": s.pk}) for s in scopes]
        self.counts["scope_links"] += len(rows)
        return rows

    # -- projects, NGIs, sites (multi-table inheritance: saved one by one) ------------------------

    def _projects(self):
        names = ["EGI-Federation", "EGI-ACE", "iMagine", "interTwin", "AI4EOSC", "C-SCALE", "EOSC-Future"]
        count = max(1, self.o.sites // 200)
        projects = []
        for i in range(count):
            name = names[i % len(names)] + (f"-{i // len(names) + 1}" if i >= len(names) else "")
            projects.append(Project.objects.create(name=name, description=f"Synthetic project {name} {MARK}"))
        self.counts["projects"] = len(projects)
        return projects

    def _ngis(self, projects):
        count = max(1, round(self.o.sites / 9))
        per_country, ngis, project_links, scope_links = {}, [], [], []
        for i in range(count):
            country = COUNTRIES[i % len(COUNTRIES)] if i < len(COUNTRIES) else self.rng.choice(COUNTRIES)
            per_country[country[0]] = per_country.get(country[0], 0) + 1
            name = f"NGI_{country[0]}{per_country[country[0]]:02d}"
            slug = name.lower().replace("_", "-")
            ngi = NGI.objects.create(
                name=name,
                description=f"National Grid Initiative {name} {MARK}",
                email=f"ops@{slug}.{country[1]}",
                rod_email=f"rod@{slug}.{country[1]}",
                helpdesk_email=f"helpdesk@{slug}.{country[1]}",
                security_email=f"security@{slug}.{country[1]}",
                ggus_su=name,
            )
            ngi.country_row = country
            ngi.has_wlcg = self.wlcg is not None and self.rng.random() < 0.3
            ngis.append(ngi)
            members = {projects[i % len(projects)]}
            if len(projects) > 1 and self.rng.random() < 0.1:
                members.add(self.rng.choice(projects))
            project_links += [Project.ngis.through(project_id=p.pk, ngi_id=ngi.pk) for p in members]
            scopes = [self.scopes["EGI"]] + ([self.wlcg] if ngi.has_wlcg else [])
            scope_links += self._link(NGI.scopes.through, "ngi_id", ngi.pk, scopes)
        Project.ngis.through.objects.bulk_create(project_links, batch_size=BATCH)
        NGI.scopes.through.objects.bulk_create(scope_links, batch_size=BATCH)
        self.counts["ngis"] = len(ngis)
        return ngis

    def _sites(self, ngis):
        # Every NGI gets one site first; the rest go to NGIs with uneven weights, as in EGI.
        weights = [self.rng.lognormvariate(0, 0.8) for _ in ngis]
        owners = list(ngis[: self.o.sites]) + self.rng.choices(ngis, weights, k=max(0, self.o.sites - len(ngis)))
        sites, scope_links, logs = [], [], []
        for i, ngi in enumerate(owners, start=1):
            site = self._site(i, ngi)
            sites.append(site)
            scope_links += self._link(Site.scopes.through, "site_id", site.pk, site.scope_list)
            logs.append(
                CertificationStatusLog(
                    site=site,
                    new_status=site.certification_status,
                    added_by="seed_federation",
                    reason="Initial creation",
                )
            )
        Site.scopes.through.objects.bulk_create(scope_links, batch_size=BATCH)
        CertificationStatusLog.objects.bulk_create(logs, batch_size=BATCH)
        self.counts["sites"] = len(sites)
        return sites

    def _site(self, i, ngi):
        rng = rng_for(self.o.seed, "site", i)
        code, tld, dial, tz, lat, lon, cities = ngi.country_row
        kind = rng.choices(list(SITE_KINDS), [k[0] for k in SITE_KINDS.values()])[0]
        city = rng.choice(cities)
        org, org_label = rng.choice(ORGS)
        domain = f"{kind.lower()}{i}.{org}-{city.lower()}.{tld}"
        site = Site(
            short_name=f"{code}-{city.upper()}-{kind}-{i:04d}",
            official_name=f"{org_label} {city} {SITE_KINDS[kind][1]} Centre {i}",
            ngi=ngi,
            country=self.countries.get(code) or Country.objects.get(code="NL"),
            description=f"{SITE_KINDS[kind][1]} resource centre in {city} {MARK}",
            home_url=f"https://www.{org}-{city.lower()}.{tld}/",
            giis_url=f"ldap://site-bdii.{domain}:2170/mds-vo-name=resource,o=grid",
            domain=domain,
            email=f"grid-admin@{domain}",
            telephone=f"+{dial} {rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            emergency_email=f"emergency@{domain}",
            csirt_email=f"csirt@{domain}",
            ip_range=f"10.{i // 256 % 256}.{i % 256}.0/255.255.255.0",
            ipv6_range=f"2001:db8:{i:x}::/48",
            latitude=round(lat + rng.uniform(-1.5, 1.5), 4),
            longitude=round(lon + rng.uniform(-1.5, 1.5), 4),
            location=city,
            timezone=tz,
            notify=rng.random() < 0.5,
            infrastructure=Infrastructure.PRODUCTION if rng.random() < 0.9 else Infrastructure.TEST,
            certification_status=rng.choices(list(CertificationStatus), [5, 5, 80, 5, 5])[0],
            certification_status_changed=self.now - timedelta(days=rng.randint(1, 3000)),
        )
        site.save()
        site.kind_key, site.rng = kind, rng
        site.has_wlcg = ngi.has_wlcg and kind != "CORE" and rng.random() < 0.6
        base = self.scopes["EGI"] if rng.random() < 0.9 else self.scopes["Local"]
        site.scope_list = [base] + ([self.scopes["FedCloud"]] if kind == "CLOUD" else [])
        site.scope_list += [self.wlcg] if site.has_wlcg else []
        return site

    # -- services, endpoints, properties, downtimes (bulk, per chunk of sites) --------------------

    def _fill_sites(self, sites):
        plans = [self._plan_services(site) for site in sites]
        services = Service.objects.bulk_create([s for plan in plans for s, _ in plan], batch_size=BATCH)
        self.service_ids += [s.pk for s in services]
        endpoints = [e for plan in plans for _, eps in plan for e in eps]
        for endpoint in endpoints:
            endpoint.service_id = endpoint.service.pk
        EndpointLocation.objects.bulk_create(endpoints, batch_size=BATCH)
        self._properties(sites, plans)
        scope_links = []
        for plan in plans:
            for service, _ in plan:
                scope_links += self._link(Service.scopes.through, "service_id", service.pk, service.scope_list)
        Service.scopes.through.objects.bulk_create(scope_links, batch_size=BATCH)
        self.counts["services"] += len(services)
        self.counts["endpoints"] += len(endpoints)
        self._downtimes(sites, plans)

    def _plan_services(self, site):
        """[(service, [endpoints])] of one site, unsaved."""
        rng, mean = site.rng, max(1.0, self.o.services_per_site)
        count = max(1, round(rng.triangular(1, 2 * mean - 1, mean)))
        numbers, plan = {}, []
        for service_type in rng.choices(self.pools[site.kind_key], k=count):
            prefix, url = TYPE_HOSTS.get(service_type.name, (_host_prefix(service_type.name), "https://{h}/"))
            numbers[prefix] = numbers.get(prefix, 0) + 1
            host = f"{prefix}{numbers[prefix]:02d}.{site.domain}"
            self.service_number += 1
            service = _service(rng, site, service_type, host, url, self.service_number)
            service.scope_list = [s for s in site.scope_list if s != self.wlcg or rng.random() < 0.5]
            if not any(not s.reserved for s in service.scope_list):
                service.scope_list.insert(0, self.scopes["EGI"])
            n_endpoints = rng.choices([1, 2, 3], [35, 35, 30])[0]
            endpoints = [_endpoint(service, j, url) for j in range(1, n_endpoints + 1)]
            plan.append((service, endpoints))
        return plan

    def _properties(self, sites, plans):
        rows = []
        for site, plan in zip(sites, plans, strict=True):
            rng = site.rng
            candidates = [("site-type", site.kind_key.lower()), ("support-hours", "08:00-18:00")]
            candidates += [("accounting-enabled", "true"), ("wlcg-tier", "2" if site.has_wlcg else "3")]
            rows += [SiteProperty(parent=site, key=k, value=v) for k, v in rng.sample(candidates, rng.randint(0, 3))]
            for service, endpoints in plan:
                rows += [ServiceProperty(parent=service, key=k, value=v) for k, v in _service_props(rng, service)]
                for endpoint in endpoints:
                    rows += [
                        EndpointProperty(parent=endpoint, key=k, value=v) for k, v in _endpoint_props(rng, service)
                    ]
        for model in (SiteProperty, ServiceProperty, EndpointProperty):
            batch = [r for r in rows if isinstance(r, model)]
            model.objects.bulk_create(batch, batch_size=BATCH)
        self.counts["properties"] += len(rows)

    def _downtimes(self, sites, plans):
        downtimes, links = [], []
        for site, plan in zip(sites, plans, strict=True):
            for index, (service, endpoints) in enumerate(plan):
                rng = rng_for(self.o.seed, "downtimes", site.short_name, index)
                count = _count(rng, self.o.downtimes_per_service)
                for _ in range(count):
                    downtime = _downtime(rng, site, self.now)
                    others = [s for s, _ in plan if s is not service and rng.random() < 0.05]
                    chosen = [e for e in endpoints if rng.random() < 0.2]
                    downtimes.append(downtime)
                    links.append(([service, *others], chosen))
        for downtime, pk in zip(downtimes, reserve_ids(Downtime, len(downtimes)), strict=True):
            downtime.pk, downtime.primary_key = pk, f"{pk}G0"
        with explicit_timestamps(Downtime):
            Downtime.objects.bulk_create(downtimes, batch_size=BATCH)
        service_rows, endpoint_rows = [], []
        for downtime, (services, endpoints) in zip(downtimes, links, strict=True):
            service_rows += [Downtime.services.through(downtime_id=downtime.pk, service_id=s.pk) for s in services]
            endpoint_rows += [
                Downtime.endpoints.through(downtime_id=downtime.pk, endpointlocation_id=e.pk) for e in endpoints
            ]
        Downtime.services.through.objects.bulk_create(service_rows, batch_size=BATCH)
        Downtime.endpoints.through.objects.bulk_create(endpoint_rows, batch_size=BATCH)
        self.counts["downtimes"] += len(downtimes)
        self.counts["downtime_services"] += len(service_rows)
        self.counts["downtime_endpoints"] += len(endpoint_rows)

    # -- service groups and keys ----------------------------------------------------------------

    def _service_groups(self):
        themes = ["FedCloud", "Notebooks", "DataHub", "WLCG_ATLAS", "WLCG_CMS", "BioMed", "Training"]
        rng = rng_for(self.o.seed, "groups")
        members, properties, scope_links = [], [], []
        for i in range(max(1, self.o.sites // 25)):
            name = f"SG_{themes[i % len(themes)]}_{i + 1:03d}"
            group = ServiceGroup.objects.create(
                name=name, description=f"Service group {name} {MARK}", monitored=rng.random() < 0.7
            )
            picks = rng.sample(self.service_ids, min(len(self.service_ids), rng.randint(5, 20)))
            members += [ServiceGroup.services.through(servicegroup_id=group.pk, service_id=pk) for pk in picks]
            properties.append(ServiceGroupProperty(parent=group, key="theme", value=themes[i % len(themes)]))
            scope_links += self._link(ServiceGroup.scopes.through, "servicegroup_id", group.pk, [self.scopes["EGI"]])
        ServiceGroup.services.through.objects.bulk_create(members, batch_size=BATCH)
        ServiceGroup.scopes.through.objects.bulk_create(scope_links, batch_size=BATCH)
        ServiceGroupProperty.objects.bulk_create(properties)
        self.counts["service_groups"] = max(1, self.o.sites // 25)
        self.counts["properties"] += len(properties)

    def _primary_keys(self):
        """GOCDB keys "<id>G0" for the new sites, in one UPDATE (downtimes get theirs on insert)."""
        key = Concat(Cast("pk", CharField()), Value("G0"))
        synthetic_sites().filter(primary_key__isnull=True).update(primary_key=key)


def _count(rng, mean):
    """An integer whose average over many draws is `mean`."""
    whole = int(mean)
    return whole + (1 if rng.random() < mean - whole else 0)


def _host_prefix(type_name):
    last = type_name.split(".")[-1].lower()
    return "".join(c if c.isalnum() else "-" for c in last).strip("-") or "host"


def _service(rng, site, service_type, host, url, number):
    production = rng.random() < 0.9
    monitored = production or rng.random() < 0.5
    if production and not monitored and not service_type.monitoring_exempt:
        monitored = True
    return Service(
        site=site,
        service_type=service_type,
        hostname=host,
        description=f"{service_type.name} service of {site.short_name}",
        production=production,
        beta=not production and rng.random() < 0.3,
        monitored=monitored,
        notify=rng.random() < 0.3,
        email=site.email,
        url=url.format(h=host),
        dn=f"/DC=org/DC=egi/C={site.country.code}/O=Hosts/CN={host}",
        ip_address=f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}",
        ipv6_address=f"2001:db8:{number // 65536:x}:{number % 65536:x}::1",
        operating_system=rng.choice(["AlmaLinux 9", "Rocky Linux 9", "Ubuntu 22.04", "CentOS 7"]),
        architecture=rng.choice(["x86_64", "x86_64", "x86_64", "aarch64"]),
    )


def _endpoint(service, j, url):
    host = service.hostname if j == 1 else service.hostname.replace(".", f"-{j}.", 1)
    return EndpointLocation(
        service=service,
        name=f"{service.hostname.split('.')[0]}-{service.site.short_name.lower()}-{j}",
        url=url.format(h=host),
        interface_name=service.service_type.name,
        description=f"Endpoint {j} of {service.hostname}",
        monitored=service.monitored,
    )


def _service_props(rng, service):
    candidates = [("vo", rng.choice(VOS)), ("hepspec06", str(rng.randint(1000, 90000)))]
    if service.service_type.name in STORAGE_TYPES:
        candidates.append(("storage-capacity-tb", str(rng.randint(50, 20000))))
    return rng.sample(candidates, rng.randint(0, min(2, len(candidates))))


def _endpoint_props(rng, service):
    name = service.service_type.name
    if name in CLOUD_TYPES:
        return [
            ("cloud-type", "OpenStack" if name.startswith("org.openstack") else "Kubernetes"),
            ("max-vcpus", str(rng.choice([8, 16, 32, 64, 128]))),
            ("max-ram-gb", str(rng.choice([32, 64, 128, 256, 512]))),
        ]
    if name in STORAGE_TYPES and rng.random() < 0.5:
        return [("protocol-version", rng.choice(["2.2", "3.0", "4.1"]))]
    return []


def _downtime(rng, site, now):
    """One downtime of `site`: past (80 %), ongoing (4 %) or future (16 %), classified by §7.1."""
    severity = Severity.OUTAGE if rng.random() < 0.6 else Severity.WARNING
    duration = timedelta(hours=rng.choice([1, 2, 4, 6, 8, 12, 24, 48, 72, 120]))
    when = rng.random()
    if when < 0.80:
        start = now - duration - timedelta(minutes=rng.randint(60, 5 * 365 * 24 * 60))
    elif when < 0.84:
        start = now - duration * rng.uniform(0.05, 0.9)
    else:
        start = now + timedelta(minutes=rng.randint(30, 90 * 24 * 60))
    start = start.replace(second=0, microsecond=0)
    # Most are declared days ahead; the rest shortly before or up to 48 h after they began (§7.1).
    if rng.random() < 0.7:
        lead = timedelta(hours=rng.uniform(25, 21 * 24))
    else:
        lead = timedelta(hours=rng.uniform(-47, 23))
    inserted = min(start - lead, now)
    return Downtime(
        site=site,
        severity=severity,
        classification=classify(start, inserted),
        description=rng.choice(DOWNTIME_TEXT[severity]),
        start=start,
        end=start + duration,
        created=inserted,
        last_updated=inserted,
    )


def synthetic_counts():
    """Row counts of the whole database for the tables the seeder fills (for reports)."""
    return {
        "projects": Project.objects.count(),
        "ngis": NGI.objects.count(),
        "sites": Site.objects.count(),
        "services": Service.objects.count(),
        "endpoints": EndpointLocation.objects.count(),
        "downtimes": Downtime.objects.count(),
        "service_groups": ServiceGroup.objects.count(),
        "roles": Role.objects.count(),
    }


def seed(options, flush=False):
    """Flush (optionally) and build; returns (counts, seconds)."""
    started = time.perf_counter()
    with transaction.atomic():
        if flush:
            flush_synthetic()
        counts = FederationBuilder(options).build()
    refresh_planner_statistics()
    return counts, time.perf_counter() - started


def refresh_planner_statistics():
    """After a bulk load PostgreSQL's statistics still describe empty tables, and its planner then picks
    nested loops over every row (80 ms instead of 2 ms for the service list); its visibility map is empty
    too, so COUNT(*) reads the whole heap. Autovacuum would fix both only later."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
