"""The signed lists that cloud sites download (appdb-hepix.md §1.6, DESIGN.md contracts):
/store/vo/<vo>/image.list, /store/vappliance/<name>/image.list and /store/signer-chain.pem.

A VO's private list is served to its members' sessions, and to subscribers by HTTP Basic with their
token as the user name and `x-oauth-basic` as the password, as atrope and cloudkeeper send it. Replies
carry the artefact's digest as ETag; `?version=<hv:version>` gives an earlier artefact.
"""

import base64
import binascii

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.utils.http import http_date
from django.views.decorators.http import require_safe

from egiportal import permissions
from egiportal.models import VirtualOrganisation, vo_name

from . import publishing
from .models import ListSubscriber, PublishedArtefact, VirtualAppliance, appliance_name

REALM = 'Basic realm="EGI Portal image lists", charset="UTF-8"'


def _valid(validator, value):
    """Names outside their syntax (a NUL, which PostgreSQL refuses, or 10,000 characters) cannot exist."""
    try:
        validator(value)
    except ValidationError:
        return False
    return True


def _subscriber(request, vo):
    """The VO's unrevoked subscriber whose token the request carries, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded or len(encoded) > 1000:
        return None
    try:
        user, _, _password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    found = ListSubscriber.find_secret(user)
    if found is None or found.vo_id != vo.pk or found.revoked is not None:
        return None
    found.touch()
    return found


def _artefact(request, **owner):
    rows = PublishedArtefact.objects.filter(**owner)
    version = request.GET.get("version")
    if version is not None:
        if not version.isascii() or not version.isdigit() or len(version) > 14:
            return None
        rows = rows.filter(version=version)
    return rows.order_by("-created", "-id").first()


def _serve(request, artefact, name):
    etag = f'"{artefact.sha256}"'
    if request.headers.get("If-None-Match") == etag:
        return HttpResponseNotModified(headers={"ETag": etag})
    response = HttpResponse(bytes(artefact.signed), content_type="text/plain; charset=utf-8")
    response["ETag"] = etag
    response["Last-Modified"] = http_date(artefact.created.timestamp())
    response["Cache-Control"] = "no-cache"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    response["X-Image-List-Version"] = artefact.version
    return response


@require_safe
def vo_list(request, vo):
    found = VirtualOrganisation.objects.filter(name=vo).first() if _valid(vo_name, vo) else None
    if found is None:
        raise Http404("No such VO.")
    artefact = _artefact(request, vo=found)
    if artefact is None:
        raise Http404("This VO has published no image list yet.")
    if artefact.private:
        if not _member(request.user, found) and _subscriber(request, found) is None:
            response = HttpResponse("This image list is private: send a subscriber token.\n", status=401)
            response["WWW-Authenticate"] = REALM
            return response
    return _serve(request, artefact, "image.list")


def _member(user, vo):
    """VO members (and portal administrators) may fetch their VO's private list in their session."""
    if not permissions.is_active_user(user):
        return False
    return user.is_superuser or user.vo_memberships.filter(vo=vo).exists()


@require_safe
def appliance_list(request, name):
    valid = _valid(appliance_name, name)
    appliance = VirtualAppliance.objects.filter(name=name, deleted__isnull=True).first() if valid else None
    artefact = _artefact(request, appliance=appliance) if appliance is not None else None
    if artefact is None:
        raise Http404("This appliance has no published image list.")
    return _serve(request, artefact, "image.list")


@require_safe
def signer_chain(request):
    """The signer's certificate and the intermediates that sites need beside their trusted roots."""
    pem = publishing.signer().chain_pem()
    response = HttpResponse(pem, content_type="application/x-pem-file")
    response["Content-Disposition"] = 'inline; filename="signer-chain.pem"'
    return response
