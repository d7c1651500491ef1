"""Read-only API of the accounting tables under /api/v1/accounting/ (accounting.md §5.3, §6).

Summaries are public; their `global_user_name` is shown only on rows whose per-user detail the caller may
see (`visible_to(user, DETAIL)`: the site's administrators, the VO's managers, portal administrators), asked
for the whole page in one subquery. Records and raw messages are per-user detail themselves: only the rows
the caller may see with DETAIL are listed (none for anonymous callers), any other is a 404.

The ingestion POST stays the plain view of `ingest.py` (APEL bodies, not JSON, and its own credential
rules); `MessagesView` only describes it in the OpenAPI schema.
"""

import functools

from django.db.models import Exists, OuterRef, Value
from django.utils.http import quote_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import permissions as drf_permissions
from rest_framework import serializers as drf_serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from egiportal import permissions
from egiportal.api.authentication import TokenAuthentication
from egiportal.api.viewsets import PortalViewSet, optimise

from .. import filtersets, messages
from ..models import (
    DETAIL,
    AcceleratorRecord,
    AcceleratorSummary,
    CloudRecord,
    CloudSummary,
    IPRecord,
    IPSummary,
    RawMessage,
    StorageRecord,
    StorageSummary,
)
from . import serializers
from .ingest import messages_view


def with_user_detail(queryset, user):
    """`queryset` with `may_see_user` on each row: whether `user` may see its per-user detail (one
    subquery over the rows visible with DETAIL, whatever the page's length)."""
    if permissions.is_active_user(user) and user.is_superuser:
        return queryset.annotate(may_see_user=Value(True))
    visible = queryset.model.objects.visible_to(user, DETAIL)
    if visible.query.is_empty():
        return queryset.annotate(may_see_user=Value(False))
    return queryset.annotate(may_see_user=Exists(visible.filter(pk=OuterRef("pk"))))


class AccountingViewSet(PortalViewSet):
    """A read-only accounting table; `row_action` is what the caller must be allowed on a row to see it."""

    http_method_names = ["get", "head", "options"]
    row_action = permissions.VIEW

    def get_queryset(self):
        user = self.request.user
        queryset = self.queryset.all().visible_to(user, self.row_action)
        if self.request.method == "GET":
            queryset = optimise(queryset, self.get_serializer())
        queryset = self.annotate(queryset, user)
        ordering = queryset.query.order_by or queryset.model._meta.ordering or ()
        return queryset.order_by(*ordering, "pk")

    def annotate(self, queryset, user):
        return with_user_detail(queryset, user)

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        response = Response(self.get_serializer(instance).data)
        response["ETag"] = etag(instance)
        return response


def etag(instance):
    """A weak ETag from the row's last change and whether its per-user detail is shown."""
    stamp = getattr(instance, "updated", None) or getattr(instance, "received", None)
    detail = int(bool(getattr(instance, "may_see_user", False)))
    return "W/" + quote_etag(f"{instance.pk}-{stamp.timestamp() if stamp else 0}-{detail}")


class RecordViewSet(AccountingViewSet):
    """Raw records: per-user detail, so only the rows the caller may see with DETAIL."""

    row_action = DETAIL

    def annotate(self, queryset, user):
        return queryset.annotate(may_see_user=Value(True))  # every row listed is one the caller may see in full


class CloudSummaryViewSet(AccountingViewSet):
    """APEL's CloudSummaries: monthly cloud usage per site, service, user, VO, status, image, CPU count and
    benchmark."""

    queryset = CloudSummary.objects.all()
    serializer_class = serializers.CloudSummarySerializer
    filterset_class = filtersets.CloudSummaryFilterSet


class IPSummaryViewSet(AccountingViewSet):
    """Public IPs per month, site and VO."""

    queryset = IPSummary.objects.all()
    serializer_class = serializers.IPSummarySerializer
    filterset_class = filtersets.IPSummaryFilterSet


class AcceleratorSummaryViewSet(AccountingViewSet):
    """Accelerator time per month, site, VO, user, type and model."""

    queryset = AcceleratorSummary.objects.all()
    serializer_class = serializers.AcceleratorSummarySerializer
    filterset_class = filtersets.AcceleratorSummaryFilterSet


class StorageSummaryViewSet(AccountingViewSet):
    """Block storage per month, site and VO."""

    queryset = StorageSummary.objects.all()
    serializer_class = serializers.StorageSummarySerializer
    filterset_class = filtersets.StorageSummaryFilterSet


class CloudRecordViewSet(RecordViewSet):
    """The cloud records (one cumulative snapshot per VM and month) the caller may see in full."""

    queryset = CloudRecord.objects.all()
    serializer_class = serializers.CloudRecordSerializer
    filterset_class = filtersets.CloudRecordFilterSet


class IPRecordViewSet(RecordViewSet):
    """The public IP records the caller may see in full."""

    queryset = IPRecord.objects.all()
    serializer_class = serializers.IPRecordSerializer
    filterset_class = filtersets.IPRecordFilterSet


class AcceleratorRecordViewSet(RecordViewSet):
    """The accelerator records the caller may see in full."""

    queryset = AcceleratorRecord.objects.all()
    serializer_class = serializers.AcceleratorRecordSerializer
    filterset_class = filtersets.AcceleratorRecordFilterSet


class StorageRecordViewSet(RecordViewSet):
    """The storage records the caller may see in full."""

    queryset = StorageRecord.objects.all()
    serializer_class = serializers.StorageRecordSerializer
    filterset_class = filtersets.StorageRecordFilterSet


class RawMessageViewSet(RecordViewSet):
    """The messages a site sent, as they arrived (accepted or rejected with the reason), for the site's
    administrators; the body is on the detail only."""

    queryset = RawMessage.objects.all()
    serializer_class = serializers.RawMessageSerializer
    filterset_class = filtersets.RawMessageFilterSet

    def get_serializer_class(self):
        return serializers.RawMessageDetailSerializer if self.action == "retrieve" else self.serializer_class

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset if self.action == "retrieve" else queryset.defer("body")  # up to 1 MB each


# ---------------------------------------------------------------- the ingestion POST, in the schema

ERROR = inline_serializer("AccountingIngestError", {"detail": drf_serializers.CharField()})
STORED = inline_serializer(
    "AccountingIngestReply",
    {
        "id": drf_serializers.IntegerField(help_text="The stored raw message."),
        "kind": drf_serializers.CharField(help_text="cloud, cloud_summary, ip, accelerator or storage."),
        "records": drf_serializers.IntegerField(help_text="Records stored."),
        "site": drf_serializers.CharField(help_text="The sender's site."),
        "duplicate": drf_serializers.BooleanField(help_text="A retry of a message id already stored."),
    },
)


class MessagesView(APIView):
    """Describes `POST /api/v1/accounting/messages/` in the schema; requests go to `ingest.messages_view`
    unchanged (as_view below), so its authentication, limits and replies are exactly that view's."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [drf_permissions.IsAuthenticated]

    @classmethod
    def as_view(cls, **initkwargs):
        described = super().as_view(**initkwargs)

        @functools.wraps(messages_view)  # keeps its csrf_exempt and require_POST
        def view(request, *args, **kwargs):
            return messages_view(request)

        view.cls, view.initkwargs = described.cls, described.initkwargs
        return view

    @extend_schema(
        operation_id="accounting_messages_create",
        summary="Deliver one APEL accounting message",
        description=(
            "One message body exactly as cASO writes it (`APEL-cloud-message: v0.4` in cASO's or APEL's framing, "
            "`APEL-cloud-summary-message: v0.4`, Public IP JSON v0.2, accelerator JSON v0.1, StAR storage XML), "
            "sent with a write-enabled API credential of the site as `Authorization: Token <token>` (or Bearer; "
            "HTTP Basic, browser sessions and personal tokens are refused). Every record must be of that site. "
            f"All or nothing: a bad record refuses the whole message (400, naming the record and field). At most "
            f"{messages.MAX_BODY_BYTES} bytes and {messages.MAX_RECORDS} records (413). An `X-Message-Id` makes a "
            "retry idempotent (200 with `duplicate`)."
        ),
        request={"text/plain": OpenApiTypes.STR},
        parameters=[
            OpenApiParameter(
                "X-Message-Id",
                str,
                OpenApiParameter.HEADER,
                description="The sender's id of the message (at most 255 printable ASCII characters).",
            )
        ],
        responses={
            201: OpenApiResponse(STORED, "Stored."),
            200: OpenApiResponse(STORED, "A retry of a message id already stored: nothing new stored."),
            403: OpenApiResponse(ERROR, "Not a write-enabled credential of the site, or records of another site."),
            409: OpenApiResponse(ERROR, "It clashed with the same message stored at the same time: send it again."),
            413: OpenApiResponse(ERROR, "Over the size or record limit."),
        },
        tags=["accounting"],
    )
    def post(self, request):  # never called: as_view sends requests to ingest.messages_view
        raise NotImplementedError
