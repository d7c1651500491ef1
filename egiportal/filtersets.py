"""Shared FilterSet machinery: quick search, scope all/any matching and key=value property filters."""

import operator
from functools import reduce

import django_filters
from django import forms
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, Q
from django.forms.utils import ErrorDict, flatatt
from django.utils.html import format_html, format_html_join

from egiportal import permissions, portal_apps
from egiportal.models import AuditLog, VirtualOrganisation


def filter_without_duplicates(qs, condition):
    """Filter through a to-many join without duplicating rows."""
    return qs.filter(pk__in=qs.model.objects.filter(condition).values("pk"))


def having_all(model, field, values):
    """Rows of `model` related through the to-many `field` to every one of `values`, as one subquery
    `pk IN (... WHERE field IN values GROUP BY pk HAVING COUNT(DISTINCT field) = n)` whatever n: one
    subquery per value made PostgreSQL's planning time explode (40 scope names took a minute)."""
    values = set(values)
    matching = model.objects.filter(**{f"{field}__in": values}).values("pk")
    return matching.alias(matched=Count(field, distinct=True)).filter(matched=len(values)).values("pk")


def property_match(path, key, value):
    """The property reached through `path` has `key` (and `value`, unless it is None)."""
    return Q(**{f"{path}__key": key}) if value is None else Q(**{f"{path}__key": key, f"{path}__value": value})


def fold_terms(terms):
    """GOCDB's left fold of [(operator, key, value)] (AND x, AND NOT x, OR x) as a flat OR of ANDs.

    The fold holds when, for some j (the first term or an OR term), term j holds and so do the AND and
    NOT terms after it. Each AND is a frozenset of literals ((key, value), holds); contradictory ones and
    ones that a smaller one implies are dropped. Flat, so the SQL stays shallow however long the
    expression: the nested fold overflowed SQLite's parser at a hundred terms.
    """
    ands, after = [], frozenset()
    for index in reversed(range(len(terms))):
        op, key, value = terms[index]
        literal = ((key, value), op != "NOT")
        if index == 0 or op == "OR":
            ands.append(after | {literal})
        else:
            after |= {literal}
    ands = [lits for lits in dict.fromkeys(ands) if not any((pair, not holds) in lits for pair, holds in lits)]
    return [lits for lits in ands if not any(other < lits for other in ands)]


def property_condition(model, terms, path="properties"):
    """A condition on `model` where the fold of `terms` [(operator, key, value or None)] holds, each
    term "has the property key (=value)", a None value meaning "the key exists".

    One subquery whatever the number of terms: the matching property rows grouped per entity, one count
    per distinct (key, value), the fold in HAVING. Entities without a matching property are absent from
    it; when the fold holds for them (e.g. `NOT(a=b)`), the subquery lists the entities left out instead.
    """
    pairs = list(dict.fromkeys((key, value) for _, key, value in terms))
    ands = fold_terms(terms)
    if not ands:
        return Q(pk__in=[])
    flags = {f"term{i}": Count(path, filter=property_match(path, *pair)) for i, pair in enumerate(pairs)}
    any_pair = reduce(operator.or_, (property_match(path, *pair) for pair in pairs))
    grouped = model.objects.filter(any_pair).values("pk").alias(**flags)
    formula = reduce(
        operator.or_,
        (Q(**{f"term{pairs.index(pair)}{'__gt' if holds else ''}": 0 for pair, holds in lits}) for lits in ands),
    )
    if any(not any(holds for _, holds in lits) for lits in ands):  # true for an entity without properties
        return ~Q(pk__in=grouped.filter(~formula).values("pk"))
    return Q(pk__in=grouped.filter(formula).values("pk"))


def too_many(what, count, limit):
    return f"Too many {what}: {count} given, at most {limit} allowed."


class PropertyField(forms.CharField):
    """Accepts `key=value` or `key:value` (exact) or a bare `key` (the property exists). Keys contain
    neither `=` nor `:`, so the first of them separates the key; the value may contain both."""

    def clean(self, value):
        values = value or []
        result = []
        for item in values:
            cut = min((i for i in (item.find("="), item.find(":")) if i >= 0), default=len(item))
            key, sep, val = item[:cut], item[cut : cut + 1], item[cut + 1 :]
            if not key.strip():
                raise ValidationError(f"Property filter {item[:60]!r} needs a key, as key=value, key:value or key.")
            self.run_validators(item)
            result.append((key.strip(), val.strip() if sep else None))
        distinct = len(set(result))
        if distinct > settings.FILTER_MAX_PROPERTY_TERMS:
            raise ValidationError(too_many("property filters", distinct, settings.FILTER_MAX_PROPERTY_TERMS))
        return result


class PropertyFilter(django_filters.Filter):
    """Every given property must match (AND), like GOCDB's extensions filter; `path` leads to the
    property rows (the row's own by default)."""

    field_class = PropertyField

    def __init__(self, *args, path="properties", **kwargs):
        kwargs.setdefault("widget", forms.TextInput(attrs={"placeholder": "key=value"}))
        self.path = path
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        return qs.filter(property_condition(qs.model, [("AND", *pair) for pair in value], self.path))


class ScopeNamesField(django_filters.fields.ModelMultipleChoiceField):
    """Scope names, at most FILTER_MAX_SCOPES distinct ones."""

    def clean(self, value):
        distinct = len(set(value or []))
        if distinct > settings.FILTER_MAX_SCOPES:
            raise ValidationError(too_many("scope names", distinct, settings.FILTER_MAX_SCOPES))
        return super().clean(value)


class ScopeNamesFilter(django_filters.ModelMultipleChoiceFilter):
    field_class = ScopeNamesField


class MultiValueTextWidget(forms.TextInput):
    """A text box that also reads repeated query parameters (?property=a&property=b)."""

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
        return [v for v in values if v not in (None, "")]

    def format_value(self, value):
        if isinstance(value, list):
            return value[0] if value else ""
        return value


class NameListWidget(MultiValueTextWidget):
    """Names typed as "a, b" or given as repeated parameters. A text box rather than a <select>: a
    federation has thousands of sites, and rendering one <option> each dominated the list pages."""

    def value_from_datadict(self, data, files, name):
        values = super().value_from_datadict(data, files, name)
        return [part.strip() for value in values for part in value.split(",") if part.strip()]

    def format_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value


class HiddenNameListWidget(NameListWidget):
    """NameListWidget for API-only filters: hidden in the browser's filter sidebar."""

    input_type = "hidden"


def by_name(path, queryset, to_field_name, label=None, *, typed=False, distinct=False, method=None):
    """Filter by one or more natural keys (names, codes); unknown ones make the filterset invalid.

    django-filter compares `getattr(choice, to_field_name)` with the field, so the field path ends in
    that key too (site__short_name, not site). `typed=True` gives a text box instead of a select.
    """
    extra = {"widget": NameListWidget(attrs={"placeholder": "name, name"})} if typed else {}
    if method is None:
        extra["field_name"] = f"{path}__{to_field_name}"
    return django_filters.ModelMultipleChoiceFilter(
        queryset=queryset, to_field_name=to_field_name, label=label, distinct=distinct, method=method, **extra
    )


class FastSelectMixin:
    """Renders its <option>s in one pass. Django renders each option through a template, which took
    most of a list page's time for a few hundred countries or NGIs."""

    def render(self, name, value, attrs=None, renderer=None):
        final = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        if self.allow_multiple_selected:
            final["multiple"] = True
        chosen = set(self.format_value(value))
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((v, " selected" if str(v) in chosen else "", label) for v, label in self.choices),
        )
        return format_html("<select{}>{}</select>", flatatt(final), options)


class FastSelect(FastSelectMixin, forms.Select):
    pass


class FastSelectMultiple(FastSelectMixin, forms.SelectMultiple):
    pass


FAST_WIDGETS = {forms.Select: FastSelect, forms.SelectMultiple: FastSelectMultiple}


def style_widgets(form):
    """Bootstrap classes on every widget; plain selects switch to the one-pass renderer."""
    for field in form.fields.values():
        widget = field.widget
        if type(widget) in FAST_WIDGETS:
            widget.__class__ = FAST_WIDGETS[type(widget)]
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, (forms.Select, forms.SelectMultiple)):
            widget.attrs.setdefault("class", "form-select form-select-sm")
        else:
            widget.attrs.setdefault("class", "form-control form-control-sm")


class StrictBooleanField(forms.Field):
    """A tri-state flag: empty (any), yes or no. Anything else is an error instead of "no filter"."""

    widget = forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")])
    VALUES = {
        **dict.fromkeys(("true", "yes", "y", "1", "on"), True),
        **dict.fromkeys(("false", "no", "n", "0", "off"), False),
    }

    def clean(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        try:
            return self.VALUES[str(value).strip().lower()]
        except KeyError:
            raise ValidationError(f"{str(value)[:40]!r} is not one of yes, no, true, false.") from None


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class ListField(forms.Field):
    """Repeated values (`?x=a&x=b`) or, with `split`, a comma list (`?x__in=a,b`), each cleaned by the
    model field's own form field, so a bad value is an error instead of "no filter"."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *args, base=None, split=False, **kwargs):
        self.base, self.split = base or forms.CharField(), split
        super().__init__(*args, **kwargs)

    def clean(self, value):
        values = list(value) if isinstance(value, (list, tuple)) else [] if value is None else [value]
        if self.split:
            values = [part for v in values for part in str(v).split(",")]
        return [self.base.clean(v) for v in values if v not in (None, "")]


class ListFilter(django_filters.Filter):
    """Rows whose field is any of the given values."""

    field_class = ListField

    def filter(self, qs, value):
        return qs.filter(**{f"{self.field_name}__in": value}) if value else qs


RANGE_FILTERS = {
    models.DateTimeField: django_filters.IsoDateTimeFilter,
    models.DateField: django_filters.DateFilter,
    models.FloatField: django_filters.NumberFilter,
    models.DecimalField: django_filters.NumberFilter,
    models.IntegerField: django_filters.NumberFilter,
}
INT64_MAX = 2**63 - 1
SKIPPED_FIELDS = {"kind"}  # OwnedEntity's type column: the endpoint already says it


def range_filter(field):
    return next((f for model_type, f in RANGE_FILTERS.items() if isinstance(field, model_type)), None)


def lookup_filters(model, taken):
    """Filters the REST API offers on every concrete field of `model` (NetBox's lookup variants, kept to
    what tools ask for): `name` (repeatable) and `name__in` (comma list) for text, choices and numbers;
    `__gte/__lte/__gt/__lt` for numbers and dates; `<relation>_id` for relations. They render as
    hidden inputs in the browser sidebar."""
    made = {}
    for field in model._meta.get_fields():
        if not field.concrete or (field.one_to_one and field.remote_field.parent_link) or field.name in SKIPPED_FIELDS:
            continue
        if isinstance(field, models.BinaryField):  # bytes (a logo, a signature): nothing to compare a query with
            continue
        if field.many_to_many or field.many_to_one:
            base = forms.IntegerField(min_value=0, max_value=INT64_MAX)
            made[f"{field.name}_id"] = ListFilter(field_name=field.name, base=base, label=f"{field.name} id")
            continue
        if isinstance(field, models.BooleanField):
            made[field.name] = StrictBooleanFilter(field_name=field.name, widget=forms.HiddenInput)
            continue
        ranged = range_filter(field)
        if ranged is not None:
            for lookup in ("gte", "lte", "gt", "lt"):
                made[f"{field.name}__{lookup}"] = ranged(
                    field_name=field.name, lookup_expr=lookup, widget=forms.HiddenInput
                )
            if isinstance(field, (models.DateField, models.DateTimeField)):
                continue
        base = field.formfield() or (forms.IntegerField() if isinstance(field, models.AutoField) else forms.CharField())
        base.required = False
        if isinstance(base, forms.IntegerField):  # past 64 bits the database cannot compare (a 500 on SQLite)
            base.validators += [MinValueValidator(-INT64_MAX - 1), MaxValueValidator(INT64_MAX)]
        made[field.name] = ListFilter(field_name=field.name, base=base)
        made[f"{field.name}__in"] = ListFilter(field_name=field.name, base=base, split=True)
    return {name: f for name, f in made.items() if name not in taken}


class FilterForm(forms.Form):
    """The base of every filter form: a NUL anywhere in the query refuses the filters before any field is
    cleaned or any query runs (PostgreSQL refuses NUL in text: a DataError, a 500, in whichever filter
    passed it on), for the browser lists and the REST API alike."""

    def full_clean(self):
        items = self.data.lists() if hasattr(self.data, "lists") else self.data.items()
        given = [(key, values if isinstance(values, list) else [values]) for key, values in items]
        nul = [key for key, values in given if "\x00" in key or any("\x00" in str(v) for v in values)]
        if not nul:
            return super().full_clean()
        self._errors, self.cleaned_data = ErrorDict(), {}
        for key in nul:
            # a range filter's parameters are its name with a suffix (created_min, created_max)
            name = key if key in self.fields else next((n for n in self.fields if key.startswith(f"{n}_")), None)
            self.add_error(name, "Null characters are not allowed." if name else f"Null characters in {key[:60]!r}.")
        return None


class BaseFilterSet(django_filters.FilterSet):
    """Base of every FilterSet: `q` quick search over `search_fields`, and the lookups of
    `lookup_filters` on every model field for the API."""

    # Boolean model fields in Meta.fields get the strict filter: django-filter's own turns "maybe" into None.
    FILTER_DEFAULTS = {
        **django_filters.filterset.FILTER_FOR_DBFIELD_DEFAULTS,
        models.BooleanField: {"filter_class": StrictBooleanFilter},
    }
    search_fields = ()
    q = django_filters.CharFilter(method="search", label="Search")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Searching or filtering on what one may not see would tell it (whose e-mail, who changed what).
        hidden = permissions.personal_fields_hidden_from(getattr(self.request, "user", None), self._meta.model)
        personal = {n for n, f in self.filters.items() if f.field_name.split("__")[0] in hidden}
        self.refused = sorted(personal & set(self.data or ()))
        self.filters = {n: f for n, f in self.filters.items() if n not in personal}
        self.search_fields = tuple(f for f in self.search_fields if f.split("__")[0] not in hidden)

    def is_valid(self):
        """Also refuses a filter on personal data from who may not see it (a 400, not an ignored filter)."""
        valid = super().is_valid()
        for name in self.refused:
            self.form.errors[name] = self.form.error_class(["Filtering on personal data needs a role."])
        return valid and not self.refused

    @classmethod
    def get_filters(cls):
        filters = super().get_filters()
        if cls._meta.model is not None:
            filters.update(lookup_filters(cls._meta.model, set(filters)))
        return filters

    def get_form_class(self):
        return type(f"{type(self).__name__}Form", (FilterForm, super().get_form_class()), {})

    @property
    def form(self):
        """The filter form, with the quick search first and Bootstrap classes on every widget."""
        if not hasattr(self, "_form"):
            form = super().form
            form.order_fields(["q"])
            style_widgets(form)
        return self._form

    def search(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        condition = Q()
        for field in self.search_fields:
            condition |= Q(**{f"{field}__icontains": value})
        if any("__" in field for field in self.search_fields):  # a related field may match several times
            return filter_without_duplicates(qs, condition)
        return qs.filter(condition)


def portal_content_types():
    return ContentType.objects.filter(app_label__in=portal_apps.app_labels())


class AuditLogFilterSet(BaseFilterSet):
    """Filters of the global change list."""

    search_fields = ("object_repr", "user_name", "message")
    # The vocabulary and the object types of the installed portal apps (egiportal.portal_apps).
    action = django_filters.MultipleChoiceFilter(choices=portal_apps.audit_actions)
    object_type = django_filters.ModelMultipleChoiceFilter(
        field_name="content_type", queryset=lambda request: portal_content_types(), label="Object type"
    )
    user_name = django_filters.CharFilter(label="User")
    request_id = django_filters.UUIDFilter()
    time_after = django_filters.IsoDateTimeFilter(field_name="time", lookup_expr="gte", label="From")
    time_before = django_filters.IsoDateTimeFilter(field_name="time", lookup_expr="lt", label="Until")

    class Meta:
        model = AuditLog
        fields = []


class VirtualOrganisationFilterSet(BaseFilterSet):
    """Filters of the VO list and of /api/v1/vos/."""

    search_fields = ("name", "description")
    # No VO name is longer: a longer search is a 400 rather than a scan for nothing.
    q = django_filters.CharFilter(method="search", label="Search", max_length=255)

    class Meta:
        model = VirtualOrganisation
        fields = ["name"]
