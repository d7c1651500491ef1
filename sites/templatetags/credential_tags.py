"""Template tag of the site page's API credentials card."""

from django import template
from django.conf import settings

from sites import services

register = template.Library()


@register.simple_tag
def api_credentials(site):
    """The credentials of `site` (owners and expiry flags, one query) and how long one lasts unrenewed.

    The card is shown only to users who may manage the credentials; the site page checks that first.
    """
    return {"rows": list(services.api_credentials_of(site)), "max_age_days": settings.API_CREDENTIAL_MAX_AGE_DAYS}
