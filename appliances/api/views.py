"""API viewsets of the marketplace. Reads filter through appliances.filtersets and the models'
`visible_to`; every write calls one service of appliances.services or appliances.publishing, which
check who may do it, validate and audit (their refusals answer 400, 403, 404 or 409)."""

from django.db.models import OuterRef, Prefetch, Subquery
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from egiportal import permissions
from egiportal.api.schema import AutoSchema
from egiportal.api.viewsets import PortalViewSet, rendered_fields
from egiportal.models import VirtualOrganisation

from .. import filtersets, publishing, services
from ..choices import VersionState
from ..models import (
    ApplianceVersion,
    Image,
    IntegrityJob,
    PublishedArtefact,
    VirtualAppliance,
    VOImageList,
    VOImageListEntry,
)
from . import serializers


class RawImageParser(BaseParser):
    """A logo's bytes as the request body, read up to one byte past the limit (set_logo refuses more)."""

    media_type = "image/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read(services.LOGO_MAX_BYTES + 1) if stream is not None else b""


class ApplianceViewSet(PortalViewSet):
    queryset = VirtualAppliance.objects.all()
    serializer_class = serializers.ApplianceSerializer
    filterset_class = filtersets.ApplianceFilterSet

    def get_queryset(self):
        return super().get_queryset().defer("logo")  # up to 256 KB each, never rendered here

    def save_object(self, actor, appliance, m2m):
        services.save_appliance(actor, appliance, categories=m2m.get("categories"), contacts=m2m.get("contacts"))

    def delete_object(self, actor, appliance):
        services.delete_appliance(actor, appliance)

    @extend_schema(
        request={"image/png": bytes, "image/jpeg": bytes, "image/gif": bytes},
        responses={204: None},
        description="PUT the logo's bytes (PNG, JPEG or GIF, at most 256 KB) as the body; DELETE removes it.",
    )
    @action(detail=True, methods=["put", "delete"], parser_classes=[RawImageParser], filterset_class=None)
    def logo(self, request, pk=None):
        appliance = self.get_object()
        data = b"" if request.method == "DELETE" else request.data
        services.set_logo(request.user, appliance, data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VersionViewSet(PortalViewSet):
    """Versions of appliances: the published and archived ones are public, a working one its authors'."""

    queryset = ApplianceVersion.objects.all()
    serializer_class = serializers.VersionSerializer
    filterset_class = filtersets.ApplianceVersionFilterSet

    def initial(self, request, *args, **kwargs):
        self.warnings = {}  # version id -> what save_version said (a clamped expiry), shown in the reply
        super().initial(request, *args, **kwargs)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "warnings": getattr(self, "warnings", {})}

    def get_queryset(self):
        if self.action == "checks":  # the version only: the rendered objects are its checks
            return self.queryset.all().visible_to(self.request.user, permissions.VIEW)
        return super().get_queryset()

    def save_object(self, actor, version, m2m):
        version, note = services.save_version(actor, version)
        if note:
            self.warnings[version.pk] = [note]

    def delete_object(self, actor, version):
        services.delete_version(actor, version)

    @extend_schema(request=serializers.VerifyRequestSerializer, responses={202: serializers.IntegrityJobSerializer})
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        """Start an integrity check of the working version's images ("Verify"; with `publish`, "Verify &
        publish"). The check runs in the background: follow it in `checks/` or `integrity-checks/`."""
        body = serializers.VerifyRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = services.request_integrity_check(request.user, self.get_object(), publish=body.validated_data["publish"])
        job = IntegrityJob.objects.select_related("version__appliance", "requested_by").get(pk=job.pk)
        data = serializers.IntegrityJobSerializer(job, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: serializers.VersionSerializer})
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """Release a verified working version: the published one is archived, the appliance's list re-signed."""
        version = services.publish_version(request.user, self.get_object())
        [version] = self.reread([version])
        return Response(self.get_serializer(version).data)

    @extend_schema(responses={200: serializers.IntegrityJobSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"], filterset_class=None)
    def checks(self, request, pk=None):
        """The version's integrity checks, newest first."""
        version = self.get_object()
        jobs = IntegrityJob.objects.visible_to(request.user, permissions.VIEW).filter(version=version)
        jobs = jobs.select_related("version__appliance", "requested_by").order_by("-created", "-id")
        page = self.paginate_queryset(jobs)
        data = serializers.IntegrityJobSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)


class ImageViewSet(PortalViewSet):
    queryset = Image.objects.all()
    serializer_class = serializers.ImageSerializer
    filterset_class = filtersets.ImageFilterSet

    def save_object(self, actor, image, m2m):
        services.save_image(actor, image)

    def delete_object(self, actor, image):
        services.delete_image(actor, image)


class IntegrityJobViewSet(PortalViewSet):
    """Integrity checks (read-only: `verify/` on a version starts one); `cancel/` asks one to stop."""

    queryset = IntegrityJob.objects.all()
    serializer_class = serializers.IntegrityJobSerializer
    filterset_class = filtersets.IntegrityJobFilterSet
    http_method_names = ["get", "head", "options"]

    @extend_schema(request=None, responses={200: serializers.IntegrityJobSerializer})
    @action(detail=True, methods=["post"], http_method_names=["post", "options"])
    def cancel(self, request, pk=None):
        """Ask the check to stop: a queued one stops at once, a running one at its next chunk (409 when over)."""
        job = services.cancel_integrity_check(request.user, self.get_object())
        [job] = self.reread([job])
        return Response(self.get_serializer(job).data)


def with_entries(queryset):
    """Lists with their entries, each entry annotated with its appliance's published version (the
    `current` of VOImageListEntry.state): one query for all entries of a page, whatever its length."""
    published = ApplianceVersion.objects.filter(
        appliance=OuterRef("image__version__appliance"), state=VersionState.PUBLISHED
    )
    entries = VOImageListEntry.objects.select_related("image__version__appliance").annotate(
        current_pk=Subquery(published.values("pk")[:1]), current_version=Subquery(published.values("version")[:1])
    )
    return queryset.prefetch_related(Prefetch("entries", queryset=entries))


class VOImageListViewSet(PortalViewSet):
    """VO-wide image lists: published and obsolete ones for everyone (a private VO's for its members),
    drafts for the VO's managers. A VO's managers change its draft at `vo-image-lists/{vo}/draft/...`."""

    queryset = VOImageList.objects.all()
    serializer_class = serializers.VOImageListSerializer
    filterset_class = filtersets.VOImageListFilterSet
    http_method_names = ["get", "head", "options"]

    def get_queryset(self):
        queryset = super().get_queryset()
        shown = set(rendered_fields(self.get_serializer())) if self.request.method == "GET" else set()
        return with_entries(queryset) if shown & {"entries", "summary"} else queryset


class ArtefactViewSet(PortalViewSet):
    """Signed lists as they were published (read-only). The detail has the signed document."""

    queryset = PublishedArtefact.objects.all()
    serializer_class = serializers.ArtefactSerializer
    filterset_class = filtersets.PublishedArtefactFilterSet
    http_method_names = ["get", "head", "options"]

    def get_serializer_class(self):
        return serializers.ArtefactDetailSerializer if self.action == "retrieve" else serializers.ArtefactSerializer

    def get_queryset(self):
        # The signed bytes are served by the store; the document only on the detail.
        return super().get_queryset().defer("signed", *(() if self.action == "retrieve" else ("document",)))


# ---------------------------------------------------------------- a VO's draft


class DraftSchema(AutoSchema):
    """The draft's operations: a VO name in the path, and the services' refusals as replies."""

    def error_codes(self):
        codes = {"400", "401", "403", "404", "429"}
        if self.method != "GET":
            codes.add("409")
        return sorted(codes)


VO_PARAM = OpenApiParameter("vo", str, OpenApiParameter.PATH, description="The VO's name, e.g. fedcloud.egi.eu.")
SUBSCRIBER_PARAM = OpenApiParameter("subscriber", int, OpenApiParameter.PATH, description="The subscriber's id.")
APPLIANCE_PARAM = OpenApiParameter("appliance", str, OpenApiParameter.PATH, description="The appliance's name.")


class VODraftViewSet(viewsets.GenericViewSet):
    """A VO's draft image list, for its managers (others 403): add or remove appliances, update outdated
    entries, revert to the published list, publish. Each change is one audited service call."""

    schema = DraftSchema()
    queryset = VOImageList.objects.none()  # the services find the draft; the framework wants a model
    serializer_class = serializers.VOImageListSerializer
    pagination_class = None
    filter_backends = []

    def vo(self):
        name = self.kwargs["vo"]
        found = VirtualOrganisation.objects.filter(name=name).first() if "\x00" not in name else None
        if found is None:
            raise Http404(f"No VO named {name[:100]}.")
        return found

    def render_list(self, image_list, code=status.HTTP_200_OK):
        image_list = with_entries(VOImageList.objects.select_related("vo", "published_by")).get(pk=image_list.pk)
        return Response(self.get_serializer(image_list).data, status=code)

    @extend_schema(parameters=[VO_PARAM], responses={200: serializers.VOImageListSerializer})
    def retrieve(self, request, vo=None):
        """The VO's draft (made as a copy of the published list on first use)."""
        return self.render_list(publishing.draft_of(request.user, self.vo()))

    @extend_schema(
        parameters=[VO_PARAM],
        request=serializers.AddEntrySerializer,
        responses={200: serializers.VOImageListSerializer},
    )
    def add(self, request, vo=None):
        """Add an appliance's published version to the draft, or bring its entries up to date (409 when it
        has no published, unexpired version)."""
        body = serializers.AddEntrySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        vo_ = self.vo()
        publishing.add_to_list(request.user, vo_, self.appliance(body.validated_data["appliance"], field="appliance"))
        return self.render_list(publishing.draft_of(request.user, vo_))

    @extend_schema(parameters=[VO_PARAM, APPLIANCE_PARAM], request=None, responses={204: None})
    def remove(self, request, vo=None, appliance=None):
        """Remove an appliance's images from the draft (404 when it holds none)."""
        publishing.remove_from_list(request.user, self.vo(), self.appliance(appliance))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=[VO_PARAM], request=None, responses={200: serializers.UpdateOutdatedSerializer})
    def update_outdated(self, request, vo=None):
        """Update every outdated or expired entry to its appliance's published version; `skipped` says which
        could not be, and why."""
        vo_ = self.vo()
        updated, skipped = publishing.update_outdated(request.user, vo_)
        draft = self.render_list(publishing.draft_of(request.user, vo_)).data
        return Response({"updated": updated, "skipped": skipped, "draft": draft})

    @extend_schema(
        parameters=[VO_PARAM],
        request=serializers.DraftChangeSerializer,
        responses={200: serializers.VOImageListSerializer},
    )
    def change(self, request, vo=None):
        """Make the draft private (sites then need a subscriber token for the list published from it) or public."""
        body = serializers.DraftChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.render_list(publishing.set_private(request.user, self.vo(), body.validated_data["private"]))

    @extend_schema(parameters=[VO_PARAM], responses={200: serializers.SubscriberSerializer(many=True)})
    def subscribers(self, request, vo=None):
        """The subscriber tokens of the VO's private list (for its managers)."""
        vo_ = self.vo()
        services.require_list_manager(request.user, vo_)
        rows = vo_.list_subscribers.order_by("name", "id")
        return Response(serializers.SubscriberSerializer(rows, many=True).data)

    @extend_schema(
        parameters=[VO_PARAM],
        request=serializers.SubscriberSerializer,
        responses={201: serializers.IssuedSubscriberSerializer},
    )
    def add_subscriber(self, request, vo=None):
        """Issue a subscriber token; its secret is in this reply only."""
        body = serializers.SubscriberSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        subscriber, secret = services.add_subscriber(request.user, self.vo(), body.validated_data["name"])
        data = serializers.IssuedSubscriberSerializer(subscriber, context={"secret": secret}).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[VO_PARAM, SUBSCRIBER_PARAM], request=None, responses={200: serializers.SubscriberSerializer}
    )
    def revoke_subscriber(self, request, vo=None, subscriber=None):
        """Revoke a subscriber token: its site can no longer download the private list."""
        found = self.vo().list_subscribers.filter(pk=subscriber).first()
        if found is None:
            raise Http404("No such subscriber.")
        return Response(serializers.SubscriberSerializer(services.revoke_subscriber(request.user, found)).data)

    @extend_schema(parameters=[VO_PARAM], request=None, responses={200: serializers.VOImageListSerializer})
    def revert(self, request, vo=None):
        """Throw the draft's changes away: it becomes a copy of the published list again."""
        return self.render_list(publishing.revert_draft(request.user, self.vo()))

    @extend_schema(parameters=[VO_PARAM], request=None, responses={201: serializers.PublishedSerializer})
    def publish(self, request, vo=None):
        """Publish the draft as the VO's signed list (409 when it is the same as the published one, 400 when
        an entry has expired or is not verified)."""
        artefact = publishing.publish_list(request.user, self.vo())
        artefact = PublishedArtefact.objects.select_related("vo", "published_by").defer("signed").get(pk=artefact.pk)
        context = self.get_serializer_context()
        data = {
            "version": artefact.version,
            "store_url": serializers.store_url(artefact, request),
            "artefact": serializers.ArtefactSerializer(artefact, context=context).data,
        }
        return Response(data, status=status.HTTP_201_CREATED)

    def appliance(self, name, field=None):
        """The appliance of that name the caller may see; a 400 (in the body) or 404 (in the path) if none."""
        visible = VirtualAppliance.objects.visible_to(self.request.user, permissions.VIEW)
        found = visible.filter(name=name).first() if "\x00" not in name else None
        if found is None:
            message = f"No appliance named {name[:100]}."
            if field:
                raise exceptions.ValidationError({field: [message]})
            raise Http404(message)
        return found
