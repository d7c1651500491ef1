"""Generic REST API tests: a model's test class sets a few attributes and inherits list, detail, brief,
filter, create, update, delete, bulk, ETag, permission (both sides), audit and query-count tests.

    class TestSiteAPI(APIModelTests):
        path = "/api/v1/sites/"
        brief_fields = ["display", "id", "name", "url"]
        update_data = {"description": "Changed"}

        def make(self): ...                 # a new object
        def create_data(self): ...          # a valid POST body (None: the model cannot be created here)
        def allowed_user(self, obj): ...    # a user the services let write `obj`
        def other_user(self, obj): ...      # an authenticated user they refuse (another site's admin)
"""

import json

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from egiportal.models import APIToken, AuditLog

MAX_LIST_QUERIES = 10
# Ids no object can have: past 64 bits, one past the largest bigint, signed, not decimal, non-ASCII digits.
IDS_THAT_CANNOT_EXIST = ["99999999999999999999", "9223372036854775808", "-1", "1e3", "0x1", "%D9%A1%D9%A2"]


def api(client, method, path, data=None, user=None, token=None, headers=None):
    """A JSON request; `user` logs in with a session, `token` sends `Authorization: Token`."""
    headers = dict(headers or {})
    if user is not None:
        client.force_login(user)
    if token is not None:
        headers["Authorization"] = f"Token {token}"
    body = json.dumps(data) if data is not None else None
    return getattr(client, method.lower())(path, body, content_type="application/json", headers=headers)


def token_for(user, write_enabled=True):
    token = APIToken(user=user, description="tests", write_enabled=write_enabled)
    secret = token.issue()
    token.save()
    return secret


def audit_rows(obj):
    return AuditLog.objects.filter(content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk)


@pytest.mark.django_db
class APIModelTests:
    model = None
    path = None
    brief_fields = []
    update_data = {}

    def make(self):
        raise NotImplementedError

    def create_data(self):
        return None

    def allowed_user(self, obj):
        raise NotImplementedError

    def other_user(self, obj):
        raise NotImplementedError

    def detail(self, obj):
        return f"{self.path}{obj.pk}/"

    # ---------------------------------------------------------------- reads

    def test_list_and_detail(self, client):
        obj = self.make()
        listed = api(client, "GET", self.path)
        assert listed.status_code == 200, listed.content
        assert obj.pk in [row["id"] for row in listed.json()["results"]]
        shown = api(client, "GET", self.detail(obj))
        assert shown.status_code == 200 and shown.json()["id"] == obj.pk
        assert shown["ETag"].startswith("W/")
        assert api(client, "GET", f"{self.path}999999999/").status_code == 404

    def test_brief_fields_and_omit(self, client):
        obj = self.make()
        brief = api(client, "GET", f"{self.detail(obj)}?brief=1").json()
        assert sorted(brief) == sorted(self.brief_fields)
        some = api(client, "GET", f"{self.detail(obj)}?fields=id,display").json()
        assert sorted(some) == ["display", "id"]
        omitted = api(client, "GET", f"{self.detail(obj)}?omit=display").json()
        assert "display" not in omitted and "id" in omitted

    def test_unknown_and_invalid_filters_are_400(self, client):
        self.make()
        unknown = api(client, "GET", f"{self.path}?no_such_filter=1")
        assert unknown.status_code == 400 and "no_such_filter" in unknown.json()
        assert api(client, "GET", f"{self.path}?id__in=1,x").status_code == 400
        assert api(client, "GET", f"{self.path}?limit=-1").status_code == 400

    def test_id_filter_and_paging(self, client):
        objs = [self.make() for _ in range(3)]
        ids = ",".join(str(o.pk) for o in objs[:2])
        found = api(client, "GET", f"{self.path}?id__in={ids}").json()
        assert sorted(r["id"] for r in found["results"]) == sorted(o.pk for o in objs[:2])
        first = api(client, "GET", f"{self.path}?limit=1").json()
        assert len(first["results"]) == 1 and first["next"]
        walked, url = [], f"{self.path}?cursor=0&limit=2"
        while url:
            page = api(client, "GET", url).json()
            walked += [r["id"] for r in page["results"]]
            url = page["next"]
        assert walked == sorted(walked) and {o.pk for o in objs} <= set(walked)

    def test_list_query_count_is_fixed(self, client):
        self.make()
        with CaptureQueriesContext(connection) as few:
            assert api(client, "GET", self.path).status_code == 200
        for _ in range(6):
            self.make()
        with CaptureQueriesContext(connection) as many:
            assert api(client, "GET", self.path).status_code == 200
        assert len(few) == len(many) <= MAX_LIST_QUERIES, [q["sql"][:120] for q in many.captured_queries]

    def test_ids_that_cannot_exist_are_json_404(self, client):
        self.make()
        user = self.superuser()
        for bad in IDS_THAT_CANNOT_EXIST:
            for method in ("GET", "PATCH", "DELETE"):
                body = None if method == "GET" else self.update_data
                response = api(client, method, f"{self.path}{bad}/", body, user=user)
                assert response.status_code == 404, (method, bad, response.status_code)
                assert response.json() == {"detail": "Not found."}, (method, bad)

    def test_options_for_every_caller(self, client):
        """OPTIONS on the list URL (where PUT is a bulk update) and on an object, for each kind of caller."""
        obj = self.make()
        callers = {
            "anonymous": {},
            "other user": {"user": self.other_user(obj)},
            "allowed user": {"user": self.allowed_user(obj)},
            "token": {"token": token_for(self.allowed_user(obj))},
            "superuser": {"user": self.superuser()},
        }
        for who, caller in callers.items():
            client.logout()
            for path in (self.path, self.detail(obj)):
                response = api(client, "OPTIONS", path, **caller)
                assert response.status_code == 200, (who, path, response.status_code)
                assert response.json()["name"], (who, path)
        admin = api(client, "OPTIONS", self.path, user=self.superuser()).json()
        if "PUT" in admin.get("actions", {}):  # the bulk update names the fields of one object
            assert "id" in admin["actions"]["PUT"]

    # ---------------------------------------------------------------- writes

    def test_anonymous_cannot_write(self, client):
        obj = self.make()
        assert api(client, "PATCH", self.detail(obj), self.update_data).status_code in (401, 403)
        assert api(client, "DELETE", self.detail(obj)).status_code in (401, 403)
        assert not self.audited(obj).exists()

    def test_update_by_allowed_user_is_audited_and_refused_to_others(self, client):
        obj = self.make()
        refused = api(client, "PATCH", self.detail(obj), self.update_data, user=self.other_user(obj))
        assert refused.status_code in (403, 404), refused.content
        assert not self.audited(obj).exists()
        allowed = api(client, "PATCH", self.detail(obj), self.update_data, user=self.allowed_user(obj))
        assert allowed.status_code == 200, allowed.content
        for key, value in self.update_data.items():
            assert allowed.json()[key] == value
        assert self.audited(obj).exists()

    def test_if_match_guards_against_lost_updates(self, client):
        obj = self.make()
        user = self.allowed_user(obj)
        etag = api(client, "GET", self.detail(obj), user=user)["ETag"]
        stale = api(client, "PATCH", self.detail(obj), self.update_data, headers={"If-Match": 'W/"0-0"'})
        assert stale.status_code == 412
        fresh = api(client, "PATCH", self.detail(obj), self.update_data, headers={"If-Match": etag})
        assert fresh.status_code == 200, fresh.content

    def test_read_only_token_cannot_write(self, client):
        obj = self.make()
        secret = token_for(self.allowed_user(obj), write_enabled=False)
        assert api(client, "GET", self.detail(obj), token=secret).status_code == 200
        assert api(client, "PATCH", self.detail(obj), self.update_data, token=secret).status_code == 403

    def test_write_token_can_write(self, client):
        obj = self.make()
        secret = token_for(self.allowed_user(obj))
        assert api(client, "PATCH", self.detail(obj), self.update_data, token=secret).status_code == 200

    def test_create(self, client):
        data = self.create_data()
        if data is None:
            pytest.skip("not created through this endpoint")
        payload, user = data
        assert api(client, "POST", self.path, payload).status_code in (401, 403)
        created = api(client, "POST", self.path, payload, user=user)
        assert created.status_code == 201, created.content
        obj = self.model.objects.get(pk=created.json()["id"])
        assert self.audited(obj).exists()

    def test_bulk_update_is_all_or_nothing(self, client):
        objs = [self.make(), self.make()]
        user = self.allowed_user(objs[0])
        body = [{"id": objs[0].pk, **self.update_data}, {"id": 999999999, **self.update_data}]
        assert api(client, "PATCH", self.path, body, user=user).status_code == 404
        assert not self.audited(objs[0]).exists()
        body = [{"id": o.pk, **self.update_data} for o in objs]
        users_ok = api(client, "PATCH", self.path, body, user=self.superuser())
        assert users_ok.status_code == 200, users_ok.content
        assert all(self.audited(o).exists() for o in objs)

    def test_delete(self, client):
        obj = self.make()
        assert api(client, "DELETE", self.detail(obj), user=self.other_user(obj)).status_code in (403, 404)
        deleted = api(client, "DELETE", self.detail(obj), user=self.superuser())
        assert deleted.status_code in (204, 409), deleted.content
        if deleted.status_code == 204:
            assert not self.model.objects.filter(pk=obj.pk).exists()
        else:
            assert deleted.json()["dependents"]

    # ---------------------------------------------------------------- helpers

    def audited(self, obj):
        """The audit rows a write of `obj` leaves (properties override: their parent is audited)."""
        return audit_rows(obj)

    def superuser(self):
        from egiportal.tests.factories import UserFactory

        return UserFactory(is_superuser=True)
