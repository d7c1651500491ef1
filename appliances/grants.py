"""The marketplace's grant source (egiportal.permissions): an appliance's owner and contacts may do
everything with it and what it holds (versions, images, integrity checks). A model reaches its appliance
through `appliance_path` ("" for the appliance itself)."""

from django.db.models import Q


class AuthorGrants:
    def condition(self, user, model, action):
        path = getattr(model, "appliance_path", None)
        if path is None:
            return None
        prefix = f"{path}__" if path else ""
        return Q(**{f"{prefix}owner": user.pk}) | Q(**{f"{prefix}contacts": user.pk})

    def holds(self, user, action):
        return False  # authorship is never a grant on the whole federation
