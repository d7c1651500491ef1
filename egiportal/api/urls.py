"""`/api/v1/`: every app's routes (explicit lists in `<app>/api/urls.py`), the schema and the docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounting.api.urls import ROUTES as ACCOUNTING_ROUTES
from accounting.api.urls import URLPATTERNS as ACCOUNTING_URLS
from appliances.api.urls import ROUTES as APPLIANCE_ROUTES
from appliances.api.urls import URLPATTERNS as APPLIANCE_URLS
from endpoints.api.urls import ROUTES as ENDPOINT_ROUTES
from sites.api.urls import ROUTES as SITE_ROUTES

from .resources import ROUTES as CORE_ROUTES
from .routers import Router

router = Router()
router.include_root_view = True
for prefix, viewset in [*SITE_ROUTES, *ENDPOINT_ROUTES, *APPLIANCE_ROUTES, *ACCOUNTING_ROUTES, *CORE_ROUTES]:
    router.register(prefix, viewset, basename=viewset.queryset.model._meta.model_name)

app_name = "api"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    *ACCOUNTING_URLS,  # APEL message bodies, not JSON: a plain view
    *APPLIANCE_URLS,  # a VO's draft, by the VO's name (no router route starts with vo-image-lists/<name>/)
    path("", include(router.urls)),
]
