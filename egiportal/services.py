"""Shared pieces of the business operations: permission checks and audited saves."""

import re
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import RegexValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import audit, permissions, validators
from .choices import AuditAction
from .errors import Conflict, Invalid, NotFound
from .models import APIToken, FormSubmission, Identity, User


def lock_of(model):
    """The `of` of `select_for_update` that locks a row of `model` in every table it spans: its own and,
    with multi-table inheritance, each concrete parent's (where `last_updated`, which the ETag and the
    audited state are read from, may live). Locking only the child's table lets a second writer read
    the parent's columns as they were before the first writer committed."""
    paths = ["self"]

    def parents(opts, prefix):
        for parent, link in opts.parents.items():
            paths.append(prefix + link.name)
            parents(parent._meta, f"{prefix}{link.name}__")

    parents(model._meta, "")
    return tuple(paths)


def locked_rows(model, pks, *related):
    """The rows of `model` with these primary keys, locked until the end of the transaction in primary
    key order, so two transactions locking overlapping sets wait for each other instead of deadlocking."""
    rows = model.objects.select_for_update(of=lock_of(model)).select_related(*related)
    return list(rows.filter(pk__in=list(pks)).order_by("pk"))


def locked_row(obj, *related):
    """The stored row of `obj`, re-read under a row lock held until the end of the transaction (so
    that the checks, the audited state and the write all see one state); `related` as select_related."""
    found = next(iter(locked_rows(type(obj), [obj.pk], *related)), None) if obj.pk is not None else None
    if found is None:
        raise NotFound(f"This {obj._meta.verbose_name} no longer exists: someone has deleted it.")
    return found


@transaction.atomic
def save_audited(actor, obj, *, m2m=None, message="", saved=None):
    """Validate, save and audit `obj`, recorded as created or updated with the stored state (read from
    the locked row) before and the new one after; an edit is re-checked once written. `m2m` maps many-to-many field names to their new
    values; `saved(obj)`, if given, runs after the save and before the audit (e.g. to set an identifier
    that needs the primary key)."""
    before = None if obj.pk is None else locked_row(obj).audit_state()
    obj.full_clean()
    obj.save()
    for name, values in (m2m or {}).items():
        getattr(obj, name).set(values)
    if saved is not None:
        saved(obj)
    if before is not None and actor is not None:
        # The editor must still be able to edit what they saved (a row moved out of their reach rolls back).
        permissions.require(actor, permissions.EDIT, obj, f"This change would leave {obj} where you may not edit it.")
    action = AuditAction.CREATE if before is None else AuditAction.UPDATE
    audit.record(actor, action, obj, before, obj.audit_state(), message)
    return obj


@transaction.atomic
def delete_audited(actor, obj, *, action=AuditAction.DELETE, message=""):
    """Delete `obj` and audit it with its state read from the locked row; returns `obj` (its pk kept
    for the caller's messages and redirects)."""
    row = locked_row(obj)
    audit.record(actor, action, row, row.audit_state(), None, message)
    pk = row.pk
    row.delete()
    obj.pk = pk
    return obj


def check_scopes(actor, obj, scopes, parent=None, parent_label=""):
    """The scope rules of gocdb.md §8 for `obj` getting `scopes`: at least MINIMUM_SCOPES non-reserved
    ones, and reserved ones only if the parent has them or `obj` already carries them. Without a
    parent (service groups) only admins add reserved scopes. Admins are exempt from the reserved rule."""
    minimum = settings.MINIMUM_SCOPES
    if sum(1 for s in scopes if not s.reserved) < minimum:
        raise ValidationError({"scopes": f"Select at least {minimum} non-reserved scope(s)."})
    if actor is not None and actor.is_superuser:
        return
    allowed = set(parent.scopes.all()) if parent is not None else set()
    if obj.pk:
        allowed |= set(type(obj).objects.get(pk=obj.pk).scopes.all())
    refused = ", ".join(sorted(s.name for s in scopes if s.reserved and s not in allowed))
    if refused and parent is None:
        raise ValidationError(
            {"scopes": f"Only portal administrators may add reserved scopes to a {obj._meta.verbose_name}: {refused}."}
        )
    if refused:
        raise ValidationError({"scopes": f"Reserved scope(s) {refused} are not assigned to the parent {parent_label}."})


# What set_properties does with a key the parent already has: change its value, keep the stored one
# (the browser's "do not overwrite"), or refuse the whole call with a Conflict (the APIs' "add").
UPDATE_EXISTING, KEEP_EXISTING, REFUSE_EXISTING = "update", "keep", "refuse"


def property_error(message, code, key, position=None, **params):
    """One refused pair or key: `code` says which rule, `params` carry the key and its position in the
    call's pairs so that each entry point can word and place its own reply. `message` is a template
    (%(key)s etc.): the user's key is never part of it, so a `%` in a key cannot break the formatting."""
    return ValidationError(message, code=code, params={"key": key, "position": position, **params})


@transaction.atomic
def set_properties(actor, parent, pairs, existing=UPDATE_EXISTING):
    """Add or update properties of `parent` from (key, value) pairs, all or nothing (§9).

    Refusals, with every refused pair in the error (code, key and position in `pairs` in its params):
    Invalid for a key or value that breaks the field rules, a key given twice, or more than
    MAX_PROPERTIES_PER_ENTITY keys in all; Conflict (only with `existing=REFUSE_EXISTING`) for a key the
    parent already has. Invalid input is reported before conflicts with stored data.
    """
    permissions.require(actor, permissions.EDIT, parent, f"You may not edit the properties of {parent}.")
    locked_row(parent)  # one writer of a parent's keys at a time: two adding one key, or the last free slot
    model = parent.properties.model
    stored = {p.key: p for p in parent.properties.all()}
    before = parent.snapshot()
    seen, errors, conflicts, changed = set(), [], [], []
    for position, (key, value) in enumerate(pairs):
        name = key.strip()  # §9: trimmed before validation and storage
        prop = stored.get(name) or model(parent=parent)
        prop.key, prop.value = name, value.strip()
        try:
            prop.full_clean(exclude=["parent"], validate_unique=False)
        except ValidationError as exc:
            quoted = repr(key[:60])
            errors.extend(
                property_error("%(quoted)s: " + m.replace("%", "%%"), "invalid", name, position, quoted=quoted)
                for msgs in exc.message_dict.values()
                for m in msgs
            )
            continue
        if name in seen:
            errors.append(
                property_error("%(quoted)s: the key is given twice.", "repeated", name, position, quoted=repr(name))
            )
            continue
        seen.add(name)
        if prop.pk and existing == REFUSE_EXISTING:
            conflicts.append(
                property_error(
                    "Property %(key)s of %(parent)s already exists.", "exists", name, position, parent=str(parent)
                )
            )
        elif not (prop.pk and existing == KEEP_EXISTING):
            changed.append(prop)
    limit = settings.MAX_PROPERTIES_PER_ENTITY
    if len(set(stored) | seen) > limit:
        errors.append(
            ValidationError(
                "Property(s) could not be added due to the property limit of %(limit)s.",
                code="limit",
                params={"limit": limit},
            )
        )
    if errors:
        raise Invalid(errors)
    if conflicts:
        raise Conflict(conflicts)
    # One INSERT for the new keys and one UPDATE for the changed ones, whatever their number.
    updated = [prop for prop in changed if prop.pk is not None]
    for prop in updated:
        prop.last_updated = timezone.now()
    model.objects.bulk_create([prop for prop in changed if prop.pk is None])
    model.objects.bulk_update(updated, ["value", "last_updated"])
    if changed:
        audit.record(actor, AuditAction.UPDATE, parent, before, parent.snapshot(), "Properties set")
    return changed


@transaction.atomic
def delete_properties(actor, parent, keys=None):
    """Delete properties of `parent`, all or nothing: every key of `keys` (None: all of them), or, when
    `keys` maps keys to values, those whose stored value is the one given (None: whatever it is).

    Refusals name every refused key (code, key and position in their params): NotFound for a key the
    parent does not have, else Conflict for a stored value other than the one given.
    """
    permissions.require(actor, permissions.EDIT, parent, f"You may not edit the properties of {parent}.")
    locked_row(parent)
    stored = {p.key: p.value for p in parent.properties.all()}
    expected = dict(keys) if isinstance(keys, dict) else dict.fromkeys(stored if keys is None else keys)
    missing, mismatched = [], []
    for position, (key, value) in enumerate(expected.items()):
        if key not in stored:
            message = "A property with key %(key)s could not be found for %(parent)s."
            missing.append(property_error(message, "missing", key, position, parent=str(parent)))
        elif value is not None and stored[key] != value:
            message = "The value provided for the property with key %(key)s does not match the existing one."
            mismatched.append(property_error(message, "mismatch", key, position))
    if missing:
        raise NotFound(missing)
    if mismatched:
        raise Conflict(mismatched)
    before = parent.snapshot()
    deleted, _ = parent.properties.filter(key__in=list(expected)).delete()
    if deleted:
        audit.record(actor, AuditAction.UPDATE, parent, before, parent.snapshot(), "Properties deleted")
    return deleted


# --- personal API tokens ---------------------------------------------------------------------------


def create_api_token(actor, description, expires=None, write_enabled=False):
    """Issue a personal API token to `actor`, valid until `expires` (None: until revoked).

    Returns (token, secret): the secret is for showing once; only its digest is stored.
    """
    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise PermissionDenied("Log in to create API tokens.")
    if expires is not None and expires <= timezone.now():
        raise ValidationError({"expires": "The expiry date must be in the future."})
    token = APIToken(user=actor, description=description, expires=expires, write_enabled=bool(write_enabled))
    secret = token.issue()
    token.full_clean(validate_unique=False)  # the digest of a fresh random secret is unique
    with transaction.atomic():
        token.save()
        audit.record(actor, AuditAction.CREATE, token, None, token.audit_state(), "API token created")
    return token, secret


@transaction.atomic
def revoke_api_token(actor, token):
    """Revoke one of `actor`'s own tokens (portal administrators: anyone's, e.g. a leaked one);
    requests carrying it are refused from then on."""
    locked = APIToken.objects.select_for_update(of=("self",)).select_related("user").filter(pk=token.pk).first()
    if locked is None:
        raise ValidationError("This API token no longer exists.")
    if actor is None or (locked.user_id != actor.pk and not actor.is_superuser):
        raise PermissionDenied("You may revoke only your own API tokens.")
    if locked.revoked is not None:
        raise ValidationError("This API token is already revoked.")
    before = locked.audit_state()
    locked.revoked = timezone.now()
    locked.save(update_fields=["revoked"])
    audit.record(actor, AuditAction.UPDATE, locked, before, locked.audit_state(), "API token revoked")
    return locked


# --- the user's own profile ------------------------------------------------------------------------

# Letters of any script (Check-in names are not ASCII, unlike GOCDB's rule), words joined by spaces,
# apostrophes, hyphens or dots; nothing that could break a line or hide characters.
person_name = RegexValidator(
    re.compile(r"^([^\W\d_]+([ '\-.]+[^\W\d_]+)*\.?)?\Z"),
    "Use letters, with spaces, apostrophes, hyphens or dots between words.",
)
PROFILE_VALIDATORS = {
    "first_name": [person_name],
    "last_name": [person_name],
    "telephone": [validators.telephone_optional],
}


@transaction.atomic
def update_profile(actor, user, changes):
    """Change `user`'s own first name, last name or telephone (only the user themselves may).

    Audited by field name only: the change list is public and a profile is personal data.
    """
    if actor is None or not actor.is_authenticated or actor.pk != user.pk:
        raise PermissionDenied("You may change only your own profile.")
    unknown = sorted(set(changes) - set(PROFILE_VALIDATORS))
    if unknown:
        raise ValidationError({name: "This cannot be changed here." for name in unknown})
    locked = User.objects.select_for_update().get(pk=user.pk)
    changed = [name for name, value in changes.items() if getattr(locked, name) != value]
    for name, value in changes.items():
        setattr(locked, name, value)
    errors = {}
    for name in changes:
        for validator in PROFILE_VALIDATORS[name]:
            try:
                validator(getattr(locked, name))
            except ValidationError as exc:
                errors.setdefault(name, []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    others = [f.name for f in User._meta.fields if f.name not in changes]
    locked.full_clean(exclude=others, validate_unique=False)
    if changed:
        locked.save(update_fields=changed)
        audit.record(actor, AuditAction.UPDATE, locked, None, None, f"Profile edited: {', '.join(changed)}")
    return locked


# --- the user's linked identities ------------------------------------------------------------------


@transaction.atomic
def unlink_identity(actor, identity):
    """Remove one of `actor`'s own identities (an X.509 DN or a Check-in subject) from their account.

    Refused when it is the account's last EGI Check-in identity and the account cannot log in with a
    password (none set, or LOCAL_LOGIN off): the user could not log in again. Audited; the change list
    shows identity rows to portal administrators only.
    """
    if actor is None or not actor.is_authenticated or actor.pk != identity.user_id:
        raise PermissionDenied("You may unlink only your own identities.")
    # Locking the user serialises two unlinks of the same account, which could otherwise each see the
    # other identity still there and together remove the last one.
    user = User.objects.select_for_update().get(pk=identity.user_id)
    identity = Identity.objects.select_for_update().filter(pk=identity.pk, user=user).first()
    if identity is None:
        raise ValidationError("This identity is no longer linked to your account.")
    password_login = settings.LOCAL_LOGIN and user.has_usable_password()
    if identity.realm == Identity.Realm.CHECKIN and not password_login:
        others = Identity.objects.filter(user=user, realm=Identity.Realm.CHECKIN).exclude(pk=identity.pk)
        if not others.exists():
            raise ValidationError(
                "This is the only EGI Check-in identity of your account, which has no password to log in with: "
                "without it you could not log in again. Link another EGI Check-in identity first."
            )
    # Identity rows of the change list are for portal administrators only (Identity.audit_private).
    return delete_audited(actor, identity, message=f"Identity unlinked ({identity.realm})")


@transaction.atomic
def link_certificate(actor, dn):
    """Link the X.509 DN of the certificate `actor` presents (as the front proxy verified it) to their
    account, as GOCDB links identities; refused when the DN belongs to another account."""
    from .models import Identity

    if actor is None or not actor.is_authenticated or not dn:
        raise PermissionDenied("Present a client certificate to link it.")
    owner = Identity.objects.filter(realm=Identity.Realm.X509, value=dn).values_list("user_id", flat=True).first()
    if owner is not None:
        raise ValidationError(
            "This certificate is already linked to your account."
            if owner == actor.pk
            else "This certificate is linked to another portal account; unlink it there first."
        )
    identity = Identity.objects.create(user=actor, realm=Identity.Realm.X509, value=dn)
    audit.record(actor, AuditAction.CREATE, identity, None, None, "Identity linked (X.509)")
    return identity


# --- virtual organisations --------------------------------------------------------------------------


@transaction.atomic
def update_vo(actor, vo, changes):
    """Change a VO's description; only its managers (and portal administrators) may. Audited."""
    from .models import VirtualOrganisation

    permissions.require(actor, permissions.EDIT, vo, f"Only the managers of {vo} may change it.")
    unknown = sorted(set(changes) - {"description"})
    if unknown:
        raise ValidationError({name: "This cannot be changed." for name in unknown})
    locked = VirtualOrganisation.objects.select_for_update().get(pk=vo.pk)
    before = {"description": locked.description}
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean(exclude=["name"])
    if before != {"description": locked.description}:
        locked.save(update_fields=list(changes))
        audit.record(actor, AuditAction.UPDATE, locked, before, {"description": locked.description})
    return locked


# --- one-time create forms --------------------------------------------------------------------------


FORM_TOKEN_MAX_AGE = 24 * 3600  # seconds a create form's token is good for (egiportal.forms.FormTokenField)


class AlreadySubmitted(Conflict):
    """The create form with this token was saved before; `url` is where its object is ("" if unknown)."""

    def __init__(self, url):
        super().__init__("This form was already submitted; nothing new was created.")
        self.url = url


def create_once(actor, token, create, url_of):
    """Run `create()` unless a create with the same form token (egiportal.forms.FormTokenField) succeeded
    before, and return what it returns; without a token, just run it.

    The token is claimed first, in the transaction of the create: a second POST of the same form waits on
    the unique token until the first commits and then fails on it, so at most one object is made however
    the two requests interleave. A create that fails rolls its claim back, so the form can be corrected and
    sent again. Raises AlreadySubmitted with the URL of the first object (`url_of(obj)`), if it was the
    same user's. The cache is not used for this: it fails open when Redis is down.
    """
    if not token:
        return create()
    try:
        with transaction.atomic():
            claim = FormSubmission.objects.create(token=token, user=actor)
            obj = create()
            claim.object_url = url_of(obj)[:500]
            claim.save(update_fields=["object_url"])
    except IntegrityError:
        first = FormSubmission.objects.filter(token=token).first()
        if first is None:
            raise  # not the token: a uniqueness race of the create itself
        raise AlreadySubmitted(first.object_url if first.user_id == actor.pk else "") from None
    _prune_form_submissions()
    return obj


def _prune_form_submissions():
    """Forget tokens older than a token may be used (FORM_TOKEN_MAX_AGE): one indexed delete."""
    FormSubmission.objects.filter(created__lt=timezone.now() - timedelta(seconds=FORM_TOKEN_MAX_AGE)).delete()
