from django.urls import path

from . import views

app_name = "endpoints"

urlpatterns = [
    # -- services, endpoint locations, service types --
    path("services/", views.ServiceListView.as_view(), name="service_list"),
    path("services/add/", views.ServiceFormView.as_view(), name="service_add"),
    path("services/<id:pk>/", views.ServiceView.as_view(), name="service"),
    path("services/<id:pk>/edit/", views.ServiceFormView.as_view(), name="service_edit"),
    path("services/<id:pk>/delete/", views.ServiceDeleteView.as_view(), name="service_delete"),
    path("services/<id:pk>/history/", views.ServiceHistoryView.as_view(), name="service_history"),
    path(
        "services/<id:pk>/properties/",
        views.ServicePropertiesView.as_view(),
        name="service_properties",
    ),
    path(
        "services/<id:pk>/properties/delete/",
        views.ServicePropertyDeleteView.as_view(),
        name="service_property_delete",
    ),
    path("endpoints/", views.EndpointListView.as_view(), name="endpoint_list"),
    path("endpoints/add/", views.EndpointFormView.as_view(), name="endpoint_add"),
    path("endpoints/<id:pk>/", views.EndpointView.as_view(), name="endpoint"),
    path("endpoints/<id:pk>/edit/", views.EndpointFormView.as_view(), name="endpoint_edit"),
    path("endpoints/<id:pk>/delete/", views.EndpointDeleteView.as_view(), name="endpoint_delete"),
    path("endpoints/<id:pk>/history/", views.EndpointHistoryView.as_view(), name="endpoint_history"),
    path(
        "endpoints/<id:pk>/properties/",
        views.EndpointPropertiesView.as_view(),
        name="endpoint_properties",
    ),
    path(
        "endpoints/<id:pk>/properties/delete/",
        views.EndpointPropertyDeleteView.as_view(),
        name="endpoint_property_delete",
    ),
    path("service-types/", views.ServiceTypeListView.as_view(), name="servicetype_list"),
    path("service-types/<id:pk>/", views.ServiceTypeView.as_view(), name="servicetype"),
    # -- end services --
    # -- downtimes, service groups --
    path("downtimes/", views.DowntimeListView.as_view(), name="downtime_list"),
    path("downtimes/add/", views.DowntimeFormView.as_view(), name="downtime_add"),
    path("downtimes/<id:pk>/", views.DowntimeView.as_view(), name="downtime"),
    path("downtimes/<id:pk>/edit/", views.DowntimeFormView.as_view(), name="downtime_edit"),
    path("downtimes/<id:pk>/end/", views.DowntimeEndView.as_view(), name="downtime_end"),
    path("downtimes/<id:pk>/delete/", views.DowntimeDeleteView.as_view(), name="downtime_delete"),
    path(
        "downtimes/<id:pk>/history/",
        views.DowntimeHistoryView.as_view(),
        name="downtime_history",
    ),
    path("service-groups/", views.ServiceGroupListView.as_view(), name="servicegroup_list"),
    path("service-groups/add/", views.ServiceGroupFormView.as_view(), name="servicegroup_add"),
    path("service-groups/<id:pk>/", views.ServiceGroupView.as_view(), name="servicegroup"),
    path("service-groups/<id:pk>/edit/", views.ServiceGroupFormView.as_view(), name="servicegroup_edit"),
    path("service-groups/<id:pk>/delete/", views.ServiceGroupDeleteView.as_view(), name="servicegroup_delete"),
    path(
        "service-groups/<id:pk>/services/",
        views.ServiceGroupServicesView.as_view(),
        name="servicegroup_services",
    ),
    path(
        "service-groups/<id:pk>/history/",
        views.ServiceGroupHistoryView.as_view(),
        name="servicegroup_history",
    ),
    path(
        "service-groups/<id:pk>/properties/",
        views.ServiceGroupPropertiesView.as_view(),
        name="servicegroup_properties",
    ),
    path(
        "service-groups/<id:pk>/properties/delete/",
        views.ServiceGroupPropertyDeleteView.as_view(),
        name="servicegroup_property_delete",
    ),
    # -- end downtimes --
]
