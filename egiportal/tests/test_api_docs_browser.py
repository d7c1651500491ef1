"""The interactive REST API docs (/api/v1/docs/, Swagger UI) render in Chromium from this server's own
static files: no request leaves the loopback. Also the navigation that leads there."""

from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from sites.tests.factories import SiteFactory

from .test_browser import page  # noqa: F401 (the Playwright page fixture on the live server)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_docs_render_from_vendored_assets(page, live_server):  # noqa: F811
    SiteFactory(short_name="DOCS-SITE")
    ours = urlsplit(live_server.url).netloc
    outside, errors = [], []

    def guard(route):
        """Let requests to the live server through; record and refuse any other (a CDN, a validator)."""
        url = urlsplit(route.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != ours:
            outside.append(route.request.url)
            return route.abort()
        return route.continue_()

    page.context.route("**/*", guard)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/api/v1/docs/")

    # Swagger UI fetched the schema and lists the operations (a virtual list: filter down to the sites).
    page.locator(".operation-filter-input").fill("sites")
    sites_list = page.locator("#operations-sites-sites_list")
    sites_list.wait_for()
    assert page.locator(".info .title").inner_text().startswith("EGI Portal API")
    operations = page.locator(".opblock[id^='operations-sites-']")
    assert operations.count() == 9  # list, create, three bulk writes; read, replace, change, delete
    assert page.locator("#operations-sites-sites_bulk_partial_update").is_visible()

    # Expanding GET /api/v1/sites/ shows its filters, rendering options and paging parameters.
    sites_list.locator(".opblock-summary").click()
    parameters = sites_list.locator(".parameters-col_name .parameter__name")
    parameters.first.wait_for()
    names = {text.split()[0].rstrip("*") for text in parameters.all_inner_texts()}
    assert {"brief", "fields", "omit", "cursor", "limit", "offset", "ngi", "scope", "property", "domain__in"} <= names

    # The token scheme is offered by the Authorize dialog; no outside validator is configured.
    page.locator("button.authorize").click()
    page.locator(".modal-ux").get_by_text("tokenAuth").wait_for()
    assert page.evaluate("ui.getConfigs().validatorUrl") is None

    assert not outside, f"requests left the server: {outside}"
    assert not errors, errors


@pytest.mark.django_db
def test_docs_page_uses_only_local_assets():
    html = Client().get(reverse("api:docs")).content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "//cdn" not in html and "https://" not in html and "http://" not in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        from django.contrib.staticfiles import finders

        assert finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{asset}"), asset


@pytest.mark.django_db
def test_navigation_offers_both_apis():
    html = Client().get(reverse("home")).content.decode()
    assert f'href="{reverse("pi_docs")}">GOCDB-compatible API</a>' in html
    assert f'href="{reverse("api:docs")}">REST API (/api/v1/docs/)</a>' in html
