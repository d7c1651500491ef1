"""Accounting (accounting.md §6): the raw messages cloud sites send, the records they carry (one row per
VM and month, APEL's key, with the improved replace rule), and the summaries built from them.

Strings that APEL calls null are stored as "" (so that they group and compare); the API shows them as
null. Records belong to a site of the configuration database; per-user detail (GlobalUserName, and the
records themselves) is for those who administer the site or manage the VO (the one permission question,
action `DETAIL` = edit: GOCDB site roles through `role_paths`, VO managers through `vo_path`).
"""

from django.db import models

from egiportal import permissions
from egiportal.models import PortalQuerySet, VirtualOrganisation
from sites.choices import EntityKind
from sites.models import Site

from .choices import MessageKind, MessageState

# Who may see per-user usage: the site's administrators (GOCDB roles that may edit the site) and the VO's
# managers (VOGrants: editing a VO's things is for its managers), and portal administrators.
DETAIL = permissions.EDIT
SITE_PATHS = {EntityKind.SITE: "site", EntityKind.NGI: "site__ngi", EntityKind.PROJECT: "site__ngi__projects"}


def text(max_length=255, **kwargs):
    return models.CharField(max_length=max_length, blank=True, default="", **kwargs)


def decimal(**kwargs):
    return models.DecimalField(max_digits=13, decimal_places=3, null=True, blank=True, **kwargs)


class SiteOwned(models.Model):
    """A row of one site's usage: private, seen by the site's administrators and the VO's managers."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    vo_ref = models.ForeignKey(VirtualOrganisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = PortalQuerySet.as_manager()
    role_target = EntityKind.SITE
    role_paths = SITE_PATHS
    vo_path = "vo_ref"

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self._meta.verbose_name} {self.pk} of {self.site_id}"


class ByVO(SiteOwned):
    """A record of a VO's usage: the FQAN as sent, the VO, group and role the server derives from it
    (messages.parse_fqan), and whose usage it is (per-user detail)."""

    global_user_name = text()
    fqan = text()
    vo = text()
    vo_group = text()
    vo_role = text()

    class Meta:
        abstract = True


class RawMessage(models.Model):
    """A message as it arrived, kept for audit and reprocessing (accepted or rejected, with the reason)."""

    received = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=16, choices=MessageKind.choices, blank=True)
    state = models.CharField(max_length=16, choices=MessageState.choices)
    body = models.TextField()
    sha256 = models.CharField(max_length=64)
    message_id = text(help_text="The sender's X-Message-Id (or SSM's empaid): a retry with it is not stored twice.")
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    sender = text(help_text="The API credential or signer DN it came with.")
    source = models.CharField(max_length=8, choices=[("http", "HTTP"), ("dirq", "dirq queue")], default="http")
    record_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    objects = PortalQuerySet.as_manager()
    role_target = EntityKind.SITE
    role_paths = SITE_PATHS
    audit_private = True

    class Meta:
        ordering = ["-received", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "message_id"], condition=~models.Q(message_id=""), name="uniq_accounting_message_id"
            )
        ]
        indexes = [models.Index(fields=["site", "kind", "-received"])]

    def __str__(self):
        return f"{self.get_kind_display() or 'Message'} {self.pk} from {self.site or self.sender or 'unknown'}"


class CloudRecord(ByVO):
    """A VM's cumulative usage snapshot for one month (APEL's CloudRecords, §2.2): one row per VM, site and
    measurement month; a newer snapshot replaces it, an older one never does (MeasurementTime, then
    WallDuration)."""

    vm_uuid = models.CharField(max_length=255)
    cloud_compute_service = text()
    machine_name = text()
    local_user_id = text()
    local_group_id = text()
    status = text()
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    suspend_duration = models.BigIntegerField(null=True, blank=True)
    wall_duration = models.BigIntegerField(null=True, blank=True)
    cpu_duration = models.BigIntegerField(null=True, blank=True)
    cpu_count = decimal()
    network_type = text()
    network_inbound = models.BigIntegerField(null=True, blank=True)
    network_outbound = models.BigIntegerField(null=True, blank=True)
    public_ip_count = models.IntegerField(null=True, blank=True)
    memory = models.BigIntegerField(null=True, blank=True)
    disk = models.BigIntegerField(null=True, blank=True)
    benchmark_type = text(50)
    benchmark = decimal()
    storage_record_id = text()
    image_id = text()
    cloud_type = text()
    record_create_time = models.DateTimeField(null=True, blank=True)
    measurement_time = models.DateTimeField(null=True, blank=True)
    measurement_year = models.PositiveSmallIntegerField()
    measurement_month = models.PositiveSmallIntegerField()
    message = models.ForeignKey(RawMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["site", "vm_uuid", "measurement_year", "measurement_month"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "vm_uuid", "measurement_year", "measurement_month"], name="uniq_cloud_record"
            )
        ]
        indexes = [models.Index(fields=["site", "vm_uuid", "measurement_time"])]

    def __str__(self):
        return f"VM {self.vm_uuid} at {self.site_id}, {self.measurement_year}-{self.measurement_month:02d}"


class IPRecord(ByVO):
    """A count of public IPs a project (or user) holds (§1.3): the latest snapshot per site, service,
    project, user, IP version and month."""

    measurement_time = models.DateTimeField()
    measurement_year = models.PositiveSmallIntegerField()
    measurement_month = models.PositiveSmallIntegerField()
    cloud_compute_service = text()
    cloud_type = text()
    local_user = text()
    local_group = text()
    ip_version = models.PositiveSmallIntegerField()
    ip_count = models.PositiveIntegerField()
    max_ip_count = models.PositiveIntegerField(help_text="The most seen in the month.")
    message = models.ForeignKey(RawMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["site", "measurement_year", "measurement_month", "local_group", "ip_version"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "site", "cloud_compute_service", "local_group", "global_user_name", "ip_version",
                    "measurement_year", "measurement_month",
                ],
                name="uniq_ip_record",
            )
        ]  # fmt: skip


class AcceleratorRecord(ByVO):
    """Accelerator time of one VM in one month (§1.4): seconds within that month, replaced by a newer report."""

    measurement_year = models.PositiveSmallIntegerField()
    measurement_month = models.PositiveSmallIntegerField()
    associated_record_type = models.CharField(max_length=8)
    associated_record = models.CharField(max_length=255)
    count = decimal()
    cores = models.IntegerField(null=True, blank=True)
    active_duration = models.BigIntegerField()
    available_duration = models.BigIntegerField()
    benchmark_type = text(50)
    benchmark = decimal()
    type = models.CharField(max_length=8)
    model = text()
    cloud_type = text()
    cloud_compute_service = text()
    message = models.ForeignKey(RawMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["site", "measurement_year", "measurement_month", "associated_record"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "associated_record", "model", "measurement_year", "measurement_month"],
                name="uniq_accelerator_record",
            )
        ]


class StorageRecord(ByVO):
    """A block volume's size at a time (§1.5, StAR): the latest per volume and month is kept, so a month's
    history stays instead of being overwritten by every run."""

    record_id = models.CharField(max_length=255)
    create_time = models.DateTimeField(null=True, blank=True)
    storage_system = text()
    local_user = text()
    local_group = text()
    group = text()
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    resource_capacity_used = models.BigIntegerField(help_text="Bytes.")
    measurement_year = models.PositiveSmallIntegerField()
    measurement_month = models.PositiveSmallIntegerField()
    message = models.ForeignKey(RawMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["site", "record_id", "measurement_year", "measurement_month"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "record_id", "measurement_year", "measurement_month"], name="uniq_storage_record"
            )
        ]


def sum_of_product(*names):
    """Σ of the product of these columns, exact (numeric in the database): CPU time is Σ wall × vCPUs."""
    expression = models.F(names[0])
    for name in names[1:]:
        expression = expression * models.F(name)
    output = models.DecimalField(max_digits=40, decimal_places=6)
    return models.Sum(models.ExpressionWrapper(expression, output_field=output))


class SummaryQuerySet(PortalQuerySet):
    def visible_to(self, user, action=permissions.VIEW):
        """Summaries are public; per-user detail (DETAIL) is for the site's administrators and VO's managers."""
        return self if action == permissions.VIEW else permissions.visible_to(self, user, action)


class Summary(models.Model):
    """A month of one site's usage, summed: public, but per-user rows and columns are DETAIL."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    vo_ref = models.ForeignKey(VirtualOrganisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    year = models.PositiveSmallIntegerField()
    month = models.PositiveSmallIntegerField()

    objects = SummaryQuerySet.as_manager()
    public = True
    role_target = EntityKind.SITE
    role_paths = SITE_PATHS
    vo_path = "vo_ref"

    class Meta:
        abstract = True
        ordering = ["year", "month", "site", "id"]

    def __str__(self):
        return f"{self._meta.verbose_name} of {self.site_id}, {self.year}-{self.month:02d}"


class CloudSummary(Summary):
    """APEL's CloudSummaries (§2.3): monthly usage grouped by site, service, month, user, VO, VO group, VO
    role, status, image, CPU count and benchmark. `from_records` rows are rebuilt from CloudRecords by the
    summariser; the others came as APEL-cloud-summary-messages from regional servers."""

    cloud_compute_service = text()
    global_user_name = text()
    vo = text()
    vo_group = text()
    vo_role = text()
    status = text()
    image_id = text()
    cpu_count = models.DecimalField(max_digits=13, decimal_places=3, default=0)  # APEL: 0.0 when absent
    benchmark_type = text(50)
    benchmark = models.DecimalField(max_digits=13, decimal_places=3, default=0)
    number_of_vms = models.PositiveIntegerField()
    wall_duration = models.BigIntegerField(null=True, blank=True)
    cpu_duration = models.BigIntegerField(null=True, blank=True)
    network_inbound = models.BigIntegerField(null=True, blank=True)
    network_outbound = models.BigIntegerField(null=True, blank=True)
    memory = models.BigIntegerField(null=True, blank=True)
    disk = models.BigIntegerField(null=True, blank=True)
    earliest_start_time = models.DateTimeField(null=True, blank=True)
    latest_start_time = models.DateTimeField(null=True, blank=True)
    cloud_type = text()
    from_records = models.BooleanField(default=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["year", "month", "site", "vo", "id"]
        verbose_name_plural = "cloud summaries"
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "site", "cloud_compute_service", "year", "month", "global_user_name", "vo", "vo_group", "vo_role",
                    "status", "image_id", "cpu_count", "benchmark_type", "benchmark", "from_records",
                ],
                name="uniq_cloud_summary",
            )
        ]  # fmt: skip
        indexes = [models.Index(fields=["year", "month"]), models.Index(fields=["vo", "year", "month"])]


class AcceleratorSummary(Summary):
    """Accelerator hours per month, site, VO, user, type and model (PR #459's SummariseAccelerators)."""

    associated_record_type = models.CharField(max_length=8)
    global_user_name = text()
    vo = text()
    type = models.CharField(max_length=8)
    model = text()
    count = decimal(help_text="Sum of the records' accelerator counts.")
    available_duration = models.BigIntegerField()
    active_duration = models.BigIntegerField()
    accelerator_seconds = models.BigIntegerField(help_text="Σ AvailableDuration × Count.")
    number_of_records = models.PositiveIntegerField()

    class Meta(Summary.Meta):
        pass


class IPSummary(Summary):
    """Public IPs per month, site and VO: the last snapshot's count and the most seen."""

    vo = text()
    ip_version = models.PositiveSmallIntegerField()
    last_count = models.PositiveIntegerField()
    max_count = models.PositiveIntegerField()

    class Meta(Summary.Meta):
        pass


class StorageSummary(Summary):
    """Block storage per month, site and VO: the volumes' latest sizes summed, in bytes."""

    vo = text()
    volumes = models.PositiveIntegerField()
    capacity = models.BigIntegerField()

    class Meta(Summary.Meta):
        pass


class CloudUsage(Summary):
    """CloudSummary rolled up by site, VO and month (services.summarise rebuilds it with the summaries): the
    pivots by NGI, country, site, VO, month and year, which the classic URLs and the pages mostly ask for,
    read these few rows instead of every user's and image's summary. CPU and normalised time are kept as
    Σ wall × vCPUs and Σ wall × vCPUs × benchmark, exact, as the finer rows would sum them."""

    vo = text()
    number_of_vms = models.PositiveIntegerField()
    wall_duration = models.BigIntegerField(null=True, blank=True)
    cpu_seconds = models.DecimalField(max_digits=30, decimal_places=3, null=True, blank=True)
    normalised_seconds = models.DecimalField(max_digits=36, decimal_places=6, null=True, blank=True)
    processors = models.DecimalField(max_digits=20, decimal_places=3, null=True, blank=True)
    memory = models.BigIntegerField(null=True, blank=True)
    disk = models.BigIntegerField(null=True, blank=True)
    network_inbound = models.BigIntegerField(null=True, blank=True)
    network_outbound = models.BigIntegerField(null=True, blank=True)

    class Meta(Summary.Meta):
        verbose_name = "cloud usage"
        verbose_name_plural = "cloud usage"
        indexes = [models.Index(fields=["year", "month"])]
