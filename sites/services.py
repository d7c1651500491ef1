"""Business operations on projects, NGIs, sites, certification, properties and roles.

Every operation takes the acting user first, checks the role rules of specs/gocdb.md §5, validates
through the models, writes inside one transaction and records the change in the audit log.
"""

import re
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mass_mail
from django.core.validators import RegexValidator
from django.db import IntegrityError, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.urls import reverse
from django.utils import timezone

from egiportal import audit, outbox, validators
from egiportal.choices import AuditAction
from egiportal.errors import Forbidden, NotFound
from egiportal.permissions import require
from egiportal.services import check_scopes, delete_audited, locked_row, save_audited

from .choices import Action, CertificationStatus, EntityKind, RoleStatus
from .choices import AuditAction as SiteAction
from .models import APICredential, CertificationStatusLog, OwnedEntity, Role
from .roles import REQUESTABLE, role_types_for

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


def save_site(actor, site, *, scopes=None, child_scope_action=ChildScopeAction.NO_MODIFY):
    """Add a site to an NGI (NGI_ADD_SITE there) or edit one (EDIT_OBJECT), the one write path of sites.

    `scopes` None keeps the stored ones (none for a new site). The alarm e-mail is the emergency e-mail,
    as GOCDB's portal writes it (§2.4). A new site starts as Candidate with a log row and gets GOCDB's
    primary key "<id>G0". Moving a site to another NGI is for administrators; a lost reserved scope is
    stripped from its services; `child_scope_action` optionally pushes the scopes down.
    """
    site.alarm_email = site.emergency_email
    if site.pk is None:
        return _create_site(actor, site, list(scopes or ()))
    return _update_site(actor, site, scopes, child_scope_action)


@transaction.atomic
def _create_site(actor, site, scopes):
    require(actor, Action.NGI_ADD_SITE, site.ngi, f"You may not add sites to NGI {site.ngi}.")
    check_scopes(actor, site, scopes, site.ngi, "NGI")
    site.certification_status_changed = timezone.now()
    save_audited(actor, site, m2m={"scopes": scopes}, saved=_created)
    CertificationStatusLog.objects.create(
        site=site, old_status="", new_status=site.certification_status, added_by=str(actor), reason="Initial creation"
    )
    return site


def _created(site):
    """GOCDB's identifier of a new site, set before the audit so that the row shows it."""
    site.primary_key = f"{site.pk}G0"
    site.save(update_fields=["primary_key"])


@transaction.atomic
def _update_site(actor, site, scopes, child_scope_action):
    stored = locked_row(site)
    require(actor, Action.EDIT_OBJECT, stored, f"You may not edit site {stored}.")
    if stored.ngi_id != site.ngi_id and not actor.is_superuser:
        raise Forbidden("Only portal administrators may move a site to another NGI.")
    if stored.certification_status != site.certification_status:
        raise ValidationError({"certification_status": "Use 'Change certification status' to change it."})
    scopes = list(stored.scopes.all() if scopes is None else scopes)
    check_scopes(actor, site, scopes, site.ngi, "NGI")
    lost_reserved = {s for s in stored.scopes.all() if s.reserved} - set(scopes)
    save_audited(actor, site, m2m={"scopes": scopes})
    for service in site.services.prefetch_related("scopes"):
        current = set(service.scopes.all())
        if child_scope_action == ChildScopeAction.OVERRIDE:
            wanted = set(scopes)
        elif child_scope_action == ChildScopeAction.INHERIT:
            wanted = current | set(scopes)
        else:
            wanted = set(current)  # a copy: the in-place "-=" below must not change `current` too
        wanted -= lost_reserved
        if wanted != current:
            before = service.audit_state()
            service.scopes.set(wanted)
            audit.record(actor, AuditAction.UPDATE, service, before, service.audit_state(), "Scopes set from the site")
    return site


def delete_site(actor, site):
    """Only portal administrators delete sites (§5.5); services and downtimes go with it."""
    if not actor.is_superuser:
        raise PermissionDenied("Only portal administrators may delete sites.")
    with transaction.atomic():
        site.downtimes.all().delete()
        for service in site.services.all():
            delete_audited(actor, service, message=f"Deleted with site {site}")
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
    before = site.audit_state()
    site.certification_status = new_status
    site.certification_status_changed = timezone.now()
    site.save(update_fields=["certification_status", "certification_status_changed", "last_updated"])
    log.save()
    audit.record(actor, SiteAction.CERTIFY, site, before, site.audit_state(), reason)
    return log


# ---------------------------------------------------------------------------------------------
# Roles: request, grant, reject, revoke (specs/gocdb.md §5.6) and the request notification
# ---------------------------------------------------------------------------------------------

# Everything a role list shows in one query: the user and whichever concrete entity the role is over.
ROLE_RELATED = (
    "user",
    "owned_entity__project_entity",
    "owned_entity__ngi_entity",
    "owned_entity__site_entity",
    "owned_entity__servicegroup_entity",
)


def _concrete(entity):
    return entity.concrete if type(entity) is OwnedEntity else entity


def _locked_role(role):
    """Re-read `role` under a row lock so that two deciders cannot act on the same request at once."""
    try:
        return locked_row(role, "user", "owned_entity")
    except NotFound:
        raise NotFound("This role no longer exists: someone else has already dealt with it.") from None


def _check_requestable(entity, role_type):
    if role_type not in REQUESTABLE[entity.KIND]:
        shown = str(role_type)[:60]
        raise ValidationError({"role_type": f"{shown!r} is not a role that can be requested over {entity}."})


@transaction.atomic
def request_role(actor, entity, role_type):
    """Ask for `role_type` over `entity` (§5.6): a pending role, audited; approvers are told after commit."""

    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise PermissionDenied("Log in to request a role.")
    entity = _concrete(entity)
    _check_requestable(entity, role_type)
    existing = Role.objects.filter(user=actor, role_type=role_type, owned_entity_id=entity.pk).first()
    if existing is not None:
        name = existing.get_role_type_display()
        if existing.status == RoleStatus.GRANTED:
            raise ValidationError({"role_type": f"You already have the role {name} over {entity}."})
        raise ValidationError({"role_type": f"You have already requested the role {name} over {entity}."})
    role = Role(user=actor, role_type=role_type, owned_entity=entity.ownedentity_ptr, status=RoleStatus.PENDING)
    role.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            role.save()
    except IntegrityError:  # a concurrent identical request won the race
        raise ValidationError({"role_type": f"You have already requested this role over {entity}."}) from None
    audit.record(actor, SiteAction.ROLE_REQUEST, role, None, role.audit_state(), "Role requested")
    outbox.enqueue("sites.tasks.notify_role_request", role.pk)
    return role


def _decide(actor, role, action, verb):
    """Lock a pending role and check that `actor` may `action` (grant/reject) it."""
    if actor is None or not actor.is_authenticated:
        raise PermissionDenied("Log in to decide on role requests.")
    role = _locked_role(role)
    entity = role.owned_entity.concrete
    require(actor, action, entity, f"You may not {verb} roles over {entity}.")
    if role.status != RoleStatus.PENDING:
        raise ValidationError(f"The role {role.get_role_type_display()} of {role.user} is not pending.")
    return role


@transaction.atomic
def grant_role(actor, role):
    """Approve a pending request: needs GRANT_ROLE on the entity (climbing Site -> NGI -> projects)."""
    role = _decide(actor, role, Action.GRANT_ROLE, "grant")
    before = role.audit_state()
    role.status = RoleStatus.GRANTED
    role.save(update_fields=["status", "last_updated"])
    audit.record(actor, SiteAction.ROLE_GRANT, role, before, role.audit_state(), "Role granted")
    return role


@transaction.atomic
def reject_role(actor, role):
    """Refuse a pending request: needs REJECT_ROLE on the entity; the request is deleted."""
    role = _decide(actor, role, Action.REJECT_ROLE, "reject")
    return delete_audited(actor, role, action=SiteAction.ROLE_REJECT, message="Role request rejected")


@transaction.atomic
def revoke_role(actor, role):
    """Remove a role: the holder may always drop (or cancel) their own; others need REVOKE_ROLE.

    A pending role that is withdrawn this way is recorded as rejected, as GOCDB does.
    """
    if actor is None or not actor.is_authenticated:
        raise PermissionDenied("Log in to revoke roles.")
    role = _locked_role(role)
    entity = role.owned_entity.concrete
    if role.user_id != actor.pk:
        require(actor, Action.REVOKE_ROLE, entity, f"You may not revoke roles over {entity}.")
    pending = role.status == RoleStatus.PENDING
    action = SiteAction.ROLE_REJECT if pending else SiteAction.ROLE_REVOKE
    return delete_audited(actor, role, action=action, message="Role request withdrawn" if pending else "Role revoked")


def pending_roles_for(user):
    """Every pending request `user` may decide (GRANT_ROLE on its entity; superusers: all), one query."""
    pending = Role.objects.filter(status=RoleStatus.PENDING).select_related(*ROLE_RELATED).order_by("created", "id")
    return pending.visible_to(user, Action.GRANT_ROLE)


def roles_of(user):
    """The roles of `user`, granted and pending, with their entities (one query)."""
    return Role.objects.filter(user=user).select_related(*ROLE_RELATED).order_by("status", "role_type", "id")


def _approvers_over(entities, kind):
    """Active users with an e-mail holding, over one of `entities`, a role that grants roles there."""
    role_types = role_types_for(Action.GRANT_ROLE, kind, kind)
    held = Role.objects.filter(
        status=RoleStatus.GRANTED, role_type__in=role_types, owned_entity_id__in=[e.pk for e in entities]
    )
    return list(
        get_user_model()
        .objects.filter(is_active=True, pk__in=held.values("user_id"))
        .exclude(email="")
        .order_by("username")
    )


def _approver_chain(entity):
    """The entities whose approvers are asked in turn (§5.6): the entity, then its NGI, then its projects."""
    chain = [([entity], entity.KIND)]
    if entity.KIND == EntityKind.SITE:
        chain.append(([entity.ngi], EntityKind.NGI))
        chain.append((list(entity.ngi.projects.all()), EntityKind.PROJECT))
    elif entity.KIND == EntityKind.NGI:
        chain.append((list(entity.projects.all()), EntityKind.PROJECT))
    return chain


def role_request_recipients(role):
    """Who is told of a request: the nearest approvers up the chain, else the portal administrators."""
    for entities, kind in _approver_chain(role.owned_entity.concrete):
        users = _approvers_over(entities, kind) if entities else []
        if users:
            return users
    admins = get_user_model().objects.filter(is_active=True, is_superuser=True).exclude(email="")
    return list(admins.order_by("username"))


def send_role_request_notification(role_id):
    """E-mail the approvers of a pending role request (the body of the notify_role_request task).

    Returns the addresses written to; a request that was decided or withdrawn meanwhile needs no mail.
    """
    role = Role.objects.select_related(*ROLE_RELATED).filter(pk=role_id, status=RoleStatus.PENDING).first()
    if role is None:
        return []
    entity = role.owned_entity.concrete
    requester = role.user
    link = f"{settings.PORTAL_URL}{reverse('sites:role_requests')}"
    subject = f"Role request: {role.get_role_type_display()} over {entity}"
    body = (
        f"{requester.get_full_name() or requester.username} ({requester.username}, {requester.email or 'no e-mail'}) "
        f"has requested the role {role.get_role_type_display()} over the "
        f"{EntityKind(entity.KIND).label} {entity}.\n\n"
        f"You receive this because you may approve or reject it. Please decide at:\n{link}\n"
    )
    recipients = [user.email for user in role_request_recipients(role)]
    send_mass_mail([(subject, body, settings.DEFAULT_FROM_EMAIL, [address]) for address in recipients])
    return recipients


# ---------------------------------------------------------------------------------------------
# API credentials of a site (specs/gocdb.md §2.15, §10): add, renew, edit, delete
# ---------------------------------------------------------------------------------------------

# A credential whose validity ends within this time is flagged on the site page.
CREDENTIAL_EXPIRY_WARNING = timedelta(days=30)

# OpenID Connect Core §2: a subject is at most 255 ASCII characters; it is opaque, so any visible ones count
# (Check-in's look like "0123abcd...@egi.eu"). No spaces or control characters can slip into a header.
oidc_subject = RegexValidator(
    re.compile(r"^[\x21-\x7e]+\Z"), "An OIDC subject is made of visible ASCII characters, without spaces."
)
IDENTIFIER_VALIDATORS = {APICredential.Kind.X509: validators.x509_dn, APICredential.Kind.OIDC: oidc_subject}


def require_credential_manager(actor, site):
    """Raise PermissionDenied unless `actor` may manage the API credentials of `site` (EDIT_OBJECT, §5.5)."""
    require(
        actor,
        Action.EDIT_OBJECT,
        site,
        f"You may not manage the API credentials of site {site}: you need a role on the site or its NGI.",
    )


def api_credentials_of(site):
    """The credentials of `site` with their owners (one query), each annotated `expired` (no longer accepted
    by the APIs, the complement of `usable()`) and `expiring` (expired or ending within the warning time)."""
    cutoff = timezone.now() - timedelta(days=settings.API_CREDENTIAL_MAX_AGE_DAYS)
    return (
        APICredential.objects.filter(site=site)
        .select_related("user")
        .annotate(
            expired=ExpressionWrapper(Q(last_renewed__lte=cutoff), output_field=BooleanField()),
            expiring=ExpressionWrapper(
                Q(last_renewed__lte=cutoff + CREDENTIAL_EXPIRY_WARNING), output_field=BooleanField()
            ),
        )
        .order_by("pk")
    )


def _clean_identifier(kind, identifier):
    """The stripped identifier of a DN or subject credential, checked against the format of its type."""
    identifier = (identifier or "").strip()
    label = APICredential.Kind(kind).label
    if not identifier:
        raise ValidationError({"identifier": f"Enter the {label} of the credential."})
    try:
        IDENTIFIER_VALIDATORS[kind](identifier)
    except ValidationError as exc:
        raise ValidationError({"identifier": exc.messages}) from None
    return identifier


@transaction.atomic
def add_api_credential(actor, site, kind, identifier="", allow_write=False):
    """Register a credential for `site`; the actor becomes its owner (§10).

    X.509 DNs and OIDC subjects are given by the caller; for a portal token the portal makes the secret.
    Returns (credential, secret): the secret of a new token (shown once, only its digest is kept), else None.
    """
    require_credential_manager(actor, site)
    if kind not in APICredential.Kind.values:
        raise ValidationError({"kind": f"Unknown credential type {str(kind)[:40]!r}."})
    credential = APICredential(site=site, kind=kind, user=actor, allow_write=bool(allow_write))
    secret = None
    if kind == APICredential.Kind.TOKEN:
        secret = credential.issue_token()
    else:
        credential.identifier = _clean_identifier(kind, identifier)
        if APICredential.objects.filter(site=site, kind=kind, identifier=credential.identifier).exists():
            raise ValidationError({"identifier": f"This {credential.get_kind_display()} is already registered here."})
    credential.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            credential.save()
    except IntegrityError:  # the same identifier added concurrently
        raise ValidationError({"identifier": "This credential was registered here meanwhile."}) from None
    audit.record(actor, AuditAction.CREATE, credential, None, credential.audit_state(), "API credential added")
    return credential, secret


def _locked_credential(credential):
    """Re-read `credential` under a row lock, so that concurrent edits and deletions do not cross."""
    return locked_row(credential, "site", "user")


def _change_credential(actor, credential, message, **changes):
    """Apply `changes`, renew the credential and make `actor` its owner, as every GOCDB edit does (§10)."""
    credential = _locked_credential(credential)
    require_credential_manager(actor, credential.site)
    before = credential.audit_state()
    for name, value in changes.items():
        setattr(credential, name, value)
    credential.last_renewed = timezone.now()
    credential.user = actor
    credential.save(update_fields=["last_renewed", "user", *changes])
    audit.record(actor, AuditAction.UPDATE, credential, before, credential.audit_state(), message)
    return credential


@transaction.atomic
def renew_api_credential(actor, credential):
    """Restart the validity of a credential (an expired one works again); the renewer becomes its owner."""
    return _change_credential(actor, credential, "API credential renewed")


@transaction.atomic
def edit_api_credential(actor, credential, allow_write):
    """Allow or refuse write-API use; like a renewal this restarts the validity and transfers ownership."""
    return _change_credential(actor, credential, "API credential edited", allow_write=bool(allow_write))


@transaction.atomic
def delete_api_credential(actor, credential):
    """Remove a credential: the clients using it are refused from then on."""
    credential = _locked_credential(credential)
    require_credential_manager(actor, credential.site)
    return delete_audited(actor, credential, message="API credential deleted")
