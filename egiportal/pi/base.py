"""What the PI's methods are made of: their description (`Method`), the validated request they get
(`Query`), what they return (`Listing` or a list of elements), GOCDB's protection levels and errors."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import models

from ..identity import Caller

PUBLIC, PROTECTED, PRIVATE = 1, 2, 3


class PIError(Exception):
    """A GOCDB error reply: `<error>message</error>` with HTTP 200."""


class PIDenied(Exception):
    """A refused or failed call that GOCDB answers with a plain-text message (HTTP 200)."""


# ---------------------------------------------------------------- method description and query


@dataclass(frozen=True)
class Method:
    """A PI method: its function, whitelisted parameters, protection level and whether it pages."""

    func: Callable
    params: frozenset = frozenset()
    level: int = PUBLIC
    pageable: bool = False

    def __post_init__(self):
        params = set(self.params)
        if self.pageable:
            params |= {"next_cursor", "prev_cursor"}
        object.__setattr__(self, "params", frozenset(params))


@dataclass
class Listing:
    """Root entities of a reply and how to render a batch of them.

    `queryset` holds the filtered root entities (with their select/prefetch_related); the framework
    orders it by id, applies cursors and fetches it in batches, so every page or batch costs the same
    number of queries. `render(objects)` yields one or more elements per object.
    """

    queryset: models.QuerySet
    render: Callable
    key: str = "pk"


@dataclass
class Query:
    """A validated PI request: parameters, the caller and helpers the methods share."""

    request: object
    params: dict
    caller: Caller
    extra: dict = field(default_factory=dict)

    def get(self, name, default=None):
        return self.params.get(name, default)

    def __contains__(self, name):
        return name in self.params

    def like(self, qs, name, lookup):
        """Filter `qs` with GOCDB's raw LIKE on `lookup` when parameter `name` is given."""
        if name in self.params:
            qs = qs.filter(**{f"{lookup}__like": self.params[name]})
        return qs

    def date(self, name):
        from .filters import parse_date

        return parse_date(name, self.params[name]) if name in self.params else None
