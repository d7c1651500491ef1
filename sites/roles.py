"""Which role types enable which action on which entity type (RoleActionMappings.xml, gocdb.md §5.3).

Authorisation climbs Site -> NGI -> Projects: a role counts when it is held over the target or one
of its ancestors, and the mapping lists it for (action, target type). Each role type is held over
exactly one entity type, so the mapping is a set of role types per (action, target type).
"""

from django.apps import apps
from django.db.models import Q

from egiportal.permissions import VIEW

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


def entity_models():
    """The concrete model of each entity kind that roles are held over (from the installed apps, so
    that `sites` need not import the apps above it: service groups live in `endpoints`)."""
    from .models import OwnedEntity

    return {m.KIND: m for m in apps.get_models() if issubclass(m, OwnedEntity) and m is not OwnedEntity}


class GOCDBRoles:
    """The grant source of GOCDB roles (egiportal.permissions): a granted role enables the actions
    MAPPING lists for it on its entity and the entities below it.

    A model says which entity type's actions govern it (`role_target`: "site" for a service) and, per
    entity type it can be reached from, the ORM path to that entity (`role_paths`). Role assignments
    themselves are governed by their entity: one may view one's own roles, the granted roles over an
    entity where one may read personal data (its contacts) and every role, requests included, over an
    entity where one may grant roles (the approvers); any other action on a role is that action on its
    entity.
    """

    def condition(self, user, model, action):
        if model is Role:
            return self._role_condition(user, action)
        term = None
        for entity_type, path in getattr(model, "role_paths", {}).items():
            role_types = role_types_for(action, model.role_target, entity_type)
            if role_types:
                held = self._held(user, role_types)
                found = Q(**{f"{path}__in": held.values("owned_entity_id")})
                term = found if term is None else term | found
        return term

    def holds(self, user, action):
        role_types = set().union(*(roles for (act, _), roles in MAPPING.items() if act == action))
        return bool(role_types) and self._held(user, role_types).exists()

    @staticmethod
    def _held(user, role_types):
        return Role.objects.filter(user=user, status=RoleStatus.GRANTED, role_type__in=role_types)

    def _over_entities(self, user, action):
        """Roles over an entity on which `user` may perform `action`, or None if no role can."""
        term = None
        for kind, model in entity_models().items():
            entities = self.condition(user, model, action)
            if entities is not None:
                found = Q(
                    owned_entity__kind=kind, owned_entity_id__in=model._base_manager.filter(entities).values("pk")
                )
                term = found if term is None else term | found
        return term

    def _role_condition(self, user, action):
        if action != VIEW:
            return self._over_entities(user, action)
        term = Q(user=user)
        if (contacts := self._over_entities(user, Action.READ_PERSONAL_DATA)) is not None:
            term |= contacts & Q(status=RoleStatus.GRANTED)
        if (approvers := self._over_entities(user, Action.GRANT_ROLE)) is not None:
            term |= approvers
        return term
