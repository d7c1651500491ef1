"""Business operations on projects, NGIs, sites, certification, properties and roles.

Every operation takes the acting user first, checks the role rules of specs/gocdb.md §5, validates
through the models, writes inside one transaction and records the change in the audit log.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from egiportal import audit
from egiportal.choices import AuditAction
from egiportal.services import (
    check_minimum_scopes,
    check_reserved_scopes,
    delete_audited,
    require,
    save_audited,
)

from .choices import Action, CertificationStatus
from .models import CertificationStatusLog, Site

# §7.2: transitions refused to non-admins.
FORBIDDEN_TRANSITIONS = {
    (CertificationStatus.SUSPENDED, CertificationStatus.CERTIFIED),
}
FROM_CANDIDATE = {CertificationStatus.UNCERTIFIED, CertificationStatus.CLOSED}


class ChildScopeAction:
    NO_MODIFY = "noModify"
    INHERIT = "inherit"
    OVERRIDE = "override"
    choices = [
        (NO_MODIFY, "Leave the services' scopes as they are"),
        (INHERIT, "Add the site's scopes to every service"),
        (OVERRIDE, "Replace every service's scopes with the site's"),
    ]


def _site_scopes_rules(actor, site, scopes):
    check_minimum_scopes(scopes, settings.MINIMUM_SCOPES)
    allowed = set(site.ngi.scopes.all())
    if site.pk:
        allowed |= set(Site.objects.get(pk=site.pk).scopes.all())
    check_reserved_scopes(actor, scopes, allowed, "NGI")


@transaction.atomic
def create_site(actor, site, scopes):
    """Add a site to an NGI: needs NGI_ADD_SITE there. The site starts as Candidate with a log row."""
    require(actor, Action.NGI_ADD_SITE, site.ngi, f"You may not add sites to NGI {site.ngi}.")
    scopes = list(scopes)
    _site_scopes_rules(actor, site, scopes)
    site.certification_status_changed = timezone.now()
    save_audited(actor, site, m2m={"scopes": scopes})
    site.primary_key = f"{site.pk}G0"
    site.save(update_fields=["primary_key"])
    CertificationStatusLog.objects.create(
        site=site, old_status="", new_status=site.certification_status, added_by=str(actor), reason="Initial creation"
    )
    return site


@transaction.atomic
def update_site(actor, site, scopes, child_scope_action=ChildScopeAction.NO_MODIFY):
    """Edit a site (EDIT_OBJECT). Moving it to another NGI is for admins; a lost reserved scope is
    stripped from its services; `child_scope_action` optionally pushes the scopes down."""
    stored = Site.objects.get(pk=site.pk)
    require(actor, Action.EDIT_OBJECT, stored, f"You may not edit site {stored}.")
    if stored.ngi_id != site.ngi_id and not actor.is_superuser:
        raise PermissionDenied("Only portal administrators may move a site to another NGI.")
    if stored.certification_status != site.certification_status:
        raise ValidationError({"certification_status": "Use 'Change certification status' to change it."})
    scopes = list(scopes)
    _site_scopes_rules(actor, site, scopes)
    lost_reserved = {s for s in stored.scopes.all() if s.reserved} - set(scopes)
    save_audited(actor, site, m2m={"scopes": scopes})
    for service in site.services.prefetch_related("scopes"):
        current = set(service.scopes.all())
        if child_scope_action == ChildScopeAction.OVERRIDE:
            wanted = set(scopes)
        elif child_scope_action == ChildScopeAction.INHERIT:
            wanted = current | set(scopes)
        else:
            wanted = current
        wanted -= lost_reserved
        if wanted != current:
            before = service.snapshot()
            service.scopes.set(wanted)
            audit.record(actor, AuditAction.UPDATE, service, before, service.snapshot(), "Scopes set from the site")
    return site


def delete_site(actor, site):
    """Only portal administrators delete sites (§5.5); services and downtimes go with it."""
    if not actor.is_superuser:
        raise PermissionDenied("Only portal administrators may delete sites.")
    with transaction.atomic():
        site.downtimes.all().delete()
        for service in site.services.all():
            delete_audited(actor, service, f"Deleted with site {site}")
        return delete_audited(actor, site)


def transition_allowed(old, new):
    if old == new:
        return False
    if old == CertificationStatus.CLOSED or (old, new) in FORBIDDEN_TRANSITIONS:
        return False
    return old != CertificationStatus.CANDIDATE or new in FROM_CANDIDATE


@transaction.atomic
def change_certification(actor, site, new_status, reason):
    """Change a site's certification status with a reason (§7.2)."""
    require(actor, Action.SITE_EDIT_CERT_STATUS, site, f"You may not change the certification status of {site}.")
    old = site.certification_status
    if new_status not in CertificationStatus.values:
        raise ValidationError({"new_status": f"Unknown certification status {new_status!r}."})
    if old == new_status:
        raise ValidationError({"new_status": f"The site is already {old}."})
    if not actor.is_superuser and not transition_allowed(old, new_status):
        raise ValidationError({"new_status": f"A site may not go from {old} to {new_status}."})
    log = CertificationStatusLog(site=site, old_status=old, new_status=new_status, added_by=str(actor), reason=reason)
    log.full_clean(exclude=["site"])
    before = site.snapshot()
    site.certification_status = new_status
    site.certification_status_changed = timezone.now()
    site.save(update_fields=["certification_status", "certification_status_changed", "last_updated"])
    log.save()
    audit.record(actor, AuditAction.CERTIFY, site, before, site.snapshot(), reason)
    return log
