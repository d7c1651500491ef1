"""The marketplace's e-mails: VO managers about lists needing attention (once a week at most), authors about
versions near expiry (once), and authors' messages to a VO's managers (through the outbox, one e-mail per
manager, a copy to the sender)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from appliances import notifications, publishing
from appliances.models import ApplianceVersion, VirtualAppliance, VOImageList
from appliances.tests.test_publishing import member, published_version
from egiportal.errors import Conflict, Invalid
from egiportal.models import OutboxMessage, VirtualOrganisation
from egiportal.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def author():
    return UserFactory(username="author", email="author@example.org")


@pytest.fixture
def vo():
    return VirtualOrganisation.objects.create(name="demo.egi.eu")


@pytest.fixture
def manager(vo):
    user = member(vo, "manager", manager=True)
    user.email = "manager@example.org"
    user.save()
    return user


def published_list_with(author, vo, manager, *names):
    for name in names:
        published_version(author, name)
        publishing.add_to_list(manager, vo, VirtualAppliance.objects.get(name=name))
    publishing.publish_list(manager, vo)


def test_managers_hear_of_outdated_entries_once_a_week(author, vo, manager):
    published_list_with(author, vo, manager, "ubuntu", "alma")
    assert notifications.notify_list_managers() == []  # all up to date
    published_version(author, "ubuntu", "2.0")
    assert notifications.notify_list_managers() == ["demo.egi.eu"]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["manager@example.org"]
    assert "Ubuntu 1.0: Outdated" in mail.outbox[0].body and "/vos/demo.egi.eu/image-list/" in mail.outbox[0].body
    assert notifications.notify_list_managers() == []  # not again the next day
    later = timezone.now() + notifications.REMIND_EVERY + timedelta(hours=1)
    assert notifications.notify_list_managers(now=later) == ["demo.egi.eu"]


def test_authors_hear_once_of_a_version_near_expiry(author, vo, manager):
    published_version(author, "soon", days=10)
    published_version(author, "later", days=200)
    assert notifications.notify_expiring_versions() == ["Soon 1.0"]
    assert mail.outbox[0].to == ["author@example.org"] and "cloud sites delete its images" in mail.outbox[0].body
    assert notifications.notify_expiring_versions() == []
    assert ApplianceVersion.objects.filter(expiry_notified__isnull=False).count() == 1


def test_an_author_writes_to_a_vos_managers_through_the_outbox(
    author, vo, manager, django_capture_on_commit_callbacks, eager_tasks
):
    second = member(vo, "deputy", manager=True)
    second.email = "deputy@example.org"
    second.save()
    published_version(author, "ubuntu")
    appliance = VirtualAppliance.objects.get(name="ubuntu")
    with django_capture_on_commit_callbacks(execute=True):
        notifications.message_vo_managers(author, appliance, vo, "endorse", "Please add Ubuntu.")
    assert OutboxMessage.objects.get().done_at is not None
    recipients = sorted(tuple(m.to) for m in mail.outbox)
    assert recipients == [("author@example.org",), ("deputy@example.org",), ("manager@example.org",)]
    assert all("Please add Ubuntu." in m.body for m in mail.outbox)


@pytest.mark.parametrize(
    ("kind", "body", "error"),
    [
        ("gossip", "hi", Invalid),
        ("endorse", "   ", Invalid),
        ("endorse", "x" * 5000, Invalid),
        ("endorse", "a\x00b", Invalid),
    ],
)
def test_bad_messages_are_refused_and_nothing_is_queued(author, vo, manager, kind, body, error):
    published_version(author, "ubuntu")
    with pytest.raises(error):
        notifications.message_vo_managers(author, VirtualAppliance.objects.get(name="ubuntu"), vo, kind, body)
    assert not OutboxMessage.objects.exists()


def test_only_authors_write_and_only_to_a_vo_with_managers(author, vo, manager):
    published_version(author, "ubuntu")
    appliance = VirtualAppliance.objects.get(name="ubuntu")
    with pytest.raises(Exception) as caught:
        notifications.message_vo_managers(UserFactory(username="stranger"), appliance, vo, "endorse", "hello")
    assert caught.value.error_code == "forbidden"
    lonely = VirtualOrganisation.objects.create(name="lonely.egi.eu")
    with pytest.raises(Conflict, match="no manager"):
        notifications.message_vo_managers(author, appliance, lonely, "endorse", "hello")
    assert not OutboxMessage.objects.exists() and not VOImageList.objects.filter(vo=lonely).exists()
