"""A create form sent twice (a double click, a reload, a re-POST of the same rendered form) creates one
object: the one-time token of the core's create view (egiportal.services.create_once), shown with the
service form, which GOCDB lets hold the same host and type twice in a site."""

import pytest
from django.contrib.messages import get_messages
from django.core import signing
from django.urls import reverse

from egiportal.forms import FORM_TOKEN, new_form_token
from egiportal.models import FormSubmission
from egiportal.testcases import form_data
from egiportal.tests.factories import UserFactory
from egiportal.tests.test_browser import log_in, page  # noqa: F401 - the Playwright fixture
from endpoints.models import Service
from endpoints.tests.factories import service_type
from sites.tests.factories import SiteFactory, grant, user_with

ADD = reverse("endpoints:service_add")


@pytest.fixture
def site():
    return SiteFactory(short_name="NL-ONCE")


def rendered_form(client, site, **fields):
    """What a browser would POST from the add form as rendered, with `fields` typed in."""
    response = client.get(f"{ADD}?site={site.pk}")
    assert response.status_code == 200
    data = form_data(response.context["form"])
    typed = {"service_type": service_type().pk, "hostname": "unicore.once.example.org", "description": "UNICORE"}
    return {**data, **typed, **fields}


@pytest.mark.django_db
def test_the_add_form_carries_a_signed_one_time_token(client, site):
    client.force_login(user_with("SITE_ADMIN", site))
    first, second = (rendered_form(client, site)[FORM_TOKEN] for _ in range(2))
    assert first and second and first != second
    html = client.get(f"{ADD}?site={site.pk}").content.decode()
    assert f'type="hidden" name="{FORM_TOKEN}"' in html


@pytest.mark.django_db
def test_the_same_form_posted_twice_creates_one_service(client, site):
    client.force_login(user_with("SITE_ADMIN", site))
    data = rendered_form(client, site)
    first = client.post(ADD, data)
    service = Service.objects.get()
    assert first.status_code == 302 and first["Location"] == service.get_absolute_url()

    again = client.post(ADD, data)
    assert again.status_code == 302 and again["Location"] == service.get_absolute_url()
    assert Service.objects.count() == 1
    assert any("already been submitted" in str(m) for m in get_messages(again.wsgi_request))
    assert "already been submitted" in client.get(again["Location"]).content.decode()


@pytest.mark.django_db
def test_a_new_rendering_of_the_form_may_add_the_same_host_and_type_again(client, site):
    """GOCDB allows twins (UNICORE): only a repeated form is refused, not a repeated service."""
    client.force_login(user_with("SITE_ADMIN", site))
    for _ in range(2):
        assert client.post(ADD, rendered_form(client, site)).status_code == 302
    assert Service.objects.filter(hostname="unicore.once.example.org").count() == 2


@pytest.mark.django_db
def test_a_refused_create_leaves_the_token_for_the_corrected_form(client, site):
    client.force_login(user_with("SITE_ADMIN", site))
    data = rendered_form(client, site, hostname="not a host name")
    refused = client.post(ADD, data)
    assert refused.status_code == 400 and not Service.objects.exists()
    assert refused.context["form"][FORM_TOKEN].value() == data[FORM_TOKEN]  # the page keeps the same token
    assert not FormSubmission.objects.exists()
    assert client.post(ADD, {**data, "hostname": "fixed.once.example.org"}).status_code == 302
    assert Service.objects.get().hostname == "fixed.once.example.org"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "token",
    ["made-up", "x" * 5000, "abc\x00def", new_form_token() + "x", signing.TimestampSigner(salt="other").sign("a")],
    ids=["made-up", "oversized", "nul", "tampered", "other-salt"],  # stable ids: xdist workers collect alike
)
def test_a_token_the_portal_did_not_sign_is_a_form_error(client, site, token):
    client.force_login(user_with("SITE_ADMIN", site))
    response = client.post(ADD, {**rendered_form(client, site), FORM_TOKEN: token})
    assert response.status_code == 400 and response.context["form"].errors[FORM_TOKEN]
    assert not Service.objects.exists() and not FormSubmission.objects.exists()


@pytest.mark.django_db
def test_a_token_older_than_a_day_is_refused(client, site, monkeypatch):
    client.force_login(user_with("SITE_ADMIN", site))
    data = rendered_form(client, site)
    monkeypatch.setattr("egiportal.services.FORM_TOKEN_MAX_AGE", -1)  # every token is too old
    response = client.post(ADD, data)
    assert response.status_code == 400 and "more than a day old" in str(response.context["form"].errors)
    assert not Service.objects.exists()


@pytest.mark.django_db
def test_another_users_token_creates_nothing_and_shows_nothing(client, site):
    owner = user_with("SITE_ADMIN", site)
    client.force_login(owner)
    data = rendered_form(client, site)
    assert client.post(ADD, data).status_code == 302
    other = UserFactory()
    grant(other, "SITE_ADMIN", site)
    client.force_login(other)
    response = client.post(ADD, data)
    assert response.status_code == 403 and Service.objects.count() == 1
    assert Service.objects.get().get_absolute_url() not in response.content.decode()


@pytest.mark.django_db
def test_old_submissions_are_pruned(client, site):
    client.force_login(user_with("SITE_ADMIN", site))
    old = FormSubmission.objects.create(token="old", object_url="/x/")
    FormSubmission.objects.filter(pk=old.pk).update(created="2020-01-01T00:00Z")
    assert client.post(ADD, rendered_form(client, site)).status_code == 302
    assert list(FormSubmission.objects.values_list("token", flat=True)) != ["old"]
    assert not FormSubmission.objects.filter(token="old").exists() and FormSubmission.objects.count() == 1


DOUBLE_SUBMIT = """async () => {
    const form = document.querySelector("main form");
    const body = new FormData(form);
    const send = () => fetch(location.href, {method: "POST", body: body});
    const replies = await Promise.all([send(), send()]);  // a double click: both at once
    const again = await send();  // and a re-POST later
    return [...replies, again].map((r) => [r.status, new URL(r.url).pathname]);
}"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_double_submitting_the_service_form_in_the_browser_creates_one_service(page, site):  # noqa: F811
    service_type("unicore6.TargetSystemFactory")
    admin = UserFactory(username="carol")
    grant(admin, "SITE_ADMIN", site)
    log_in(page, "carol")
    page.goto(f"{ADD}?site={site.pk}")
    page.select_option("#id_service_type", label="unicore6.TargetSystemFactory")
    page.fill("#id_hostname", "unicore.once.example.org")
    page.fill("#id_description", "UNICORE target system")

    replies = page.evaluate(DOUBLE_SUBMIT)
    service = Service.objects.get()
    assert replies == [[200, service.get_absolute_url()]] * 3

    page.click("button:has-text('Save')")  # the rendered form itself, a fourth time
    page.wait_for_url(f"**{service.get_absolute_url()}")
    assert "already been submitted" in page.content()
    assert Service.objects.count() == 1
