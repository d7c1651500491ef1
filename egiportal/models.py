"""Shared foundation: the user model, the audit log and the base classes of every portal model."""

from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from .choices import AuditAction


class User(AbstractUser):
    """A portal user. Check-in subjects and X.509 DNs are linked to it in a later issue."""

    telephone = models.CharField(max_length=255, blank=True)

    def __str__(self):
        return self.get_full_name() or self.username

    def default_identity(self):
        """GOCDB's "default id string" (CERTDN): the first X.509 DN, else the first identity."""
        identities = sorted(self.identities.all(), key=lambda i: (i.realm != Identity.Realm.X509, i.pk))
        return identities[0].value if identities else ""


class Identity(models.Model):
    """An identity linked to a user: an X.509 DN or an OpenID Connect subject (gocdb.md §2.14).

    Values are globally unique per realm, so a DN or subject leads to one account.
    """

    class Realm(models.TextChoices):
        X509 = "X.509"
        CHECKIN = "EGI Check-in"

    user = models.ForeignKey("User", on_delete=models.CASCADE, related_name="identities")
    realm = models.CharField(max_length=32, choices=Realm.choices)
    value = models.CharField(max_length=255)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "identities"
        constraints = [models.UniqueConstraint(fields=["realm", "value"], name="uniq_identity")]

    def __str__(self):
        return f"{self.realm}: {self.value}"

    @classmethod
    def realm_for(cls, credential_kind):
        """The identity realm matching an API credential type."""
        return cls.Realm.X509 if credential_kind == "X.509" else cls.Realm.CHECKIN


class PortalQuerySet(models.QuerySet):
    """QuerySet with the one permission question of the portal: `visible_to(user, action)`.

    Topology is public, so "view" returns everything. Any other action returns the rows on which
    one of the user's granted roles enables that action (specs/gocdb.md §5.3–§5.4); the model says
    how to reach its owning entities through `role_paths()`.
    """

    def visible_to(self, user, action="view"):
        if action == "view":
            return self
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        condition = self.model.role_condition(user, action)
        if condition is None:
            return self.none()
        # A subquery on pk keeps many-to-many paths (NGI -> projects) from duplicating rows.
        return self.filter(pk__in=self.model.objects.filter(condition).values("pk"))


def related_count(queryset, field):
    """COUNT of `queryset` rows whose `field` points at the outer row, as a correlated subquery.

    Unlike an aggregate Count() it needs no GROUP BY over the joined rows, so a paginated list's own
    COUNT(*) stays a plain count of the list's rows.
    """
    counted = queryset.filter(**{field: OuterRef("pk")}).order_by().values(field).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), 0)


class BaseModel(models.Model):
    """Abstract base: timestamps (for history and lost-update checks) and the permission queryset."""

    created = models.DateTimeField(auto_now_add=True)
    last_updated = models.DateTimeField(auto_now=True)

    objects = PortalQuerySet.as_manager()

    # The entity type whose actions govern this model ("site" for a service) and, per owning entity
    # type, the ORM path from this model to that entity. See sites.roles.
    role_target = None
    role_paths = {}

    class Meta:
        abstract = True

    @classmethod
    def role_condition(cls, user, action):
        """A Q matching rows on which `user` may perform `action`, or None if no role can."""
        from sites.roles import role_types_for

        condition = None
        for entity_type, path in cls.role_paths.items():
            role_types = role_types_for(action, cls.role_target, entity_type)
            if not role_types:
                continue
            from sites.models import Role

            held = Role.objects.filter(user=user, status=Role.Status.GRANTED, role_type__in=role_types)
            term = Q(**{f"{path}__in": held.values("owned_entity_id")})
            condition = term if condition is None else condition | term
        return condition

    def snapshot(self):
        """The audited state: concrete fields, plus scopes and properties where the model has them."""
        data = {}
        for field in self._meta.concrete_fields:
            if field.one_to_one and field.remote_field.parent_link:
                continue
            if field.name in ("created", "last_updated"):
                continue
            value = field.value_from_object(self)
            data[field.attname] = value if value is None or isinstance(value, (bool, int, float)) else str(value)
        if hasattr(self, "scopes") and self.pk:
            data["scopes"] = sorted(s.name for s in self.scopes.all())
        if hasattr(self, "properties") and self.pk:
            data["properties"] = {p.key: p.value for p in self.properties.all()}
        return data


class AuditLog(models.Model):
    """One change to topology, roles, scopes, properties or downtimes: who, when, what, before/after."""

    time = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey("User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    user_name = models.CharField(max_length=150, blank=True)
    request_id = models.UUIDField(db_index=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField()
    object = GenericForeignKey("content_type", "object_id")
    object_repr = models.CharField(max_length=255)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)

    objects = PortalQuerySet.as_manager()

    class Meta:
        ordering = ["-time", "-id"]
        verbose_name = "change"
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self):
        return f"{self.get_action_display()} {self.object_repr}"

    def changed_fields(self):
        """(field, before, after) for every value that differs, for the history tables."""
        before, after = self.before or {}, self.after or {}
        keys = sorted(set(before) | set(after))
        return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]
