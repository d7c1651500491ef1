"""Generic views every app builds on: list (filter, sort, page, CSV export, htmx), detail, edit,
delete, history. A view parses input, calls one service, renders."""

import csv

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections
from django.http import HttpResponseServerError, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import loader
from django.views import View
from django_tables2 import RequestConfig

from . import caching, permissions, portal_apps, services
from .errors import NotFound
from .filtersets import AuditLogFilterSet
from .forms import FORM_TOKEN, PropertiesForm
from .models import AuditLog
from .tables import AuditLogTable


class Echo:
    def write(self, value):
        return value


def is_htmx(request):
    return request.headers.get("HX-Request") == "true"


class ObjectListView(View):
    """A filterable, sortable, paginated table with CSV export of the filtered rows."""

    queryset = None
    filterset_class = None
    table_class = None
    template_name = "egiportal/object_list.html"
    add_url = None

    def get_queryset(self, request):
        return self.queryset.all().visible_to(request.user)

    def get(self, request):
        model = self.queryset.model
        filterset = self.filterset_class(request.GET, queryset=self.get_queryset(request), request=request)
        valid = filterset.is_valid()
        rows = filterset.qs if valid else self.queryset.none()
        table = self.table_class(rows)  # without the request: django-tables2 would page it unchecked
        if request.GET.get("export") == "csv" and valid:
            RequestConfig(request, paginate=False).configure(table)  # sorted, every row
            return self.export_csv(table, model)
        configure_table(request, table)
        context = {
            "model": model,
            "verbose_name_plural": model._meta.verbose_name_plural,
            "filterset": filterset,
            "table": table,
            "add_url": self.add_url,
        }
        template = "egiportal/inc/table.html" if is_htmx(request) else self.template_name
        return render(request, template, context, status=200 if valid else 400)

    def export_csv(self, table, model):
        writer = csv.writer(Echo())
        rows = (writer.writerow([csv_safe(cell) for cell in row]) for row in table.as_values())
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{model._meta.model_name}s.csv"'
        return response


def csv_safe(value):
    """Keep a spreadsheet from running a cell as a formula (CSV injection): a text starting with
    = + @ or a control character is prefixed with a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "@", "\t", "\r") else text


def configure_table(request, table):
    """Sort and page `table` (made without `request=`) from the request; returns it. `per_page` is clamped to 1..LIST_MAX_PER_PAGE and a value
    that is not a whole number gives the default, as a `page` that is not one gives the first page (past
    the end: the last). django-tables2's own paging took `per_page` as given: 100000 rows, a 500 for -5."""
    RequestConfig(request, paginate=False).configure(table)
    table.paginate(per_page=_per_page(request, table._meta.per_page))
    table.page = table.paginator.get_page(request.GET.get("page"))
    return table


def _per_page(request, default):
    value = request.GET.get("per_page", "")
    if not (value.isascii() and value.isdigit()) or not value.strip("0"):
        return default
    return settings.LIST_MAX_PER_PAGE if len(value) > 18 else min(int(value), settings.LIST_MAX_PER_PAGE)


class ObjectDetailView(View):
    """One object's page; the portal apps add their panels about it (portal_apps.object_panels)."""

    queryset = None
    template_name = None
    with_panels = True

    def get_object(self, request, pk):
        return get_object_or_404(self.queryset.visible_to(request.user), pk=pk)

    def get_extra_context(self, request, obj):
        return {}

    def get(self, request, pk):
        obj = self.get_object(request, pk)
        context = {"object": obj, "verbose_name": obj._meta.verbose_name, **self.get_extra_context(request, obj)}
        context["object_panels"] = portal_apps.object_panels(obj, request.user) if self.with_panels else []
        return render(request, self.template_name, context)


class ObjectHistoryView(ObjectDetailView):
    """The audit log entries of one object."""

    template_name = "egiportal/object_history.html"
    with_panels = False

    def get_extra_context(self, request, obj):
        ct = ContentType.objects.get_for_model(obj)
        entries = AuditLog.objects.visible_to(request.user).filter(content_type=ct, object_id=obj.pk)
        entries = entries.select_related("user")[:200]
        return {"entries": entries}


class ObjectFormView(LoginRequiredMixin, View):
    """Create (pk=None) or edit an object through a form whose `save_with(actor)` calls a service.

    Refusals from the service (PermissionDenied) render the 403 page with their reason; validation
    errors from the service land on the form. Nothing is written unless the service succeeds.
    """

    queryset = None
    form_class = None
    template_name = "egiportal/object_edit.html"

    def get_object(self, request, pk):
        if pk is None:
            return self.queryset.model()
        return get_object_or_404(self.queryset.visible_to(request.user), pk=pk)

    def form_kwargs(self, request, obj):
        # a create form carries a one-time token, so that sending it twice creates one object
        return {"instance": obj, "actor": request.user, "once": obj.pk is None}

    def check_permission(self, request, obj):
        """Refuse early (before showing the form) when the user cannot possibly save."""

    def get(self, request, pk=None):
        obj = self.get_object(request, pk)
        self.check_permission(request, obj)
        form = self.form_class(initial=request.GET.dict() if pk is None else None, **self.form_kwargs(request, obj))
        return self.render_form(request, form, obj)

    def post(self, request, pk=None):
        obj = self.get_object(request, pk)
        self.check_permission(request, obj)
        form = self.form_class(request.POST, **self.form_kwargs(request, obj))
        if form.is_valid():
            try:
                saved = services.create_once(
                    request.user,
                    form.cleaned_data.get(FORM_TOKEN),
                    lambda: form.save_with(request.user),
                    self.success_url,
                )
            except services.AlreadySubmitted as exc:
                return self.already_submitted(request, exc)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                return redirect(self.success_url(saved))
        return self.render_form(request, form, obj, status=400)

    def already_submitted(self, request, exc):
        """A second POST of a create form that was saved: to the object of the first, with a message."""
        if not exc.url:
            raise PermissionDenied(exc.messages[0])
        messages.info(request, "This form had already been submitted: here is what it created; nothing was added.")
        return redirect(exc.url)

    def success_url(self, obj):
        return obj.get_absolute_url()

    def render_form(self, request, form, obj, status=200):
        model = self.queryset.model
        context = {"form": form, "object": obj, "model": model, "verbose_name": model._meta.verbose_name}
        return render(request, self.template_name, context, status=status)


def _add_errors(form, exc):
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class ObjectDeleteView(LoginRequiredMixin, View):
    """Confirm, then delete through `delete_service(actor, obj)`."""

    queryset = None
    delete_service = None
    template_name = "egiportal/object_delete.html"

    def get_object(self, request, pk):
        return get_object_or_404(self.queryset.visible_to(request.user), pk=pk)

    def success_url(self, obj):
        raise NotImplementedError

    def check_permission(self, request, obj):
        """Refuse the confirmation page to users who could not delete (the service checks again)."""

    def get(self, request, pk):
        obj = self.get_object(request, pk)
        self.check_permission(request, obj)
        return render(request, self.template_name, {"object": obj, "verbose_name": obj._meta.verbose_name})

    def post(self, request, pk):
        obj = self.get_object(request, pk)
        target = self.success_url(obj)
        try:
            type(self).delete_service(request.user, obj)
        except ValidationError as exc:
            context = {"object": obj, "verbose_name": obj._meta.verbose_name, "errors": exc.messages}
            return render(request, self.template_name, context, status=400)
        return redirect(target)


def is_api(request):
    return request.path.startswith("/api/")


def forbidden(request, exception=None):
    """403 page that tells the user why (JSON under /api/)."""
    reason = str(exception) if isinstance(exception, PermissionDenied) and str(exception) else ""
    if is_api(request):
        return JsonResponse({"detail": reason or "You do not have permission to perform this action."}, status=403)
    return render(request, "403.html", {"reason": reason}, status=403)


def not_found(request, exception=None):
    """404 page in the portal's layout (JSON under /api/). The exception's text is not shown: it may name
    what the user may not see."""
    if is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    """500 page: a standalone template rendered without the request, so that neither the layout's
    context (user, session) nor the database, which may be what failed, is needed."""
    if is_api(request):
        return JsonResponse({"detail": "Server error."}, status=500)
    return HttpResponseServerError(loader.get_template("500.html").render())


def healthz(request):
    """Whether the database, the cache and the broker are up, as JSON; 503 when one is down.

    Everybody sees the state of each part ({"database": "ok", "cache": "down", ...}); only administrators
    (staff) also see the detail (what runs, or the error), as error texts name databases, hosts and ports.
    """
    checks = {"database": _database_status, "cache": caching.status, "broker": _broker_status}
    results = {part: check() for part, check in checks.items()}
    ok = all(up for up, _ in results.values())
    reply = {"status": "ok" if ok else "error", **{part: "ok" if up else "down" for part, (up, _) in results.items()}}
    if request.user.is_staff or request.user.is_superuser:
        reply["detail"] = {part: detail for part, (_, detail) in results.items()}
    return JsonResponse(reply, status=200 if ok else 503)


def _database_status():
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, connections["default"].vendor
    except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
        return False, str(exc)


def _broker_status():
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return True, "eager"
    from .celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "redis"
    except Exception as exc:  # noqa: BLE001
        return False, str(exc)


def home(request):
    """Counters and panels of the installed portal apps (egiportal.portal_apps)."""
    context = {"counts": portal_apps.home_counters(), "panels": portal_apps.home_panels()}
    return render(request, "egiportal/home.html", context)


class AuditLogListView(ObjectListView):
    """The global change list."""

    queryset = AuditLog.objects.select_related("content_type", "user")
    filterset_class = AuditLogFilterSet
    table_class = AuditLogTable


class PropertiesView(ObjectFormView):
    """Bulk add or update the custom properties of any parent (site, service, endpoint, group)."""

    form_class = PropertiesForm
    template_name = "egiportal/properties_edit.html"

    def check_permission(self, request, obj):
        if not permissions.authorise(request.user, permissions.EDIT, obj):
            raise PermissionDenied(f"You may not edit the properties of {obj}.")


class PropertyDeleteView(LoginRequiredMixin, View):
    """POST `key` (repeatable) to delete properties of the parent."""

    queryset = None

    def post(self, request, pk):
        obj = get_object_or_404(self.queryset.visible_to(request.user), pk=pk)
        try:
            services.delete_properties(request.user, obj, request.POST.getlist("key"))
        except NotFound:
            pass  # already gone (e.g. a second click): the page shows the parent without it
        return redirect(obj.get_absolute_url())


def pi_docs(request, methods):
    """`/gocdbpi/`: how to use the GOCDB-compatible read and write APIs, from the method table itself."""
    from .pi import PRIVATE, PROTECTED

    levels = {PROTECTED: "any credential", PRIVATE: "registered credential or role"}
    rows = [
        {
            "name": name,
            "level": levels.get(method.level, "public"),
            "pageable": method.pageable,
            "params": sorted(method.params - {"next_cursor", "prev_cursor"}),
        }
        for name, method in sorted(methods.items())
    ]
    return render(request, "egiportal/pi_docs.html", {"methods": rows, "base": settings.PORTAL_URL})
