"""OPTIONS replies of the REST API."""

from rest_framework.metadata import SimpleMetadata


class Metadata(SimpleMetadata):
    """DRF's metadata, also on list URLs, where the router maps PUT onto a bulk update: DRF describes PUT
    by the object the URL names (`get_object()`), and a list URL names none (an assertion, a 500). There
    PUT takes a list of objects with the fields of one, so it is described as for a new object."""

    def determine_actions(self, request, view):
        if (view.lookup_url_kwarg or view.lookup_field) in view.kwargs:
            return super().determine_actions(request, view)
        view.get_object = lambda: None  # an instance attribute over the method, removed again below
        try:
            return super().determine_actions(request, view)
        finally:
            del view.get_object
