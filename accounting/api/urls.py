from django.urls import path

from .ingest import messages_view

ROUTES = []
URLPATTERNS = [path("accounting/messages/", messages_view, name="accounting_messages")]
