from django.contrib import admin
from django.urls import include, path
from mozilla_django_oidc.views import OIDCLogoutView

from endpoints import legacy_views, pi_write
from endpoints import pi as endpoints_pi
from sites import pi as sites_pi

from . import account_views, pi, token_views, views

handler403 = "egiportal.views.forbidden"
handler404 = "egiportal.views.not_found"
handler500 = "egiportal.views.server_error"

# The GOCDB PI methods, by name (specs/gocdb.md §11.8).
PI_METHODS = {**sites_pi.METHODS, **endpoints_pi.METHODS}

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("changes/", views.AuditLogListView.as_view(), name="changes"),
    path("login/", account_views.LoginView.as_view(), name="login"),
    # One logout for both kinds of session: a Check-in one also ends at the provider (OIDC_OP_LOGOUT_URL_METHOD).
    path("logout/", OIDCLogoutView.as_view(), name="logout"),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("profile/", account_views.ProfileView.as_view(), name="profile"),
    path("profile/identities/certificate/", account_views.CertificateLinkView.as_view(), name="certificate_link"),
    path("profile/identities/<id:pk>/unlink/", account_views.IdentityUnlinkView.as_view(), name="identity_unlink"),
    path("vos/", account_views.VOListView.as_view(), name="vo_list"),
    path("vos/<str:name>/", account_views.VODetailView.as_view(), name="vo"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("egiportal.api.urls")),
    path("tokens/", token_views.TokenListView.as_view(), name="api_tokens"),
    path("tokens/<id:pk>/revoke/", token_views.TokenRevokeView.as_view(), name="api_token_revoke"),
    path("gocdbpi/", views.pi_docs, {"methods": PI_METHODS}, name="pi_docs"),
    # Clients use both forms, with and without the trailing slash (§17.1).
    path("gocdbpi/public/", pi.pi_view, {"methods": PI_METHODS}, name="pi_public"),
    path("gocdbpi/public", pi.pi_view, {"methods": PI_METHODS}),
    path("gocdbpi/private/", pi.pi_view, {"methods": PI_METHODS}, name="pi_private"),
    path("gocdbpi/private", pi.pi_view, {"methods": PI_METHODS}),
    path("gocdbpi/<path:request>", pi_write.write_view),
    # Old GOCDB portal links (wikis, tickets, monitoring) redirect to the matching page.
    path("portal/index.php", legacy_views.gocdb_portal_link, name="gocdb_portal_link"),
    path("", include("sites.urls")),
    path("", include("endpoints.urls")),
    path("", include("appliances.urls")),
    path("", include("accounting.urls")),
]
