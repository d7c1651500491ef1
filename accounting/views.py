"""Accounting pages and data (accounting.md §5): the pivot page with its chart and downloads, and the classic
Accounting Portal URLs (§5.1) that reporting scripts use, answered as HTML, JSON or CSV.

Each view parses its input, asks reports.pivot once, and renders. Bad input is a 400 with the reason (a form
error on the page; plain text or JSON on the classic URLs, as their format asks); per-user rows asked by
someone who may not see them are a 403.
"""

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from egiportal import oidc, permissions
from egiportal.errors import Forbidden, Invalid
from egiportal.identity import TokenRefused, identify
from egiportal.models import VirtualOrganisation

from . import reports
from .forms import PivotForm

FORMATS = ("json", "csv")
TEMPLATE = "accounting/pivot.html"


def _message(exc):
    return "; ".join(getattr(exc, "messages", None) or [str(exc)])


def data_response(result, fmt, name="accounting"):
    """The pivot as the classic JSON or as CSV (a download)."""
    if fmt == "json":
        return JsonResponse(result.as_classic_json(), safe=False)
    response = HttpResponse(result.as_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def _page(request, form, result, *, json_url="", csv_url="", status=200):
    context = {
        "form": form,
        "pivot": result,
        "table": result.table() if result else [],
        "json_url": json_url,
        "csv_url": csv_url,
        "metrics": reports.METRICS.values(),
    }
    return render(request, TEMPLATE, context, status=status)


def pivot_page(request):
    """`/accounting/`: the form, the table with totals and percentages, the chart; `format=json|csv` gives
    exactly the table shown as data."""
    form = PivotForm(request.GET)
    fmt = request.GET.get("format", "").lower()
    if form.is_valid() and fmt and fmt not in FORMATS:
        form.add_error(None, "The format is json or csv.")
    if not form.is_valid():
        return _page(request, form, None, status=400)
    try:
        result = reports.pivot(request.user, **form.query())
    except Forbidden as exc:
        raise PermissionDenied(str(exc)) from exc
    except Invalid as exc:
        form.add_error(None, _message(exc))
        return _page(request, form, None, status=400)
    if fmt:
        return data_response(result, fmt)
    query = request.GET.copy()
    query.pop("format", None)
    base = reverse("accounting:pivot") + "?" + (query.urlencode() + "&" if query else "")
    return _page(request, form, result, json_url=base + "format=json", csv_url=base + "format=csv")


# ---------------------------------------------------------------------------------------------
# The classic Accounting Portal URLs (§5.1)
# ---------------------------------------------------------------------------------------------


class BadPart(Exception):
    """A part of a classic URL that does not parse; the reply says which."""


OIDC_ERRORS = (oidc.InvalidToken, oidc.LoginRefused, oidc.ProviderUnavailable)


def _refusal(fmt, exc):
    """A refused classic request: 400 for a bad part, 403 for per-user rows, 401/503 for a bad token."""
    if isinstance(exc, Forbidden):
        return _error(fmt, str(exc), 403)
    if isinstance(exc, TokenRefused):
        return _error(fmt, exc.message, exc.status)
    if isinstance(exc, oidc.ProviderUnavailable):
        return _error(fmt, str(exc), 503)
    if isinstance(exc, oidc.LoginRefused):
        return _error(fmt, str(exc), 403)
    if isinstance(exc, oidc.InvalidToken):
        return _error(fmt, str(exc), 401)
    return _error(fmt, _message(exc))


def _error(fmt, message, status=400):
    if fmt == "json":
        return JsonResponse({"detail": message}, status=status)
    return HttpResponse(message, content_type="text/plain; charset=utf-8", status=status)


def _year(text, what):
    if not (text.isascii() and text.isdigit() and len(text) == 4) or not 1970 <= int(text) <= 9999:
        raise BadPart(f"{what} {text[:20]!r} is not a year (YYYY).")
    return int(text)


def _month(text, what):
    if not (text.isascii() and text.isdigit() and len(text) <= 2) or not 1 <= int(text) <= 12:
        raise BadPart(f"{what} {text[:20]!r} is not a month (1-12).")
    return int(text)


def _vo_group(text):
    """`egi` (every VO) or `custom-<vo1>,<vo2>,...`."""
    if text.lower() == "egi":
        return None
    if text.lower().startswith("custom-"):
        vos = [v for v in text[len("custom-") :].split(",") if v]
        if vos:
            return vos
    raise BadPart(f"VO group {text[:60]!r} is not egi or custom-<vo1>,<vo2>,...")


def _caller(request):
    """The portal user behind a script's token, certificate DN or browser session (egiportal.identity)."""
    return identify(request).user


def _split(parts):
    return [p for p in parts.strip("/").split("/")] if parts.strip("/") else []


def _format_of(parts):
    """The format the URL asks for: its last part when that is JSON or CSV, else HTML."""
    return parts[-1].lower() if parts and parts[-1].lower() in FORMATS else "html"


def classic(request, parts):
    """`/accounting/cloud/<metric>/<row>/<column>/<sY>/<sM>/<eY>/<eM>/<vo_group>/<local>[/<FORMAT>]/` (and
    `/egi/cloud/...`, `/cloud/...`)."""
    parts = _split(parts)
    fmt = _format_of(parts)
    try:
        if len(parts) not in (9, 10):
            raise BadPart(
                "Expected /cloud/<metric>/<row>/<column>/<startYYYY>/<startM>/<endYYYY>/<endM>/<vo_group>/"
                f"<local_selector>/<FORMAT>/, got {len(parts)} parts."
            )
        if len(parts) == 10 and fmt == "html":  # a tenth part that is no format
            raise BadPart(f"Format {parts[9][:20]!r} is not JSON or CSV.")
        metric, rows, columns = parts[0:3]
        start = (_year(parts[3], "Start year"), _month(parts[4], "start month"))
        end = (_year(parts[5], "End year"), _month(parts[6], "end month"))
        vos, local = _vo_group(parts[7]), parts[8].lower()
        if local not in reports.LOCAL_SELECTORS:
            raise BadPart(f"Selector {parts[8][:40]!r} is not one of {', '.join(reports.LOCAL_SELECTORS)}.")
        query = {"metric": metric, "rows": rows, "columns": columns, "start": start, "end": end, "vos": vos}
        result = reports.pivot(_caller(request), local=local, **query)
    except (BadPart, Invalid, Forbidden, TokenRefused, *OIDC_ERRORS) as exc:
        return _refusal(fmt, exc)
    if fmt != "html":
        return data_response(result, fmt, name=f"{result.metric.name}-{result.rows.name}-{result.columns.name}")
    form = PivotForm(_form_data(result, start, end, vos))
    form.is_valid()
    base = request.path.rstrip("/")
    return _page(request, form, result, json_url=base + "/JSON/", csv_url=base + "/CSV/")


def _form_data(result, start, end, vos):
    return {
        "metric": result.metric.name,
        "rows": result.rows.name,
        "columns": result.columns.name,
        "start": reports.month_key(*start),
        "end": reports.month_key(*end),
        "vos": ",".join(vos or []),
    }


def _range(parts):
    """`<from>/<to>` as YYYY-MM/YYYY-MM, or YYYY/M/YYYY/M."""
    if len(parts) == 2:
        pieces = [piece for part in parts for piece in part.split("-", 1)]
        if len(pieces) != 4:
            raise BadPart("The range is <YYYY-MM>/<YYYY-MM> or <YYYY>/<M>/<YYYY>/<M>.")
    elif len(parts) == 4:
        pieces = parts
    else:
        raise BadPart("The range is <YYYY-MM>/<YYYY-MM> or <YYYY>/<M>/<YYYY>/<M>.")
    return (_year(pieces[0], "Start year"), _month(pieces[1], "start month")), (
        _year(pieces[2], "End year"),
        _month(pieces[3], "end month"),
    )


def vo_admin(request, parts):
    """`/vo_admin/cloud/<vo>/<metric>/UserDN/DATE/<from>/<to>/JSON`: per-user usage of a VO by month, for
    the VO's managers (and portal administrators); 403 for anyone else."""
    parts = _split(parts)
    fmt = _format_of(parts) if _format_of(parts) != "html" else "json"
    try:
        if len(parts) < 7 or parts[-1].lower() not in FORMATS:
            raise BadPart("Expected /vo_admin/cloud/<vo>/<metric>/UserDN/DATE/<from>/<to>/JSON.")
        vo_name, metric, rows, columns = parts[0:4]
        if rows.lower() != "userdn" or columns.lower() != "date":
            raise BadPart("VO managers' views are /<vo>/<metric>/UserDN/DATE/...")
        start, end = _range(parts[4:-1])
        user = _caller(request)
        vo = VirtualOrganisation.objects.filter(name=vo_name[:255]).first()
        if vo is None or not permissions.authorise(user, permissions.EDIT, vo):
            raise Forbidden(f"Per-user usage of {vo_name[:60]!r} is for its VO managers.")
        result = reports.pivot(user, metric=metric, rows="user", columns="month", start=start, end=end, vos=[vo.name])
    except (BadPart, Invalid, Forbidden, TokenRefused, *OIDC_ERRORS) as exc:
        return _refusal(fmt, exc)
    return data_response(result, fmt, name=f"{vo.name}-users")
