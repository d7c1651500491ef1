"""The generic browser-view tests (egiportal.testcases.ViewModelTests) for the core's routed pages: the
virtual organisations (list, page, description edited on the page by its managers) and the change list."""

from egiportal import audit
from egiportal.models import AuditLog, VirtualOrganisation
from egiportal.testcases import ViewModelTests
from egiportal.tests.factories import UserFactory, VOFactory, vo_member


def vo_manager(vo):
    user = UserFactory()
    vo_member(user, vo, manager=True)
    return user


class TestVOViews(ViewModelTests):
    model = VirtualOrganisation
    factory = VOFactory
    list_url, detail_url = "vo_list", "vo"
    edit_url = "vo"  # managers POST the new description to the VO's page
    edit_form_page = False
    lookup = "name"
    edit_changes = {"description": "Changed description"}

    def allowed_user(self, obj):
        return vo_manager(obj)

    def other_owner(self, obj):
        return vo_manager(VOFactory())

    def grow(self, obj):
        for _ in range(5):
            vo_member(UserFactory(), obj)
            vo_manager(VOFactory())


class TestChangeListViews(ViewModelTests):
    model = AuditLog
    list_url = "changes"

    def make(self):
        vo = VOFactory()
        return audit.record(UserFactory(), "update", vo, {"description": "a"}, {"description": "b"})
