"""The GOCDB-compatible read API ("PI", specs/gocdb.md §11 and §17): dispatch, parameters, errors,
caller identification, filters shared by the methods, cursor paging and streamed XML output.

Each app's `pi.py` defines its methods as a dict of name -> `Method`; `egiportal/urls.py` joins them.
A method gets a `Query` and returns a `Listing` (root entities plus a renderer) or a list of elements.
"""

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from urllib.parse import urlencode

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from . import oidc
from .models import Identity
from .pixml import XML_ILLEGAL, document, element, escape_text, sub

CHUNK = 2000  # root entities fetched, with their children, per batch when streaming (500 took 30% longer)
MAX_VALUE_LENGTH = 1000
CURSOR_ERROR = "Invalid '{}' parameter - must be a whole number greater than or equal to zero"
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
    caller: "Caller"
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
        return parse_date(name, self.params[name]) if name in self.params else None


# ---------------------------------------------------------------- LIKE, as GOCDB's filters use it


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


# ---------------------------------------------------------------- values: dates, flags, scopes, extensions


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
    match = query.get("scope_match") or settings.PI_DEFAULT_SCOPE_MATCH  # `scope_match=` is PHP's null
    model = qs.model
    if len(names) == 1 or match != "all":
        return qs.filter(pk__in=model.objects.filter(**{f"{path}__name__in": names}).values("pk"))
    for name in dict.fromkeys(names):
        qs = qs.filter(pk__in=model.objects.filter(**{f"{path}__name": name}).values("pk"))
    return qs


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
    """
    if name not in query:
        return qs
    condition = None
    model = qs.model
    for operator, key, value in parse_extensions(query.get(name)):
        match = {f"{path}__key": key} if value is None else {f"{path}__key": key, f"{path}__value": value}
        term = Q(pk__in=model.objects.filter(**match).values("pk"))
        if operator == "NOT":
            term = ~term
        if condition is None:
            condition = term
        elif operator == "OR":
            condition = condition | term
        else:
            condition = condition & term
    return qs.filter(condition)


# ---------------------------------------------------------------- the caller


@dataclass
class Caller:
    """Who is calling: an identifier (DN, subject, token prefix or user name), its kind, and the
    API credential or portal user it belongs to, if any."""

    identifier: str = ""
    kind: str = ""
    credential: object = None
    user: object = None


def identify(request):
    """The caller of a PI request.

    Portal API tokens and EGI Check-in access tokens come as `Authorization: Bearer`; the
    client-certificate DN and the OIDC subject come from front-proxy headers named in settings (off by
    default, as only a proxy that strips them from clients may set them). Other Authorization schemes
    (some clients always send Basic) are ignored. A logged-in browser session identifies its user.
    A Check-in token the provider refuses raises oidc.InvalidToken (the view answers 401).
    """
    from sites.models import APICredential

    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token:
        credential = APICredential.objects.for_token(token)
        if credential is not None:
            return Caller(credential.identifier, credential.kind, credential, credential.user)
        if oidc.enabled() and not token.startswith("egip_"):
            if len(token) > 8192 or not token.isascii() or not token.isprintable() or " " in token:
                raise oidc.InvalidToken("This is not a bearer token.")
            user, subject = oidc.bearer_user(token)
            kind = APICredential.Kind.OIDC
            return Caller(subject, kind, APICredential.objects.matching(kind, subject), user)
    for kind in (APICredential.Kind.X509, APICredential.Kind.OIDC):
        value = proxy_identity(request, kind)
        if value is None:
            return Caller()  # no DN or subject holds control characters; the database refuses NUL
        if value:
            return Caller(value, kind, APICredential.objects.matching(kind, value), user_with_identity(kind, value))
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Caller(user.username, "session", None, user)
    return Caller()


def proxy_identity(request, kind):
    """The client-certificate DN (in slash form) or OIDC subject that the front proxy passes in the header
    named by PI_CLIENT_DN_HEADER or PI_OIDC_SUBJECT_HEADER: "" when there is none, None when the value
    cannot be a DN or subject."""
    x509 = kind == Identity.Realm.X509  # the same value as APICredential.Kind.X509
    header = settings.PI_CLIENT_DN_HEADER if x509 else settings.PI_OIDC_SUBJECT_HEADER
    value = request.headers.get(header, "").strip() if header else ""
    if not value:
        return ""
    if x509:
        value = slash_dn(value)
    return None if XML_ILLEGAL.search(value) or len(value) > 255 else value


def slash_dn(dn):
    """An X.509 DN in GOCDB's slash form: RFC 2253 (`CN=x,O=y`, as proxies pass it) is reversed and
    unescaped (`\\,` and `\\XX` UTF-8 bytes); `emailAddress=` becomes `Email=` as GOCDB writes it."""
    if dn.startswith("/"):
        return re.sub(r"/emailAddress=", "/Email=", dn, flags=re.IGNORECASE)
    # Split on unescaped commas; trim the spaces around them but not an escaped trailing space.
    rdns = (re.sub(r"^\s+|(?<!\\)\s+$", "", p) for p in re.findall(r"(?:\\.|[^,\\])+", dn))
    parts = [_rdn_unescape(p) for p in rdns if p]
    parts = ["Email=" + p.split("=", 1)[1] if p.lower().startswith("emailaddress=") else p for p in parts]
    return "/" + "/".join(reversed(parts))


def _rdn_unescape(text):
    """An RDN with its RFC 2253 escapes decoded: `\\c` is c, `\\XX` a byte of the UTF-8 value."""
    raw = re.sub(rb"\\([0-9A-Fa-f]{2})|\\(.)", lambda m: bytes.fromhex(m[1].decode()) if m[1] else m[2], text.encode())
    return raw.decode(errors="replace")


def user_with_identity(kind, value):
    identity = Identity.objects.filter(realm=Identity.realm_for(kind), value=value).select_related("user").first()
    return identity.user if identity else None


def authorise(caller, level, strict=False):
    """GOCDB's protection levels (§11.2): raises PIDenied with its message unless `caller` may call."""
    if level == PUBLIC:
        return
    if not caller.identifier:
        raise PIDenied("No valid identifier found. Try accessing the resource through the private interface.")
    if level == PROTECTED:
        return
    if caller.credential is not None:
        caller.credential.touch()
        return
    restrict = settings.RESTRICT_PERSONAL_DATA
    if caller.user is not None:
        if not restrict or caller.user.is_superuser or can_read_personal_data(caller.user):
            return
        raise PIDenied("Authorisation required to read personal data (PROTECTED - Role required). ")
    if not restrict and not strict:
        return
    reason = "Role required" if restrict else "Registration required"
    raise PIDenied(f"Authorisation required to read personal data (PROTECTED - {reason}). ")


def can_read_personal_data(user):
    from sites.choices import Action, RoleStatus
    from sites.models import Role
    from sites.roles import MAPPING

    role_types = set().union(*(roles for (action, _), roles in MAPPING.items() if action == Action.READ_PERSONAL_DATA))
    return Role.objects.filter(user=user, status=RoleStatus.GRANTED, role_type__in=role_types).exists()


# ---------------------------------------------------------------- replies


def url_template(name):
    """`{PORTAL_URL}/path/{}/` for a detail page URL name, so rows format instead of reversing."""
    return settings.PORTAL_URL + reverse(name, args=[987654321]).replace("987654321", "{}")


def error_response(message):
    return HttpResponse(f"<error>{escape_text(message)}</error>", content_type="application/xml")


def text_response(message):
    return HttpResponse(message, content_type="text/plain; charset=utf-8")


# ---------------------------------------------------------------- paging


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
    base = settings.PORTAL_URL + query.request.path
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


# ---------------------------------------------------------------- the view


def check_params(method, params):
    for key in params:
        if key in ("apikey", "output", "method"):
            continue
        if key not in method.params:
            raise PIError(f"Unsupported parameter: {key}")
    for key, value in params.items():
        if any(ch in value for ch in "\"'`\x00"):
            raise PIError(f"Unsuported chracter in value: {value}")
        if len(value) > MAX_VALUE_LENGTH:
            raise PIError(f"Value of parameter {key} is longer than {MAX_VALUE_LENGTH} characters")


def replies(query, method):
    """The children of <results> for a checked query, as a lazy iterable."""
    next_cursor, prev_cursor = cursor(query, "next_cursor"), cursor(query, "prev_cursor")
    if next_cursor is not None and prev_cursor is not None:
        raise PIError("It is invalid to specify both 'next_cursor' and 'prev_cursor' parameters in the same query")
    result = method.func(query)
    if not isinstance(result, Listing):
        return result
    if method.pageable and (next_cursor is not None or prev_cursor is not None):
        meta, page = paged(query, result, next_cursor, prev_cursor)
        return [meta, *result.render(page)]
    return (el for batch in batches(result, CHUNK) for el in result.render(batch))


@require_safe
def pi_view(request, methods):
    """`/gocdbpi/public/` and `/gocdbpi/private/`: answer `?method=NAME&...` (HTTP 200 even on errors)."""
    params = {key: request.GET.get(key) for key in request.GET}
    name = params.get("method", "")
    method = methods.get(name)
    if method is None:
        return text_response(f"Unable to find method: {name}")
    try:
        caller = identify(request)
    except oidc.InvalidToken as exc:
        # As the front proxy of GOCDB's private interface (mod_auth_openidc) answers a bad bearer token.
        response = HttpResponse(str(exc), content_type="text/plain; charset=utf-8", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="gocdbpi", error="invalid_token"'
        return response
    except oidc.LoginRefused as exc:
        return HttpResponse(str(exc), content_type="text/plain; charset=utf-8", status=403)
    except oidc.ProviderUnavailable as exc:
        return HttpResponse(str(exc), content_type="text/plain; charset=utf-8", status=503)
    query = Query(request, params, caller)
    try:
        check_params(method, params)
        authorise(query.caller, method.level, strict=name == "access_test")
        children = replies(query, method)
        root_attrs = query.extra.get("root_attrs")
        if isinstance(children, list):
            body = b"".join(document(children, root_attrs))
            return HttpResponse(body, content_type="application/xml")
        # Force the first batch now, so that a bad filter is still an error reply, then stream.
        children = iter(children)
        first = next(children, None)
        rest = children if first is None else _chain(first, children)
        return StreamingHttpResponse(document(rest, root_attrs), content_type="application/xml")
    except PIError as exc:
        return error_response(str(exc))
    except PIDenied as exc:
        return text_response(str(exc))


def _chain(first, rest):
    yield first
    yield from rest
