from django.urls import path

from egiportal.views import ObjectHistoryView, PropertiesView, PropertyDeleteView

from . import credential_views, role_views, views
from .models import NGI, Project, Site

app_name = "sites"

urlpatterns = [
    path("projects/", views.ProjectListView.as_view(), name="project_list"),
    path("projects/<int:pk>/", views.ProjectView.as_view(), name="project"),
    path(
        "projects/<int:pk>/history/", ObjectHistoryView.as_view(queryset=Project.objects.all()), name="project_history"
    ),
    path("ngis/", views.NGIListView.as_view(), name="ngi_list"),
    path("ngis/<int:pk>/", views.NGIView.as_view(), name="ngi"),
    path("ngis/<int:pk>/history/", ObjectHistoryView.as_view(queryset=NGI.objects.all()), name="ngi_history"),
    path("sites/", views.SiteListView.as_view(), name="site_list"),
    path("sites/add/", views.SiteFormView.as_view(), name="site_add"),
    path("sites/<int:pk>/", views.SiteView.as_view(), name="site"),
    path("sites/<int:pk>/edit/", views.SiteFormView.as_view(), name="site_edit"),
    path("sites/<int:pk>/delete/", views.SiteDeleteView.as_view(), name="site_delete"),
    path("sites/<int:pk>/history/", views.SiteHistoryView.as_view(), name="site_history"),
    path("sites/<int:pk>/certification/", views.CertificationView.as_view(), name="site_certification"),
    path("sites/<int:pk>/properties/", PropertiesView.as_view(queryset=Site.objects.all()), name="site_properties"),
    path(
        "sites/<int:pk>/properties/delete/",
        PropertyDeleteView.as_view(queryset=Site.objects.all()),
        name="site_property_delete",
    ),
    path("scopes/", views.ScopeListView.as_view(), name="scope_list"),
    path("scopes/<int:pk>/", views.ScopeView.as_view(), name="scope"),
    # -- roles --
    path("roles/request/<int:entity_id>/", role_views.RoleRequestView.as_view(), name="role_request"),
    path("roles/requests/", role_views.RoleRequestsView.as_view(), name="role_requests"),
    path("roles/mine/", role_views.MyRolesView.as_view(), name="my_roles"),
    path("roles/<int:pk>/approve/", role_views.RoleApproveView.as_view(), name="role_approve"),
    path("roles/<int:pk>/reject/", role_views.RoleRejectView.as_view(), name="role_reject"),
    path("roles/<int:pk>/revoke/", role_views.RoleRevokeView.as_view(), name="role_revoke"),
    # -- end roles --
    # -- API credentials --
    path("sites/<int:pk>/credentials/add/", credential_views.CredentialAddView.as_view(), name="site_credential_add"),
    path("credentials/<int:pk>/edit/", credential_views.CredentialEditView.as_view(), name="credential_edit"),
    path("credentials/<int:pk>/renew/", credential_views.CredentialRenewView.as_view(), name="credential_renew"),
    path("credentials/<int:pk>/delete/", credential_views.CredentialDeleteView.as_view(), name="credential_delete"),
    # -- end API credentials --
]
