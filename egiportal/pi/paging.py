"""Cursor paging (§11.4) and the batches in which unpaged replies stream."""

import re
from collections import defaultdict
from urllib.parse import urlencode

from django.conf import settings

from ..pixml import element, sub
from .base import PIError
from .output import origin

CHUNK = 2000  # root entities fetched, with their children, per batch when streaming (500 took 30% longer)
CURSOR_ERROR = "Invalid '{}' parameter - must be a whole number greater than or equal to zero"


def cursor(query, name):
    value = query.get(name)
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]{1,18}", value.strip()):
        raise PIError(CURSOR_ERROR.format(name))
    return int(value)


def batches(listing, size=CHUNK):
    """All root entities of `listing` in id order, fetched `size` at a time (constant memory)."""
    qs = listing.queryset.order_by(listing.key)
    last = None
    while True:
        page = list(qs.filter(**{f"{listing.key}__gt": last})[:size] if last is not None else qs[:size])
        if not page:
            return
        yield page
        if len(page) < size:
            return
        last = getattr(page[-1], listing.key)


def grouped(rows):
    """{first column: [rows, ...]} of `rows`, keeping their order."""
    groups = defaultdict(list)
    for row in rows:
        groups[row[0]].append(row)
    return groups


def among(field, ids):
    """A filter keeping rows whose `field` is one of `ids` (ascending). Dense ids, as in an unfiltered
    batch, become a range: a 500-value IN list costs more to build than the few extra rows it saves."""
    if ids and ids[-1] - ids[0] < 2 * len(ids):
        return {f"{field}__gte": ids[0], f"{field}__lte": ids[-1]}
    return {f"{field}__in": ids}


def paged(query, listing, next_cursor, prev_cursor):
    """One page of `listing` and its `<meta>` element (§11.4)."""
    size = settings.PI_PAGE_SIZE
    qs, key = listing.queryset, listing.key
    if prev_cursor is not None:
        page = list(qs.filter(**{f"{key}__lt": prev_cursor}).order_by(f"-{key}")[:size])[::-1]
    else:
        page = list(qs.filter(**{f"{key}__gt": next_cursor}).order_by(key)[:size])
    ids = [getattr(obj, key) for obj in page]
    if ids:
        next_value, prev_value = ids[-1], ids[0]
    elif prev_cursor is not None:
        next_value, prev_value = max(prev_cursor - 1, 0), None
    else:
        next_value, prev_value = None, next_cursor + 1
    meta = element("meta")
    base = origin(query.request) + query.request.path
    params = dict(query.request.GET.items())
    sub(meta, "link", rel="self", href=f"{base}?{query.request.META.get('QUERY_STRING', '')}")
    if next_value is not None:
        sub(meta, "link", rel="next", href=f"{base}?{_with_cursor(params, 'next_cursor', next_value)}")
    if prev_value is not None:
        sub(meta, "link", rel="prev", href=f"{base}?{_with_cursor(params, 'prev_cursor', prev_value)}")
    sub(meta, "link", rel="start", href=f"{base}?{_with_cursor(params, 'next_cursor', 0)}")
    sub(meta, "count", len(page))
    sub(meta, "max_page_size", size)
    return meta, page


def _with_cursor(params, name, value):
    other = "prev_cursor" if name == "next_cursor" else "next_cursor"
    rebuilt = {k: v for k, v in params.items() if k != other}
    rebuilt[name] = value
    return urlencode(rebuilt)
