"""The API router: DRF's, with bulk updates and deletes on the list URL (PUT, PATCH, DELETE with a list
of objects), ids matched by the portal's `id` path converter and an alphabetical root."""

from rest_framework.routers import DefaultRouter


class Router(DefaultRouter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("use_regex_path", False)  # path() routes, so PortalViewSet.lookup_value_converter applies
        super().__init__(*args, **kwargs)
        list_route = self.routes[0]
        self.routes[0] = list_route._replace(
            mapping={
                **list_route.mapping,
                "put": "bulk_update",
                "patch": "bulk_partial_update",
                "delete": "bulk_destroy",
            }
        )

    def get_api_root_view(self, api_urls=None):
        self.registry.sort(key=lambda entry: entry[0])
        return super().get_api_root_view(api_urls)
