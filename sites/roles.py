"""Which role types enable which action on which entity type (RoleActionMappings.xml, gocdb.md §5.3).

Authorisation climbs Site -> NGI -> Projects: a role counts when it is held over the target or one
of its ancestors, and the mapping lists it for (action, target type). Each role type is held over
exactly one entity type, so the mapping is a set of role types per (action, target type).
"""

from .choices import Action, EntityKind, RoleStatus, RoleType
from .models import Role

R = RoleType
PROJECT_ROLES = {R.COD_STAFF, R.COD_ADMIN, R.EGI_CSIRT_OFFICER, R.COO}
NGI_MANAGERS = {R.NGI_OPS_MAN, R.NGI_OPS_DEP_MAN, R.NGI_SEC_OFFICER}
NGI_ROLES = NGI_MANAGERS | {R.REG_STAFF_ROD, R.REG_FIRST_LINE_SUPPORT}
SITE_MANAGERS = {R.SITE_SECOFFICER, R.SITE_OPS_DEP_MAN, R.SITE_OPS_MAN}
SITE_ROLES = SITE_MANAGERS | {R.SITE_ADMIN}
SG_ROLES = {R.SERVICE_GROUP_ADMIN}

ROLE_ENTITY = {
    **{r: EntityKind.PROJECT for r in PROJECT_ROLES},
    **{r: EntityKind.NGI for r in NGI_ROLES},
    **{r: EntityKind.SITE for r in SITE_ROLES},
    R.SERVICE_GROUP_ADMIN: EntityKind.SERVICEGROUP,
}

ROLE_DECISIONS = (Action.GRANT_ROLE, Action.REJECT_ROLE, Action.REVOKE_ROLE)
K = EntityKind
MAPPING = {}
for _decision in ROLE_DECISIONS:
    MAPPING[(_decision, K.SERVICEGROUP)] = SG_ROLES
    MAPPING[(_decision, K.PROJECT)] = PROJECT_ROLES
    MAPPING[(_decision, K.NGI)] = PROJECT_ROLES | NGI_MANAGERS
    MAPPING[(_decision, K.SITE)] = SITE_MANAGERS | NGI_MANAGERS
MAPPING.update(
    {
        (Action.EDIT_OBJECT, K.SERVICEGROUP): SG_ROLES,
        (Action.EDIT_OBJECT, K.PROJECT): PROJECT_ROLES,
        (Action.EDIT_OBJECT, K.NGI): NGI_ROLES,
        (Action.NGI_ADD_SITE, K.NGI): NGI_MANAGERS,
        (Action.EDIT_OBJECT, K.SITE): SITE_ROLES | NGI_ROLES,
        (Action.SITE_ADD_SERVICE, K.SITE): SITE_ROLES | NGI_ROLES,
        (Action.SITE_EDIT_CERT_STATUS, K.SITE): NGI_MANAGERS | PROJECT_ROLES,
        (Action.READ_PERSONAL_DATA, K.PROJECT): PROJECT_ROLES,
        (Action.READ_PERSONAL_DATA, K.NGI): PROJECT_ROLES | NGI_ROLES,
        (Action.READ_PERSONAL_DATA, K.SITE): PROJECT_ROLES | NGI_ROLES | SITE_ROLES,
    }
)

# Role types a user may request on each entity type (§5.1).
REQUESTABLE = {kind: sorted((r for r, k in ROLE_ENTITY.items() if k == kind), key=list(RoleType).index) for kind in K}


def role_types_for(action, target_type, held_over):
    """Role types held over `held_over` that enable `action` on an entity of `target_type`."""
    return sorted(r for r in MAPPING.get((action, target_type), ()) if ROLE_ENTITY[r] == held_over)


def authorise(user, action, obj):
    """True if `user` may perform `action` on `obj` (one query; superusers always may)."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return type(obj).objects.visible_to(user, action).filter(pk=obj.pk).exists()


class GOCDBRoles:
    """Grant source of egiportal.permissions for GOCDB roles (temporary, minimal form): only `holds`
    is answered here, for READ_PERSONAL_DATA (the PI's level 3); `condition` grants nothing yet."""

    def condition(self, user, model, action):
        return None

    def holds(self, user, action):
        role_types = set().union(*(roles for (act, _), roles in MAPPING.items() if act == action))
        if not role_types:
            return False
        return Role.objects.filter(user=user, status=RoleStatus.GRANTED, role_type__in=role_types).exists()
