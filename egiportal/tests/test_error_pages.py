"""The 403, 404 and 500 pages: styled in the browser, JSON under /api/; ids no object can have are 404s."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse

from egiportal import views
from egiportal.converters import ID_MAX, IdConverter

pytestmark = pytest.mark.django_db


def test_id_converter_takes_64_bit_ids_only():
    converter = IdConverter()
    assert converter.to_python(str(ID_MAX)) == ID_MAX
    with pytest.raises(ValueError):
        converter.to_python(str(ID_MAX + 1))
    assert reverse("sites:site", args=[ID_MAX]) == f"/sites/{ID_MAX}/"


@pytest.mark.parametrize(
    "path", ["/sites/99999999999999999999/", "/ngis/9223372036854775808/history/", "/projects/1e3/", "/no/such/page/"]
)
def test_404_page_is_in_the_layout(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert [t.name for t in response.templates][:2] == ["404.html", "base.html"]
    assert b"Not found" in response.content and b'class="navbar' in response.content


@pytest.mark.parametrize("path", ["/api/v1/sites/99999999999999999999/", "/api/v1/no-such-thing/"])
def test_api_404_is_json(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json" and response.json() == {"detail": "Not found."}


def test_500_page_needs_no_database(django_assert_num_queries):
    request = RequestFactory().get("/sites/")
    with django_assert_num_queries(0):
        response = views.server_error(request)
    assert response.status_code == 500
    assert b"Server error" in response.content and b"bootstrap" in response.content


def test_api_500_is_json():
    response = views.server_error(RequestFactory().get("/api/v1/sites/"))
    assert response.status_code == 500 and response["Content-Type"] == "application/json"


def test_403_is_json_under_api_and_a_page_elsewhere(rf):
    page = views.forbidden(rf.get("/sites/1/edit/"), PermissionDenied("Only site admins may edit."))
    assert page.status_code == 403 and b"Only site admins may edit." in page.content
    api = views.forbidden(rf.get("/api/v1/sites/1/"), PermissionDenied("Only site admins may edit."))
    assert api.status_code == 403 and b'"detail": "Only site admins may edit."' in api.content
