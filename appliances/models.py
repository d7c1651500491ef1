"""The marketplace (appdb-hepix.md §2, §5): virtual appliances with versions and images, VO-wide image
lists curated by VO managers, and the signed HEPiX lists published from them.

Who may do what is the one permission question (egiportal.permissions): appliances and what they hold are
public once released, and their owner and contacts may change them (appliances.grants.AuthorGrants); a
VO's lists belong to the VO (permissions.VOGrants: its managers curate them).
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from egiportal import permissions
from egiportal import validators as v
from egiportal.models import BaseModel, PortalQuerySet, VirtualOrganisation, single_line
from egiportal.tokens import SecretToken

from .choices import (
    AcceleratorType,
    Architecture,
    ContextFormat,
    EntryState,
    Hypervisor,
    ImageFormat,
    IntegrityStatus,
    JobState,
    ListState,
    OSFamily,
    VersionState,
)

# The longest a version may live: expiry removes the images from the sites (§1.9), so it is bounded and
# renewed by publishing a new version.
MAX_LIFETIME = timedelta(days=365)
EXPIRING_WITHIN = timedelta(days=30)

appliance_name = RegexValidator(
    r"^[a-z0-9][a-z0-9._-]{0,99}\Z",
    "Use lower-case letters, digits, dots, hyphens and underscores, starting with a letter or digit.",
)
version_string = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._+~-]{0,49}\Z",
    "Use letters, digits and . _ + ~ - (at most 50), starting with a letter or digit, e.g. 2024.06.1.",
)
sha512_hex = RegexValidator(r"^[0-9a-f]{128}\Z", "A SHA-512 checksum is 128 hexadecimal digits.")
os_text = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9 ._+()/-]{0,59}\Z", "Use letters, digits, spaces and . _ + ( ) / -.")
# Network rules as AppDB kept them (§2.1 vmi_net_traffic): direction:protocols:ports, e.g. "in:tcp:22;in:tcp,udp:80-81".
network_rules = RegexValidator(
    r"^((in|out):(tcp|udp|icmp|ipsec|any)(,(tcp|udp|icmp|ipsec))*:(\d{1,5}(-\d{1,5})?|any)"
    r"(;(in|out):(tcp|udp|icmp|ipsec|any)(,(tcp|udp|icmp|ipsec))*:(\d{1,5}(-\d{1,5})?|any))*)?\Z",
    "Write rules as direction:protocols:ports separated by ';', e.g. in:tcp:22;in:tcp,udp:8000-8080.",
)
# Multi-line text: no control characters but tab and newlines.
multi_line = RegexValidator(r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*\Z", "Control characters are not allowed.")


def _check_choice_list(value, choices, label):
    """`value` must be a comma-separated list of `choices` values, each at most once."""
    items = value.split(",") if value else []
    unknown = [item for item in items if item not in choices.values]
    if unknown:
        raise ValidationError(f"Unknown {label}: {', '.join(unknown)}. Choose from {', '.join(choices.values)}.")
    if len(set(items)) != len(items):
        raise ValidationError(f"Name each {label} once.")


def hypervisor_list(value):
    _check_choice_list(value, Hypervisor, "hypervisor")


def context_format_list(value):
    _check_choice_list(value, ContextFormat, "contextualisation format")


class Category(models.Model):
    """A catalogue category (Operating systems, Bioinformatics, ...), managed by portal administrators."""

    name = models.CharField(max_length=100, unique=True, validators=[v.free_text, single_line])
    public = True

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class ReleasedQuerySet(PortalQuerySet):
    """Appliance parts that are public once released: anyone may view a published or archived version
    (and its images and checks); a working version only its authors. `released` names the filter that
    says a row is released."""

    released = Q()

    def visible_to(self, user, action=permissions.VIEW):
        if action != permissions.VIEW:
            return permissions.visible_to(self, user, action)
        editable = permissions.visible_to(self.model._base_manager.all(), user, permissions.EDIT)
        return self.filter(self.released | Q(pk__in=editable.values("pk")))


class ApplianceQuerySet(ReleasedQuerySet):
    released = Q(deleted__isnull=True)

    def listed(self):
        return self.filter(deleted__isnull=True)


class VirtualAppliance(BaseModel):
    """A virtual appliance: a named machine image product whose versions authors publish (AppDB's VA).

    `name` is its short name in URLs (/store/vappliance/<name>/image.list); `guid` its identifier in
    lists. Deleting one only marks it deleted: VO lists that hold its images say so until their
    managers remove it (§2.4), and its published artefacts stay for audit.
    """

    name = models.CharField(max_length=100, unique=True, validators=[appliance_name])
    title = models.CharField(max_length=200, validators=[v.free_text, single_line])
    description = models.TextField(max_length=5000, blank=True, validators=[multi_line])
    categories = models.ManyToManyField(Category, blank=True, related_name="appliances")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_appliances"
    )
    contacts = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="appliance_contacts", help_text="Co-authors who may edit."
    )
    homepage = models.CharField(max_length=2048, blank=True, validators=[v.url])
    logo = models.BinaryField(null=True, blank=True, editable=False)
    logo_type = models.CharField(max_length=32, blank=True, editable=False)
    guid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    deleted = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApplianceQuerySet.as_manager()
    public = True
    appliance_path = ""  # appliances.grants.AuthorGrants: the owner and contacts may edit it
    personal_fields = ("contacts",)

    class Meta:
        ordering = ["title", "name"]
        verbose_name = "virtual appliance"
        constraints = [models.UniqueConstraint(Lower("name"), name="uniq_appliance_name_any_case")]

    def __str__(self):
        return self.title or self.name

    def get_absolute_url(self):
        return reverse("appliance", args=[self.name])

    def audit_state(self):
        state = self.snapshot()
        state.pop("logo", None)
        if self.pk:
            state["categories"] = sorted(c.name for c in self.categories.all())
            state["contacts"] = sorted(u.username for u in self.contacts.all())
        return state


class VersionQuerySet(ReleasedQuerySet):
    released = ~Q(state=VersionState.WORKING) & Q(appliance__deleted__isnull=True)


class ApplianceVersion(BaseModel):
    """One version of an appliance (§2.2): working while its authors edit it, published once verified and
    released (the previous published one becomes archived), never reusing a version string."""

    appliance = models.ForeignKey(VirtualAppliance, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=50, validators=[version_string])
    guid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    notes = models.TextField(max_length=1000, blank=True, validators=[multi_line])
    state = models.CharField(max_length=16, choices=VersionState.choices, default=VersionState.WORKING, editable=False)
    status = models.CharField(
        max_length=16, choices=IntegrityStatus.choices, default=IntegrityStatus.INIT, editable=False
    )
    expires = models.DateTimeField(help_text="At most one year ahead; images leave the sites when it passes.")
    published = models.DateTimeField(null=True, blank=True, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False, related_name="+"
    )
    archived = models.DateTimeField(null=True, blank=True, editable=False)
    expiry_notified = models.DateTimeField(null=True, blank=True, editable=False)

    objects = VersionQuerySet.as_manager()
    appliance_path = "appliance"

    class Meta:
        ordering = ["appliance", "-created"]
        constraints = [
            models.UniqueConstraint(fields=["appliance", "version"], name="uniq_version_string"),
            models.UniqueConstraint(
                fields=["appliance"], condition=Q(state=VersionState.WORKING), name="one_working_version"
            ),
            models.UniqueConstraint(
                fields=["appliance"], condition=Q(state=VersionState.PUBLISHED), name="one_published_version"
            ),
        ]

    def __str__(self):
        return f"{self.appliance} {self.version}"

    def get_absolute_url(self):
        return reverse("appliance_version", args=[self.appliance.name, self.pk])

    @property
    def is_expired(self):
        return self.expires <= timezone.now()

    @property
    def expires_soon(self):
        return not self.is_expired and self.expires <= timezone.now() + EXPIRING_WITHIN

    @property
    def released(self):
        return self.state != VersionState.WORKING


class VersionPartQuerySet(ReleasedQuerySet):
    """Images and integrity checks: released with their version."""

    released = ~Q(version__state=VersionState.WORKING) & Q(version__appliance__deleted__isnull=True)


class Image(BaseModel):
    """An image of a version (AppDB's VMI instance, §2.3): one file at `url` with its metadata. `guid` stays
    the same when a new version carries the image on, so lists keep their image identifiers (§1.6)."""

    version = models.ForeignKey(ApplianceVersion, on_delete=models.CASCADE, related_name="images")
    guid = models.UUIDField(default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=200, blank=True, validators=[v.free_text_optional, single_line])
    description = models.TextField(max_length=2000, blank=True, validators=[multi_line])
    notes = models.TextField(max_length=1000, blank=True, validators=[multi_line])
    url = models.CharField("URL", max_length=2048, validators=[v.url])
    format = models.CharField(max_length=8, choices=ImageFormat.choices)
    declared_size = models.PositiveBigIntegerField(null=True, blank=True, help_text="Bytes, if you know it.")
    declared_sha512 = models.CharField(
        "declared SHA-512", max_length=128, blank=True, validators=[sha512_hex], help_text="The check must match it."
    )
    size = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    sha512 = models.CharField("SHA-512", max_length=128, blank=True, editable=False, validators=[sha512_hex])
    verified = models.DateTimeField(null=True, blank=True, editable=False)
    arch = models.CharField("architecture", max_length=16, choices=Architecture.choices, default=Architecture.X86_64)
    os_family = models.CharField("OS family", max_length=16, choices=OSFamily.choices, default=OSFamily.LINUX)
    os_name = models.CharField("OS name", max_length=60, validators=[os_text])
    os_version = models.CharField("OS version", max_length=60, validators=[os_text])
    hypervisors = models.CharField(max_length=200, default=Hypervisor.KVM, validators=[hypervisor_list])
    ram_minimum = models.PositiveIntegerField(
        "minimum RAM (MB)", null=True, blank=True, validators=[MinValueValidator(64), MaxValueValidator(4 << 20)]
    )
    ram_recommended = models.PositiveIntegerField(
        "recommended RAM (MB)", null=True, blank=True, validators=[MinValueValidator(64), MaxValueValidator(4 << 20)]
    )
    cores_minimum = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(1024)]
    )
    cores_recommended = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(1024)]
    )
    accelerator_type = models.CharField(max_length=8, blank=True, choices=AcceleratorType.choices)
    accelerators_minimum = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(64)]
    )
    accelerators_recommended = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(64)]
    )
    network_rules = models.CharField(max_length=500, blank=True, validators=[network_rules])
    context_formats = models.CharField(
        max_length=200,
        blank=True,
        default=ContextFormat.CLOUD_INIT,
        validators=[context_format_list],
    )

    objects = VersionPartQuerySet.as_manager()
    appliance_path = "version__appliance"

    class Meta:
        ordering = ["version", "id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "guid"], name="uniq_image_guid_in_version"),
            models.UniqueConstraint(fields=["version", "url", "hypervisors"], name="uniq_image_url_in_version"),
        ]

    def __str__(self):
        return self.title or self.default_title()

    def get_absolute_url(self):
        """An image is shown on its version's page."""
        return self.version.get_absolute_url()

    def default_title(self):
        """AppDB's default (§2.2): Image for <appliance> [<os>/<os version>/<hypervisors>]."""
        appliance = self.version.appliance if self.version_id else None
        return f"Image for {appliance} [{self.os_name}/{self.os_version}/{self.hypervisors}]"

    def clean(self):
        errors = {}
        pairs = [
            ("ram_minimum", "ram_recommended"),
            ("cores_minimum", "cores_recommended"),
            ("accelerators_minimum", "accelerators_recommended"),
        ]
        for low, high in pairs:
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and b < a:
                errors[high] = "The recommended value cannot be below the minimum."
        if self.url:
            from .integrity import IntegrityFailure, validate_url

            try:  # what the check would refuse (ftp:, credentials, no host) is refused when typed
                validate_url(self.url)
            except IntegrityFailure as failure:
                errors["url"] = failure.message
        if (self.accelerators_minimum or self.accelerators_recommended) and not self.accelerator_type:
            errors["accelerator_type"] = "Say which kind of accelerator the image needs."
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        self.declared_sha512 = self.declared_sha512.strip().lower()
        super().save(*args, **kwargs)

    @property
    def hypervisor_list(self):
        return self.hypervisors.split(",") if self.hypervisors else []


class IntegrityJob(models.Model):
    """One integrity check of a version (§3): a Celery job downloads each image, computing its size and
    SHA-512. The version page polls this row for `progress` (per image id: state, bytes done, total,
    error); `cancel_requested` asks the job to stop; `publish` publishes the version when all succeed.

    The row is the job's own record of delivery: a worker claims it (queued -> running) and beats
    `heartbeat` while it downloads; a check whose worker died (no heartbeat) is started again, at most
    INTEGRITY_MAX_ATTEMPTS times, then failed, and never ends verified without a complete run."""

    version = models.ForeignKey(ApplianceVersion, on_delete=models.CASCADE, related_name="jobs")
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    publish = models.BooleanField(default=False, help_text="Publish the version when the check succeeds.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of the running check.")
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    progress = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    objects = VersionPartQuerySet.as_manager()
    appliance_path = "version__appliance"

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            # One check at a time per version: a second request while one runs is refused.
            models.UniqueConstraint(
                fields=["version"],
                condition=Q(state__in=[JobState.QUEUED, JobState.RUNNING]),
                name="one_running_check_per_version",
            )
        ]

    def __str__(self):
        return f"Integrity check {self.pk} of {self.version}"

    @property
    def is_active(self):
        return self.state in (JobState.QUEUED, JobState.RUNNING)


class ImageListQuerySet(PortalQuerySet):
    def visible_to(self, user, action=permissions.VIEW):
        """Anyone may view a VO's published and obsolete lists unless the VO keeps them private; its
        members view private ones; its managers (permissions.VOGrants) the draft and everything else."""
        if action != permissions.VIEW:
            return permissions.visible_to(self, user, action)
        members = permissions.visible_to(self.model._base_manager.all(), user, permissions.VIEW)
        managers = permissions.visible_to(self.model._base_manager.all(), user, permissions.EDIT)
        released = ~Q(state=ListState.DRAFT)
        return self.filter(
            (released & Q(private=False))
            | (released & Q(pk__in=members.values("pk")))
            | Q(pk__in=managers.values("pk"))
        )


def list_identifier(vo_name):
    """A VO list's dc:identifier, the same forever (§1.6): uuid5(OID, "vowide_image_list:<vo>")."""
    return uuid.uuid5(uuid.NAMESPACE_OID, f"vowide_image_list:{vo_name}")


def list_image_identifier(vo_name, image_guid):
    """An image's dc:identifier in a VO's list (§1.6): stable across versions, distinct per VO."""
    return uuid.uuid5(uuid.NAMESPACE_OID, f"vowide_image_list_image:{vo_name}:{image_guid}")


class VOImageList(BaseModel):
    """A VO-wide image list (§2.4): the one draft its managers curate, the one published that sites
    subscribe to, and the obsolete ones published before. `version` is the hv:version given at publication."""

    vo = models.ForeignKey(VirtualOrganisation, on_delete=models.CASCADE, related_name="image_lists")
    state = models.CharField(max_length=16, choices=ListState.choices, default=ListState.DRAFT, editable=False)
    private = models.BooleanField(default=False, help_text="Sites need a subscriber token to download it.")
    version = models.CharField(max_length=14, blank=True, editable=False)
    published = models.DateTimeField(null=True, blank=True, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False, related_name="+"
    )
    notified = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ImageListQuerySet.as_manager()
    vo_path = "vo"

    class Meta:
        ordering = ["vo__name", "-published", "-id"]
        verbose_name = "VO image list"
        constraints = [
            models.UniqueConstraint(fields=["vo"], condition=Q(state=ListState.DRAFT), name="one_draft_list"),
            models.UniqueConstraint(fields=["vo"], condition=Q(state=ListState.PUBLISHED), name="one_published_list"),
            models.UniqueConstraint(fields=["vo", "version"], condition=~Q(version=""), name="uniq_list_version"),
        ]

    def __str__(self):
        return f"{self.vo} image list ({self.get_state_display().lower()})"

    def get_absolute_url(self):
        return reverse("vo_image_list", args=[self.vo.name])

    @property
    def identifier(self):
        return list_identifier(self.vo.name)

    def audit_state(self):
        state = self.snapshot()
        if self.pk:
            state["entries"] = sorted(
                f"{e.image.version.appliance.name} {e.image.version.version} {e.image.guid}"
                for e in self.entries.select_related("image__version__appliance")
            )
        return state


class VOImageListEntry(models.Model):
    """An image in a VO list. It points at one image of one version: a new appliance version changes no
    list by itself (§2.4); the managers update the entry."""

    image_list = models.ForeignKey(VOImageList, on_delete=models.CASCADE, related_name="entries")
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="list_entries")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    vo_path = "image_list__vo"

    class Meta:
        ordering = ["image_list", "id"]
        verbose_name = "VO image list entry"
        verbose_name_plural = "VO image list entries"
        constraints = [models.UniqueConstraint(fields=["image_list", "image"], name="uniq_list_image")]

    def __str__(self):
        return f"{self.image} in {self.image_list}"

    def state(self, current, now=None):
        """This entry's EntryState, given `current`: its appliance's published version (or None)."""
        now = now or timezone.now()
        version = self.image.version
        if version.appliance.deleted is not None:
            return EntryState.DELETED
        if version.expires <= now:
            return EntryState.EXPIRED
        if current is None or current.pk != version.pk:
            return EntryState.OUTDATED
        if version.expires <= now + EXPIRING_WITHIN:
            return EntryState.EXPIRING
        return EntryState.UP_TO_DATE


class ArtefactQuerySet(PortalQuerySet):
    def visible_to(self, user, action=permissions.VIEW):
        """An artefact is as visible as its list: a VO's private ones to its members, the rest to all."""
        if action != permissions.VIEW:
            return self.none() if not (user and user.is_superuser) else self
        members = permissions.visible_to(self.model._base_manager.all(), user, permissions.VIEW)
        return self.filter(Q(private=False) | Q(pk__in=members.values("pk")))


class PublishedArtefact(models.Model):
    """A signed HEPiX list as it was served, kept for ever (§5): a VO's list (`vo`) or an appliance's
    (`appliance`). Rows are written once and never changed; the newest of each list is served."""

    vo = models.ForeignKey(
        VirtualOrganisation, null=True, blank=True, on_delete=models.PROTECT, related_name="image_list_artefacts"
    )
    image_list = models.ForeignKey(VOImageList, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    appliance = models.ForeignKey(
        VirtualAppliance, null=True, blank=True, on_delete=models.PROTECT, related_name="artefacts"
    )
    version = models.CharField(max_length=14)
    identifier = models.UUIDField()
    private = models.BooleanField(default=False)
    document = models.TextField()
    signed = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    signer_dn = models.CharField(max_length=500)
    signer_ca = models.CharField(max_length=500)
    image_count = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ArtefactQuerySet.as_manager()
    vo_path = "vo"

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(vo__isnull=False, appliance__isnull=True) | Q(vo__isnull=True, appliance__isnull=False),
                name="artefact_of_one_list",
            ),
            models.UniqueConstraint(fields=["vo", "version"], name="uniq_vo_artefact_version"),
            models.UniqueConstraint(fields=["appliance", "version"], name="uniq_appliance_artefact_version"),
        ]

    def __str__(self):
        return f"{self.vo or self.appliance} image list {self.version}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("A published artefact is never changed.")
        super().save(*args, **kwargs)


class ListSubscriber(SecretToken, models.Model):
    """A site's token to download a VO's private list (§1.6: HTTP Basic, the token as user name and
    `x-oauth-basic` as password). The core's token scheme (egiportal.tokens.SecretToken): a keyed digest and a
    display prefix are stored, the secret is shown once. Not in PORTAL_TOKEN_MODELS: it opens one VO's
    private list, never the API."""

    vo = models.ForeignKey(VirtualOrganisation, on_delete=models.CASCADE, related_name="list_subscribers")
    name = models.CharField(
        max_length=100, validators=[v.free_text, single_line], help_text="Who uses it, e.g. a site."
    )
    prefix = models.CharField(max_length=16, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    revoked = models.DateTimeField(null=True, blank=True, editable=False)

    TOKEN_PREFIX = "egil_"
    DISPLAY_LENGTH = 12
    objects = PortalQuerySet.as_manager()
    vo_path = "vo"
    audit_private = True

    class Meta:
        ordering = ["vo__name", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["vo", "name"], name="uniq_subscriber_name")]

    def __str__(self):
        return f"Subscriber {self.name} of {self.vo}"

    def audit_state(self):
        return {"vo": self.vo.name, "name": self.name, "prefix": self.prefix, "revoked": str(self.revoked or "")}
