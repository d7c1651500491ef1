from django.apps import AppConfig

PANEL = "accounting/inc/usage_panel.html"
PANEL_METRIC = "sum_elap_processors"


class AccountingConfig(AppConfig):
    """Accounting: usage records from cloud sites, their summaries, and the views of them (a portal app,
    see egiportal.portal_apps): the usage of the last 12 months on the pages of sites, NGIs, VOs and
    appliances."""

    name = "accounting"
    portal_app = True

    def object_panels(self, obj, user):
        """Usage panels of a site (with its last messages and months without data), an NGI, a VO and an
        appliance (the summaries whose ImageId is one of its images' marketplace identifiers)."""
        label = obj._meta.label
        if label == "sites.Site":
            return [_site_panel(obj, user)]
        if label == "sites.NGI":
            return [_panel(user, "site", f"Usage of the sites of {obj}", {"ngis": [obj.name]})]
        if label == "appliances.VirtualAppliance":
            return _appliance_panels(obj, user)
        if label == "egiportal.VirtualOrganisation":
            return [_panel(user, "site", f"Usage by {obj}", {"vos": [obj.name]})]
        return []


def _panel(user, rows, title, filters, extra=None, chart=True):
    """(template, context) of a table of CPU hours by `rows` and month over the last 12 months, with a link
    to the same query on the accounting page and a chart fed by its JSON."""
    from urllib.parse import urlencode

    from django.urls import reverse

    from . import reports

    end = reports.this_month()
    start = reports.shift_month(end, -11)
    result = reports.pivot(
        user, metric=PANEL_METRIC, rows=rows, columns="month", start=start, end=end, extra=extra, **filters
    )
    query = {"rows": rows, "columns": "month", "metric": PANEL_METRIC}
    query.update(start=reports.month_key(*start), end=reports.month_key(*end))
    query.update({name: ",".join(values) for name, values in filters.items()})
    url = reverse("accounting:pivot") + "?" + urlencode(query)
    context = {
        "title": title,
        "pivot": result,
        "table": result.table(),
        "page_url": url if chart else "",
        "json_url": url + "&format=json" if chart else "",
    }
    return (PANEL, context)


def _site_panel(site, user):
    from . import reports, services

    template, context = _panel(user, "vo", f"Usage at {site.short_name}", {"sites": [site.short_name]})
    context["last_received"] = sorted(services.last_received(site).items())
    # Within the panel's 12 months, from the months its pivot has (no query more on the site page).
    months = [tuple(map(int, key.split("-"))) for key in context["pivot"].column_keys]
    context["missing_months"] = reports.missing_months(site, months=months)
    context["site"] = site
    return (template, context)


def _appliance_panels(appliance, user):
    from django.apps import apps
    from django.conf import settings

    from . import reports

    Image = apps.get_model("appliances", "Image")  # noqa: N806 - a model class
    images = Image.objects.filter(version__appliance=appliance).values_list("pk", "guid")
    where = reports.image_filter(images[:200], settings.PORTAL_URL)
    if where is None:
        return []
    return [_panel(user, "site", f"Usage of the images of {appliance}", {}, extra=where, chart=False)]
