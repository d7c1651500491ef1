"""Business operations on appliances, their versions and images, and their integrity checks
(appdb-hepix.md §2.2, §2.3, §3). VO lists and publication are in appliances.publishing.

Every operation takes the acting user first, asks the one permission question, validates through the
models, writes in one transaction and records the change in the audit log.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from egiportal import audit, permissions
from egiportal.choices import AuditAction as CoreAction
from egiportal.errors import Conflict, Forbidden, Invalid
from egiportal.services import locked_row, save_audited

from . import integrity
from .choices import AuditAction, IntegrityStatus, JobState, VersionState
from .models import MAX_LIFETIME, ApplianceVersion, Image, IntegrityJob, ListSubscriber, VirtualAppliance

logger = logging.getLogger(__name__)

LOGO_MAX_BYTES = 256 * 1024
# Raster formats only, told by their first bytes: an SVG can carry script.
LOGO_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


def require_author(actor, obj, what="this appliance"):
    permissions.require(actor, permissions.EDIT, obj, f"Only the owner and contacts of {what} may change it.")


def _require_user(actor):
    if not permissions.is_active_user(actor):
        raise Forbidden("Log in to add appliances.")


# ---------------------------------------------------------------------------------------------
# Appliances
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def save_appliance(actor, appliance, *, categories=None, contacts=None):
    """Create or update an appliance. Anyone logged in may create one and becomes its owner; then its
    owner and contacts may change it. Names are unique whatever their case."""
    _require_user(actor)
    if appliance.pk is None:
        appliance.owner = appliance.owner or actor
    else:
        require_author(actor, appliance)
        if locked_row(appliance).deleted is not None:
            raise Conflict("This appliance has been deleted.")
    appliance.full_clean(validate_unique=False, validate_constraints=False)  # field rules first: no NUL reaches a query
    if VirtualAppliance.objects.filter(name__iexact=appliance.name).exclude(pk=appliance.pk).exists():
        raise Conflict({"name": f"An appliance named {appliance.name} exists already."})
    m2m = {}
    if categories is not None:
        m2m["categories"] = categories
    if contacts is not None:
        m2m["contacts"] = contacts
    return save_audited(actor, appliance, m2m=m2m)


def logo_type(data):
    """The content type of logo bytes, or an Invalid saying why they are refused."""
    if len(data) > LOGO_MAX_BYTES:
        raise Invalid(
            {"logo": f"A logo may be at most {LOGO_MAX_BYTES // 1024} KB; this one is {len(data) // 1024} KB."}
        )
    for signature, content_type in LOGO_SIGNATURES.items():
        if data.startswith(signature):
            return content_type
    raise Invalid({"logo": "Upload a PNG, JPEG or GIF image."})


@transaction.atomic
def set_logo(actor, appliance, data):
    """Replace (or with empty `data`, remove) an appliance's logo."""
    require_author(actor, appliance)
    row = locked_row(appliance)
    row.logo, row.logo_type = (data, logo_type(data)) if data else (None, "")
    row.save(update_fields=["logo", "logo_type", "last_updated"])
    audit.record(
        actor, CoreAction.UPDATE, row, None, None, "logo removed" if not data else f"new logo ({row.logo_type})"
    )
    return row


@transaction.atomic
def delete_appliance(actor, appliance):
    """Mark an appliance deleted: it leaves the catalogue, its working version goes, its published
    artefacts stay, and VO lists holding its images show them as deleted until their managers act."""
    require_author(actor, appliance)
    row = locked_row(appliance)
    before = row.audit_state()
    row.versions.filter(state=VersionState.WORKING).delete()
    row.deleted = timezone.now()
    row.save(update_fields=["deleted", "last_updated"])
    audit.record(actor, CoreAction.DELETE, row, before, row.audit_state(), "marked deleted")
    return row


# ---------------------------------------------------------------------------------------------
# Versions and images
# ---------------------------------------------------------------------------------------------


def clamp_expiry(expires, now=None):
    """(`expires`, None), or one year from now and a message saying so when `expires` is later (§2.2)."""
    limit = (now or timezone.now()) + MAX_LIFETIME
    if expires is not None and expires > limit:
        return limit, f"Expiry set to {limit:%Y-%m-%d %H:%M} UTC: a version lives at most one year."
    return expires, None


def _require_working(version):
    if version.state != VersionState.WORKING:
        raise Conflict(f"Version {version.version} is {version.get_state_display().lower()}: make a new version.")


@transaction.atomic
def save_version(actor, version):
    """Create or update the working version of an appliance. Returns (version, note), `note` saying when
    the expiry was clamped. A new version starts as a copy of the published one's images (same image
    identifiers, §2.2); its version string may never have been used by the appliance."""
    appliance = version.appliance
    require_author(actor, appliance)
    if appliance.deleted is not None:
        raise Conflict("This appliance has been deleted.")
    creating = version.pk is None
    if not creating:
        _require_working(locked_row(version))
    if version.expires is None:
        version.expires = timezone.now() + MAX_LIFETIME
    version.expires, note = clamp_expiry(version.expires)
    if version.expires <= timezone.now():
        raise Invalid({"expires": "The expiry must be in the future."})
    version.full_clean(validate_unique=False, validate_constraints=False)  # field rules first: no NUL reaches a query
    if appliance.versions.filter(version=version.version).exclude(pk=version.pk).exists():
        raise Conflict({"version": f"Version {version.version} has been used already: choose a new version string."})
    if creating and appliance.versions.filter(state=VersionState.WORKING).exists():
        raise Conflict("This appliance has a working version already: edit it, or delete it first.")
    try:
        with transaction.atomic():
            save_audited(actor, version, saved=_copy_published_images if creating else None)
    except IntegrityError as exc:  # a concurrent create won
        raise Conflict("Another version was saved at the same time; reload and try again.") from exc
    return version, note


def _copy_published_images(version):
    current = version.appliance.versions.filter(state=VersionState.PUBLISHED).first()
    if current is None:
        return
    fields = [
        f.name
        for f in Image._meta.concrete_fields
        if f.name not in ("id", "version", "created", "last_updated", "size", "sha512", "verified")
    ]
    Image.objects.bulk_create(
        Image(version=version, **{name: getattr(image, name) for name in fields}) for image in current.images.all()
    )


# Changing any of these makes a verified version need a new check.
CHECKED_FIELDS = ("url", "declared_size", "declared_sha512")


@transaction.atomic
def save_image(actor, image):
    """Create or update an image of a working version. A change of its file (URL, declared size or
    checksum) clears its computed size and checksum and sends the version back to 'not verified'."""
    version = locked_row(image.version)
    require_author(actor, version.appliance)
    _require_working(version)
    if _has_active_check(version):
        raise Conflict("An integrity check of this version is running: wait for it, or cancel it.")
    stored = None if image.pk is None else locked_row(image)
    if stored is None or any(getattr(stored, f) != getattr(image, f) for f in CHECKED_FIELDS):
        image.size, image.sha512, image.verified = None, "", None
        _reset_status(version)
    try:
        with transaction.atomic():
            return save_audited(actor, image)
    except IntegrityError as exc:
        raise Conflict({"url": "This version has an image with this URL and these hypervisors already."}) from exc


@transaction.atomic
def delete_image(actor, image):
    version = locked_row(image.version)
    require_author(actor, version.appliance)
    _require_working(version)
    if _has_active_check(version):
        raise Conflict("An integrity check of this version is running: wait for it, or cancel it.")
    row = locked_row(image)
    audit.record(actor, CoreAction.DELETE, row, row.audit_state(), None)
    row.delete()
    _reset_status(version)


@transaction.atomic
def delete_version(actor, version):
    """Only a working version can be deleted; released ones are the history lists point at."""
    row = locked_row(version)
    require_author(actor, row.appliance)
    _require_working(row)
    audit.record(actor, CoreAction.DELETE, row, row.audit_state(), None)
    row.delete()


def _reset_status(version):
    if version.status != IntegrityStatus.INIT:
        ApplianceVersion.objects.filter(pk=version.pk).update(status=IntegrityStatus.INIT)


def _has_active_check(version):
    return version.jobs.filter(state__in=[JobState.QUEUED, JobState.RUNNING]).exists()


@transaction.atomic
def publish_version(actor, version):
    """Release a verified working version: the published one is archived, this one published, and the
    appliance's own list re-signed (appliances.publishing). VO lists do not change by themselves (§2.4)."""
    from .publishing import publish_appliance_list

    row = locked_row(version, "appliance")
    require_author(actor, row.appliance)
    _require_working(row)
    problems = []
    if row.status != IntegrityStatus.VERIFIED:
        problems.append("verify its images first")
    if row.is_expired:
        problems.append("its expiry has passed")
    if not row.images.exists():
        problems.append("it has no image")
    if problems:
        raise Conflict(f"Version {row.version} cannot be published: {'; '.join(problems)}.")
    now = timezone.now()
    for old in row.appliance.versions.filter(state=VersionState.PUBLISHED).select_for_update():
        before = old.audit_state()
        old.state, old.archived = VersionState.ARCHIVED, now
        old.save(update_fields=["state", "archived", "last_updated"])
        audit.record(actor, AuditAction.ARCHIVE_VERSION, old, before, old.audit_state())
    before = row.audit_state()
    row.state, row.published, row.published_by = VersionState.PUBLISHED, now, actor
    row.save(update_fields=["state", "published", "published_by", "last_updated"])
    audit.record(actor, AuditAction.PUBLISH_VERSION, row, before, row.audit_state())
    publish_appliance_list(actor, row.appliance)
    return row


# ---------------------------------------------------------------------------------------------
# Integrity checks (§3)
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def request_integrity_check(actor, version, publish=False):
    """Start a check of a working version's images ("Verify", or with `publish` "Verify & publish").
    The job row is written with the request and the worker is asked after commit; a request the broker
    never got is sent again by `resume_integrity_checks`."""
    row = locked_row(version, "appliance")
    require_author(actor, row.appliance)
    _require_working(row)
    if not row.images.exists():
        raise Conflict("Add an image before verifying this version.")
    if _has_active_check(row):
        raise Conflict("An integrity check of this version is running already.")
    job = IntegrityJob.objects.create(version=row, publish=publish, requested_by=actor)
    row.status = IntegrityStatus.VERIFYING
    row.save(update_fields=["status", "last_updated"])
    transaction.on_commit(lambda: _dispatch(job.pk))
    return job


def _dispatch(job_id):
    from .tasks import run_integrity_check

    try:
        run_integrity_check.delay(job_id)
    except Exception as exc:  # the broker is down: the periodic resume sends it later
        logger.warning("Integrity check %s left for the periodic resume: %s", job_id, exc)


@transaction.atomic
def cancel_integrity_check(actor, job):
    """Ask a check to stop. A queued one stops at once; a running one at its next chunk."""
    row = locked_row(job, "version__appliance")
    require_author(actor, row.version.appliance)
    if not row.is_active:
        raise Conflict("This check is over already.")
    row.cancel_requested = True
    fields = ["cancel_requested"]
    if row.state == JobState.QUEUED:
        row.state, row.finished, row.error = JobState.CANCELED, timezone.now(), "Cancelled before it started."
        fields += ["state", "finished", "error"]
        ApplianceVersion.objects.filter(pk=row.version_id).update(status=IntegrityStatus.CANCELED)
    row.save(update_fields=fields)
    return row


def _claim(job_id):
    """Take the job for this run: a queued one, or a running one whose worker stopped beating. Returns the
    job, or None when another run has it or it is over (a second delivery does nothing)."""
    stale = timezone.now() - timedelta(seconds=settings.INTEGRITY_HEARTBEAT_TIMEOUT)
    claimable = Q(state=JobState.QUEUED) | Q(state=JobState.RUNNING, heartbeat__lt=stale)
    now = timezone.now()
    claimed = (
        IntegrityJob.objects.filter(claimable, pk=job_id, cancel_requested=False)
        .filter(attempts__lt=settings.INTEGRITY_MAX_ATTEMPTS)
        .update(state=JobState.RUNNING, started=now, heartbeat=now, attempts=F("attempts") + 1, progress={})
    )
    return IntegrityJob.objects.select_related("version__appliance").get(pk=job_id) if claimed else None


class _Progress:
    """Writes a job's progress and heartbeat at most once a second, and tells whether it was cancelled."""

    def __init__(self, job, image):
        self.job, self.key, self.last = job, str(image.pk), 0.0

    def update(self, state, done=0, total=None, error="", force=False):
        now = time.monotonic()
        if not force and now - self.last < 1.0:
            return
        self.last = now
        self.job.progress[self.key] = {"state": state, "done": done, "total": total, "error": error}
        IntegrityJob.objects.filter(pk=self.job.pk).update(progress=self.job.progress, heartbeat=timezone.now())

    def cancelled(self):
        return IntegrityJob.objects.filter(pk=self.job.pk, cancel_requested=True).exists()


def run_integrity_check(job_id):
    """Download every image of the job's version, outside any transaction so that the page sees the
    progress; record each size and SHA-512, then the result. Any failure fails the version."""
    job = _claim(job_id)
    if job is None:
        return None
    policy = integrity.DownloadPolicy.from_settings()
    results = {}
    for image in job.version.images.order_by("id"):
        progress = _Progress(job, image)
        progress.update("downloading", force=True)
        try:
            results[image.pk] = integrity.check_image(
                image.url,
                expected_sha512=image.declared_sha512 or None,
                expected_size=image.declared_size,
                policy=policy,
                progress=lambda done, total, p=progress: p.update("downloading", done, total),
                cancelled=progress.cancelled,
            )
        except integrity.IntegrityFailure as failure:
            progress.update("failed", error=failure.message, force=True)
            canceled = failure.code == "cancelled"
            return _finish(job, JobState.CANCELED if canceled else JobState.FAILED, f"{image.url}: {failure.message}")
        result = results[image.pk]
        progress.update("succeeded", result.size, result.size, force=True)
    return _finish(job, JobState.SUCCEEDED, "", results)


@transaction.atomic
def _finish(job, state, error, results=None):
    """Record the outcome, unless the job was cancelled or taken over meanwhile (then this run's result
    is dropped). Success stores each image's size and checksum and, for "Verify & publish", publishes."""
    row = IntegrityJob.objects.select_for_update().select_related("version__appliance").get(pk=job.pk)
    if row.state != JobState.RUNNING or row.attempts != job.attempts:
        return row
    if row.cancel_requested and state == JobState.SUCCEEDED:
        state, error = JobState.CANCELED, "Cancelled."
    version = locked_row(row.version)
    now = timezone.now()
    if state == JobState.SUCCEEDED:
        for image in version.images.select_for_update():
            result = results.get(image.pk)
            if result is None:  # an image added meanwhile cannot happen (save_image refuses), but never verify it
                state, error = JobState.FAILED, f"{image.url} was not checked."
                break
            image.size, image.sha512, image.verified = result.size, result.sha512, now
            image.save(update_fields=["size", "sha512", "verified"])
    status = {
        JobState.SUCCEEDED: IntegrityStatus.VERIFIED,
        JobState.CANCELED: IntegrityStatus.CANCELED,
    }.get(state, IntegrityStatus.FAILED)
    version.status = status
    version.save(update_fields=["status", "last_updated"])
    row.state, row.finished, row.error, row.progress = state, now, error[:2000], job.progress
    row.save(update_fields=["state", "finished", "error", "progress"])
    audit.record(
        row.requested_by, AuditAction.INTEGRITY, version, None, None, f"{row.get_state_display()}: {error}"[:500]
    )
    if state == JobState.SUCCEEDED and row.publish:
        publish_version(row.requested_by, version)
    return row


def resume_integrity_checks():
    """The periodic sweep: send again the checks no worker took, start again those whose worker died
    (while attempts remain), and fail those out of attempts. Returns the ids sent."""
    stale = timezone.now() - timedelta(seconds=settings.INTEGRITY_HEARTBEAT_TIMEOUT)
    exhausted = IntegrityJob.objects.filter(
        state=JobState.RUNNING, heartbeat__lt=stale, attempts__gte=settings.INTEGRITY_MAX_ATTEMPTS
    )
    for job in exhausted:
        with transaction.atomic():
            row = IntegrityJob.objects.select_for_update().filter(pk=job.pk, state=JobState.RUNNING).first()
            if row is None:
                continue
            row.state, row.finished = JobState.FAILED, timezone.now()
            row.error = f"The check stopped {row.attempts} times without finishing (its worker died); start it again."
            row.save(update_fields=["state", "finished", "error"])
            ApplianceVersion.objects.filter(pk=row.version_id).update(status=IntegrityStatus.FAILED)
    queued_before = timezone.now() - timedelta(seconds=settings.INTEGRITY_RESEND_AFTER)
    waiting = IntegrityJob.objects.filter(
        Q(state=JobState.QUEUED, created__lt=queued_before) | Q(state=JobState.RUNNING, heartbeat__lt=stale),
        cancel_requested=False,
    )
    ids = list(waiting.values_list("pk", flat=True))
    for pk in ids:
        _dispatch(pk)
    return ids


# ---------------------------------------------------------------------------------------------
# Subscriber tokens of private VO lists (§1.6)
# ---------------------------------------------------------------------------------------------


def require_list_manager(actor, vo):
    permissions.require(actor, permissions.EDIT, vo, f"Only the managers of {vo} may see and issue subscriber tokens.")


@transaction.atomic
def add_subscriber(actor, vo, name):
    """Issue a token with which a site downloads the VO's private list; returns (subscriber, secret). The
    secret is shown once: only its keyed digest is kept."""
    require_list_manager(actor, vo)
    subscriber = ListSubscriber(vo=vo, name=name.strip(), created_by=actor)
    secret = subscriber.set_secret()
    subscriber.full_clean(validate_constraints=False)
    if vo.list_subscribers.filter(name=subscriber.name).exists():
        raise Conflict({"name": f"{vo} has a subscriber named {subscriber.name} already."})
    subscriber.save()
    audit.record(actor, CoreAction.CREATE, subscriber, None, subscriber.audit_state())
    return subscriber, secret


@transaction.atomic
def revoke_subscriber(actor, subscriber):
    row = locked_row(subscriber, "vo")
    permissions.require(actor, permissions.EDIT, row.vo, f"Only the managers of {row.vo} may revoke its tokens.")
    if row.revoked is not None:
        raise Conflict("This token is revoked already.")
    before = row.audit_state()
    row.revoked = timezone.now()
    row.save(update_fields=["revoked"])
    audit.record(actor, CoreAction.UPDATE, row, before, row.audit_state(), "revoked")
    return row
