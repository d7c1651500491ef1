"""PI methods answered from endpoints: services, service types, downtimes and service groups
(specs/gocdb.md §11.8). Element names, order and empty elements follow GOCDB exactly.

The replies can be big (get_service_endpoint and get_downtime unpaged: tens of thousands of services,
hundreds of thousands of downtimes), so these methods read plain rows (values_list), fetch the
children of a whole page or batch with one query per kind, and write each child of <results> with
the framework's `Writer` rather than as an lxml tree: model instances, prefetch_related and lxml
trees made the unpaged get_service_endpoint ten times slower.

The methods are in `services` (with the children and writers service groups share too), `downtimes`
and `groups`; this module lists them.
"""

from egiportal.pi import PRIVATE, PUBLIC, Method

from .downtimes import (
    BROADCAST_PARAMS,
    DOWNTIME_PARAMS,
    get_downtime,
    get_downtime_nested_services,
    get_downtime_to_broadcast,
)
from .groups import GROUP_PARAMS, get_service_group, get_service_group_role
from .service_endpoints import SERVICE_PARAMS, get_service_endpoint, get_service_types

METHODS = {
    "get_service_types": Method(get_service_types, frozenset(), PUBLIC),
    "get_service_endpoint": Method(get_service_endpoint, SERVICE_PARAMS, PUBLIC, pageable=True),
    "get_service": Method(get_service_endpoint, SERVICE_PARAMS, PUBLIC, pageable=True),  # an alias (§17.2)
    "get_downtime": Method(get_downtime, DOWNTIME_PARAMS, PUBLIC, pageable=True),
    "get_downtime_nested_services": Method(get_downtime_nested_services, DOWNTIME_PARAMS, PUBLIC, pageable=True),
    "get_downtime_to_broadcast": Method(get_downtime_to_broadcast, BROADCAST_PARAMS, PUBLIC, pageable=True),
    "get_service_group": Method(get_service_group, GROUP_PARAMS | {"extensions"}, PRIVATE, pageable=True),
    "get_service_group_role": Method(get_service_group_role, GROUP_PARAMS, PRIVATE, pageable=True),
}
