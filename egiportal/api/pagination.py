"""Paging of API lists: limit/offset (default 50, at most 1000) or, for big tables, a keyset cursor
(`?cursor=<id>`: rows after that id, without a total count)."""

from collections import OrderedDict

from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param


class Pagination(LimitOffsetPagination):
    default_limit = settings.API_PAGE_SIZE
    max_limit = settings.API_MAX_PAGE_SIZE
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.cursor = self.whole_number(request, self.cursor_query_param, None)
        self.limit = self.get_limit(request)
        if self.cursor is None:
            self.offset = self.whole_number(request, self.offset_query_param, 0)
            return super().paginate_queryset(queryset, request, view)
        if self.offset_query_param in request.query_params:
            raise ValidationError({self.cursor_query_param: "Give either cursor or offset, not both."})
        page = list(queryset.order_by("pk").filter(pk__gt=self.cursor)[: self.limit + 1])
        self.has_more = len(page) > self.limit
        self.page = page[: self.limit]
        return self.page

    def get_limit(self, request):
        limit = self.whole_number(request, self.limit_query_param, self.default_limit)
        return self.max_limit if limit == 0 else min(limit, self.max_limit)

    def whole_number(self, request, name, default):
        value = request.query_params.get(name)
        if value is None or value == "":
            return default
        if not value.isascii() or not value.isdigit() or len(value) > 18:
            raise ValidationError({name: f"{value[:40]!r} is not a whole number."})
        return int(value)

    def get_paginated_response(self, data):
        if self.cursor is None:
            return super().get_paginated_response(data)
        url = self.request.build_absolute_uri()
        following = replace_query_param(url, self.cursor_query_param, self.page[-1].pk) if self.has_more else None
        return Response(OrderedDict([("next", following), ("previous", None), ("results", data)]))

    def get_next_link(self):
        if self.offset + self.limit >= self.count:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), self.cursor_query_param)
        return replace_query_param(
            replace_query_param(url, self.limit_query_param, self.limit),
            self.offset_query_param,
            self.offset + self.limit,
        )

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count"]["description"] = "Total number of rows (absent in cursor mode)."
        response["required"] = ["results"]
        return response

    def get_schema_operation_parameters(self, view):
        params = super().get_schema_operation_parameters(view)
        params.append(
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Keyset paging: rows with an id greater than this one, without a total count.",
                "schema": {"type": "integer", "minimum": 0},
            }
        )
        return params
