"""PI methods answered from endpoints: services, service types, downtimes and service groups
(specs/gocdb.md §11.8). Element names, order and empty elements follow GOCDB exactly."""

from egiportal.pi import PUBLIC, Method, element, sub

from .models import ServiceType


def get_service_types(query):
    types = []
    for service_type in ServiceType.objects.order_by("pk"):
        el = element("SERVICE_TYPE", TYPE_ID=f"{service_type.pk}G0", PRIMARY_KEY=f"{service_type.pk}G0")
        sub(el, "SERVICE_TYPE_NAME", service_type.name)
        sub(el, "SERVICE_TYPE_DESC", service_type.description)
        types.append(el)
    return types


METHODS = {
    "get_service_types": Method(get_service_types, frozenset(), PUBLIC),
}
