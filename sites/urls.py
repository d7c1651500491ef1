from django.urls import path

from egiportal.views import ObjectHistoryView, PropertiesView, PropertyDeleteView

from . import credential_views, role_views, views
from .models import NGI, Project, Site

app_name = "sites"

urlpatterns = [
    path("projects/", views.ProjectListView.as_view(), name="project_list"),
    path("projects/<id:pk>/", views.ProjectView.as_view(), name="project"),
    path(
        "projects/<id:pk>/history/", ObjectHistoryView.as_view(queryset=Project.objects.all()), name="project_history"
    ),
    path("ngis/", views.NGIListView.as_view(), name="ngi_list"),
    path("ngis/<id:pk>/", views.NGIView.as_view(), name="ngi"),
    path("ngis/<id:pk>/history/", ObjectHistoryView.as_view(queryset=NGI.objects.all()), name="ngi_history"),
    path("sites/", views.SiteListView.as_view(), name="site_list"),
    path("sites/add/", views.SiteFormView.as_view(), name="site_add"),
    path("sites/<id:pk>/", views.SiteView.as_view(), name="site"),
    path("sites/<id:pk>/edit/", views.SiteFormView.as_view(), name="site_edit"),
    path("sites/<id:pk>/delete/", views.SiteDeleteView.as_view(), name="site_delete"),
    path("sites/<id:pk>/history/", views.SiteHistoryView.as_view(), name="site_history"),
    path("sites/<id:pk>/certification/", views.CertificationView.as_view(), name="site_certification"),
    path("sites/<id:pk>/properties/", PropertiesView.as_view(queryset=Site.objects.all()), name="site_properties"),
    path(
        "sites/<id:pk>/properties/delete/",
        PropertyDeleteView.as_view(queryset=Site.objects.all()),
        name="site_property_delete",
    ),
    path("scopes/", views.ScopeListView.as_view(), name="scope_list"),
    path("scopes/<id:pk>/", views.ScopeView.as_view(), name="scope"),
    # -- roles --
    path("roles/request/<id:entity_id>/", role_views.RoleRequestView.as_view(), name="role_request"),
    path("roles/requests/", role_views.RoleRequestsView.as_view(), name="role_requests"),
    path("roles/mine/", role_views.MyRolesView.as_view(), name="my_roles"),
    path("roles/<id:pk>/approve/", role_views.RoleApproveView.as_view(), name="role_approve"),
    path("roles/<id:pk>/reject/", role_views.RoleRejectView.as_view(), name="role_reject"),
    path("roles/<id:pk>/revoke/", role_views.RoleRevokeView.as_view(), name="role_revoke"),
    # -- end roles --
    # -- API credentials --
    path("sites/<id:pk>/credentials/add/", credential_views.CredentialAddView.as_view(), name="site_credential_add"),
    path("credentials/<id:pk>/edit/", credential_views.CredentialEditView.as_view(), name="credential_edit"),
    path("credentials/<id:pk>/renew/", credential_views.CredentialRenewView.as_view(), name="credential_renew"),
    path("credentials/<id:pk>/delete/", credential_views.CredentialDeleteView.as_view(), name="credential_delete"),
    # -- end API credentials --
]
