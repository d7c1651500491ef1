"""Filters the PI's methods share: GOCDB's raw LIKE, dates, flags, scopes and extension properties."""

import re
from datetime import UTC, datetime, time

from django.conf import settings
from django.db import models
from django.utils import timezone

from ..filtersets import having_all, property_condition, too_many
from .base import PIDenied, PIError


@models.CharField.register_lookup
class Like(models.Lookup):
    """SQL LIKE with the client's pattern passed through, `%` and `_` acting as wildcards.

    Case-sensitive, as on GOCDB's binary collation: PostgreSQL's LIKE is; SQLite's is not, so there
    the pattern is translated to GLOB.
    """

    lookup_name = "like"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} LIKE {rhs}", [*lhs_params, *(_close_escape(p) for p in rhs_params)]

    def as_sqlite(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} GLOB {rhs}", [*lhs_params, *(like_to_glob(p) for p in rhs_params)]


def _close_escape(pattern):
    """A pattern ending in a lone backslash gets it escaped: MySQL (GOCDB) takes it as a literal
    backslash, PostgreSQL raises "LIKE pattern must not end with escape character"."""
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return pattern + "\\" if trailing % 2 else pattern


def like_to_glob(pattern):
    """The GLOB pattern matching what SQL LIKE `pattern` matches (backslash escapes a wildcard)."""
    out, chars = [], iter(pattern)
    for ch in chars:
        if ch == "\\":
            ch = next(chars, "\\")
            out.append(f"[{ch}]" if ch in "*?[" else ch)
        elif ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


def parse_date(name, value):
    """A UTC datetime from the date forms clients send (`YYYY-MM-DD`, with an optional time, ISO 8601,
    `@unix-seconds`, `now`, `today`)."""
    text = value.strip()
    now = timezone.now()
    if text in ("now", "today"):
        return now if text == "now" else datetime.combine(now.date(), time(), UTC)
    error = PIError(f"Invalid {name} value - must be a date as YYYY-MM-DD: {value}")
    try:
        if re.fullmatch(r"@-?[0-9]{1,12}", text):
            return datetime.fromtimestamp(int(text[1:]), UTC)
        for fmt in DATE_FORMATS:
            try:
                return datetime.strptime(text, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):  # unparsable, or beyond years 1..9999 once in UTC
        raise error from None


def yes_no(flag):
    return "Y" if flag else "N"


def epoch(moment):
    return str(int(moment.timestamp())) if moment else ""


def scope_filter(query, qs, path="scopes"):
    """GOCDB's `scope` / `scope_match` filter (§11.5) on the scopes reached through `path`."""
    if "scope" not in query:
        if not settings.PI_DEFAULT_FILTER_BY_SCOPE or not settings.PI_DEFAULT_SCOPE:
            return qs
        names = [settings.PI_DEFAULT_SCOPE]
    else:
        names = [n for n in query.get("scope").strip(",").split(",")]
        if names == [""]:
            return qs
    if len(set(names)) > settings.FILTER_MAX_SCOPES:
        raise PIError(too_many("scope names", len(set(names)), settings.FILTER_MAX_SCOPES))
    match = query.get("scope_match") or settings.PI_DEFAULT_SCOPE_MATCH  # `scope_match=` is PHP's null
    model = qs.model
    if len(names) == 1 or match != "all":
        return qs.filter(pk__in=model.objects.filter(**{f"{path}__name__in": names}).values("pk"))
    return qs.filter(pk__in=having_all(model, f"{path}__name", names))


OPERATORS = ("AND", "OR", "NOT")
EXTENSION_KEY = re.compile(r"[a-zA-Z0-9\s@_\-\[\]\+\.]{1,255}")


def parse_extensions(text):
    """Parse an extensions expression (§11.6) into [(operator, key, value or None)].

    `(A)(B)NOT(C)OR(D)`: a group without an operator inherits the previous one (the first is AND);
    parentheses inside a group are backslash-escaped; an empty value means "the key exists".
    Raises PIDenied with GOCDB's message on any malformed expression.
    """
    if text is None or not text.strip():
        raise PIDenied("Query expression is null or empty")
    terms, pos, operator = [], 0, "AND"
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            break
        word = next((op for op in OPERATORS if text.startswith(op, pos)), None)
        if word:
            operator, pos = word, pos + len(word)
            while pos < len(text) and text[pos].isspace():
                pos += 1
        if pos == len(text) or text[pos] != "(":
            if text[pos : pos + 1].isalpha():
                raise PIDenied(f"Illegal operator in expression: {text[pos : pos + 10]}")
            raise PIDenied("Invalid query expression")
        body, pos = _group_body(text, pos + 1)
        terms.append((operator, *_key_value(body)))
    if not terms:
        raise PIDenied("Invalid query expression")
    return terms


def _group_body(text, pos):
    """The raw text of a group starting after its "(", and the position after its ")"."""
    start = pos
    while pos < len(text):
        ch = text[pos]
        if ch == "\\":
            pos += 2
            continue
        if ch == "(":
            raise PIDenied("Invalid query expression")
        if ch == ")":
            if pos == start:
                raise PIDenied("Invalid query expression")
            return text[start:pos], pos + 1
        pos += 1
    raise PIDenied("Invalid query expression")


def _key_value(body):
    if not body.strip():
        raise PIDenied("Invalid key=value pair, no content")
    key, sep, value = body.partition("=")
    if not sep:
        raise PIDenied("Invalid key=value pair, missing = char")
    key = key.strip()
    if not EXTENSION_KEY.fullmatch(key):
        raise PIDenied("Invalid key=value pair, invalid key")
    value = re.sub(r"\\(.)", r"\1", value, flags=re.DOTALL).strip()  # PHP stripslashes
    if len(value) > 255:
        raise PIDenied("Invalid key=value pair, invalid value")
    return key, value or None


def extensions_filter(query, qs, name="extensions", path="properties"):
    """Filter `qs` by the extensions expression in parameter `name` (properties reached via `path`).

    The terms are folded left to right as GOCDB does (AND x, AND NOT x, OR x) but inside their own
    group, so an OR term cannot lift the method's other filters (scope, site, cursor): a deliberate
    difference from GOCDB's quirk (§13.4). A leading OR term stands alone, as in GOCDB without other
    filters (its oracle: `OR(VO2=bar)(VO2=baz)` is "bar or baz", not everything).

    The whole expression is one subquery (`property_condition`), and at most FILTER_MAX_PROPERTY_TERMS
    distinct key=value terms are taken (GOCDB no longer caps them, but a subquery each stalled the database).
    """
    if name not in query:
        return qs
    terms = parse_extensions(query.get(name))
    distinct = len({term[1:] for term in terms})
    if distinct > settings.FILTER_MAX_PROPERTY_TERMS:
        raise PIDenied(too_many(f"{name} terms", distinct, settings.FILTER_MAX_PROPERTY_TERMS))
    return qs.filter(property_condition(qs.model, terms, path))
