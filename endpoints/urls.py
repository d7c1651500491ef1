from django.urls import path

from . import views

app_name = "endpoints"

urlpatterns = [
    # -- services, endpoint locations, service types --
    # -- end services --
    # -- downtimes, service groups --
    # -- end downtimes --
]
