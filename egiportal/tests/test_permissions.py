"""egiportal.permissions: private by default, public models readable by all, grants from the listed
sources (what is one's own; VO membership and management), portal administrators everything."""

import pytest
from django.db import transaction

from egiportal import permissions
from egiportal.errors import Forbidden
from egiportal.models import APIToken, AuditLog, Identity, User, VirtualOrganisation
from egiportal.tests.factories import UserFactory, VOFactory, api_token, vo_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    vo, other_vo = VOFactory(name="vo.example.org"), VOFactory(name="other.example.org")
    member, manager, outsider = UserFactory(), UserFactory(), UserFactory()
    vo_member(member, vo)
    vo_member(manager, vo, manager=True)
    vo_member(outsider, other_vo, manager=True)
    admin = UserFactory(is_superuser=True)
    return {"vo": vo, "member": member, "manager": manager, "outsider": outsider, "admin": admin}


def test_models_are_private_unless_they_say_otherwise():
    assert not getattr(APIToken, "public", False) and not getattr(Identity, "public", False)
    assert VirtualOrganisation.public and AuditLog.public


def test_private_rows_are_hidden_from_anonymous_and_strangers_and_shown_to_their_owner(people):
    token, _ = api_token(people["member"])
    api_token(people["manager"])
    assert not permissions.visible_to(APIToken.objects.all(), None).exists()
    assert list(permissions.visible_to(APIToken.objects.all(), people["member"])) == [token]
    assert not permissions.authorise(people["outsider"], permissions.VIEW, token)
    assert permissions.authorise(people["member"], permissions.VIEW, token)
    # owning is a right to look, not to change
    assert not permissions.authorise(people["member"], permissions.EDIT, token)
    assert permissions.visible_to(APIToken.objects.all(), people["admin"]).count() == 2


def test_each_user_sees_only_their_own_account(people):
    assert list(permissions.visible_to(User.objects.all(), people["member"])) == [people["member"]]
    assert not permissions.visible_to(User.objects.all(), None).exists()


def test_public_models_are_read_by_anyone_and_changed_by_their_grant_holders(people):
    vo = people["vo"]
    assert VirtualOrganisation.objects.visible_to(None).count() == 2
    assert permissions.authorise(None, permissions.VIEW, vo)
    assert permissions.authorise(people["manager"], permissions.EDIT, vo)
    assert permissions.authorise(people["admin"], permissions.EDIT, vo)
    for refused in (None, people["member"], people["outsider"]):
        assert not permissions.authorise(refused, permissions.EDIT, vo)
    assert list(VirtualOrganisation.objects.visible_to(people["manager"], permissions.EDIT)) == [vo]


def test_inactive_users_hold_nothing(people):
    people["manager"].is_active = False
    assert not permissions.authorise(people["manager"], permissions.EDIT, people["vo"])
    people["admin"].is_active = False
    assert not permissions.holds(people["admin"], permissions.READ_PERSONAL_DATA)


def test_require_refuses_with_the_reason(people):
    with pytest.raises(Forbidden, match="not yours"):
        permissions.require(people["member"], permissions.EDIT, people["vo"], "not yours")
    permissions.require(people["manager"], permissions.EDIT, people["vo"], "not yours")


def test_a_refusal_after_a_write_rolls_it_back(people):
    vo = people["vo"]
    with pytest.raises(Forbidden):
        with transaction.atomic():
            vo.description = "changed by an outsider"
            vo.save()
            permissions.require(people["outsider"], permissions.EDIT, vo, "You may not change this VO.")
    vo.refresh_from_db()
    assert vo.description == "A test VO"


def test_grant_sources_come_from_the_setting(settings):
    names = [type(source).__name__ for source in permissions.grant_sources()]
    assert names == [path.rsplit(".", 1)[1] for path in settings.PORTAL_GRANT_SOURCES]
    settings.PORTAL_GRANT_SOURCES = ("egiportal.permissions.OwnerGrants",)
    assert [type(source).__name__ for source in permissions.grant_sources()] == ["OwnerGrants"]
