"""The marketplace's e-mails (appdb-hepix.md §2.4, §4.1-4.2): VO managers about published lists that hold
outdated, deleted, expired or soon-expiring images; authors about versions near expiry; and the messages
authors send to a VO's managers ("please endorse", "new version")."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, send_mass_mail
from django.db import transaction
from django.utils import timezone

from egiportal import outbox, permissions
from egiportal.errors import Conflict, Invalid
from egiportal.models import VirtualOrganisation, VOMembership, single_line

from . import publishing
from .choices import EntryState, ListState, VersionState
from .models import EXPIRING_WITHIN, ApplianceVersion, VirtualAppliance, VOImageList

# A list whose problems persist is recalled this often, not every day.
REMIND_EVERY = timedelta(days=7)
NEEDS_ATTENTION = (EntryState.DELETED, EntryState.EXPIRED, EntryState.OUTDATED, EntryState.EXPIRING)


def manager_addresses(vo_id):
    rows = VOMembership.objects.filter(vo_id=vo_id, manager=True, user__is_active=True).exclude(user__email="")
    return sorted(set(rows.values_list("user__email", flat=True)))


def author_addresses(appliance):
    users = [appliance.owner, *appliance.contacts.all()] if appliance.owner else list(appliance.contacts.all())
    return sorted({u.email for u in users if u is not None and u.is_active and u.email})


def notify_list_managers(now=None):
    """E-mail the managers of each VO whose published list needs attention, at most every REMIND_EVERY.
    Returns the names of the VOs written about."""
    now = now or timezone.now()
    written = []
    for image_list in VOImageList.objects.filter(state=ListState.PUBLISHED).select_related("vo"):
        if image_list.notified and image_list.notified > now - REMIND_EVERY:
            continue
        rows = [(e, s) for e, s in publishing.entry_rows(image_list, now) if s in NEEDS_ATTENTION]
        addresses = manager_addresses(image_list.vo_id)
        if not rows or not addresses:
            continue
        lines = [f"- {e.image.version.appliance} {e.image.version.version}: {s.label}" for e, s in rows]
        link = settings.PORTAL_URL + image_list.get_absolute_url()
        body = (
            f"The published image list of {image_list.vo} holds {len(rows)} image(s) that need your attention:\n\n"
            + "\n".join(lines)
            + f"\n\nSites delete expired images at their next sync. Update the list at:\n{link}\n"
        )
        subject = f"[{image_list.vo}] {len(rows)} image list entr{'y' if len(rows) == 1 else 'ies'} need attention"
        send_mass_mail([(subject, body, settings.DEFAULT_FROM_EMAIL, [a]) for a in addresses])
        VOImageList.objects.filter(pk=image_list.pk).update(notified=now)
        written.append(image_list.vo.name)
    return written


def notify_expiring_versions(now=None):
    """E-mail the authors of each published version that expires within EXPIRING_WITHIN, once per version.
    Returns the versions written about."""
    now = now or timezone.now()
    due = ApplianceVersion.objects.filter(
        state=VersionState.PUBLISHED, expires__lte=now + EXPIRING_WITHIN, expiry_notified=None
    ).select_related("appliance__owner")
    written = []
    for version in due:
        appliance = version.appliance
        addresses = author_addresses(appliance)
        if addresses and appliance.deleted is None:
            link = settings.PORTAL_URL + appliance.get_absolute_url()
            verb = "expired" if version.expires <= now else "expires"
            body = (
                f"Version {version.version} of {appliance} {verb} on {version.expires:%Y-%m-%d %H:%M} UTC.\n"
                "When it expires, cloud sites delete its images. Publish a new version to keep them:\n"
                f"{link}\n"
            )
            subject = f"{appliance} {version.version} {verb} on {version.expires:%Y-%m-%d}"
            send_mass_mail([(subject, body, settings.DEFAULT_FROM_EMAIL, [a]) for a in addresses])
            written.append(str(version))
        ApplianceVersion.objects.filter(pk=version.pk).update(expiry_notified=now)
    return written


def send_all():
    return {"lists": notify_list_managers(), "versions": notify_expiring_versions()}


# ---------------------------------------------------------------------------------------------
# Authors' messages to a VO's managers
# ---------------------------------------------------------------------------------------------

MESSAGE_KINDS = {
    "endorse": "Please consider {appliance} for the image list of {vo}",
    "new_version": "A new version of {appliance} is available for {vo}",
}
BODY_MAX = 4000


@transaction.atomic
def message_vo_managers(actor, appliance, vo, kind, body):
    """An author writes to the managers of a VO about an appliance; the author gets a copy. The e-mail
    goes through the outbox, so it is sent once even if the broker is down now."""
    permissions.require(actor, permissions.EDIT, appliance, f"Only the authors of {appliance} may write about it.")
    if kind not in MESSAGE_KINDS:
        raise Invalid({"kind": f"Choose one of: {', '.join(MESSAGE_KINDS)}."})
    if not body.strip():
        raise Invalid({"body": "Write a message."})
    if len(body) > BODY_MAX:
        raise Invalid({"body": f"Keep the message under {BODY_MAX} characters."})
    if "\x00" in body:
        raise Invalid({"body": "The message contains a NUL character."})
    if appliance.deleted is not None:
        raise Conflict("This appliance has been deleted.")
    if not manager_addresses(vo.pk):
        raise Conflict(f"{vo} has no manager with an e-mail address to write to.")
    subject = MESSAGE_KINDS[kind].format(appliance=appliance, vo=vo)
    try:
        single_line(subject)
    except ValidationError as exc:
        raise Invalid({"kind": "This appliance's title cannot go in a subject line."}) from exc
    outbox.enqueue("appliances.tasks.deliver_vo_message", actor.pk, appliance.pk, vo.pk, subject, body)
    return subject


def deliver_vo_message(sender_id, appliance_id, vo_id, subject, body):
    """Send one author's message (the body of the deliver_vo_message task)."""
    from django.contrib.auth import get_user_model

    sender = get_user_model().objects.filter(pk=sender_id).first()
    appliance = VirtualAppliance.objects.filter(pk=appliance_id).first()
    vo = VirtualOrganisation.objects.filter(pk=vo_id).first()
    if sender is None or appliance is None or vo is None:
        return []
    addresses = manager_addresses(vo.pk)
    link = settings.PORTAL_URL + appliance.get_absolute_url()
    text = (
        f"{sender.get_full_name() or sender.username}, an author of {appliance}, writes to the managers of {vo}:\n\n"
        f"{body}\n\n{link}\n"
    )
    reply_to = [sender.email] if sender.email else []
    for address in addresses:  # one each: managers do not see each other's addresses
        EmailMessage(subject, text, settings.DEFAULT_FROM_EMAIL, [address], reply_to=reply_to).send()
    if sender.email:
        EmailMessage(f"Copy: {subject}", text, settings.DEFAULT_FROM_EMAIL, [sender.email]).send()
    return addresses
