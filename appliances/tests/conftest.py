import pytest
from django.contrib.contenttypes.models import ContentType


@pytest.fixture(autouse=True)
def fresh_content_types():
    """A transactional test (live server, worker) flushes the tables and migrations' data comes back with
    new ids: the audit log must not reuse content type ids cached before."""
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()
