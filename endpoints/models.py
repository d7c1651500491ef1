"""Service types, services (service endpoints), endpoint locations, service groups and downtimes."""

from django.db import models
from django.urls import reverse
from django.utils import timezone

from egiportal import validators as v
from egiportal.models import BaseModel, PortalQuerySet
from sites.choices import EntityKind
from sites.models import OwnedEntity, PropertyBase, Scope, Site, entity_link

from .choices import Classification, Severity

SITE_PATHS = {EntityKind.SITE: "site", EntityKind.NGI: "site__ngi", EntityKind.PROJECT: "site__ngi__projects"}

# GOCDB lets these types be in production without monitoring (ServiceService.php).
MONITORING_EXEMPT_TYPES = {"VOMS", "emi.ARGUS", "org.squid-cache.Squid"}


class ServiceType(BaseModel):
    """A kind of service (org.openstack.nova, webdav, ARC-CE, ...)."""

    public = True  # topology reads are public (egiportal.permissions)

    name = models.CharField(max_length=255, unique=True, validators=[v.entity_name])
    description = models.CharField(max_length=255, validators=[v.free_text])
    monitoring_exception = models.BooleanField(
        default=False, help_text="Allow services of this type to be in production without monitoring."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("endpoints:servicetype", args=[self.pk])

    @property
    def monitoring_exempt(self):
        return self.monitoring_exception or self.name in MONITORING_EXEMPT_TYPES


class Service(BaseModel):
    """A service ("service endpoint" in the PI): one host of one type at one site (§2.5)."""

    public = True  # topology reads are public (egiportal.permissions)

    role_target = EntityKind.SITE
    role_paths = SITE_PATHS

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="services")
    service_type = models.ForeignKey(ServiceType, on_delete=models.PROTECT, related_name="services")
    hostname = models.CharField("host name", max_length=255, validators=[v.hostname])
    description = models.CharField(max_length=255, validators=[v.free_text])
    production = models.BooleanField("in production", default=True)
    beta = models.BooleanField(default=False)
    monitored = models.BooleanField(default=True)
    notify = models.BooleanField("notifications", default=False)
    email = models.CharField("contact e-mail", max_length=255, blank=True, validators=[v.emails_optional])
    url = models.CharField("URL", max_length=255, blank=True, validators=[v.url])
    dn = models.CharField("host DN", max_length=255, blank=True, validators=[v.host_dn])
    ip_address = models.CharField("IPv4 address", max_length=255, blank=True, validators=[v.ipv4])
    ipv6_address = models.CharField("IPv6 address", max_length=255, blank=True, validators=[v.ipv6_address])
    operating_system = models.CharField(max_length=255, blank=True, validators=[v.os_arch])
    architecture = models.CharField(max_length=255, blank=True, validators=[v.os_arch])
    scopes = models.ManyToManyField(Scope, related_name="services", blank=True)

    class Meta:
        ordering = ["hostname", "id"]
        indexes = [models.Index(fields=["hostname", "service_type"])]

    def __str__(self):
        return f"{self.hostname} ({self.service_type.name})"

    def get_absolute_url(self):
        return reverse("endpoints:service", args=[self.pk])


class EndpointLocation(BaseModel):
    """An endpoint ("endpoint location") of a service: a named URL with an interface (§2.6)."""

    public = True  # topology reads are public (egiportal.permissions)

    role_target = EntityKind.SITE
    role_paths = {k: f"service__{p}" for k, p in SITE_PATHS.items()}

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="endpoints")
    name = models.CharField(max_length=255, validators=[v.endpoint_name])
    url = models.CharField("URL", max_length=255, blank=True, validators=[v.url])
    interface_name = models.CharField(max_length=255, blank=True, validators=[v.interface_name])
    description = models.CharField(max_length=255, blank=True, validators=[v.free_text_optional])
    monitored = models.BooleanField(default=False)
    email = models.CharField("contact e-mail", max_length=255, blank=True, validators=[v.emails_optional])

    class Meta:
        ordering = ["id"]
        verbose_name = "endpoint location"
        constraints = [models.UniqueConstraint(fields=["service", "name"], name="uniq_endpoint_name")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("endpoints:endpoint", args=[self.pk])


class ServiceGroup(OwnedEntity):
    """A service group ("virtual site"): services of any site, administered by its own admins."""

    KIND = EntityKind.SERVICEGROUP
    ownedentity_ptr = entity_link()
    role_target = EntityKind.SERVICEGROUP
    role_paths = {EntityKind.SERVICEGROUP: "pk"}

    name = models.CharField(max_length=255, unique=True, validators=[v.group_name])
    description = models.CharField(max_length=255, validators=[v.free_text])
    monitored = models.BooleanField(default=False)
    email = models.CharField("contact e-mail", max_length=255, blank=True, validators=[v.emails_optional])
    scopes = models.ManyToManyField(Scope, related_name="service_groups", blank=True)
    services = models.ManyToManyField(Service, related_name="service_groups", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("endpoints:servicegroup", args=[self.pk])

    def audit_state(self):
        """With the member services."""
        return {**self.snapshot(), "services": sorted(str(s) for s in self.services.select_related("service_type"))}


class DowntimeQuerySet(PortalQuerySet):
    def ongoing(self, at=None):
        at = at or timezone.now()
        return self.filter(start__lte=at, end__gt=at)


class Downtime(BaseModel):
    """A declared outage or at-risk period of services (and endpoints) of exactly one site (§2.9, §7.1).

    GOCDB allows services of several sites in the database and forbids it in code; the `site`
    column makes the one-site rule structural and lets permission checks and lists use one join.
    """

    public = True  # topology reads are public (egiportal.permissions)

    role_target = EntityKind.SITE
    role_paths = SITE_PATHS

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="downtimes")
    severity = models.CharField(max_length=16, choices=Severity.choices)
    classification = models.CharField(max_length=16, choices=Classification.choices, editable=False)
    description = models.CharField(max_length=4000, validators=[v.free_text])
    start = models.DateTimeField(db_index=True)
    end = models.DateTimeField(db_index=True)
    primary_key = models.CharField(max_length=255, unique=True, null=True, blank=True, editable=False)
    services = models.ManyToManyField(Service, related_name="downtimes")
    endpoints = models.ManyToManyField(EndpointLocation, related_name="downtimes", blank=True)

    objects = DowntimeQuerySet.as_manager()

    class Meta:
        ordering = ["-start", "-id"]

    def __str__(self):
        return f"{self.primary_key or self.pk}: {self.site} {self.severity} {self.start:%Y-%m-%d %H:%M}"

    def get_absolute_url(self):
        return reverse("endpoints:downtime", args=[self.pk])

    def audit_state(self):
        """With the services and endpoints it affects."""
        return {
            **self.snapshot(),
            "services": sorted(str(s) for s in self.services.select_related("service_type")),
            "endpoints": sorted(f"{e.service.hostname}/{e.name}" for e in self.endpoints.select_related("service")),
        }

    @property
    def is_ongoing(self):
        return self.start <= timezone.now() < self.end

    @property
    def has_ended(self):
        return self.end <= timezone.now()


class ServiceProperty(PropertyBase):
    parent = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="properties")

    class Meta(PropertyBase.Meta):
        verbose_name_plural = "service properties"
        constraints = [models.UniqueConstraint(fields=["parent", "key"], name="uniq_service_property_key")]
        indexes = [models.Index(fields=["key", "value"], name="service_property_kv")]


class EndpointProperty(PropertyBase):
    parent = models.ForeignKey(EndpointLocation, on_delete=models.CASCADE, related_name="properties")

    class Meta(PropertyBase.Meta):
        verbose_name_plural = "endpoint properties"
        constraints = [models.UniqueConstraint(fields=["parent", "key"], name="uniq_endpoint_property_key")]
        indexes = [models.Index(fields=["key", "value"], name="endpoint_property_kv")]


class ServiceGroupProperty(PropertyBase):
    parent = models.ForeignKey(ServiceGroup, on_delete=models.CASCADE, related_name="properties")

    class Meta(PropertyBase.Meta):
        verbose_name_plural = "service group properties"
        constraints = [models.UniqueConstraint(fields=["parent", "key"], name="uniq_sg_property_key")]
        indexes = [models.Index(fields=["key", "value"], name="sg_property_kv")]
