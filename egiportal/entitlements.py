"""EGI Check-in ``eduperson_entitlement`` values -> VO memberships (specs/oidc.md A3, B5).

Pure functions, no Django imports: the login backend passes its settings in. Every value comes from the
identity provider (or from whoever controls the token), so anything that is not exactly a well-formed
group entitlement is dropped rather than guessed at, and no input makes these functions raise.
"""

import re
from dataclasses import dataclass
from itertools import islice
from urllib.parse import unquote_to_bytes

__all__ = ["GroupEntitlement", "VOGrant", "parse", "vo_grants"]

PREFIX = "urn:mace:egi.eu:group:"
MAX_LENGTH = 1024
MAX_NAME_LENGTH = 255
ROLE_MARKER = "role="

VO_NAME = re.compile(r"[A-Za-z0-9._-]{1,255}")
BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@dataclass(frozen=True)
class GroupEntitlement:
    vo: str  # the top-level group (VO), percent-decoded
    path: tuple[str, ...]  # subgroups, outermost first, percent-decoded
    role: str | None  # the trailing role=<role>, or None
    authority: str  # the part after '#'


@dataclass(frozen=True)
class VOGrant:
    vo: str
    roles: frozenset[str]  # roles held on the VO itself (always includes 'member')
    groups: frozenset[str]  # subgroup paths with role=member, see join_path()
    manager: bool


def _decode(part):
    """Strictly percent-decode one part as UTF-8; None if the escapes are broken or the result is unusable."""
    if not part or BAD_ESCAPE.search(part):
        return None
    try:
        text = unquote_to_bytes(part).decode("utf-8")
    except UnicodeError:  # truncated or invalid UTF-8 (also encoded surrogates)
        return None
    # isprintable() is False for control, format (bidi overrides), surrogate and unassigned characters.
    if not 1 <= len(text) <= MAX_NAME_LENGTH or not text.isprintable():
        return None
    return text


def parse(value):
    """Parse one ``urn:mace:egi.eu:group:<vo>[:<sub>...][:role=<r>]#<authority>`` value.

    Returns a GroupEntitlement, or None for anything else (capabilities, GOCDB roles, legacy shapes,
    malformed or hostile values). Each ':'-separated part is percent-decoded on its own, so an encoded
    ``%3A`` stays inside its part. The ``role=`` marker is recognised on the raw text: an encoded
    ``role%3Dx`` is a subgroup named ``role=x``, which is how a builder that quotes every part spells it.
    """
    if not isinstance(value, str) or len(value) > MAX_LENGTH or not value.isprintable():
        return None
    # RFC 8141: the NID and NSS prefix compare case-insensitively, the rest of the NSS as is.
    if value[: len(PREFIX)].lower() != PREFIX:
        return None
    body, hash_sign, authority = value[len(PREFIX) :].partition("#")
    if not hash_sign or not authority or "#" in authority:
        return None
    parts = body.split(":")
    role = None
    if parts[-1].startswith(ROLE_MARKER):
        role = _decode(parts.pop()[len(ROLE_MARKER) :])
        if role is None:
            return None
    if not parts or any(part.startswith(ROLE_MARKER) for part in parts):
        return None  # no VO at all, or a role= that is not the last part
    names = [_decode(part) for part in parts]
    if None in names or not VO_NAME.fullmatch(names[0]):
        return None
    return GroupEntitlement(vo=names[0], path=tuple(names[1:]), role=role, authority=authority)


def join_path(path):
    """Join subgroup names with ':' into the form used in VOGrant.groups, e.g. ('compute', 'gpu') -> 'compute:gpu'.

    A ':' or '%' inside a name is percent-encoded again, so the subgroup 'a:b' ('a%3Ab') cannot be mistaken
    for the nested path ('a', 'b'); names without those characters are unchanged.
    """
    return ":".join(name.replace("%", "%25").replace(":", "%3A") for name in path)


def vo_grants(
    values, *, authority="aai.egi.eu", manager_roles=frozenset({"manager"}), manager_subgroup="admins", max_values=1000
):
    """Derive VO memberships from an ``eduperson_entitlement`` claim; returns {vo: VOGrant} sorted by VO name.

    ``values`` is the claim as received: a list or tuple of strings, a single string, or None. Anything
    else gives {} and non-string items are skipped. Only the first ``max_values`` items are looked at.
    A VO counts only with ``role=member`` on the VO itself: Check-in stops releasing it when the membership
    expires, even if other role values linger. Only entitlements from ``authority`` count.
    ``manager_subgroup`` is a path in join_path() form; None or '' disables the subgroup rule.
    """
    if isinstance(values, str):
        values = [values]
    elif values is None:
        values = []
    elif not isinstance(values, list | tuple):
        return {}
    if isinstance(manager_roles, str):  # a bare string from settings would otherwise become a set of letters
        manager_roles = {manager_roles}
    manager_roles = frozenset(manager_roles or ())

    roles, groups = {}, {}
    for value in islice(values, max(0, max_values)):
        entitlement = parse(value)
        if entitlement is None or entitlement.authority != authority or entitlement.role is None:
            continue
        if entitlement.path:
            if entitlement.role == "member":
                groups.setdefault(entitlement.vo, set()).add(join_path(entitlement.path))
        else:
            roles.setdefault(entitlement.vo, set()).add(entitlement.role)

    grants = {}
    for vo in sorted(roles):
        if "member" not in roles[vo]:
            continue
        vo_roles, vo_groups = frozenset(roles[vo]), frozenset(groups.get(vo, ()))
        manager = bool(vo_roles & manager_roles) or bool(manager_subgroup and manager_subgroup in vo_groups)
        grants[vo] = VOGrant(vo=vo, roles=vo_roles, groups=vo_groups, manager=manager)
    return grants
