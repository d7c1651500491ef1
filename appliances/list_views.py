"""A VO's image list page: the published list with each entry's state, the subscribe panel and the diff of
the last publication, and for the VO's managers the draft and the actions that curate and publish it.
Each action parses the POST and calls one service of appliances.publishing (or services, for tokens)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from egiportal import permissions
from egiportal.models import VirtualOrganisation, vo_name

from . import publishing, services
from .choices import EntryState, ListState, VersionState
from .models import VirtualAppliance, VOImageList, appliance_name
from .views import well_formed

# ---------------------------------------------------------------------------------------------
# A VO's image list
# ---------------------------------------------------------------------------------------------


def _vo(name):
    if not well_formed(vo_name, name):
        raise Http404("No such VO.")
    return get_object_or_404(VirtualOrganisation, name=name)


def _appliance_named(request, value):
    if not value or not well_formed(appliance_name, value):
        raise ValidationError("Choose an appliance.")
    found = VirtualAppliance.objects.visible_to(request.user).filter(name=value).first()
    if found is None:
        raise ValidationError(f"No appliance is called {value}.")
    return found


def _add(request, vo):
    count = publishing.add_to_list(request.user, vo, _appliance_named(request, request.POST.get("appliance")))
    return f"The draft holds {count} image{'s' if count != 1 else ''} of {request.POST.get('appliance')}."


def _remove(request, vo):
    publishing.remove_from_list(request.user, vo, _appliance_named(request, request.POST.get("appliance")))
    return f"{request.POST.get('appliance')} was removed from the draft."


def _update_all(request, vo):
    updated, skipped = publishing.update_outdated(request.user, vo)
    for name, why in skipped.items():
        messages.warning(request, f"{name}: {why}")
    return f"Updated {len(updated)} appliance{'s' if len(updated) != 1 else ''}: {', '.join(updated) or 'none'}."


def _revert(request, vo):
    publishing.revert_draft(request.user, vo)
    return "The draft is the published list again."


def _publish(request, vo):
    artefact = publishing.publish_list(request.user, vo)
    return f"Published version {artefact.version} of the image list ({artefact.image_count} images)."


def _private(request, vo):
    private = request.POST.get("private") == "on"
    publishing.set_private(request.user, vo, private)
    return "The draft is private: sites will need a subscriber token." if private else "The draft is public."


def _subscriber_add(request, vo):
    _subscriber, secret = services.add_subscriber(request.user, vo, request.POST.get("name", "")[:1000])
    # Shown once: only its digest is kept.
    return f"Subscriber token (copy it now, it is not shown again): {secret}"


def _subscriber_revoke(request, vo):
    value = request.POST.get("subscriber", "")
    is_id = value.isascii() and value.isdigit() and len(value) <= 18  # past 18 digits: beyond bigint
    found = vo.list_subscribers.filter(pk=int(value), revoked=None).first() if is_id else None
    if found is None:
        raise ValidationError("No such subscriber.")
    services.revoke_subscriber(request.user, found)
    return f"The token of {found.name} is revoked."


LIST_ACTIONS = {
    "add": _add,
    "update": _add,  # updating an entry takes the appliance's current published version, as adding does
    "remove": _remove,
    "update_all": _update_all,
    "revert": _revert,
    "publish": _publish,
    "private": _private,
    "subscriber_add": _subscriber_add,
    "subscriber_revoke": _subscriber_revoke,
}


class VOImageListView(View):
    """A VO's published image list with each entry's state, the subscribe panel and the diff of the last
    publication; for the VO's managers, its draft and the actions that curate and publish it (POST).
    Not a generic page (one per VO, keyed by the VO's name): tested in appliances/tests/test_views_lists.py."""

    def get(self, request, name):
        vo = _vo(name)
        lists = VOImageList.objects.visible_to(request.user).filter(vo=vo)
        published = lists.filter(state=ListState.PUBLISHED).first()
        may_manage = permissions.authorise(request.user, permissions.EDIT, vo)
        draft = lists.filter(state=ListState.DRAFT).first() if may_manage else None
        context = {"vo": vo, "may_manage": may_manage, "published": published, "draft": draft}
        if published is not None:
            rows = publishing.entry_rows(published)
            counts = publishing.summary(rows)
            context.update(rows=rows, counts=counts, outdated=counts[EntryState.OUTDATED] + counts[EntryState.EXPIRED])
            context.update(_subscribe_context(request, vo, published))
        if may_manage:
            # Until a manager changes something there is no draft: it is the published list (the first
            # change copies it, publishing._draft), so a GET writes nothing.
            source = draft or published
            context["draft_rows"] = publishing.entry_rows(source) if source else []
            context["draft_private"] = source.private if source else False
            context["subscribers"] = list(vo.list_subscribers.filter(revoked=None).order_by("name"))
            held = {e.image.version.appliance_id for e, _s in context["draft_rows"]}
            context["candidates"] = list(
                VirtualAppliance.objects.listed()
                .filter(versions__state=VersionState.PUBLISHED)
                .exclude(pk__in=held)
                .order_by("name")
                .values_list("name", "title")[:1000]
            )
        return render(request, "appliances/vo_image_list.html", context)

    def post(self, request, name):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        vo = _vo(name)
        if not permissions.authorise(request.user, permissions.EDIT, vo):
            raise PermissionDenied(f"Only the managers of {vo} may change its image list.")
        action = LIST_ACTIONS.get(request.POST.get("action", ""))
        if action is None:
            return HttpResponseBadRequest("Unknown action.")
        try:
            done = action(request, vo)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, done)
        return redirect(reverse("vo_image_list", args=[vo.name]))


def _subscribe_context(request, vo, published):
    """URL, signer, snippets for atrope and cloudkeeper, and what the last publication changed."""
    artefacts = list(vo.image_list_artefacts.visible_to(request.user).order_by("-created", "-id")[:2])
    url = settings.PORTAL_URL + reverse("store_vo_list", args=[vo.name])
    try:
        signer_ = publishing.signer()
        dn, ca_dn = signer_.dn, signer_.ca_dn
    except ValidationError:
        dn, ca_dn = (artefacts[0].signer_dn, artefacts[0].signer_ca) if artefacts else ("", "")
    latest = artefacts[0] if artefacts else None
    previous = artefacts[1] if len(artefacts) > 1 else None
    source = vo.name.replace(".", "_")
    return {
        "subscribe": {
            "url": url,
            "dn": dn,
            "ca_dn": ca_dn,
            "chain_url": settings.PORTAL_URL + reverse("store_signer_chain"),
            "private": published.private,
            "atrope": atrope_snippet(source, url, dn, ca_dn, published.private),
            "cloudkeeper": cloudkeeper_snippet(url, published.private),
        },
        "latest": latest,
        "previous": previous,
        "diff": publishing.artefact_diff(previous.document if previous else None, latest.document) if latest else None,
    }


def _yaml_string(value):
    """A YAML single-quoted scalar: DNs hold '/', '=' and ',' and may hold a quote."""
    return "'" + str(value).replace("'", "''") + "'"


def atrope_snippet(source, url, dn, ca_dn, private):
    """The `hepix.yaml` source a site's atrope needs for this list (appdb-hepix.md §1.8a)."""
    lines = [
        f"{source}:",
        f"    url: {_yaml_string(url)}",
        "    enabled: true",
        "    endorser:",
        f"        dn: {_yaml_string(dn)}",
        f"        ca: {_yaml_string(ca_dn)}",
    ]
    if private:
        lines.append("    token: '<your subscriber token>'")
    lines += [
        "    # Optional: only these image identifiers (dc:identifier); empty means all.",
        "    images: []",
        "    # Optional: put in front of every image name in Glance, and the OpenStack project that owns them.",
        "    prefix: 'EGI '",
        "    project: '<the VO project of your cloud>'",
    ]
    return "\n".join(lines) + "\n"


def cloudkeeper_snippet(url, private):
    """cloudkeeper's `cloudkeeper.yml` entries: the list URL (the token in it for a private list, the only
    way cloudkeeper sends one) and the CA directory that holds the IGTF roots and the signer's chain."""
    if private:
        scheme, _, rest = url.partition("://")
        url = f"{scheme}://<your subscriber token>:x-oauth-basic@{rest}"
    return (
        "cloudkeeper:\n"
        "  image-lists:\n"
        f"    - {url}\n"
        "  # The trusted CAs: the IGTF bundle plus the certificates of signer-chain.pem (hashed, c_rehash).\n"
        "  ca-dir: /etc/grid-security/certificates/\n"
    )
