"""VO-wide image lists and their publication as signed HEPiX lists (appdb-hepix.md §1, §2.4, §5).

A VO's managers curate its one draft (made on demand as a copy of the published list) and publish it:
the list is rendered with every key all three consumers need (appliances.hepix), checked with their
rules (appliances.consumers), signed as detached S/MIME (appliances.signing), and kept as an immutable
artefact that /store/vo/<vo>/image.list serves. Publishing an appliance version re-signs the
appliance's own list the same way (/store/vappliance/<name>/image.list).
"""

import hashlib
import json
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from egiportal import audit, permissions
from egiportal.choices import AuditAction as CoreAction
from egiportal.errors import Conflict, Invalid, NotFound
from egiportal.models import VirtualOrganisation

from . import consumers, hepix, signing
from .choices import AuditAction, EntryState, ListState, VersionState
from .models import (
    ApplianceVersion,
    PublishedArtefact,
    VirtualAppliance,
    VOImageList,
    VOImageListEntry,
    list_identifier,
    list_image_identifier,
)

# What AppDB gave VO lists (§1.9): they never expire; each image carries its version's expiry.
LIST_EXPIRES = datetime(2499, 12, 31, 22, 0, 0, tzinfo=UTC)
CREATOR = "EGI Portal"


# ---------------------------------------------------------------------------------------------
# The signer
# ---------------------------------------------------------------------------------------------


def signer():
    """The configured signer (IMAGE_LIST_SIGNER_CERT/_KEY/_CHAIN), or in demo mode the demo PKI's, made
    on first use. A portal with neither refuses to publish, saying what to set."""
    if settings.IMAGE_LIST_SIGNER_CERT:
        paths = (settings.IMAGE_LIST_SIGNER_CERT, settings.IMAGE_LIST_SIGNER_KEY, settings.IMAGE_LIST_SIGNER_CHAIN)
    elif settings.IMAGE_LIST_DEMO_PKI_DIR:
        pki = signing.ensure_demo_pki(Path(settings.IMAGE_LIST_DEMO_PKI_DIR))
        paths = (str(pki.signer_cert), str(pki.signer_key), str(pki.chain))
    else:
        raise Conflict(
            "Image lists cannot be signed: set IMAGE_LIST_SIGNER_CERT, IMAGE_LIST_SIGNER_KEY and "
            "IMAGE_LIST_SIGNER_CHAIN (see the README)."
        )
    return _load(*paths, *(_mtime(p) for p in paths))


def _mtime(path):
    try:
        return Path(path).stat().st_mtime_ns if path else 0
    except OSError:
        return 0


@lru_cache(maxsize=4)
def _load(cert, key, chain, *_mtimes):
    try:
        return signing.load_signer(cert, key, chain or None)
    except signing.SigningSetupError as exc:
        raise Conflict(f"Image lists cannot be signed: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def next_version(previous, now=None):
    """hv:version for a new publication: the time as YYYYMMDDhhmmss (AppDB's), and always above
    `previous`, so it strictly increases even for two publications within a second (vmcatcher, §1.3)."""
    stamp = int((now or timezone.now()).astimezone(UTC).strftime("%Y%m%d%H%M%S"))
    return str(max(stamp, int(previous) + 1 if previous else 0))


def _number(value):
    return "" if value is None else str(value)


def image_fields(image, identifier):
    """The hv:image keys of one image (§1.4), under the list's `identifier` for it."""
    version, appliance = image.version, image.version.appliance
    portal = settings.PORTAL_URL
    return {
        "dc:identifier": str(identifier),
        "dc:title": image.title or image.default_title(),
        "dc:description": image.description,
        "dc:date:expires": version.expires,
        "hv:uri": image.url,
        "hv:size": _number(image.size),
        "hv:version": version.version,
        "hv:format": image.format,
        "hv:hypervisor": image.hypervisors,
        "sl:arch": image.arch,
        "sl:os": image.os_family,
        "sl:osname": image.os_name,
        "sl:osversion": image.os_version,
        "sl:comments": image.notes,
        "sl:checksum:sha512": image.sha512,
        # Stable per image row: no per-publication suffix, so lists do not churn (§4.6).
        "ad:mpuri": f"{portal}/store/vo/image/{identifier}:{image.pk}/",
        "ad:base_mpuri": f"{portal}/store/vm/image/{image.guid}:{image.pk}/",
        "ad:appid": str(appliance.pk),
        "ad:group": "General group",
        # Authors' names and identifiers are personal data; lists are public, so they stay empty.
        "ad:user:fullname": "",
        "ad:user:guid": "",
        "ad:user:uri": portal + appliance.get_absolute_url(),
        "hv:ram_minimum": _number(image.ram_minimum),
        "ad:ram_recommended": _number(image.ram_recommended),
        "hv:core_minimum": _number(image.cores_minimum),
        "ad:core_recommended": _number(image.cores_recommended),
        **_extras(image),
    }


def _extras(image):
    """The optional ad: keys of what AppDB stored beyond HEPiX (§2.3), when the image says anything."""
    extras = {}
    if image.accelerator_type:
        extras["ad:accelerator:type"] = image.accelerator_type
        extras["ad:accelerator:minimum"] = _number(image.accelerators_minimum)
        extras["ad:accelerator:recommended"] = _number(image.accelerators_recommended)
    if image.network_rules:
        extras["ad:network_traffic"] = image.network_rules
    if image.context_formats:
        extras["ad:context_formats"] = image.context_formats
    return extras


def render(*, identifier, title, description, uri, vo_name, version, images, now, signer_):
    """The list document's bytes."""
    fields = {
        "dc:identifier": str(identifier),
        "dc:title": title,
        "dc:description": description,
        "dc:date:created": now,
        "dc:date:expires": LIST_EXPIRES,
        "dc:source": settings.PORTAL_URL + "/",
        "hv:uri": uri,
        "hv:version": version,
        "ad:vo": vo_name,
    }
    endorser = {
        "dc:creator": CREATOR,
        "hv:ca": signer_.ca_dn,
        "hv:dn": signer_.dn,
        "hv:email": settings.IMAGE_LIST_ENDORSER_EMAIL,
    }
    return hepix.dumps(hepix.build_document(fields, endorser, images))


def _publish_artefact(actor, *, previous, data, signer_, **owner):
    """Check `data` with the consumers' rules, sign it and keep it. Nothing is stored on a refusal."""
    problems = consumers.problems(
        data,
        signer_dn=signer_.dn,
        signer_ca=signer_.ca_dn,
        previous_version=previous.version if previous else None,
        previous_identifier=str(previous.identifier) if previous else None,
    )
    if problems:
        raise Invalid(["The list would not be accepted by the sites' image sync tools:", *problems])
    signed = signing.sign(data, signer_)
    document = json.loads(data)["hv:imagelist"]
    return PublishedArtefact.objects.create(
        version=document["hv:version"],
        identifier=uuid.UUID(document["dc:identifier"]),
        document=data.decode(),
        signed=signed,
        sha256=hashlib.sha256(signed).hexdigest(),
        signer_dn=signer_.dn,
        signer_ca=signer_.ca_dn,
        image_count=len(document["hv:images"]),
        published_by=actor if actor is not None and actor.is_authenticated else None,
        **owner,
    )


def appliance_list_identifier(appliance):
    return uuid.uuid5(uuid.NAMESPACE_OID, f"vappliance_image_list:{appliance.guid}")


def publish_appliance_list(actor, appliance):
    """Re-sign an appliance's own list from its published version (called by publish_version)."""
    current = appliance.versions.filter(state=VersionState.PUBLISHED).prefetch_related("images").first()
    previous = appliance.artefacts.order_by("-created", "-id").first()
    signer_ = signer()
    now = timezone.now()
    images = [
        image_fields(image, uuid.uuid5(uuid.NAMESPACE_OID, f"vappliance_image:{image.guid}"))
        for image in (current.images.all() if current else [])
    ]
    data = render(
        identifier=appliance_list_identifier(appliance),
        title=f"Appliance {appliance.name} image list.",
        description=f"The images of the published version of {appliance}.",
        uri=f"{settings.PORTAL_URL}/store/vappliance/{appliance.name}/image.list",
        vo_name=settings.APPLIANCE_LIST_VO,
        version=next_version(previous.version if previous else None, now),
        images=images,
        now=now,
        signer_=signer_,
    )
    return _publish_artefact(actor, previous=previous, data=data, signer_=signer_, appliance=appliance)


# ---------------------------------------------------------------------------------------------
# Curating a VO's draft (§2.4)
# ---------------------------------------------------------------------------------------------


def require_manager(actor, vo):
    permissions.require(actor, permissions.EDIT, vo, f"Only the managers of {vo} may change its image list.")


def _locked_vo(vo):
    """The VO row, locked: every change to a VO's lists takes it first, so they happen one at a time."""
    found = VirtualOrganisation.objects.select_for_update().filter(pk=vo.pk).first()
    if found is None:
        raise NotFound("This VO no longer exists.")
    return found


def published_list(vo):
    return vo.image_lists.filter(state=ListState.PUBLISHED).first()


def _draft(actor, vo):
    """The draft of a locked VO, made as a copy of the published list when there is none."""
    draft = vo.image_lists.filter(state=ListState.DRAFT).first()
    if draft is not None:
        return draft
    published = published_list(vo)
    draft = VOImageList.objects.create(vo=vo, private=published.private if published else False)
    if published is not None:
        VOImageListEntry.objects.bulk_create(
            VOImageListEntry(image_list=draft, image_id=e.image_id, added_by_id=e.added_by_id)
            for e in published.entries.all()
        )
    return draft


@transaction.atomic
def draft_of(actor, vo):
    """The VO's draft, for its managers."""
    require_manager(actor, vo)
    return _draft(actor, _locked_vo(vo))


def current_versions(appliance_ids):
    """Each appliance's published version, by appliance id (one query)."""
    rows = ApplianceVersion.objects.filter(appliance_id__in=appliance_ids, state=VersionState.PUBLISHED)
    return {version.appliance_id: version for version in rows}


def _audited(actor, image_list, message, change):
    before = image_list.audit_state()
    result = change()
    VOImageList.objects.filter(pk=image_list.pk).update(last_updated=timezone.now())
    audit.record(actor, CoreAction.UPDATE, image_list, before, image_list.audit_state(), message)
    return result


def _releasable(appliance):
    """The version of `appliance` that a list may take: its published, unexpired one."""
    if appliance.deleted is not None:
        raise Conflict(f"{appliance} has been deleted.")
    current = appliance.versions.filter(state=VersionState.PUBLISHED).first()
    if current is None:
        raise Conflict(f"{appliance} has no published version.")
    if current.is_expired:
        raise Conflict(f"The published version of {appliance} has expired: its authors must publish a new one.")
    return current


def _put(actor, draft, appliance, version):
    """Replace `appliance`'s entries in `draft` with all images of `version`."""
    draft.entries.filter(image__version__appliance=appliance).delete()
    images = list(version.images.all())
    VOImageListEntry.objects.bulk_create(VOImageListEntry(image_list=draft, image=i, added_by=actor) for i in images)
    return len(images)


@transaction.atomic
def add_to_list(actor, vo, appliance):
    """Add an appliance's published version to the draft, or bring its entries up to date. Returns how
    many images the draft now holds of it."""
    require_manager(actor, vo)
    draft = _draft(actor, _locked_vo(vo))
    version = _releasable(appliance)
    return _audited(actor, draft, f"{appliance.name} {version.version}", lambda: _put(actor, draft, appliance, version))


@transaction.atomic
def remove_from_list(actor, vo, appliance):
    require_manager(actor, vo)
    draft = _draft(actor, _locked_vo(vo))
    entries = draft.entries.filter(image__version__appliance=appliance)
    if not entries.exists():
        raise NotFound(f"The draft holds no image of {appliance}.")
    _audited(actor, draft, f"removed {appliance.name}", lambda: entries.delete())


@transaction.atomic
def update_outdated(actor, vo):
    """Update every outdated entry of the draft to its appliance's published version in one step.
    Returns (updated appliance names, skipped: appliance name -> why)."""
    require_manager(actor, vo)
    draft = _draft(actor, _locked_vo(vo))
    rows = entry_rows(draft)
    stale = {e.image.version.appliance for e, state in rows if state in (EntryState.OUTDATED, EntryState.EXPIRED)}
    updated, skipped = [], {}

    def change():
        for appliance in sorted(stale, key=lambda a: a.name):
            try:
                version = _releasable(appliance)
            except Conflict as exc:
                skipped[appliance.name] = exc.messages[0]
                continue
            _put(actor, draft, appliance, version)
            updated.append(appliance.name)

    if stale:
        _audited(actor, draft, "updated outdated entries", change)
    return updated, skipped


@transaction.atomic
def revert_draft(actor, vo):
    """Throw the draft's changes away: it becomes a copy of the published list again."""
    require_manager(actor, vo)
    locked = _locked_vo(vo)
    draft = locked.image_lists.filter(state=ListState.DRAFT).first()
    if draft is not None:
        audit.record(actor, AuditAction.REVERT_LIST, draft, draft.audit_state(), None)
        draft.delete()
    return _draft(actor, locked)


@transaction.atomic
def set_private(actor, vo, private):
    require_manager(actor, vo)
    draft = _draft(actor, _locked_vo(vo))

    def change():
        draft.private = private
        draft.save(update_fields=["private"])

    _audited(actor, draft, "made private" if private else "made public", change)
    return draft


def entry_rows(image_list, now=None):
    """(entry, EntryState) for each entry of `image_list`, worst state first (two queries)."""
    entries = list(
        image_list.entries.select_related("image__version__appliance").order_by(
            "image__version__appliance__title", "image__id"
        )
    )
    current = current_versions({e.image.version.appliance_id for e in entries})
    now = now or timezone.now()
    order = list(EntryState.values)
    rows = [(e, e.state(current.get(e.image.version.appliance_id), now)) for e in entries]
    return sorted(rows, key=lambda row: order.index(row[1]))


def summary(rows):
    """How many entries are in each state, for "N entries outdated"."""
    counts = {state: 0 for state in EntryState.values}
    for _entry, state in rows:
        counts[state] += 1
    return counts


def _image_ids(image_list):
    return set(image_list.entries.values_list("image_id", flat=True)) if image_list else set()


# ---------------------------------------------------------------------------------------------
# Publishing a VO's list
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def publish_list(actor, vo):
    """Publish the VO's draft: entries of deleted appliances are dropped, expired ones refused, the list
    rendered, checked, signed and stored; the published list becomes obsolete and the draft published.
    Publishes of one VO happen one at a time (the VO row is locked), and one with nothing new is refused,
    so two at once give two versions or one refusal."""
    require_manager(actor, vo)
    locked = _locked_vo(vo)
    draft = _draft(actor, locked)
    published = published_list(locked)
    if published is not None and (_image_ids(draft), draft.private) == (_image_ids(published), published.private):
        raise Conflict("Nothing to publish: the draft is the same as the published list.")
    rows = entry_rows(draft)
    deleted = [e.pk for e, state in rows if state == EntryState.DELETED]
    if deleted:
        draft.entries.filter(pk__in=deleted).delete()
        rows = [(e, state) for e, state in rows if e.pk not in deleted]
    expired = sorted({str(e.image.version) for e, state in rows if state == EntryState.EXPIRED})
    if expired:
        raise Invalid(f"Update or remove the expired entries before publishing: {', '.join(expired)}.")
    unverified = sorted({str(e.image.version) for e, _state in rows if not e.image.sha512})
    if unverified:
        raise Invalid(f"These images have no verified checksum: {', '.join(unverified)}.")
    previous = locked.image_list_artefacts.order_by("-created", "-id").first()
    now = timezone.now()
    version = next_version(previous.version if previous else None, now)
    signer_ = signer()
    images = [image_fields(e.image, list_image_identifier(locked.name, e.image.guid)) for e, _state in rows]
    data = render(
        identifier=list_identifier(locked.name),
        title=f"VO {locked.name} image list.",
        description=f"This is a VO-wide image list for {locked.name} VO.",
        uri=f"{settings.PORTAL_URL}/store/vo/{locked.name}/image.list",
        vo_name=locked.name,
        version=version,
        images=images,
        now=now,
        signer_=signer_,
    )
    before = draft.audit_state()
    artefact = _publish_artefact(
        actor, previous=previous, data=data, signer_=signer_, vo=locked, image_list=draft, private=draft.private
    )
    if published is not None:
        VOImageList.objects.filter(pk=published.pk).update(state=ListState.OBSOLETE)
    draft.state, draft.version, draft.published = ListState.PUBLISHED, version, now
    draft.published_by = actor if actor is not None and actor.is_authenticated else None
    draft.save(update_fields=["state", "version", "published", "published_by", "last_updated"])
    audit.record(actor, AuditAction.PUBLISH_LIST, draft, before, draft.audit_state(), f"version {version}")
    return artefact


def latest_artefact(**owner):
    """The newest artefact of a VO (`vo=`) or an appliance (`appliance=`), or None."""
    return PublishedArtefact.objects.filter(**owner).order_by("-created", "-id").first()


def appliance_by_name(name):
    return VirtualAppliance.objects.filter(name=name).first()


# ---------------------------------------------------------------------------------------------
# What changed between two publications (the subscribe panel)
# ---------------------------------------------------------------------------------------------


def _images_by_identifier(document):
    """{dc:identifier: hv:image} of a HEPiX document (its JSON text or parsed), empty for None."""
    if document is None:
        return {}
    if isinstance(document, (str, bytes)):
        document = json.loads(document)
    images = document.get("hv:imagelist", {}).get("hv:images", [])
    return {entry["hv:image"]["dc:identifier"]: entry["hv:image"] for entry in images}


def artefact_diff(old, new):
    """The images added, removed and updated from the document `old` (None for a first publication) to
    `new`, told apart by dc:identifier, as {"added": [...], "removed": [...], "updated": [...]}. Each item
    is {"identifier", "title", "version"} ("old_version" too for updated: any change of the image's
    keys counts, a new file or checksum as much as a new version)."""
    before, after = _images_by_identifier(old), _images_by_identifier(new)

    def item(identifier, image):
        return {"identifier": identifier, "title": image.get("dc:title", ""), "version": image.get("hv:version", "")}

    diff = {
        "added": [item(i, after[i]) for i in sorted(after.keys() - before.keys())],
        "removed": [item(i, before[i]) for i in sorted(before.keys() - after.keys())],
        "updated": [],
    }
    for identifier in sorted(before.keys() & after.keys()):
        if before[identifier] != after[identifier]:
            row = item(identifier, after[identifier])
            row["old_version"] = before[identifier].get("hv:version", "")
            diff["updated"].append(row)
    return diff
