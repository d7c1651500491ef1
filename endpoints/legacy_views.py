"""Old GOCDB portal links (`/portal/index.php?Page_Type=Site&id=7`), which wikis, tickets and monitoring
still carry: a permanent redirect to the matching page. GOCDB's ids are this portal's primary keys (the
PI's GOCDB_PORTAL_URL and the golden files rely on the same), so `id` is looked up as the pk.

It lives in `endpoints`, the app that may name both its own models and those of `sites`.
"""

import re

from django.http import Http404, HttpResponsePermanentRedirect, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_safe

from sites.models import NGI, Site

from .models import Downtime, Service, ServiceGroup

# GOCDB's Page_Type -> the model and detail page URL name.
PAGES = {
    "site": (Site, "sites:site"),
    "ngi": (NGI, "sites:ngi"),
    "service": (Service, "endpoints:service"),
    "downtime": (Downtime, "endpoints:downtime"),
    "service_group": (ServiceGroup, "endpoints:servicegroup"),
}
MAX_ID = 2**63 - 1


@require_safe
def gocdb_portal_link(request):
    """Redirect `?Page_Type=<type>&id=<id>` to the page of that object; 404 for an unknown type or id.

    `Page_Type=User` goes to the caller's own profile when the id is theirs (the portal has no public
    user pages; a temporary redirect, as the answer depends on who asks)."""
    page_type = request.GET.get("Page_Type", "").lower()
    raw_id = request.GET.get("id", "")
    if not re.fullmatch(r"[0-9]{1,19}", raw_id) or int(raw_id) > MAX_ID:
        raise Http404("No such GOCDB page.")
    pk = int(raw_id)
    if page_type == "user":
        if request.user.is_authenticated and request.user.pk == pk:
            return HttpResponseRedirect(reverse("profile"))
        raise Http404("No such GOCDB page.")
    if page_type not in PAGES:
        raise Http404("No such GOCDB page.")
    model, url_name = PAGES[page_type]
    if not model.objects.filter(pk=pk).exists():
        raise Http404("No such GOCDB page.")
    return HttpResponsePermanentRedirect(reverse(url_name, args=[pk]))
