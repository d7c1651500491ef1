"""The one error type of business operations: a refusal with a code that each entry point maps to its
own reply (a form error or the 403 page in the browser, an HTTP status in the REST API, GOCDB's codes
in the write API).

The codes are `invalid` (the input breaks a rule), `forbidden` (the actor may not), `conflict` (the
input clashes with stored data, e.g. a taken name) and `not_found`. Each subclass is also the Django
exception of its kind (PermissionDenied for `forbidden`, ValidationError for the others), so Django's
own handling (form errors, the 403 page) and callers that catch those keep working; `error_code()` also classifies the plain Django
exceptions that model validation and permission checks raise.
"""

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import IntegrityError
from django.http import Http404

INVALID, FORBIDDEN, CONFLICT, NOT_FOUND = "invalid", "forbidden", "conflict", "not_found"


class ServiceError(Exception):
    """A refused business operation; `error_code` says why."""

    error_code = INVALID


class Invalid(ServiceError, ValidationError):
    """The input breaks a rule (a message, a list of them, or a dict of field -> messages)."""


class Conflict(ServiceError, ValidationError):
    """The input clashes with stored data: a name that is taken, a key that exists."""

    error_code = CONFLICT


class Forbidden(ServiceError, PermissionDenied):
    error_code = FORBIDDEN


class NotFound(ServiceError, ValidationError):
    """The object is gone (deleted meanwhile). A ValidationError too, so that a form shows the message
    where the entry point has no 404 of its own to give."""

    error_code = NOT_FOUND


def error_code(exc):
    """The code of a refusal raised by a service, or None for an exception that is not one."""
    if isinstance(exc, ServiceError):
        return exc.error_code
    if isinstance(exc, ValidationError):
        return INVALID
    if isinstance(exc, PermissionDenied):
        return FORBIDDEN
    if isinstance(exc, (ObjectDoesNotExist, Http404)):
        return NOT_FOUND
    if isinstance(exc, IntegrityError):  # a concurrent write won a uniqueness race
        return CONFLICT
    return None
