"""`manage.py load_demo`: a small, realistic demo federation with demo logins (run by `make demo`).

Idempotent: every row is looked up by its natural key and updated in place, so running it again
changes nothing but the downtimes' times, which move with the clock so that "past", "ongoing" and
"future" stay true. Demo passwords are set only when a user is first created.
"""

import base64
import hashlib
import hmac
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from egiportal import oidc
from egiportal.models import Identity, VirtualOrganisation, VOMembership
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
from sites.choices import CertificationStatus, RoleStatus, RoleType
from sites.models import NGI, APICredential, CertificationStatusLog, Country, Project, Role, Scope, Site, SiteProperty
from sites.synthetic import TYPE_HOSTS, classify

PASSWORD = "demo"

PROJECTS = {
    "EGI": ("The EGI federation of research computing and data centres", ["NGI_NL", "NGI_DE", "NGI_IT", "NGI_UK"]),
    "EOSC-Hub": ("EOSC-Hub: services of the European Open Science Cloud", ["NGI_NL", "NGI_DE"]),
}
# name: (country, description, GGUS support unit, scopes)
NGIS = {
    "NGI_NL": ("NL", "Dutch National Grid Initiative", "NGI_NL", ["EGI"]),
    "NGI_DE": ("DE", "German National Grid Initiative", "NGI_DE", ["EGI"]),
    "NGI_IT": ("IT", "Italian National Grid Initiative", "NGI_IT", ["EGI", "wlcg"]),
    "NGI_UK": ("GB", "UK National Grid Initiative (GridPP)", "NGI_UK", ["EGI"]),
}
# short name: (NGI, kind, official name, domain, city, lat, lon, time zone, extra scopes)
SITES = {
    "SURF-CLOUD": (
        "NGI_NL",
        "cloud",
        "SURF HPC Cloud",
        "hpccloud.surf.nl",
        "Amsterdam",
        52.36,
        4.95,
        "Europe/Amsterdam",
        [],
    ),
    "NIKHEF-ELPROD": (
        "NGI_NL",
        "grid",
        "Nikhef grid cluster",
        "nikhef.nl",
        "Amsterdam",
        52.36,
        4.95,
        "Europe/Amsterdam",
        [],
    ),
    "RUG-CIT": (
        "NGI_NL",
        "cloud",
        "University of Groningen CIT",
        "cloud.rug.nl",
        "Groningen",
        53.24,
        6.54,
        "Europe/Amsterdam",
        ["Local"],
    ),
    "FZK-LCG2": (
        "NGI_DE",
        "storage",
        "Karlsruhe Institute of Technology GridKa",
        "gridka.de",
        "Karlsruhe",
        49.1,
        8.43,
        "Europe/Berlin",
        [],
    ),
    "DESY-HH": ("NGI_DE", "grid", "DESY Hamburg", "desy.de", "Hamburg", 53.58, 9.88, "Europe/Berlin", []),
    "LRZ-CLOUD": (
        "NGI_DE",
        "cloud",
        "Leibniz Supercomputing Centre Compute Cloud",
        "cloud.lrz.de",
        "Garching",
        48.26,
        11.67,
        "Europe/Berlin",
        [],
    ),
    "INFN-T1": (
        "NGI_IT",
        "storage",
        "INFN CNAF Tier-1",
        "cr.cnaf.infn.it",
        "Bologna",
        44.5,
        11.35,
        "Europe/Rome",
        ["wlcg"],
    ),
    "INFN-PADOVA": ("NGI_IT", "grid", "INFN Padova", "pd.infn.it", "Padova", 45.41, 11.88, "Europe/Rome", ["wlcg"]),
    "RECAS-BARI": (
        "NGI_IT",
        "cloud",
        "ReCaS Bari data centre",
        "recas.ba.infn.it",
        "Bari",
        41.11,
        16.88,
        "Europe/Rome",
        [],
    ),
    "RAL-LCG2": (
        "NGI_UK",
        "storage",
        "STFC Rutherford Appleton Laboratory",
        "gridpp.rl.ac.uk",
        "Didcot",
        51.57,
        -1.31,
        "Europe/London",
        [],
    ),
    "UKI-LT2-QMUL": (
        "NGI_UK",
        "grid",
        "Queen Mary University of London",
        "esc.qmul.ac.uk",
        "London",
        51.52,
        -0.04,
        "Europe/London",
        [],
    ),
    "UKI-NORTHGRID-MAN-HEP": (
        "NGI_UK",
        "grid",
        "University of Manchester HEP",
        "tier2.hep.manchester.ac.uk",
        "Manchester",
        53.47,
        -2.23,
        "Europe/London",
        [],
    ),
}
TELEPHONE = {"NL": "+31 20 555 0100", "DE": "+49 721 555 0100", "IT": "+39 051 555 0100", "GB": "+44 1235 555 010"}
# kind: [(service type, host prefix)]
SERVICES = {
    "cloud": [
        ("org.openstack.nova", "nova"),
        ("org.openstack.keystone", "keystone"),
        ("org.openstack.glance", "glance"),
        ("org.openstack.swift", "swift"),
        ("eu.egi.cloud.accounting", "cloud-acct"),
        ("eu.egi.cloud.vm-metadata.vmcatcher", "cloudkeeper"),
    ],
    "grid": [
        ("ARC-CE", "arc-ce01"),
        ("ARC-CE", "arc-ce02"),
        ("Site-BDII", "site-bdii"),
        ("APEL", "apel"),
        ("org.squid-cache.Squid", "squid"),
    ],
    "storage": [
        ("SRM", "srm"),
        ("webdav", "webdav"),
        ("xrootd", "xrootd"),
        ("Site-BDII", "site-bdii"),
        ("eu.egi.storage.accounting", "storage-acct"),
    ],
}
WLCG_TYPES = {"ARC-CE", "Site-BDII", "SRM", "xrootd"}
ENDPOINT_PROPERTIES = {
    "org.openstack.nova": {"cloud-type": "OpenStack", "max-vcpus": "64", "max-ram-gb": "256", "gpu": "false"},
    "org.openstack.keystone": {"cloud-type": "OpenStack", "auth-protocol": "openid"},
    "org.openstack.swift": {"storage-capacity-tb": "500"},
}
# (site, affected service types or None for all, severity, description, start in hours from now,
#  duration in hours, hours declared before the start)
DOWNTIMES = [
    ("SURF-CLOUD", ["org.openstack.nova"], "OUTAGE", "OpenStack upgrade to the Caracal release", -24 * 40, 8, 24 * 7),
    ("SURF-CLOUD", ["org.openstack.swift"], "WARNING", "Object storage at risk during disk replacement", -2, 6, 1),
    ("NIKHEF-ELPROD", None, "OUTAGE", "Power maintenance in the machine room", 24 * 6, 12, 24 * 14),
    ("FZK-LCG2", ["SRM", "xrootd"], "OUTAGE", "dCache upgrade", -24 * 10, 6, 24 * 5),
    ("DESY-HH", ["ARC-CE"], "WARNING", "Rolling kernel update of the worker nodes", 10, 4, 2),
    ("INFN-T1", None, "OUTAGE", "Cooling failure in the data centre", -3, 24, -1),
    ("INFN-PADOVA", ["Site-BDII"], "WARNING", "Information system migration", 24 * 3, 2, 24 * 4),
    ("RECAS-BARI", ["org.openstack.nova", "org.openstack.keystone"], "OUTAGE", "Network intervention", -24 * 90, 4, 48),
    ("RAL-LCG2", ["webdav"], "WARNING", "Certificate renewal on the WebDAV doors", 24 * 12, 1, 24 * 20),
    ("UKI-LT2-QMUL", ["ARC-CE"], "OUTAGE", "Batch system migration to HTCondor", -24 * 200, 48, 24 * 10),
]
SERVICE_GROUPS = {
    "FedCloud_Compute": ("Compute endpoints of the EGI Federated Cloud", "org.openstack.nova", None),
    "WLCG_Italy_Storage": ("Storage of the Italian WLCG sites", None, "NGI_IT"),
}
# username: (first, last, superuser, role type, entity kind, entity name, status)
USERS = {
    "admin": ("Alex", "Admin", True, None, None, None, None),
    "siteadmin": ("Sam", "Siteadmin", False, RoleType.SITE_ADMIN, "site", "SURF-CLOUD", RoleStatus.GRANTED),
    "ngimanager": ("Noor", "Manager", False, RoleType.NGI_OPS_MAN, "ngi", "NGI_NL", RoleStatus.GRANTED),
    "projectstaff": ("Pat", "Staff", False, RoleType.COD_STAFF, "project", "EGI", RoleStatus.GRANTED),
    "user": ("Uma", "User", False, RoleType.SITE_ADMIN, "site", "RUG-CIT", RoleStatus.PENDING),
    "vomanager": ("Vida", "Vomanager", False, None, None, None, None),
}
# VOs and local memberships (username, roles, manager). With EGI Check-in, memberships come from the
# users' entitlements at each login instead; these stand in for them (and show the administrators' override).
VOS = {
    "fedcloud.egi.eu": (
        "The EGI Federated Cloud: access to the cloud sites of the federation",
        [("vomanager", ["member"], True), ("user", ["member", "vm_operator"], False), ("siteadmin", ["member"], False)],
    ),
    "vo.access.egi.eu": (
        "Pay-for-nothing access to EGI resources for researchers trying them out",
        [("vomanager", ["member"], True), ("user", ["member"], False)],
    ),
    "biomed": (
        "Biomedical research: medical imaging, bioinformatics and drug discovery",
        [("siteadmin", ["member"], False)],
    ),
}


def upsert(model, lookup, **values):
    """Get by `lookup` or make a new row, set `values`, validate and save."""
    obj = model.objects.filter(**lookup).first() or model(**lookup)
    for name, value in values.items():
        setattr(obj, name, value)
    obj.full_clean()
    obj.save()
    return obj


class DemoLoader:
    """Writes the demo federation; each step is idempotent."""

    def __init__(self):
        self.now = timezone.now().replace(second=0, microsecond=0)
        Scope.objects.get_or_create(name="FedCloud", defaults={"description": "EGI Federated Cloud"})
        self.scopes = {s.name: s for s in Scope.objects.all()}
        self.types = {t.name: t for t in ServiceType.objects.all()}
        self.sites, self.ngis, self.projects, self.services = {}, {}, {}, []

    def load(self):
        self.load_ngis()
        self.load_projects()
        for name in SITES:
            self.load_site(name)
        self.load_service_groups()
        self.load_downtimes()
        logins = self.load_users()
        self.load_vos()
        return logins

    def load_ngis(self):
        for name, (country, description, ggus, scopes) in NGIS.items():
            slug = name.lower().replace("_", "-")
            ngi = upsert(
                NGI,
                {"name": name},
                description=description,
                email=f"operations@{slug}.example.org",
                rod_email=f"rod@{slug}.example.org",
                helpdesk_email=f"helpdesk@{slug}.example.org",
                security_email=f"security@{slug}.example.org",
                ggus_su=ggus,
            )
            ngi.scopes.set(self.scopes[s] for s in scopes)
            ngi.country_code = country
            self.ngis[name] = ngi

    def load_projects(self):
        for name, (description, ngis) in PROJECTS.items():
            project = upsert(Project, {"name": name}, description=description)
            project.ngis.set(self.ngis[n] for n in ngis)
            self.projects[name] = project

    def load_site(self, name):
        ngi_name, kind, official, domain, city, lat, lon, tz, extra = SITES[name]
        ngi = self.ngis[ngi_name]
        slug = name.lower()
        site = upsert(
            Site,
            {"short_name": name},
            official_name=official,
            ngi=ngi,
            country=Country.objects.get(code=ngi.country_code),
            description=f"{official}: {kind} resources for EGI in {city}",
            home_url=f"https://{domain}/",
            giis_url=f"ldap://site-bdii.{domain}:2170/mds-vo-name={name},o=grid",
            domain=domain,
            email=f"{slug}-admins@example.org",
            telephone=TELEPHONE[ngi.country_code],
            csirt_email=f"{slug}-csirt@example.org",
            latitude=lat,
            longitude=lon,
            location=city,
            timezone=tz,
            certification_status=CertificationStatus.CERTIFIED,
        )
        if not site.primary_key:
            Site.objects.filter(pk=site.pk).update(primary_key=f"{site.pk}G0")
        CertificationStatusLog.objects.get_or_create(
            site=site,
            reason="Initial creation",
            defaults={"new_status": site.certification_status, "added_by": "load_demo"},
        )
        scopes = (
            [self.scopes["EGI"]]
            + [self.scopes[s] for s in extra]
            + ([self.scopes["FedCloud"]] if kind == "cloud" else [])
        )
        site.scopes.set(scopes)
        upsert(SiteProperty, {"parent": site, "key": "site-type"}, value=kind)
        self.sites[name] = site
        for type_name, prefix in SERVICES[kind]:
            self.load_service(site, kind, self.types[type_name], prefix, scopes)

    def load_service(self, site, kind, service_type, prefix, site_scopes):
        host = f"{prefix}.{site.domain}"
        url = TYPE_HOSTS.get(service_type.name, (prefix, "https://{h}/"))[1].format(h=host)
        service = upsert(
            Service,
            {"site": site, "service_type": service_type, "hostname": host},
            description=f"{service_type.name} of {site.short_name}",
            production=True,
            monitored=True,
            url=url,
            dn=f"/DC=org/DC=terena/DC=tcs/C={site.country.code}/O={site.short_name}/CN={host}",
            operating_system="AlmaLinux 9",
            architecture="x86_64",
        )
        wlcg = self.scopes["wlcg"]
        scopes = [s for s in site_scopes if s != wlcg or service_type.name in WLCG_TYPES]
        service.scopes.set(scopes)
        if kind == "grid":
            upsert(ServiceProperty, {"parent": service, "key": "vo"}, value="atlas")
        elif service_type.name == "org.openstack.nova":  # the cloud sites support the demo's cloud VO
            upsert(ServiceProperty, {"parent": service, "key": "vo"}, value="fedcloud.egi.eu")
        endpoint = upsert(
            EndpointLocation,
            {"service": service, "name": f"{site.short_name}-{prefix}"},
            url=url,
            interface_name=service_type.name,
            description=f"Main endpoint of {host}",
            monitored=True,
        )
        for key, value in ENDPOINT_PROPERTIES.get(service_type.name, {}).items():
            upsert(EndpointProperty, {"parent": endpoint, "key": key}, value=value)
        self.services.append(service)

    def load_service_groups(self):
        for name, (description, type_name, ngi_name) in SERVICE_GROUPS.items():
            group = upsert(ServiceGroup, {"name": name}, description=description, monitored=True)
            members = [
                s
                for s in self.services
                if (type_name is None or s.service_type.name == type_name)
                and (ngi_name is None or s.site.ngi.name == ngi_name)
            ]
            group.services.set(members)
            group.scopes.set([self.scopes["EGI"]])
            upsert(ServiceGroupProperty, {"parent": group, "key": "contact"}, value=f"{name.lower()}@example.org")

    def load_downtimes(self):
        for site_name, type_names, severity, description, start_h, hours, lead_h in DOWNTIMES:
            site = self.sites[site_name]
            start = self.now + timedelta(hours=start_h)
            inserted = min(start - timedelta(hours=lead_h), self.now)
            downtime = upsert(
                Downtime,
                {"site": site, "description": description},
                severity=severity,
                classification=classify(start, inserted),
                start=start,
                end=start + timedelta(hours=hours),
            )
            # The insert time is what §7.1 classifies by, so it must match the story told above.
            Downtime.objects.filter(pk=downtime.pk).update(created=inserted, primary_key=f"{downtime.pk}G0")
            services = [s for s in self.services if s.site_id == site.pk]
            services = [s for s in services if type_names is None or s.service_type.name in type_names]
            downtime.services.set(services)
            downtime.endpoints.set(EndpointLocation.objects.filter(service__in=services[:1]))

    def load_users(self):
        lines = []
        for username, (first, last, superuser, role_type, kind, entity, status) in USERS.items():
            user, created = get_user_model().objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"},
            )
            if created:
                user.set_password(PASSWORD)
            user.is_superuser = user.is_staff = superuser
            user.save()
            lines.append((username, self.grant(user, role_type, kind, entity, status)))
        return lines

    def load_vos(self):
        users = {u.username: u for u in get_user_model().objects.filter(username__in=USERS)}
        for name, (description, members) in VOS.items():
            vo = upsert(VirtualOrganisation, {"name": name}, description=description)
            for username, roles, manager in members:
                VOMembership.objects.update_or_create(
                    user=users[username], vo=vo, source=VOMembership.Source.LOCAL,
                    defaults={"roles": roles, "manager": manager},
                )  # fmt: skip

    def load_api_token(self):
        """The read-only portal token of SURF-CLOUD owned by siteadmin, to try the APIs with.

        The secret is derived from SECRET_KEY, so re-running load_demo prints the same token (and
        renews it); another demo token of siteadmin on the site (e.g. from an older load_demo) goes."""
        owner = get_user_model().objects.get(username="siteadmin")
        site = self.sites["SURF-CLOUD"]
        secret = demo_token()
        credential = APICredential.find_secret(secret)
        if credential is None or credential.site_id != site.pk:
            APICredential.objects.filter(site=site, user=owner, kind=APICredential.Kind.TOKEN).delete()
            credential = APICredential(site=site, user=owner, kind=APICredential.Kind.TOKEN)
            credential.issue_token(secret)
        credential.user, credential.allow_write, credential.last_renewed = owner, False, timezone.now()
        credential.save()
        Identity.objects.get_or_create(
            realm=Identity.Realm.X509, value="/DC=org/DC=example/CN=Sam Siteadmin", defaults={"user": owner}
        )
        return secret

    def grant(self, user, role_type, kind, entity, status):
        if role_type is None:
            managed = sorted(name for name, (_, members) in VOS.items() if (user.username, ["member"], True) in members)
            return "portal administrator (superuser)" if user.is_superuser else f"VO manager of {', '.join(managed)}"
        target = {"site": self.sites, "ngi": self.ngis, "project": self.projects}[kind][entity]
        role, _ = Role.objects.get_or_create(
            user=user, role_type=role_type, owned_entity=target.ownedentity_ptr, defaults={"status": status}
        )
        label = f"{role.get_role_type_display()} of {kind} {entity}"
        if role.status == RoleStatus.PENDING:
            return f"no role yet; has a pending request to become {label}"
        return label


def demo_token():
    """The demo's portal token: the same for every run against the same SECRET_KEY."""
    raw = hmac.new(settings.SECRET_KEY.encode(), b"load_demo: portal token of SURF-CLOUD", hashlib.sha256).digest()
    return APICredential.TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Command(BaseCommand):
    help = "Load (or refresh) the demo federation and the demo logins. Safe to run more than once."

    def handle(self, *args, **options):
        with transaction.atomic():
            loader = DemoLoader()
            logins = loader.load()
            token = loader.load_api_token()
        url = f"{settings.PORTAL_URL}/"
        self.stdout.write(
            f"Demo federation ready: {Project.objects.count()} projects, {NGI.objects.count()} NGIs, "
            f"{Site.objects.count()} sites, {Service.objects.count()} services, "
            f"{Downtime.objects.count()} downtimes, {ServiceGroup.objects.count()} service groups."
        )
        self.stdout.write(f"\nOpen {url} and log in as one of these demo users (password '{PASSWORD}' for all):")
        for username, description in logins:
            self.stdout.write(f"  {username:<13} {description}")
        self.stdout.write(
            f"\nGOCDB-compatible API: {url}gocdbpi/ ; private methods with this demo token of SURF-CLOUD\n"
            "(read-only, the same each time load_demo runs):\n"
            f'  curl -H "Authorization: Bearer {token}" "{url}gocdbpi/private/?method=get_site&sitename=SURF-CLOUD"\n'
            f"REST API with the same token:\n"
            f'  curl -H "Authorization: Token {token}" "{url}api/v1/sites/"'
        )
        if oidc.enabled():
            self.stdout.write(f"\nLog in with EGI Check-in ({settings.OIDC_OP_ISSUER}) from {url}login/.")
        else:
            self.stdout.write(
                "\nEGI Check-in login is off: set OIDC_OP_ISSUER, OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET (README),"
                "\nor run `make demo-checkin` to try it with the local test provider."
            )
        self.stdout.write(
            self.style.WARNING(
                f"\nThe password '{PASSWORD}' is for a local demo only: never load demo data into a production database."
            )
        )
