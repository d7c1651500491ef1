"""Shared foundation: the user model, the audit log and the base classes of every portal model."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from . import permissions, portal_apps, tokens
from . import validators as v
from .tokens import SecretToken


class User(AbstractUser):
    """A portal user: a local account (administrators) or one made at its first EGI Check-in login.

    Check-in subjects and X.509 DNs are linked to it as `identities`; a user may hold several.
    """

    telephone = models.CharField(max_length=255, blank=True)

    owner_path = "pk"  # each user sees their own account (permissions.OwnerGrants)
    audit_personal = True  # the change list names a profile's owner (egiportal.models.AuditLogQuerySet)

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
    owner_path = "user"
    realm = models.CharField(max_length=32, choices=Realm.choices)
    value = models.CharField(max_length=255)

    audit_private = True  # the change list shows identity rows to portal administrators only

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "identities"
        constraints = [models.UniqueConstraint(fields=["realm", "value"], name="uniq_identity")]

    def __str__(self):
        return f"{self.realm}: {self.value}"

    def audit_state(self):
        """Whose identity, of which realm, and its value (the entries are for portal administrators only)."""
        return {"user": self.user.username, "realm": self.realm, "value": self.value}

    @classmethod
    def realm_for(cls, credential_kind):
        """The identity realm matching an API credential type."""
        return cls.Realm.X509 if credential_kind == "X.509" else cls.Realm.CHECKIN


class PortalQuerySet(models.QuerySet):
    """QuerySet with the one permission question of the portal (egiportal.permissions)."""

    def visible_to(self, user, action=permissions.VIEW):
        return permissions.visible_to(self, user, action)


# Descriptions are shown in lists: one line, and no invisible or direction-changing characters that
# could make one token pass for another.
single_line = RegexValidator(
    r"^[^\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]*\Z",
    "Use a single line without control or invisible formatting characters.",
)


vo_name = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}\Z", "A VO name is made of letters, digits, dots, hyphens and underscores."
)


class VirtualOrganisationQuerySet(PortalQuerySet):
    def with_members(self):
        """With `member_count` (distinct users: one may hold a Check-in and a local row) and
        `manager_rows` (the manager memberships, with their users), at a fixed query cost."""
        counted = (
            VOMembership.objects.filter(vo=OuterRef("pk"))
            .order_by()
            .values("vo")
            .annotate(n=Count("user", distinct=True))
        )
        managers = (
            VOMembership.objects.filter(manager=True)
            .select_related("user")
            .order_by("user__last_name", "user__first_name", "user__username")
        )
        return self.annotate(member_count=Coalesce(Subquery(counted.values("n")), 0)).prefetch_related(
            models.Prefetch("memberships", queryset=managers, to_attr="manager_rows")
        )


class VirtualOrganisation(models.Model):
    """A virtual organisation (VO) as EGI Check-in names it in entitlements (fedcloud.egi.eu).

    Made when a member first logs in, or by a portal administrator; its members and managers are
    `memberships`.
    """

    name = models.CharField(max_length=255, unique=True, validators=[vo_name])
    description = models.CharField(max_length=500, blank=True, validators=[v.free_text, single_line])
    created = models.DateTimeField(auto_now_add=True)

    objects = VirtualOrganisationQuerySet.as_manager()

    # Public; its managers may change it (permissions.VOGrants).
    public = True
    vo_path = "pk"

    class Meta:
        ordering = ["name"]
        verbose_name = "virtual organisation"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("vo", args=[self.name])

    @property
    def manager_users(self):
        """The managers, each once (one may manage from both sources), from `with_members()`."""
        return list(dict.fromkeys(m.user for m in self.manager_rows))

    @property
    def managers(self):
        """The managers' names."""
        return [str(user) for user in self.manager_users]

    def audit_state(self):
        """Managers are public (the VO page names them) and members are counted there, so changes to the
        local memberships show in the log without naming members."""
        managers = self.memberships.filter(manager=True).values_list("user__username", flat=True)
        return {
            "name": self.name,
            "description": self.description,
            "managers": sorted(set(managers)),
            "local_memberships": self.memberships.filter(source=VOMembership.Source.LOCAL).count(),
        }


class VOMembership(models.Model):
    """A user's membership of a VO, with the roles held on it (specs/oidc.md A3).

    Rows from Check-in are replaced at every login from `eduperson_entitlement`, so an expired
    membership disappears. Rows added by a portal administrator (`source` local) are the local
    override: they survive logins, e.g. to name a VO manager that Check-in cannot express.
    """

    class Source(models.TextChoices):
        CHECKIN = "checkin", "EGI Check-in"
        LOCAL = "local", "Portal administrator"

    user = models.ForeignKey("User", on_delete=models.CASCADE, related_name="vo_memberships")
    vo = models.ForeignKey(VirtualOrganisation, on_delete=models.CASCADE, related_name="memberships")
    roles = models.JSONField(default=list, blank=True, help_text="Roles held on the VO itself, e.g. member.")
    groups = models.JSONField(default=list, blank=True, help_text="Subgroups the user is a member of.")
    manager = models.BooleanField("VO manager", default=False)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.LOCAL)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["vo__name", "user_id", "source"]
        verbose_name = "VO membership"
        constraints = [models.UniqueConstraint(fields=["user", "vo", "source"], name="uniq_vo_membership")]

    def __str__(self):
        return f"{self.user} in {self.vo}"

    def audit_state(self):
        """Names, not ids, and no e-mail."""
        return {
            "vo": self.vo.name,
            "user": self.user.username,
            "roles": list(self.roles),
            "groups": list(self.groups),
            "manager": self.manager,
            "source": self.source,
        }


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
    # Private unless a model says otherwise (egiportal.permissions): topology is public.
    public = False

    class Meta:
        abstract = True

    def audit_state(self):
        """What the audit log records of this object (before/after); models with related rows to show
        (a downtime's services) or fields to hide extend it."""
        return self.snapshot()

    def snapshot(self):
        """The stored fields, plus scopes and properties where the model has them."""
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


class WithoutPersonalData(models.query.ModelIterable):
    """Audit entries as someone who may not see personal data reads them (AuditLog.hide_personal_data)."""

    def __iter__(self):
        for entry in super().__iter__():
            entry.hide_personal_data()
            yield entry


class AuditLogQuerySet(PortalQuerySet):
    def visible_to(self, user, action="view"):
        """Everyone sees topology changes; only portal administrators see the entries of models that
        declare `audit_private = True` (tokens, API credentials, linked identities: their rows name
        secrets' prefixes, DNs and subjects). Who may not see personal data
        (permissions.may_see_personal_data) sees no entry of a model that declares `audit_personal = True`
        (roles: role holders, requests and decisions), and the others without their personal fields."""
        qs = super().visible_to(user, action)
        if user is not None and user.is_superuser:
            return qs
        hidden = portal_apps.private_audit_models()
        if not permissions.may_see_personal_data(user):
            hidden += portal_apps.private_audit_models("audit_personal")
            qs._iterable_class = WithoutPersonalData
        for model in hidden:
            qs = qs.exclude(content_type__app_label=model._meta.app_label, content_type__model=model._meta.model_name)
        return qs


class AuditLog(models.Model):
    """One change to topology, roles, scopes, properties or downtimes: who, when, what, before/after."""

    time = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey("User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    user_name = models.CharField(max_length=150, blank=True)
    request_id = models.UUIDField(db_index=True)
    # A plain string: the core's created/updated/deleted or an app's own action (egiportal.portal_apps).
    action = models.CharField(max_length=32)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField()
    object = GenericForeignKey("content_type", "object_id")
    object_repr = models.CharField(max_length=255)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)

    objects = AuditLogQuerySet.as_manager()

    public = True  # but for the entries of private models (AuditLogQuerySet)
    personal_fields = ("user_name", "user")  # who changed something (permissions.may_see_personal_data)

    class Meta:
        ordering = ["-time", "-id"]
        verbose_name = "change"
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self):
        return f"{self.action_label} {self.object_repr}"

    @property
    def action_label(self):
        """The action as people read it ("Role granted"), from the vocabulary of the portal apps."""
        return portal_apps.audit_action_label(self.action)

    def hide_personal_data(self):
        """Forget, in memory, who made the change and the changed object's personal fields."""
        self.user_name, self.user = "", None
        model = ContentType.objects.get_for_id(self.content_type_id).model_class()
        hidden = getattr(model, "personal_fields", ())
        for state in (self.before, self.after):
            for name in hidden if isinstance(state, dict) else ():
                state.pop(name, None)

    def changed_fields(self):
        """(field, before, after) for every value that differs, for the history tables."""
        before, after = self.before or {}, self.after or {}
        keys = sorted(set(before) | set(after))
        return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


class APITokenQuerySet(models.QuerySet):
    def usable(self):
        """Tokens neither revoked nor expired."""
        return self.filter(revoked__isnull=True).filter(Q(expires__isnull=True) | Q(expires__gt=timezone.now()))

    def matching(self, secret):
        """The token (usable or not) whose secret is `secret`, with its user, or None."""
        return APIToken.find_secret(secret)

    def for_secret(self, secret):
        """The usable token whose secret is `secret`, or None."""
        token = self.matching(secret)
        return token if token is not None and token.is_usable else None


class APIToken(SecretToken, models.Model):
    """A personal token a user makes in the browser to call the REST API as themselves.

    Only a keyed digest of the secret is stored (egiportal.tokens: HMAC-SHA256 with TOKEN_DIGEST_KEY,
    SECRET_KEY unless set; rotating that key invalidates every token). The secret is shown once, when issued. Read-only unless `write_enabled`; unusable once expired or
    revoked. Distinct from the site-owned GOCDB API credentials (sites.models.APICredential).
    """

    SECRET_PREFIX = TOKEN_PREFIX = "egit_"
    MAX_SECRET_LENGTH = tokens.MAX_LENGTH

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    description = models.CharField(max_length=200, validators=[v.free_text, single_line])
    prefix = models.CharField(max_length=16, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    write_enabled = models.BooleanField("write enabled", default=False)
    expires = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    revoked = models.DateTimeField(null=True, blank=True, editable=False)

    # The rows name a user's token prefixes and descriptions: portal administrators only. The token pages
    # show no history, so the owner sees their tokens' entries nowhere.
    audit_private = True

    objects = APITokenQuerySet.as_manager()

    owner_path = "user"  # private: only its owner sees it (permissions.OwnerGrants)

    class Meta:
        ordering = ["-id"]
        verbose_name = "API token"

    def __str__(self):
        return f"API token {self.prefix}"

    def audit_state(self):
        """Never the digest."""
        return {
            "user": self.user.username,
            "description": self.description,
            "prefix": self.prefix,
            "write_enabled": self.write_enabled,
            "expires": self.expires.isoformat() if self.expires else None,
            "revoked": self.revoked.isoformat() if self.revoked else None,
        }

    digest_of = staticmethod(tokens.digest)

    @classmethod
    def token_queryset(cls):
        return cls.objects.select_related("user")

    def issue(self):
        """Give the token a new secret and return it; only its digest and a display prefix are kept."""
        return self.set_secret()

    @property
    def is_expired(self):
        return self.expires is not None and self.expires <= timezone.now()

    @property
    def is_usable(self):
        return self.revoked is None and not self.is_expired

    def refusal(self):
        if self.revoked is not None:
            return tokens.UNKNOWN
        if self.is_expired:
            return "Expired token: make a new one on the /tokens/ page."
        if not self.user.is_active:
            return "The account of this token is disabled."
        return None

    def write_refusal(self):
        return None if self.write_enabled else tokens.READ_ONLY

    def caller(self):
        """The fields of an egiportal.identity.Caller."""
        return {"identifier": self.prefix, "kind": "API token", "user": self.user, "token": self}


class OutboxMessage(models.Model):
    """A task that a change asks for, written in the change's own transaction (egiportal.outbox).

    The row is handed to the broker after commit and again by the periodic relay until a run of the
    task marks it done, in the transaction of that run: the work is neither lost when the broker is
    down nor done twice when the message is delivered twice. `task` is a dotted task name, so the
    core names no app.
    """

    task = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    created = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "outbox message"
        indexes = [models.Index(fields=["created"], condition=Q(done_at__isnull=True), name="outbox_pending")]

    def __str__(self):
        return f"{self.task}{tuple(self.args)}"


class FormSubmission(models.Model):
    """A browser create form that was submitted and saved: its one-time token (egiportal.forms.FormTokenField)
    and where the object it created is. The row is written in the transaction of the create, so a second
    POST of the same rendered form (a double click, a reload) finds the token taken and is sent to that
    object instead of creating a second one. GOCDB allows identical services in one site, so no
    uniqueness rule on the object could tell a repeated form from a wanted twin. Rows older than a token
    may live are pruned."""

    token = models.CharField(max_length=200, unique=True)
    user = models.ForeignKey("User", on_delete=models.CASCADE, null=True, related_name="+")
    object_url = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.object_url or self.token[:12]
