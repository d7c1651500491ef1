"""The GOCDB-compatible read API ("PI", specs/gocdb.md §11 and §17).

- `base`: a method's description (`Method`), its validated request (`Query`), what it returns
  (`Listing`), the protection levels and GOCDB's two error forms;
- `filters`: GOCDB's raw LIKE, dates, flags, scope and extension-property filters;
- `paging`: cursor paging and the batches in which unpaged replies stream;
- `output`: error and plain-text replies, absolute links;
- `dispatch`: the view, the protection levels (`check_level`).

The caller is found by egiportal.identity. Each app's `pi.py` defines its methods as a dict of
name -> `Method`; `egiportal/urls.py` joins them.
"""

from . import paging
from .base import PRIVATE, PROTECTED, PUBLIC, Listing, Method, PIDenied, PIError, Query
from .dispatch import MAX_VALUE_LENGTH, check_level, check_params, pi_view, replies
from .filters import (
    EXTENSION_KEY,
    OPERATORS,
    Like,
    epoch,
    extensions_filter,
    like_to_glob,
    parse_date,
    parse_extensions,
    scope_filter,
    yes_no,
)
from .output import error_response, origin, text_response, url_template
from .paging import CHUNK, among, batches, cursor, grouped, paged

__all__ = [
    "EXTENSION_KEY",
    "MAX_VALUE_LENGTH",
    "OPERATORS",
    "CHUNK",
    "PRIVATE",
    "PROTECTED",
    "PUBLIC",
    "Like",
    "Listing",
    "Method",
    "PIDenied",
    "PIError",
    "Query",
    "among",
    "batches",
    "check_level",
    "check_params",
    "cursor",
    "epoch",
    "error_response",
    "extensions_filter",
    "grouped",
    "like_to_glob",
    "origin",
    "paging",
    "paged",
    "parse_date",
    "parse_extensions",
    "pi_view",
    "replies",
    "scope_filter",
    "text_response",
    "url_template",
    "yes_no",
]
