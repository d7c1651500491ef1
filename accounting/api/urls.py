"""The accounting API routes (included by egiportal.api.urls): read-only tables under accounting/, and the
ingestion POST of APEL message bodies (a plain view, described in the schema by MessagesView)."""

from django.urls import path

from . import views

ROUTES = [
    ("accounting/cloud-summaries", views.CloudSummaryViewSet),
    ("accounting/ip-summaries", views.IPSummaryViewSet),
    ("accounting/accelerator-summaries", views.AcceleratorSummaryViewSet),
    ("accounting/storage-summaries", views.StorageSummaryViewSet),
    ("accounting/cloud-records", views.CloudRecordViewSet),
    ("accounting/ip-records", views.IPRecordViewSet),
    ("accounting/accelerator-records", views.AcceleratorRecordViewSet),
    ("accounting/storage-records", views.StorageRecordViewSet),
    ("accounting/raw-messages", views.RawMessageViewSet),
]
URLPATTERNS = [path("accounting/messages/", views.MessagesView.as_view(), name="accounting_messages")]
