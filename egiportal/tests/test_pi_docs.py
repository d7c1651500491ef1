"""The API documentation page lists every PI method with its parameters and access level."""

import pytest

from egiportal.urls import PI_METHODS

pytestmark = pytest.mark.django_db


def test_docs_page_lists_every_method_with_its_parameters(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        page = client.get("/gocdbpi/").content.decode()
    for name, method in PI_METHODS.items():
        assert f"?method={name}" in page
        for param in method.params - {"next_cursor", "prev_cursor"}:
            assert f"<code>{param}</code>" in page
    assert "registered credential or role" in page and "/gocdbpi/v5/" in page
