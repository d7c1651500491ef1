"""Generic browser-view tests: a model's test class sets a few attributes and inherits the list, detail,
history, add, edit and delete tests, each run as an anonymous visitor, a user with no role, the admin of
another owner (another site, NGI, group or VO) and the allowed user, plus fixed query counts for the list
and detail pages. `egiportal.api.testcases.APIModelTests` does the same for the REST API.

    class TestSiteViews(ViewModelTests):
        model = Site
        factory = SiteFactory
        list_url, detail_url, history_url = "sites:site_list", "sites:site", "sites:site_history"
        edit_url, delete_url, add_url = "sites:site_edit", "sites:site_delete", "sites:site_add"
        edit_changes = {"description": "Changed"}

        def allowed_user(self, obj): ...    # may edit `obj` (and delete it, unless delete_user says otherwise)
        def other_owner(self, obj): ...     # holds the same role elsewhere (another site's admin)
        def add_case(self): ...             # an AddCase: a valid POST body and who may send it

Topology is public today: everyone reads it, writes need a role. A model that is private sets
`private = True`: the list then hides its rows from those who may not see them, and its detail,
history and edit pages answer `hidden_status` to them.
"""

from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from django import forms
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from egiportal.api.testcases import IDS_THAT_CANNOT_EXIST
from egiportal.models import AuditLog
from egiportal.tests.factories import UserFactory

ANONYMOUS = "anonymous"
NO_ROLE = "no role"
OTHER_OWNER = "other owner"
ALLOWED = "allowed"
READERS = (ANONYMOUS, NO_ROLE, OTHER_OWNER, ALLOWED)


@dataclass
class AddCase:
    """What the add test sends: a valid POST body, the query string of the form (?site=<pk>), a user
    allowed to add, and optionally the admin of another owner with the status that user gets."""

    data: dict
    user: object
    params: dict = field(default_factory=dict)
    other_owner: object = None
    other_owner_status: int = 403


# The tests that need each page; a subclass that leaves a page's URL name unset does not get them.
TESTS_OF_PAGE = {
    "list_url": ("test_list", "test_list_query_count_is_fixed"),
    "detail_url": (
        "test_detail",
        "test_unknown_object_is_404",
        "test_ids_that_cannot_exist_are_404",
        "test_detail_query_count_is_fixed",
    ),
    "history_url": ("test_history",),
    "add_url": ("test_add",),
    "edit_url": ("test_edit_is_refused", "test_edit_by_the_allowed_user"),
    "delete_url": ("test_delete_is_refused", "test_delete_by_the_allowed_user"),
}


def as_users(*who):
    """Run the test once per kind of user (`who`), among those the test class has."""

    def mark(test):
        test.users = who
        return test

    return mark


def form_data(form):
    """The POST body a browser sends for `form` unchanged: every field's current value, as its widget
    renders it (unchecked boxes are left out, as browsers do)."""
    data = {}
    for name, form_field in form.fields.items():
        value = form[name].value()
        if isinstance(form_field, forms.BooleanField):
            if value:
                data[name] = "on"
            continue
        rendered = form_field.widget.format_value(value)
        if rendered is None:
            rendered = ""
        if isinstance(rendered, (list, tuple)) and not getattr(form_field.widget, "allow_multiple_selected", False):
            rendered = rendered[0] if rendered else ""
        data[name] = rendered
    return data


def audit_rows(model, pk):
    return AuditLog.objects.filter(content_type=ContentType.objects.get_for_model(model), object_id=pk)


def count_queries(client, url, status=200):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return len(captured), [q["sql"][:160] for q in captured.captured_queries]


@pytest.mark.django_db
class ViewModelTests:
    model = None
    factory = None  # makes one object (override make() when a factory call is not enough)

    # URL names; None where the model has no such page.
    list_url = None
    detail_url = None
    history_url = None
    add_url = None
    edit_url = None
    delete_url = None
    lookup = "pk"  # the object attribute the URLs take (VOs: "name")

    private = False  # True: the rows are hidden from those who may not see them
    # What a user gets for an object they may not see (a private model's object, for outsiders).
    hidden_status = 404
    # What a logged-in user gets for a change of a visible object they may not make.
    refused_status = 403
    # Whether adding needs a role (a user without one is refused the form); any user may add a service group.
    add_needs_role = True
    # Whether the edit URL has a form page (GET); VOs are edited by a POST to their own page.
    edit_form_page = True
    # Attribute values an allowed edit sets (merged into the form's current values).
    edit_changes = {}
    max_list_queries = 20
    max_detail_queries = 25

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for page, tests in TESTS_OF_PAGE.items():
            for name in tests:
                # pytest collects only callables: None drops the test of a page the model does not have.
                setattr(cls, name, getattr(ViewModelTests, name) if getattr(cls, page) else None)

    def pytest_generate_tests(self, metafunc):
        """Parametrise `who` with the kinds of user this class has: anonymous and no role always, the
        other owner and the allowed user when the subclass says who they are."""
        if "who" not in metafunc.fixturenames:
            return
        present = {ANONYMOUS, NO_ROLE}
        for who, hook in ((OTHER_OWNER, "other_owner"), (ALLOWED, "allowed_user")):
            if getattr(type(self), hook) is not getattr(ViewModelTests, hook):
                present.add(who)
        metafunc.parametrize("who", [who for who in metafunc.function.users if who in present])

    # ---------------------------------------------------------------- what a subclass supplies

    def make(self):
        return self.factory()

    def allowed_user(self, obj):
        """A user who may see and change `obj`; None when the model is read-only in the browser."""
        return None

    def other_owner(self, obj):
        """A user holding the allowed user's kind of role, on another owner; None when there is none."""
        return None

    def delete_user(self, obj):
        """A user who may delete `obj` (by default the allowed user)."""
        return self.allowed_user(obj)

    def edit_data(self, obj, form):
        """A valid POST body of the edit form: what the form shows, with `edit_changes` on top."""
        return {**form_data(form), **self.edit_changes}

    def add_case(self):
        """An AddCase for the add test; the add test needs one when `add_url` is set."""
        raise NotImplementedError

    def gone(self, obj):
        """Whether `obj` was deleted (override for a model that only marks its rows deleted)."""
        return not self.model.objects.filter(pk=obj.pk).exists()

    def grow(self, obj):
        """Make more rows, for the query-count tests (override to add children that `obj`'s page shows)."""
        for _ in range(5):
            self.make()

    # ---------------------------------------------------------------- helpers

    def pks(self):
        return set(self.model.objects.values_list("pk", flat=True))

    def url(self, name, obj=None):
        return reverse(name) if obj is None else reverse(name, args=[getattr(obj, self.lookup)])

    def login(self, client, who, obj):
        """Log `client` in as `who` (one of READERS) for `obj`; returns the user, or None if there is none."""
        client.logout()
        if who == ANONYMOUS:
            return ANONYMOUS
        user = {
            NO_ROLE: UserFactory,
            OTHER_OWNER: lambda: self.other_owner(obj),
            ALLOWED: lambda: self.allowed_user(obj),
        }[who]()
        if user is not None:
            client.force_login(user)
        return user

    def may_see(self, who):
        return not self.private or who == ALLOWED

    def read_status(self, who):
        return 200 if self.may_see(who) else self.hidden_status

    def assert_login_redirect(self, response):
        assert response.status_code == 302, response.status_code
        assert response["Location"].startswith(reverse("login")), response["Location"]

    # ---------------------------------------------------------------- reads

    @as_users(*READERS)
    def test_list(self, client, who):
        obj = self.make()
        self.login(client, who, obj)
        response = client.get(self.url(self.list_url))
        assert response.status_code == 200
        listed = [row.pk for row in response.context["table"].data]
        assert (obj.pk in listed) == self.may_see(who), (who, listed)

    @as_users(ANONYMOUS, ALLOWED)
    def test_list_query_count_is_fixed(self, client, django_assert_max_num_queries, who):
        obj = self.make()
        self.login(client, who, obj)
        few, _ = count_queries(client, self.url(self.list_url))
        self.grow(obj)
        many, queries = count_queries(client, self.url(self.list_url))
        assert few == many, queries
        with django_assert_max_num_queries(self.max_list_queries):
            client.get(self.url(self.list_url))

    @as_users(*READERS)
    def test_detail(self, client, who):
        obj = self.make()
        self.login(client, who, obj)
        assert client.get(self.url(self.detail_url, obj)).status_code == self.read_status(who)

    def test_unknown_object_is_404(self, client):
        missing = self.make()
        url = self.url(self.detail_url, missing)
        missing.delete()
        client.force_login(UserFactory(is_superuser=True))
        assert client.get(url).status_code == 404

    def test_ids_that_cannot_exist_are_404(self, client):
        """Every page of one object answers the styled 404 for an id out of range or not a number."""
        obj = self.make()
        client.force_login(UserFactory(is_superuser=True))
        names = [self.detail_url, self.history_url, self.edit_url, self.delete_url]
        for url in [self.url(name, obj) for name in names if name]:
            key = str(getattr(obj, self.lookup))
            for bad in IDS_THAT_CANNOT_EXIST:
                response = client.get(url.replace(f"/{key}/", f"/{bad}/"))
                assert response.status_code == 404, (url, bad, response.status_code)
                assert "404.html" in [t.name for t in response.templates], (url, bad)

    @as_users(ANONYMOUS, ALLOWED)
    def test_detail_query_count_is_fixed(self, client, django_assert_max_num_queries, who):
        obj = self.make()
        self.login(client, who, obj)
        url = self.url(self.detail_url, obj)
        status = self.read_status(who)  # an outsider's 404 of a private model costs a fixed count too
        few, _ = count_queries(client, url, status)
        self.grow(obj)
        many, queries = count_queries(client, url, status)
        assert few == many, queries
        with django_assert_max_num_queries(self.max_detail_queries):
            client.get(url)

    @as_users(*READERS)
    def test_history(self, client, who):
        obj = self.make()
        self.login(client, who, obj)
        assert client.get(self.url(self.history_url, obj)).status_code == self.read_status(who)

    # ---------------------------------------------------------------- writes

    def test_add(self, client):
        case = self.add_case()
        url, before = self.url(self.add_url), self.pks()
        post_url = f"{url}?{urlencode(case.params)}" if case.params else url
        self.assert_login_redirect(client.get(url, case.params))
        self.assert_login_redirect(client.post(post_url, case.data))
        refused = []
        if self.add_needs_role:
            nobody = UserFactory()
            client.force_login(nobody)
            assert client.get(url, case.params).status_code == self.refused_status
            refused.append((nobody, self.refused_status))
        if case.other_owner is not None:
            if case.other_owner_status == self.refused_status:  # refused the form for this owner too
                client.force_login(case.other_owner)
                assert client.get(url, case.params).status_code == self.refused_status
            refused.append((case.other_owner, case.other_owner_status))
        for user, status in refused:
            client.force_login(user)
            assert client.post(post_url, case.data).status_code == status, user
        assert self.pks() == before, "a refused add wrote a row"
        client.force_login(case.user)
        assert client.get(url, case.params).status_code == 200
        response = client.post(post_url, case.data)
        assert response.status_code == 302, _errors(response)
        (new,) = self.pks() - before
        assert audit_rows(self.model, new).filter(user=case.user).exists()

    @as_users(ANONYMOUS, NO_ROLE, OTHER_OWNER)
    def test_edit_is_refused(self, client, who):
        obj = self.make()
        body = self.edit_body(client, obj)
        self.login(client, who, obj)
        url = self.url(self.edit_url, obj)
        status = self.refused_status if self.may_see(who) else self.hidden_status
        if who == ANONYMOUS:
            if self.edit_form_page:
                self.assert_login_redirect(client.get(url))
            self.assert_login_redirect(client.post(url, body))
        else:
            if self.edit_form_page:
                assert client.get(url).status_code == status
            assert client.post(url, body).status_code == status
        self.assert_unchanged(obj)

    def test_edit_by_the_allowed_user(self, client):
        obj = self.make()
        user = self.allowed_user(obj)
        body = self.edit_body(client, obj, user)
        response = client.post(self.url(self.edit_url, obj), body)
        assert response.status_code == 302, _errors(response)
        obj.refresh_from_db()
        for name, value in self.edit_changes.items():
            assert str(getattr(obj, name)) == str(value), name
        assert audit_rows(self.model, obj.pk).filter(user=user).exists()

    @as_users(ANONYMOUS, NO_ROLE, OTHER_OWNER)
    def test_delete_is_refused(self, client, who):
        obj = self.make()
        self.login(client, who, obj)
        url = self.url(self.delete_url, obj)
        if who == ANONYMOUS:
            self.assert_login_redirect(client.get(url))
            self.assert_login_redirect(client.post(url))
        else:
            status = self.refused_status if self.may_see(who) else self.hidden_status
            assert client.get(url).status_code == status
            assert client.post(url).status_code == status
        assert not self.gone(obj)
        assert not audit_rows(self.model, obj.pk).exists()

    def test_delete_by_the_allowed_user(self, client):
        obj = self.make()
        client.force_login(self.delete_user(obj))
        url = self.url(self.delete_url, obj)
        assert client.get(url).status_code == 200
        response = client.post(url)
        assert response.status_code == 302, _errors(response)
        assert self.gone(obj)
        assert audit_rows(self.model, obj.pk).exists()

    # ---------------------------------------------------------------- write helpers

    def edit_body(self, client, obj, user=None):
        """The edit POST body, built from the form `user` (by default a new allowed user) is shown.
        Leaves `client` logged in as that user."""
        client.force_login(user or self.allowed_user(obj))
        if not self.edit_form_page:
            return dict(self.edit_changes)
        response = client.get(self.url(self.edit_url, obj))
        assert response.status_code == 200, response.status_code
        return self.edit_data(obj, response.context["form"])

    def assert_unchanged(self, obj):
        stored = self.model.objects.get(pk=obj.pk)
        for name in self.edit_changes:
            assert getattr(stored, name) == getattr(obj, name), name
        assert not audit_rows(self.model, obj.pk).exists(), "a refused edit was audited"


def _errors(response):
    """What a failed form post says (its form errors), for assertion messages."""
    context = getattr(response, "context", None)
    form = context.get("form") if context else None
    return (response.status_code, form.errors if form is not None else None)
