"""The marketplace's API routes: router-registered viewsets (ROUTES) and the per-VO draft actions
(URLPATTERNS, under the VO's name), both included by egiportal.api.urls."""

from django.urls import path

from .views import (
    ApplianceViewSet,
    ArtefactViewSet,
    ImageViewSet,
    IntegrityJobViewSet,
    VersionViewSet,
    VODraftViewSet,
    VOImageListViewSet,
)

ROUTES = [
    ("appliances", ApplianceViewSet),
    ("appliance-versions", VersionViewSet),
    ("images", ImageViewSet),
    ("integrity-checks", IntegrityJobViewSet),
    ("vo-image-lists", VOImageListViewSet),
    ("image-list-artefacts", ArtefactViewSet),
]

DRAFT = "vo-image-lists/<str:vo>/"
URLPATTERNS = [
    path(f"{DRAFT}draft/", VODraftViewSet.as_view({"get": "retrieve", "patch": "change"}), name="vo-draft"),
    path(f"{DRAFT}draft/entries/", VODraftViewSet.as_view({"post": "add"}), name="vo-draft-entries"),
    path(
        f"{DRAFT}draft/entries/<str:appliance>/",
        VODraftViewSet.as_view({"delete": "remove"}),
        name="vo-draft-entry",
    ),
    path(
        f"{DRAFT}draft/update-outdated/",
        VODraftViewSet.as_view({"post": "update_outdated"}),
        name="vo-draft-update-outdated",
    ),
    path(f"{DRAFT}draft/revert/", VODraftViewSet.as_view({"post": "revert"}), name="vo-draft-revert"),
    path(f"{DRAFT}publish/", VODraftViewSet.as_view({"post": "publish"}), name="vo-list-publish"),
    path(
        f"{DRAFT}subscribers/",
        VODraftViewSet.as_view({"get": "subscribers", "post": "add_subscriber"}),
        name="vo-list-subscribers",
    ),
    path(
        f"{DRAFT}subscribers/<id:subscriber>/",
        VODraftViewSet.as_view({"delete": "revoke_subscriber"}),
        name="vo-list-subscriber",
    ),
]
