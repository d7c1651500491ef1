"""Template tags of the role pages: the navigation's pending count and the contacts' revoke buttons."""

from django import template

from egiportal import permissions
from sites import services
from sites.choices import Action

register = template.Library()


@register.simple_tag(takes_context=True)
def pending_role_count(context):
    """How many role requests the logged-in user may decide (one COUNT query)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return services.pending_roles_for(user).count()


@register.simple_tag(takes_context=True)
def can_revoke_roles(context, entity):
    """True if the logged-in user may revoke roles over `entity` (one query, once per page)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return entity is not None and permissions.authorise(user, Action.REVOKE_ROLE, entity)


@register.filter
def entity_url(entity):
    """The page of an entity, or "" where its app has no page for it yet."""
    from sites.role_views import entity_url as url_of

    return url_of(entity)
