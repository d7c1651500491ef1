"""REST API resources of the core models: the caller's own user (`users`, `users/me/`), the caller's own
personal API tokens (`tokens`), virtual organisations (`vos`) and the audit log (`changes`, read-only).

Their models are outside the role model, so each viewset is a PortalViewSet over a PortalQuerySet of
the model (whose `visible_to(user, "view")` is every row) and narrows it in `get_queryset`; reads keep
the framework's joins/prefetches, `?brief`, `?fields` and `?omit`. Writes go through egiportal.services.
"""

from django.urls import NoReverseMatch, reverse
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from .. import permissions, services
from ..filtersets import AuditLogFilterSet, VirtualOrganisationFilterSet
from ..models import APIToken, AuditLog, PortalQuerySet, User, VirtualOrganisation, VOMembership
from ..tokens import SecretToken
from .permissions import SameSiteWritePermission, TokenWritePermission
from .serializers import BaseModelSerializer, FixedFieldsMixin, RelatedField, UserBriefSerializer
from .viewsets import PortalViewSet

OWN_ONLY = [IsAuthenticated, TokenWritePermission, SameSiteWritePermission]


# ---------------------------------------------------------------- users


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"realm": {"type": "string"}, "value": {"type": "string"}},
            "required": ["realm", "value"],
        },
    }
)
class IdentitiesField(serializers.Field):
    """The user's linked identities (X.509 DNs, Check-in subjects), prefetched with the list."""

    prefetch = "identities"

    def __init__(self, **kwargs):
        super().__init__(read_only=True, source="*", **kwargs)

    def to_representation(self, user):
        return [{"realm": identity.realm, "value": identity.value} for identity in user.identities.all()]


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "vo": {"type": "string"},
                "roles": {"type": "array", "items": {"type": "string"}},
                "groups": {"type": "array", "items": {"type": "string"}},
                "manager": {"type": "boolean"},
                "source": {"type": "string", "enum": list(VOMembership.Source.values)},
            },
            "required": ["vo", "roles", "groups", "manager", "source"],
        },
    }
)
class VOMembershipsField(serializers.Field):
    """The user's VO memberships: from EGI Check-in entitlements, or set by a portal administrator."""

    prefetch = "vo_memberships__vo"

    def __init__(self, **kwargs):
        super().__init__(read_only=True, source="*", **kwargs)

    def to_representation(self, user):
        fields = ("roles", "groups", "manager", "source")
        return [{"vo": m.vo.name, **{f: getattr(m, f) for f in fields}} for m in user.vo_memberships.all()]


class UserSerializer(FixedFieldsMixin, UserBriefSerializer):
    """You: your name, contact details, linked identities and VO memberships (apps add their own fields:
    `sites` the roles). Only first_name, last_name and telephone can be changed (PATCH)."""

    identities = IdentitiesField()
    vo_memberships = VOMembershipsField()

    class Meta(UserBriefSerializer.Meta):
        fields = [
            "id", "url", "display", "username", "first_name", "last_name", "email", "telephone", "identities",
            "vo_memberships",
        ]  # fmt: skip
        read_only_fields = ["username", "email"]
        writable_fields = list(services.PROFILE_VALIDATORS)
        brief_fields = ["id", "url", "display", "username"]


class UserViewSet(PortalViewSet):
    """The caller alone: the list holds just you, `users/me/` is your own object, anyone else is 404."""

    queryset = PortalQuerySet(model=User)
    serializer_class = UserSerializer
    filterset_class = None  # one row: no filters (any query parameter but paging and rendering is a 400)
    permission_classes = OWN_ONLY
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return super().get_queryset().filter(pk=self.request.user.pk)

    def write(self, serializer, instance=None):
        return services.update_profile(self.request.user, instance, dict(serializer.validated_data))

    def bulk_partial_update(self, request):
        raise exceptions.MethodNotAllowed(request.method)

    @action(detail=False, methods=["get", "patch"])
    def me(self, request):
        """Your own user object (GET), or a change of your name or telephone (PATCH)."""
        self.kwargs[self.lookup_url_kwarg or self.lookup_field] = str(request.user.pk)
        if request.method == "PATCH":
            return self.partial_update(request, pk=request.user.pk)
        return self.retrieve(request, pk=request.user.pk)


# ---------------------------------------------------------------- personal API tokens


class APITokenSerializer(FixedFieldsMixin, BaseModelSerializer):
    """One of your personal API tokens. Its secret is shown once, in the reply that creates it; only a
    digest is stored, and never shown."""

    usable = serializers.BooleanField(source="is_usable", read_only=True)

    class Meta:
        model = APIToken
        fields = [
            "id", "url", "display", "description", "prefix", "write_enabled", "expires", "created", "last_used",
            "revoked", "usable",
        ]  # fmt: skip
        writable_fields = ["description", "write_enabled", "expires"]
        brief_fields = ["id", "url", "display", "prefix"]


class IssuedTokenSerializer(APITokenSerializer):
    """A token just created, with its secret: keep it now, it is never shown again."""

    secret = serializers.CharField(read_only=True, help_text="Send as `Authorization: Token <secret>`.")

    class Meta(APITokenSerializer.Meta):
        fields = [*APITokenSerializer.Meta.fields, "secret"]


class APITokenViewSet(PortalViewSet):
    """The caller's own tokens (anyone else's are 404). POST makes one and returns its secret once;
    DELETE revokes it (it stays listed, revoked). Tokens are made from a logged-in session only, so a
    leaked token cannot mint others that outlive its revocation."""

    queryset = PortalQuerySet(model=APIToken)
    serializer_class = APITokenSerializer
    filterset_class = None  # a handful of rows: no filters (any query parameter but paging and rendering is a 400)
    permission_classes = OWN_ONLY
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self):
        return super().get_queryset().filter(user=self.request.user)

    @extend_schema(responses={201: IssuedTokenSerializer})
    def create(self, request, *args, **kwargs):
        if isinstance(request.auth, SecretToken):
            raise exceptions.PermissionDenied("Create API tokens from a logged-in session, not with another token.")
        data = self.validated(request.data).validated_data
        token, secret = services.create_api_token(
            request.user, data["description"], data.get("expires"), data.get("write_enabled", False)
        )
        token.secret = secret
        response = Response(
            IssuedTokenSerializer(token, context=self.get_serializer_context()).data, status.HTTP_201_CREATED
        )
        add_never_cache_headers(response)  # no cache may keep the reply with the secret
        return response

    def delete_object(self, actor, token):
        services.revoke_api_token(actor, token)


# ---------------------------------------------------------------- virtual organisations


class VOMembershipSerializer(serializers.ModelSerializer):
    """A member of a VO: who, the roles and subgroups held, and whether the row comes from Check-in or
    from a portal administrator."""

    user = RelatedField(UserBriefSerializer, read_only=True)

    class Meta:
        model = VOMembership
        fields = ["user", "roles", "groups", "manager", "source", "updated"]


class VirtualOrganisationSerializer(FixedFieldsMixin, BaseModelSerializer):
    """A virtual organisation (VO) as EGI Check-in names it. Its managers may change its description."""

    members = serializers.IntegerField(source="member_count", read_only=True)
    managers = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = VirtualOrganisation
        fields = ["id", "url", "display", "name", "description", "members", "managers", "created"]
        read_only_fields = ["name", "created"]
        writable_fields = ["description"]
        brief_fields = ["id", "url", "display", "name"]


class VirtualOrganisationViewSet(PortalViewSet):
    """VOs, made when their first member logs in with EGI Check-in. Anyone may read them; a VO's
    managers (and portal administrators) may change its description and list its members."""

    queryset = VirtualOrganisation.objects.all()
    serializer_class = VirtualOrganisationSerializer
    filterset_class = VirtualOrganisationFilterSet
    http_method_names = ["get", "patch", "put", "head", "options"]

    def get_queryset(self):
        return super().get_queryset().with_members()

    def write(self, serializer, instance=None):
        return services.update_vo(self.request.user, instance, dict(serializer.validated_data))

    def bulk_update(self, request):
        raise exceptions.MethodNotAllowed(request.method)

    bulk_partial_update = bulk_update

    @extend_schema(responses={200: VOMembershipSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"], filterset_class=None)
    def members(self, request, pk=None):
        """The VO's members and their roles: for its managers and portal administrators only (403)."""
        vo = self.get_object()
        if not permissions.authorise(request.user, permissions.EDIT, vo):
            raise exceptions.PermissionDenied(f"Only the managers of {vo} may list its members.")
        rows = vo.memberships.select_related("user").order_by("user__username", "source")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(VOMembershipSerializer(page, many=True, context={"request": request}).data)


# ---------------------------------------------------------------- the audit log


class ChangeSerializer(BaseModelSerializer):
    """One audited change: who, when, what, and the state before and after."""

    object_type = serializers.SerializerMethodField()
    object_url = serializers.SerializerMethodField()

    class Meta:
        model = AuditLog
        fields = [
            "id", "url", "display", "time", "user_name", "action", "object_type", "object_id", "object_repr",
            "object_url", "before", "after", "message", "request_id",
        ]  # fmt: skip
        brief_fields = ["id", "url", "display", "time", "action"]
        select_related = ("content_type",)

    def get_object_type(self, log) -> str:
        return f"{log.content_type.app_label}.{log.content_type.model}"

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_object_url(self, log):
        """The changed object's API URL (without loading it; gone if it was deleted), None if not in the API."""
        try:
            path = reverse(f"api:{log.content_type.model}-detail", args=[log.object_id])
        except NoReverseMatch:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class ChangeViewSet(PortalViewSet):
    """The change list of the browser (egiportal.views.AuditLogListView), with its filters and the
    same visibility (AuditLog.objects.visible_to)."""

    queryset = AuditLog.objects.all()
    serializer_class = ChangeSerializer
    filterset_class = AuditLogFilterSet
    http_method_names = ["get", "head", "options"]


# `users` is routed by the app that completes it (sites.api: the roles of the user).
ROUTES = [
    ("tokens", APITokenViewSet),
    ("changes", ChangeViewSet),
    ("vos", VirtualOrganisationViewSet),
]
