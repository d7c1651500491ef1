"""The accounting view's query form: rows, columns, metric, month range, VO and site lists."""

import re

from django import forms

from . import reports

MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def dimension_choices():
    return [(d.name, d.title) for d in reports.DIMENSIONS.values()]


def metric_choices():
    return [(m.name, f"{m.title} ({m.unit})") for m in reports.METRICS.values()]


class MonthField(forms.CharField):
    """A month as YYYY-MM, cleaned to (year, month)."""

    def __init__(self, **kwargs):
        super().__init__(max_length=7, **kwargs)
        self.widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        match = MONTH.match(value) if value.isascii() else None
        if not match or not (1970 <= int(match[1]) <= 9999 and 1 <= int(match[2]) <= 12):
            raise forms.ValidationError("Give a month as YYYY-MM.")
        return (int(match[1]), int(match[2]))

    def prepare_value(self, value):
        return reports.month_key(*value) if isinstance(value, tuple) else value


class NameListField(forms.CharField):
    """Comma- or space-separated names (VOs, sites), cleaned to a list."""

    def __init__(self, what, **kwargs):
        self.what = what
        super().__init__(max_length=4000, required=False, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        names = [n for n in re.split(r"[\s,]+", value) if n]
        if len(names) > 100:
            raise forms.ValidationError(f"At most 100 {self.what}s.")
        for name in names:
            if not reports.NAME.match(name):
                raise forms.ValidationError(f"{name[:60]!r} is not a {self.what} name.")
        return names

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value


class PivotForm(forms.Form):
    """What the accounting page shows; defaults: CPU hours per site and month over the last 12 months."""

    rows = forms.ChoiceField(choices=dimension_choices, initial="site")
    columns = forms.ChoiceField(choices=dimension_choices, initial="month")
    metric = forms.ChoiceField(choices=metric_choices, initial="sum_elap_processors")
    start = MonthField(required=False, label="From")
    end = MonthField(required=False, label="To")
    vos = NameListField("VO", label="VOs")
    sites = NameListField("site", label="Sites")
    ngis = NameListField("NGI", label="NGIs")

    DEFAULTS = {"rows": "site", "columns": "month", "metric": "sum_elap_processors"}

    def __init__(self, data=None, **kwargs):
        if data is not None:
            data = {**self.DEFAULTS, **{k: v for k, v in data.items() if v not in ("", None)}}
        super().__init__(data, **kwargs)

    def clean(self):
        data = super().clean()
        end = data.get("end") or reports.this_month()
        start = data.get("start") or reports.shift_month(end, -11)
        if "start" in data and "end" in data:
            if start > end:
                self.add_error("start", "The start month is after the end month.")
            data["start"], data["end"] = start, end
        if data.get("rows") and data.get("rows") == data.get("columns"):
            self.add_error("columns", "Choose different rows and columns.")
        return data

    def query(self):
        """The cleaned query as pivot() keywords."""
        data = self.cleaned_data
        keys = ("metric", "rows", "columns", "start", "end", "vos", "sites", "ngis")
        return {k: data[k] for k in keys}
