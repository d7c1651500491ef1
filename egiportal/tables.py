"""Shared table columns."""

import functools

import django_tables2 as tables
from django.utils.html import format_html, format_html_join
from django_tables2 import utils as tables2_utils

from .models import AuditLog, VirtualOrganisation

_signature = tables2_utils.signature


@functools.lru_cache(maxsize=2048)
def _signature_of(func, bound):
    return _signature(func.__get__(object()) if bound else func)


def cached_signature(fn):
    """django-tables2 inspects the signature of a render method for every cell it renders: a third of a
    list page's rendering time. A method's signature never changes, so it is computed once."""
    func = getattr(fn, "__func__", None)
    if func is not None:
        return _signature_of(func, True)
    try:
        return _signature_of(fn, False)
    except TypeError:  # unhashable callable
        return _signature(fn)


tables2_utils.signature = cached_signature


class ScopesColumn(tables.Column):
    """Scope names of a prefetched `scopes` relation, as badges (plain text in CSV)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("orderable", False)
        kwargs.setdefault("empty_values", ())
        super().__init__(accessor="pk", verbose_name="Scopes", **kwargs)

    def render(self, record):
        return format_html_join(
            " ",
            '<span class="badge text-bg-{}">{}</span>',
            (("warning" if s.reserved else "secondary", s.name) for s in record.scopes.all()),
        )

    def value(self, record):
        return ";".join(s.name for s in record.scopes.all())


class YesNoColumn(tables.BooleanColumn):
    def __init__(self, **kwargs):
        kwargs.setdefault("yesno", "Yes,No")
        super().__init__(**kwargs)


class LinkedColumn(tables.Column):
    """A column linking to the row's own detail page."""

    def render(self, record, value):
        return format_html('<a href="{}">{}</a>', record.get_absolute_url(), value)

    def value(self, value):
        # CSV export gets the plain value, not the link markup.
        return value


class BaseTable(tables.Table):
    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle"}
        per_page = 50


class AuditLogTable(BaseTable):
    time = tables.DateTimeColumn(format="Y-m-d H:i:s")
    user_name = tables.Column(verbose_name="User")
    action = tables.Column()
    content_type = tables.Column(verbose_name="Type", accessor="content_type__model")
    object_repr = tables.Column(verbose_name="Object")
    changes = tables.TemplateColumn(template_name="egiportal/inc/changes_cell.html", orderable=False)
    request_id = tables.Column(verbose_name="Request", visible=False)

    class Meta(BaseTable.Meta):
        model = AuditLog
        fields = ("time", "user_name", "action", "content_type", "object_repr", "changes", "request_id")

    def render_action(self, record):
        return record.action_label

    def render_object_repr(self, record, value):
        obj_url = _object_url(record)
        return format_html('<a href="{}">{}</a>', obj_url, value) if obj_url else value

    def value_object_repr(self, value):
        # CSV export gets the object's name, not the link markup.
        return value

    def value_changes(self, record):
        return "; ".join(f"{k}: {b} -> {a}" for k, b, a in record.changed_fields())


def _object_url(record):
    from django.urls import NoReverseMatch, reverse

    if record.action == "delete":
        return None
    try:
        return reverse(f"{record.content_type.app_label}:{record.content_type.model}", args=[record.object_id])
    except NoReverseMatch:
        return None


class ManagersColumn(tables.Column):
    """The managers' names of a VO from `with_members()`, each user once."""

    def __init__(self, **kwargs):
        super().__init__(accessor="pk", verbose_name="Managers", orderable=False, empty_values=(), **kwargs)

    def value(self, record):
        return ", ".join(record.managers)

    def render(self, record):
        return self.value(record)


class VOTable(BaseTable):
    name = LinkedColumn()
    member_count = tables.Column(verbose_name="Members")
    managers = ManagersColumn()

    class Meta(BaseTable.Meta):
        model = VirtualOrganisation
        fields = ("name", "description", "member_count", "managers")
