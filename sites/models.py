"""Projects, NGIs and sites, the entities roles are held over, plus scopes and certification."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from egiportal import validators as v
from egiportal.models import BaseModel
from egiportal.tokens import SecretToken

from .choices import CertificationStatus, EntityKind, Infrastructure, RoleStatus, RoleType


class Scope(BaseModel):
    """A scope tag (EGI, wlcg, ...). Reserved scopes cascade top-down and only authorised people
    assign them (specs/gocdb.md §8)."""

    public = True  # topology reads are public (egiportal.permissions)

    name = models.CharField(max_length=255, unique=True, validators=[v.scope_name])
    description = models.CharField(max_length=255, blank=True, validators=[v.free_text_optional])
    reserved = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("sites:scope", args=[self.pk])


class Country(models.Model):
    """An ISO 3166 country."""

    code = models.CharField(max_length=2, unique=True)
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "countries"

    def __str__(self):
        return self.name


class OwnedEntity(BaseModel):
    """Common base of everything a role is held over; gives project, NGI, site and service group one
    id space, as GOCDB's OwnedEntities table does (§2.1)."""

    public = True  # topology reads are public (egiportal.permissions)

    kind = models.CharField(max_length=16, choices=EntityKind.choices, editable=False)

    def save(self, *args, **kwargs):
        self.kind = self.KIND
        super().save(*args, **kwargs)

    @property
    def concrete(self):
        """The Project/NGI/Site/ServiceGroup behind an OwnedEntity row."""
        return getattr(self, f"{self.kind}_entity")


def entity_link():
    """The parent link of an OwnedEntity subclass, named so it cannot clash with Site.ngi."""
    return models.OneToOneField(
        OwnedEntity, on_delete=models.CASCADE, parent_link=True, primary_key=True, related_name="%(model_name)s_entity"
    )


class Project(OwnedEntity):
    """A project (EGI): the top of the ownership tree."""

    KIND = EntityKind.PROJECT
    ownedentity_ptr = entity_link()
    role_target = EntityKind.PROJECT
    role_paths = {EntityKind.PROJECT: "pk"}

    name = models.CharField(max_length=255, unique=True, validators=[v.entity_name])
    description = models.CharField(max_length=2000, blank=True, validators=[v.free_text_optional])
    ngis = models.ManyToManyField("NGI", related_name="projects", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("sites:project", args=[self.pk])


class NGI(OwnedEntity):
    """A National Grid Initiative (historically "ROC") that groups sites."""

    KIND = EntityKind.NGI
    ownedentity_ptr = entity_link()
    role_target = EntityKind.NGI
    role_paths = {EntityKind.NGI: "pk", EntityKind.PROJECT: "projects"}
    personal_fields = ("email", "rod_email", "helpdesk_email", "security_email")  # as the PI's private get_ngi

    name = models.CharField(max_length=255, unique=True, validators=[v.entity_name])
    description = models.CharField(max_length=255, blank=True, validators=[v.free_text_optional])
    email = models.CharField(max_length=255, blank=True, validators=[v.email_optional])
    rod_email = models.CharField("ROD e-mail", max_length=255, blank=True, validators=[v.email_optional])
    helpdesk_email = models.CharField(max_length=255, blank=True, validators=[v.email_optional])
    security_email = models.CharField(max_length=255, blank=True, validators=[v.email_optional])
    ggus_su = models.CharField("GGUS support unit", max_length=255, blank=True, validators=[v.ggus_su])
    scopes = models.ManyToManyField(Scope, related_name="ngis", blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "NGI"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("sites:ngi", args=[self.pk])


class Site(OwnedEntity):
    """A resource centre: owns services, downtimes, properties and API credentials (§2.4)."""

    KIND = EntityKind.SITE
    ownedentity_ptr = entity_link()
    role_target = EntityKind.SITE
    role_paths = {EntityKind.SITE: "pk", EntityKind.NGI: "ngi", EntityKind.PROJECT: "ngi__projects"}
    # Its contacts, as the PI's private get_site shows them (egiportal.permissions.may_see_personal_data).
    personal_fields = (
        "email", "telephone", "emergency_email", "emergency_tel", "alarm_email", "helpdesk_email", "csirt_email",
        "csirt_tel",
    )  # fmt: skip

    short_name = models.CharField("name", max_length=255, unique=True, validators=[v.entity_name])
    official_name = models.CharField(max_length=255, blank=True, validators=[v.official_name])
    primary_key = models.CharField(max_length=255, unique=True, null=True, blank=True, editable=False)
    ngi = models.ForeignKey(NGI, on_delete=models.PROTECT, related_name="sites", verbose_name="NGI")
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="sites")
    description = models.CharField(max_length=2000, validators=[v.free_text])
    home_url = models.CharField("home URL", max_length=255, blank=True, validators=[v.home_url])
    giis_url = models.CharField("GIIS URL", max_length=255, blank=True, validators=[v.giis_url])
    domain = models.CharField(max_length=255, validators=[v.domain])
    email = models.CharField("contact e-mail", max_length=255, validators=[v.emails])
    telephone = models.CharField("contact telephone", max_length=255, validators=[v.telephone])
    emergency_email = models.CharField(max_length=255, blank=True, validators=[v.email_optional])
    emergency_tel = models.CharField(
        "emergency telephone", max_length=255, blank=True, validators=[v.telephone_optional]
    )
    alarm_email = models.CharField(max_length=255, blank=True, validators=[v.email_optional])
    helpdesk_email = models.CharField(max_length=255, blank=True, validators=[v.emails_optional])
    csirt_email = models.CharField("CSIRT e-mail", max_length=255, blank=True, validators=[v.email_optional])
    csirt_tel = models.CharField("CSIRT telephone", max_length=255, blank=True, validators=[v.telephone_optional])
    ip_range = models.CharField("IPv4 range", max_length=255, blank=True, validators=[v.ip_range])
    ipv6_range = models.CharField("IPv6 range", max_length=255, blank=True, validators=[v.ipv6_range])
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    location = models.CharField(max_length=255, blank=True, validators=[v.official_name])
    timezone = models.CharField(max_length=64, blank=True, validators=[v.timezone])
    notify = models.BooleanField("notifications", default=False)
    infrastructure = models.CharField(
        "production status", max_length=16, choices=Infrastructure.choices, default=Infrastructure.PRODUCTION
    )
    certification_status = models.CharField(
        max_length=16, choices=CertificationStatus.choices, default=CertificationStatus.CANDIDATE
    )
    certification_status_changed = models.DateTimeField(null=True, blank=True, editable=False)
    scopes = models.ManyToManyField(Scope, related_name="sites", blank=True)

    class Meta:
        ordering = ["short_name"]
        indexes = [models.Index(fields=["certification_status"]), models.Index(fields=["infrastructure"])]
        constraints = [
            # GOCDB compares names byte for byte; two sites whose names differ only in case would be one
            # site to the tools that match names case-insensitively (monitoring, accounting).
            models.UniqueConstraint(
                Lower("short_name"),
                name="uniq_site_name_any_case",
                violation_error_message="A site with this name in another case exists already.",
            ),
        ]

    def __str__(self):
        return self.short_name

    def get_absolute_url(self):
        return reverse("sites:site", args=[self.pk])

    def clean(self):
        super().clean()
        if self.latitude is not None and not -90 <= self.latitude <= 90:
            raise ValidationError({"latitude": "Latitude must be between -90 and 90."})
        if self.longitude is not None and not -180 <= self.longitude <= 180:
            raise ValidationError({"longitude": "Longitude must be between -180 and 180."})


class PropertyBase(BaseModel):
    """A custom key/value property of a parent entity; keys are unique per parent (§9)."""

    public = True  # topology reads are public (egiportal.permissions)

    key = models.CharField(max_length=255, validators=[v.property_key])
    value = models.CharField(max_length=255, validators=[v.property_value])

    class Meta:
        abstract = True
        ordering = ["id"]

    def __str__(self):
        return f"{self.key}={self.value}"

    def clean(self):
        self.key, self.value = (self.key or "").strip(), (self.value or "").strip()
        super().clean()


class SiteProperty(PropertyBase):
    parent = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="properties")

    class Meta(PropertyBase.Meta):
        verbose_name_plural = "site properties"
        constraints = [models.UniqueConstraint(fields=["parent", "key"], name="uniq_site_property_key")]
        indexes = [models.Index(fields=["key", "value"], name="site_property_kv")]


class CertificationStatusLog(models.Model):
    """One change of a site's certification status, with its reason (§2.12)."""

    public = True  # topology reads are public (egiportal.permissions)
    personal_fields = ("added_by",)  # as the PI's private get_cert_status_changes

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="certification_log")
    old_status = models.CharField(max_length=16, blank=True)
    new_status = models.CharField(max_length=16)
    added_by = models.CharField(max_length=255)
    added_date = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=300, validators=[v.free_text])

    class Meta:
        ordering = ["-added_date", "-id"]

    def __str__(self):
        return f"{self.site_id}: {self.old_status or '-'} -> {self.new_status}"


class Role(BaseModel):
    """A role of a user over an owned entity: pending (requested) or granted (§2.14, §5.6)."""

    Status = RoleStatus
    audit_personal = True  # role holders, requests and decisions (egiportal.models.AuditLogQuerySet)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="roles")
    role_type = models.CharField(max_length=32, choices=RoleType.choices)
    owned_entity = models.ForeignKey(OwnedEntity, on_delete=models.CASCADE, related_name="roles")
    status = models.CharField(max_length=16, choices=RoleStatus.choices, default=RoleStatus.PENDING)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "role_type", "owned_entity"], name="uniq_role"),
        ]
        indexes = [models.Index(fields=["user", "status", "role_type"])]

    def __str__(self):
        return f"{self.get_role_type_display()} of {self.user} on {self.owned_entity.concrete}"

    def audit_state(self):
        """With readable names, as GOCDB's RoleActionRecord keeps them."""
        entity = self.owned_entity.concrete
        return {**self.snapshot(), "user": self.user.username, "entity": str(entity), "entity_kind": entity.KIND}


class APICredentialQuerySet(models.QuerySet):
    def usable(self):
        """Credentials renewed within API_CREDENTIAL_MAX_AGE_DAYS."""
        return self.filter(last_renewed__gt=timezone.now() - timedelta(days=settings.API_CREDENTIAL_MAX_AGE_DAYS))

    def for_token(self, token):
        """The usable portal-token credential whose secret is `token`, or None."""
        credential = APICredential.find_secret(token)
        return credential if credential is not None and credential.refusal() is None else None

    def matching(self, kind, identifier):
        """A usable credential of `kind` with `identifier` (on any site), or None."""
        return self.usable().filter(kind=kind, identifier=identifier).select_related("user").first()


class APICredential(SecretToken, models.Model):
    """An identity a site lets use the PI and the write API (GOCDB's APIAuthentication, §2.15, §10).

    X.509 DNs and OIDC subjects are presented by the caller (through the front proxy); portal tokens
    are secrets the portal issues (egiportal.tokens: a keyed digest is stored, the secret shown once;
    credentials from before the keyed scheme still match their plain SHA-256 digest, upgraded on use). The user who adds
    or renews a credential owns it; one not renewed within API_CREDENTIAL_MAX_AGE_DAYS stops working.
    """

    class Kind(models.TextChoices):
        X509 = "X.509", "X.509 DN"
        OIDC = "OIDC Subject", "OIDC subject"
        TOKEN = "Portal token", "Portal token"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="api_credentials")
    kind = models.CharField("type", max_length=16, choices=Kind.choices)
    identifier = models.CharField(max_length=255, validators=[v.free_text])
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_credentials")
    allow_write = models.BooleanField("allow write", default=False)
    created = models.DateTimeField(auto_now_add=True)
    last_renewed = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)

    objects = APICredentialQuerySet.as_manager()

    audit_private = True  # the rows name DNs and subjects: portal administrators only

    class Meta:
        ordering = ["id"]
        verbose_name = "API credential"
        constraints = [
            models.UniqueConstraint(fields=["site", "kind", "identifier"], name="uniq_api_credential"),
        ]
        indexes = [models.Index(fields=["kind", "identifier"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.identifier} on {self.site}"

    TOKEN_PREFIX = "egip_"
    DIGEST_FIELD = "token_hash"
    DISPLAY_FIELD = "identifier"
    DISPLAY_LENGTH = 12
    LEGACY_SHA256 = True

    def audit_state(self):
        """Never the token digest."""
        return {
            "site": str(self.site),
            "kind": self.kind,
            "identifier": self.identifier,
            "owner": self.user.username,
            "allow_write": self.allow_write,
            "last_renewed": self.last_renewed.isoformat(),
            "last_used": self.last_used.isoformat() if self.last_used else None,
        }

    @classmethod
    def token_queryset(cls):
        return cls.objects.filter(kind=cls.Kind.TOKEN).select_related("user", "site")

    @classmethod
    def find_presented(cls, kind, value):
        return cls.objects.matching(kind, value)

    def issue_token(self, secret=None):
        """Give a token credential a new secret (or `secret`); returns it (it is never stored)."""
        return self.set_secret(secret)

    @property
    def expires(self):
        return self.last_renewed + timedelta(days=settings.API_CREDENTIAL_MAX_AGE_DAYS)

    @property
    def is_usable(self):
        return self.last_renewed > timezone.now() - timedelta(days=settings.API_CREDENTIAL_MAX_AGE_DAYS)

    def refusal(self):
        if not self.is_usable:
            return "Expired token: a site administrator must renew this API credential on the site page."
        if not self.user.is_active:
            return (
                "The owner of this API credential has a disabled account: "
                "a current administrator of the site must renew the credential."
            )
        return None

    def write_refusal(self):
        """On the REST API a site credential only reads: it writes through the GOCDB write API, where it
        is limited to its own site (and needs allow_write there)."""
        return (
            "Read-only token: a site API credential writes only through the GOCDB write API "
            "(/gocdbpi/v5/...); for the REST API use a personal API token from /tokens/."
        )

    def caller(self):
        """The fields of an egiportal.identity.Caller."""
        return {"identifier": self.identifier, "kind": self.kind, "credential": self, "user": self.user}
