from django.urls import path

from . import demo, list_views, store, views

VERSION = "appliances/<str:name>/versions/<id:pk>"
IMAGES = "appliances/<str:name>/versions/<id:version_pk>/images"

urlpatterns = [
    # The store: what cloud sites' image sync tools download (DESIGN.md contracts).
    path("store/vo/<str:vo>/image.list", store.vo_list, name="store_vo_list"),
    path("store/vappliance/<str:name>/image.list", store.appliance_list, name="store_appliance_list"),
    path("store/signer-chain.pem", store.signer_chain, name="store_signer_chain"),
    # -- the catalogue and appliances --
    path("appliances/", views.ApplianceListView.as_view(), name="appliance_list"),
    path("appliances/add/", views.ApplianceFormView.as_view(), name="appliance_add"),
    path("appliances/<str:name>/", views.ApplianceView.as_view(), name="appliance"),
    path("appliances/<str:name>/edit/", views.ApplianceFormView.as_view(), name="appliance_edit"),
    path("appliances/<str:name>/delete/", views.ApplianceDeleteView.as_view(), name="appliance_delete"),
    path("appliances/<str:name>/history/", views.ApplianceHistoryView.as_view(), name="appliance_history"),
    path("appliances/<str:name>/logo", views.appliance_logo, name="appliance_logo"),
    path("appliances/<str:name>/message/", views.ApplianceMessageView.as_view(), name="appliance_message"),
    # -- versions, images, integrity checks --
    path("appliances/<str:name>/versions/add/", views.VersionFormView.as_view(), name="appliance_version_add"),
    path(f"{VERSION}/", views.VersionView.as_view(), name="appliance_version"),
    path(f"{VERSION}/edit/", views.VersionFormView.as_view(), name="appliance_version_edit"),
    path(f"{VERSION}/delete/", views.VersionDeleteView.as_view(), name="appliance_version_delete"),
    path(f"{VERSION}/history/", views.VersionHistoryView.as_view(), name="appliance_version_history"),
    path(f"{VERSION}/check/", views.VersionCheckView.as_view(), name="appliance_version_check"),
    path(f"{VERSION}/<str:action>/", views.VersionActionView.as_view(), name="appliance_version_action"),
    path(f"{IMAGES}/add/", views.ImageFormView.as_view(), name="appliance_image_add"),
    path(f"{IMAGES}/<id:pk>/edit/", views.ImageFormView.as_view(), name="appliance_image_edit"),
    path(f"{IMAGES}/<id:pk>/delete/", views.ImageDeleteView.as_view(), name="appliance_image_delete"),
    # -- a VO's image list --
    path("vos/<str:name>/image-list/", list_views.VOImageListView.as_view(), name="vo_image_list"),
]

# The demo's image files, served by the portal itself (404 unless DEMO is set).
urlpatterns += [path("demo-images/<str:file_name>", demo.demo_image, name="demo_image")]
