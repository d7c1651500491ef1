from .views import (
    DowntimeViewSet,
    EndpointLocationViewSet,
    EndpointPropertyViewSet,
    ServiceGroupPropertyViewSet,
    ServiceGroupViewSet,
    ServicePropertyViewSet,
    ServiceTypeViewSet,
    ServiceViewSet,
)

ROUTES = [
    ("service-types", ServiceTypeViewSet),
    ("services", ServiceViewSet),
    ("endpoints", EndpointLocationViewSet),
    ("service-groups", ServiceGroupViewSet),
    ("downtimes", DowntimeViewSet),
    ("service-properties", ServicePropertyViewSet),
    ("endpoint-properties", EndpointPropertyViewSet),
    ("service-group-properties", ServiceGroupPropertyViewSet),
]
