"""The accounting pivot (accounting.md §5, §6 Views): one metric summed over the summaries, broken down by
two dimensions (rows and columns), with row and column totals and percentages, as a table, the classic
Accounting Portal's JSON (§5.1) and CSV.

Every pivot is ONE aggregate query over one summary table, grouped by the columns of the two dimensions.
Numbers are Decimals throughout; they are rounded only when shown (`display`). Per-user rows (the `user`
dimension) are for those who may see them in detail (accounting.models.DETAIL: the site's administrators,
the VO's managers, portal administrators); the query is narrowed to those rows, and a caller who may see
none of the rows asked for is refused.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q, Sum

from egiportal import permissions
from egiportal.errors import Forbidden, Invalid
from egiportal.views import csv_safe

from .models import (
    DETAIL,
    AcceleratorSummary,
    CloudSummary,
    CloudUsage,
    IPSummary,
    StorageSummary,
    sum_of_product,
)

HOUR = Decimal(3600)
GIB = Decimal(2**30)
NONE = "None"  # APEL's spelling of an absent string (what a summary stores as "")


@dataclass(frozen=True)
class Dimension:
    """A way to break usage down: `fields` are the summary columns grouped by, `label` the classic name."""

    name: str
    label: str
    fields: tuple
    title: str


DIMENSIONS = {
    d.name: d
    for d in (
        Dimension("ngi", "REGION", ("site__ngi__name",), "NGI"),
        Dimension("country", "COUNTRY", ("site__country__code",), "Country"),
        Dimension("site", "SITE", ("site__short_name",), "Site"),
        Dimension("service", "SERVICE", ("cloud_compute_service",), "Service"),
        Dimension("vo", "VO", ("vo",), "VO"),
        Dimension("user", "UserDN", ("global_user_name",), "User"),
        Dimension("image", "IMAGE", ("image_id",), "Image"),
        Dimension("status", "STATUS", ("status",), "Status"),
        Dimension("month", "DATE", ("year", "month"), "Month"),
        Dimension("year", "Year", ("year",), "Year"),
    )
}
# The classic portal's names (REGION, DATE, UserDN...), case-insensitive, beside ours.
DIMENSION_NAMES = {**{d.label.lower(): d.name for d in DIMENSIONS.values()}, **{n: n for n in DIMENSIONS}}
COMMON = ("ngi", "country", "site", "vo", "month", "year")


@dataclass(frozen=True)
class Metric:
    """What is summed: `aggregate` over `model`, divided by `divisor`; `dimensions` it can be broken down by."""

    name: str
    title: str
    unit: str
    model: type
    aggregate: object
    divisor: Decimal = Decimal(1)
    dimensions: tuple = tuple(DIMENSIONS)
    rollup: object = None  # the same sum over CloudUsage, for pivots by COMMON dimensions only


CLOUD = tuple(DIMENSIONS)
METRICS = {
    m.name: m
    for m in (
        Metric("vm_num", "Number of VMs", "VMs", CloudSummary, Sum("number_of_vms"), rollup=Sum("number_of_vms")),
        Metric(
            "sum_elap", "Wall time", "hours", CloudSummary, Sum("wall_duration"), HOUR, rollup=Sum("wall_duration"),
        ),
        Metric(
            "sum_elap_processors", "CPU time (wall × vCPUs)", "hours", CloudSummary,
            sum_of_product("wall_duration", "cpu_count"), HOUR, rollup=Sum("cpu_seconds"),
        ),
        Metric(
            "normalised", "Normalised CPU time (× benchmark)", "hours", CloudSummary,
            sum_of_product("wall_duration", "cpu_count", "benchmark"), HOUR, rollup=Sum("normalised_seconds"),
        ),
        Metric(
            "processors", "vCPUs", "vCPUs", CloudSummary, sum_of_product("cpu_count", "number_of_vms"),
            rollup=Sum("processors"),
        ),
        Metric("mem-GByte", "Memory allocated", "GB", CloudSummary, Sum("memory"), Decimal(1024), rollup=Sum("memory")),
        Metric("disk", "Disk allocated", "GB", CloudSummary, Sum("disk"), rollup=Sum("disk")),
        Metric("net_in", "Network inbound", "GB", CloudSummary, Sum("network_inbound"), rollup=Sum("network_inbound")),
        Metric(
            "net_out", "Network outbound", "GB", CloudSummary, Sum("network_outbound"), rollup=Sum("network_outbound")
        ),
        Metric("ips", "Public IPs (most in the month)", "IPs", IPSummary, Sum("max_count"), dimensions=COMMON),
        Metric(
            "gpu_hours", "Accelerator time (× count)", "hours", AcceleratorSummary, Sum("accelerator_seconds"), HOUR,
            dimensions=(*COMMON, "user"),
        ),
        Metric("storage", "Block storage", "GB", StorageSummary, Sum("capacity"), GIB, dimensions=COMMON),
    )
}  # fmt: skip
# The classic portal's names of the same metrics.
ALIASES = {
    "number_of_virtual_machines": "vm_num",
    "sumelap": "sum_elap",
    "cpu_hours": "sum_elap_processors",
    "mem": "mem-GByte",
    "memory": "mem-GByte",
    "vcpus": "processors",
    "gpu": "gpu_hours",
}
LOCAL_SELECTORS = ("onlyinfrajobs", "localinfrajobs", "onlylocaljobs")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:/=+-]{0,254}$")


def metric_for(name):
    """The Metric of `name`: ours, a classic alias, either with a unit suffix (`sum_elap-hour`), any case."""
    key = (name or "").strip()
    lowered = {m.lower(): m for m in METRICS}
    for candidate in (key, key.split("-", 1)[0]):
        candidate = candidate.lower()
        canonical = lowered.get(candidate) or ALIASES.get(candidate)
        if canonical:
            return METRICS[canonical]
    if key.lower().startswith("cost"):
        raise Invalid("The metric cost is not computed by this portal.")
    raise Invalid(f"Unknown metric {name[:60]!r}; one of {', '.join(METRICS)}.")


def dimension_for(name):
    """The Dimension of `name` (ours or the classic REGION, SITE, VO, DATE, Year, UserDN...), any case."""
    canonical = DIMENSION_NAMES.get((name or "").strip().lower())
    if canonical is None:
        raise Invalid(f"Unknown dimension {name[:60]!r}; one of {', '.join(d.label for d in DIMENSIONS.values())}.")
    return DIMENSIONS[canonical]


def month_key(year, month):
    return f"{year:04d}-{month:02d}"


def months_between(start, end):
    """The (year, month) pairs from `start` to `end`, inclusive."""
    (y, m), out = start, []
    while (y, m) <= tuple(end):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def shift_month(ym, delta):
    index = ym[0] * 12 + ym[1] - 1 + delta
    return (index // 12, index % 12 + 1)


def this_month():
    today = date.today()
    return (today.year, today.month)


def display(value, places=2):
    """A Decimal rounded for showing (half up), as an int when it is whole, else a float for JSON."""
    rounded = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return int(rounded) if rounded == rounded.to_integral_value() else float(rounded)


@dataclass
class Pivot:
    """A metric broken down by rows and columns: `cells[(row, column)]`, totals and percentages (Decimals)."""

    metric: Metric
    rows: Dimension
    columns: Dimension
    query: str
    row_keys: list = field(default_factory=list)
    column_keys: list = field(default_factory=list)
    cells: dict = field(default_factory=dict)

    @property
    def row_totals(self):
        totals = dict.fromkeys(self.row_keys, Decimal(0))
        for (row, _column), value in self.cells.items():
            totals[row] += value
        return totals

    @property
    def column_totals(self):
        totals = dict.fromkeys(self.column_keys, Decimal(0))
        for (_row, column), value in self.cells.items():
            totals[column] += value
        return totals

    @property
    def total(self):
        return sum(self.cells.values(), Decimal(0))

    def percent(self, value):
        total = self.total
        return Decimal(0) if not total else value * 100 / total

    def cell(self, row, column):
        return self.cells.get((row, column), Decimal(0))

    def table(self):
        """Rows for a template: (key, [cells], total, percent), all Decimals."""
        totals = self.row_totals
        return [
            (row, [self.cell(row, c) for c in self.column_keys], totals[row], self.percent(totals[row]))
            for row in self.row_keys
        ]

    def as_classic_json(self):
        """The classic portal's JSON (§5.1): the row objects, then Total, Percent, xlegend, ylegend, var."""
        out = []
        for row, values, total, percent in self.table():
            item = {"id": row, **{c: display(v) for c, v in zip(self.column_keys, values, strict=True)}}
            out.append({**item, "Total": display(total, 0), "Percent": display(percent)})
        columns = self.column_totals
        out.append(
            {"id": "Total", **{c: display(columns[c]) for c in self.column_keys}, "Total": display(self.total, 0),
             "Percent": 100 if self.total else 0}
        )  # fmt: skip
        out.append(
            {"id": "Percent", **{c: display(self.percent(columns[c])) for c in self.column_keys},
             "Total": 100 if self.total else 0}
        )  # fmt: skip
        out.append({"id": "xlegend", **{str(i): c for i, c in enumerate(self.column_keys)}})
        out.append({"id": "ylegend", **{str(i): r for i, r in enumerate(self.row_keys)}})
        out.append({"id": "var", "xrange": self.columns.label, "yrange": self.rows.label, "query": self.query})
        return out

    def as_csv(self):
        """The same table as CSV: a header, the rows, the Total and Percent rows (cells kept from running as
        spreadsheet formulas: a key may be anything a site sent)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        columns = self.column_totals
        lines = [[self.rows.label, *self.column_keys, "Total", "Percent"]]
        lines += [
            [row, *map(display, values), display(total, 0), display(percent)]
            for row, values, total, percent in self.table()
        ]
        lines.append(["Total", *(display(columns[c]) for c in self.column_keys), display(self.total, 0), 100])
        lines.append(["Percent", *(display(self.percent(columns[c])) for c in self.column_keys), 100, ""])
        for line in lines:
            writer.writerow([csv_safe(cell) for cell in line])
        return buffer.getvalue()

    def chart(self):
        """What the chart draws: column labels and one series per row."""
        return {
            "labels": self.column_keys,
            "series": [{"label": r, "data": [display(v) for v in values]} for r, values, _t, _p in self.table()],
        }


def _names(values, what):
    values = [v.strip() for v in (values or []) if v and v.strip()]
    if len(values) > 100:
        raise Invalid(f"At most 100 {what}s.")
    for value in values:
        if not NAME.match(value):
            raise Invalid(f"{value[:60]!r} is not a {what} name.")
    return values


def _check_months(start, end):
    for ym in (start, end):
        if not (isinstance(ym, (tuple, list)) and len(ym) == 2 and 1970 <= ym[0] <= 9999 and 1 <= ym[1] <= 12):
            raise Invalid(f"{ym!r} is not a month (year 1970-9999, month 1-12).")
    if tuple(start) > tuple(end):
        raise Invalid("The start month is after the end month.")


def pivot(
    user, *, metric, rows, columns, start, end, vos=None, sites=None, ngis=None, local="onlyinfrajobs", extra=None
):
    """`metric` (a name or alias) over the months `start`..`end` ((year, month), inclusive) broken down by
    `rows` and `columns` (dimension names), for the VOs `vos` and sites `sites` (short names; all when
    None), as `user` may see it. `local` is the classic selector: cloud usage is infrastructure usage, so
    onlylocaljobs gives nothing. `extra` is a Q the panels narrow with (an image's identifiers).

    Raises Invalid (400) for a bad metric, dimension, month or name, Forbidden (403) for per-user rows the
    user may not see."""
    metric_ = metric_for(metric)
    row_dim, column_dim = dimension_for(rows), dimension_for(columns)
    if row_dim == column_dim:
        raise Invalid("Rows and columns must be different dimensions.")
    for dim in (row_dim, column_dim):
        if dim.name not in metric_.dimensions:
            raise Invalid(f"{metric_.title} cannot be broken down by {dim.title.lower()}.")
    _check_months(start, end)
    if local not in LOCAL_SELECTORS:
        raise Invalid(f"Unknown selector {str(local)[:40]!r}; one of {', '.join(LOCAL_SELECTORS)}.")
    vos, sites, ngis = _names(vos, "VO"), _names(sites, "site"), _names(ngis, "NGI")
    result = Pivot(metric_, row_dim, column_dim, query=str(metric)[:60])

    per_user = "user" in (row_dim.name, column_dim.name)
    if per_user and not permissions.is_active_user(user):
        raise Forbidden("Per-user usage is for the VO's managers and the site's administrators: log in.")
    # By NGI, country, site, VO, month or year alone, the rolled-up rows give the same sums, far fewer rows.
    rolled = metric_.rollup is not None and extra is None and {row_dim.name, column_dim.name} <= set(COMMON)
    model, aggregate = (CloudUsage, metric_.rollup) if rolled else (metric_.model, metric_.aggregate)
    queryset = model.objects.all()
    (sy, sm), (ey, em) = start, end
    queryset = queryset.filter(Q(year__gt=sy) | Q(year=sy, month__gte=sm)).filter(
        Q(year__lt=ey) | Q(year=ey, month__lte=em)
    )
    if vos:
        queryset = queryset.filter(vo__in=vos)
    if sites:
        queryset = queryset.filter(site__short_name__in=sites)
    if ngis:
        queryset = queryset.filter(site__ngi__name__in=ngis)
    if extra is not None:
        queryset = queryset.filter(extra)
    if local == "onlylocaljobs":
        return result
    asked = queryset
    if per_user:
        queryset = queryset.visible_to(user, DETAIL)

    group = (*row_dim.fields, *column_dim.fields)
    grouped = list(queryset.values(*group).annotate(value=aggregate).order_by())
    if per_user and not grouped and not user.is_superuser and asked.exists():
        raise Forbidden("Per-user usage is for the VO's managers and the site's administrators.")
    for item in grouped:
        row, column = _key(row_dim, item), _key(column_dim, item)
        value = (item["value"] or Decimal(0)) / metric_.divisor
        result.cells[(row, column)] = result.cells.get((row, column), Decimal(0)) + Decimal(value)
    result.row_keys = sorted({r for r, _c in result.cells})
    result.column_keys = sorted({c for _r, c in result.cells})
    return result


def _key(dimension, item):
    if dimension.name == "month":
        return month_key(item["year"], item["month"])
    value = item[dimension.fields[0]]
    return NONE if value in ("", None) else str(value)


def missing_months(site, end=None, months=None):
    """The months from the site's first cloud usage up to `end` (default: this month) without any: the gaps
    a site fixes by republishing (§5.3). `months`, the (year, month) pairs known to have usage, saves the
    query (the site panel passes those of its pivot); otherwise one query."""
    end = tuple(end or this_month())
    if months is None:
        months = CloudSummary.objects.filter(site=site).values_list("year", "month").distinct().order_by()
    months = set(months)
    if not months:
        return []
    return [month_key(*ym) for ym in months_between(min(months), end) if ym not in months]


def image_filter(images, portal_url):
    """The summaries of these images (pairs of pk and guid): ImageId is the image's marketplace identifier,
    `ad:mpuri` (<portal>/store/vo/image/<list identifier>:<pk>/) or `ad:base_mpuri`
    (<portal>/store/vm/image/<guid>:<pk>/), see appliances.publishing.image_fields. None for no image."""
    terms = Q()
    for pk, guid in images:
        terms |= Q(image_id=f"{portal_url}/store/vm/image/{guid}:{pk}/")
        terms |= Q(image_id__startswith=f"{portal_url}/store/vo/image/", image_id__endswith=f":{pk}/")
    return terms or None
