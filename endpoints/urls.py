from django.urls import path

from . import views

app_name = "endpoints"

urlpatterns = [
    # -- services, endpoint locations, service types --
    path("services/", views.ServiceListView.as_view(), name="service_list"),
    path("services/add/", views.ServiceFormView.as_view(), name="service_add"),
    path("services/<int:pk>/", views.ServiceView.as_view(), name="service"),
    path("services/<int:pk>/edit/", views.ServiceFormView.as_view(), name="service_edit"),
    path("services/<int:pk>/delete/", views.ServiceDeleteView.as_view(), name="service_delete"),
    path("services/<int:pk>/history/", views.ServiceHistoryView.as_view(), name="service_history"),
    path(
        "services/<int:pk>/properties/",
        views.ServicePropertiesView.as_view(),
        name="service_properties",
    ),
    path(
        "services/<int:pk>/properties/delete/",
        views.ServicePropertyDeleteView.as_view(),
        name="service_property_delete",
    ),
    path("endpoints/", views.EndpointListView.as_view(), name="endpoint_list"),
    path("endpoints/add/", views.EndpointFormView.as_view(), name="endpoint_add"),
    path("endpoints/<int:pk>/", views.EndpointView.as_view(), name="endpoint"),
    path("endpoints/<int:pk>/edit/", views.EndpointFormView.as_view(), name="endpoint_edit"),
    path("endpoints/<int:pk>/delete/", views.EndpointDeleteView.as_view(), name="endpoint_delete"),
    path("endpoints/<int:pk>/history/", views.EndpointHistoryView.as_view(), name="endpoint_history"),
    path(
        "endpoints/<int:pk>/properties/",
        views.EndpointPropertiesView.as_view(),
        name="endpoint_properties",
    ),
    path(
        "endpoints/<int:pk>/properties/delete/",
        views.EndpointPropertyDeleteView.as_view(),
        name="endpoint_property_delete",
    ),
    path("service-types/", views.ServiceTypeListView.as_view(), name="servicetype_list"),
    path("service-types/<int:pk>/", views.ServiceTypeView.as_view(), name="servicetype"),
    # -- end services --
    # -- downtimes, service groups --
    path("downtimes/", views.DowntimeListView.as_view(), name="downtime_list"),
    path("downtimes/add/", views.DowntimeFormView.as_view(), name="downtime_add"),
    path("downtimes/<int:pk>/", views.DowntimeView.as_view(), name="downtime"),
    path("downtimes/<int:pk>/edit/", views.DowntimeFormView.as_view(), name="downtime_edit"),
    path("downtimes/<int:pk>/end/", views.DowntimeEndView.as_view(), name="downtime_end"),
    path("downtimes/<int:pk>/delete/", views.DowntimeDeleteView.as_view(), name="downtime_delete"),
    path(
        "downtimes/<int:pk>/history/",
        views.DowntimeHistoryView.as_view(),
        name="downtime_history",
    ),
    path("service-groups/", views.ServiceGroupListView.as_view(), name="servicegroup_list"),
    path("service-groups/add/", views.ServiceGroupFormView.as_view(), name="servicegroup_add"),
    path("service-groups/<int:pk>/", views.ServiceGroupView.as_view(), name="servicegroup"),
    path("service-groups/<int:pk>/edit/", views.ServiceGroupFormView.as_view(), name="servicegroup_edit"),
    path("service-groups/<int:pk>/delete/", views.ServiceGroupDeleteView.as_view(), name="servicegroup_delete"),
    path(
        "service-groups/<int:pk>/services/",
        views.ServiceGroupServicesView.as_view(),
        name="servicegroup_services",
    ),
    path(
        "service-groups/<int:pk>/history/",
        views.ServiceGroupHistoryView.as_view(),
        name="servicegroup_history",
    ),
    path(
        "service-groups/<int:pk>/properties/",
        views.ServiceGroupPropertiesView.as_view(),
        name="servicegroup_properties",
    ),
    path(
        "service-groups/<int:pk>/properties/delete/",
        views.ServiceGroupPropertyDeleteView.as_view(),
        name="servicegroup_property_delete",
    ),
    # -- end downtimes --
]
