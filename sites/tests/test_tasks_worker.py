"""The role-request notification through a real Celery worker on Redis (no eager mode, no mocks)."""

import pytest

from egiportal.tests.factories import UserFactory
from sites import services
from sites.models import Role
from sites.tests.factories import SiteFactory, grant


@pytest.mark.worker
def test_role_request_mail_is_sent_by_a_real_worker(worker):
    site = SiteFactory(short_name="WORKER-SITE")
    manager = UserFactory(username="ngi-manager", email="ngi.manager@example.org")
    grant(manager, "NGI_OPS_MAN", site.ngi)
    requester = UserFactory(username="requester", first_name="Rita", last_name="Quest")

    role = services.request_role(requester, site, "SITE_ADMIN")

    messages = worker.wait_for_messages(count=1, timeout=60)
    assert Role.objects.get(pk=role.pk).status == Role.Status.PENDING
    assert len(messages) == 1, worker.log()
    message = messages[0]
    assert message["To"] == "ngi.manager@example.org"
    assert message["Subject"] == "Role request: Site Administrator over WORKER-SITE"
    body = message.get_payload(decode=True).decode()
    assert f"{worker.portal_url}/roles/requests/" in body
    assert "Rita Quest (requester" in body
    assert "sites.tasks.notify_role_request" in worker.log()
