"""The one permission question of the portal: who may see or change what.

`visible_to(queryset, user, action)` narrows `queryset` to the rows on which `user` may perform `action`
(`Model.objects.visible_to(user, action)` asks the same); `authorise` and `require` ask it of one object.
The answers come from *grant sources*, listed in the PORTAL_GRANT_SOURCES setting (dotted paths, so the
core names no app): GOCDB roles on sites, NGIs, projects and service groups (`sites`), VO membership
and VO management (`VOGrants` below), and later the apps' own. Each source has

- `condition(user, model, action)`: a Q matching the rows of `model` on which the user's grants enable
  `action`, or None when none of them can (so that no subquery is built for nothing);
- `holds(user, action)`: whether the user holds, anywhere, a grant that enables `action`
  (`may_see_personal_data` asks it).

A model is private unless it declares `public = True`: then everyone, anonymous callers included, may
"view" it. Any other action, and viewing a private model, needs a grant; portal administrators
(active superusers) may do everything. Models may narrow the answer further in their own QuerySet
(the audit log hides private entries).

Personal data (contact e-mails and phones, role holders, who changed what) has its own question,
`may_see_personal_data(user)`: GOCDB's RESTRICT_PERSONAL_DATA rule, asked alike by pages, exports,
REST and the PI. Models list their personal fields in `personal_fields`; `personal_fields_hidden_from`
says which of them a user may not see.
"""

from functools import cache

from django.conf import settings
from django.db.models import Q
from django.utils.module_loading import import_string

from .errors import Forbidden

# The actions the core itself asks about; apps name their own (sites.choices.Action).
VIEW = "view"
EDIT = "edit"
READ_PERSONAL_DATA = "read_personal_data"


@cache
def _load(paths):
    return tuple(import_string(path)() for path in paths)


def grant_sources():
    """The grant sources of PORTAL_GRANT_SOURCES, made once per list."""
    return _load(tuple(settings.PORTAL_GRANT_SOURCES))


def is_active_user(user):
    return user is not None and user.is_authenticated and user.is_active


def is_public(model, action):
    return action == VIEW and getattr(model, "public", False)


def condition(user, model, action):
    """The rows of `model` on which `user`'s grants enable `action`, as one Q; None if no grant can."""
    terms = [term for source in grant_sources() if (term := source.condition(user, model, action)) is not None]
    if not terms:
        return None
    combined = terms[0]
    for term in terms[1:]:
        combined |= term
    return combined


def visible_to(queryset, user, action=VIEW):
    """The rows of `queryset` on which `user` may perform `action`."""
    model = queryset.model
    if is_public(model, action):
        return queryset
    if not is_active_user(user):
        return queryset.none()
    if user.is_superuser:
        return queryset
    granted = condition(user, model, action)
    if granted is None:
        return queryset.none()
    # A subquery on pk keeps to-many paths (NGI -> projects, VO -> memberships) from duplicating rows.
    return queryset.filter(pk__in=model._base_manager.filter(granted).values("pk"))


def authorise(user, action, obj):
    """True if `user` may perform `action` on `obj` (at most one query)."""
    model = type(obj)
    if is_public(model, action):
        return True
    if not is_active_user(user):
        return False
    if user.is_superuser:
        return True
    return visible_to(model._base_manager.all(), user, action).filter(pk=obj.pk).exists()


def require(user, action, obj, reason):
    """Raise Forbidden(reason) (a PermissionDenied) unless `user` may perform `action` on `obj`."""
    if not authorise(user, action, obj):
        raise Forbidden(reason)


def holds(user, action):
    """Whether `user` holds a grant enabling `action` on anything (portal administrators always do)."""
    if not is_active_user(user):
        return False
    return user.is_superuser or any(source.holds(user, action) for source in grant_sources())


def may_see_personal_data(user):
    """GOCDB's personal-data rule (gocdb.md §5.7, §11.2): an active user who holds, anywhere, a role
    enabling READ_PERSONAL_DATA (any project, NGI or site role) or is a portal administrator; with
    RESTRICT_PERSONAL_DATA off, any active user. Anonymous callers never."""
    if not is_active_user(user):
        return False
    return not settings.RESTRICT_PERSONAL_DATA or holds(user, READ_PERSONAL_DATA)


def personal_fields_hidden_from(user, model):
    """The names in `model.personal_fields` that `user` may not see (none if the model lists none)."""
    names = tuple(getattr(model, "personal_fields", ()))
    return () if not names or may_see_personal_data(user) else names


class OwnerGrants:
    """A user may view what is their own: their account, tokens and identities. A model names the path
    to its owner in `owner_path` ("pk" for the user model)."""

    def condition(self, user, model, action):
        path = getattr(model, "owner_path", None)
        if path is None or action != VIEW:
            return None
        return Q(**{path: user.pk})

    def holds(self, user, action):
        return False


class VOGrants:
    """Grants from VO membership: members of a VO may view what belongs to it, its managers may do
    everything else with it. A model reaches its VO through `vo_path` (the ORM path of the VO's pk:
    "pk" for VirtualOrganisation itself)."""

    MEMBER_ACTIONS = frozenset({VIEW})

    def condition(self, user, model, action):
        path = getattr(model, "vo_path", None)
        if path is None:
            return None
        from .models import VOMembership

        memberships = VOMembership.objects.filter(user=user)
        if action not in self.MEMBER_ACTIONS:
            memberships = memberships.filter(manager=True)
        return Q(**{f"{path}__in": memberships.values("vo_id")})

    def holds(self, user, action):
        return False  # no VO grant is one on the whole federation
