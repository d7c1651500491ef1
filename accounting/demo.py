"""The accounting demo: a few months of usage of the demo's cloud sites, made by the real cASO record classes
and sent the way an SSM receiver hands them over (signed by each site's accounting service host DN), so that
every view and chart has data. `manage.py load_demo_accounting` runs it after the topology and marketplace
demos. Deterministic (seeded by site name) and idempotent: each message carries an id, and a second load
stores nothing new.

cASO is a test and demo dependency only (accounting.testing): the portal's runtime never imports it.
"""

import json
import random
from datetime import UTC, datetime, timedelta

from django.apps import apps
from django.utils import timezone

from endpoints.models import Service

from . import services, testing

MONTHS = 6
VOS = ["fedcloud.egi.eu", "vo.access.egi.eu", "vo.example.org"]
FLAVOURS = [(2, 4096, 20), (4, 8192, 40), (8, 16384, 80), (16, 65536, 160)]  # vCPUs, MB, GB
GAP_SITE_INDEX = 1  # this demo site "forgot" to publish one month: the site page flags it


def month_starts(now, count):
    """The first instants of the last `count` months, the current one last."""
    year, month = now.year, now.month
    starts = []
    for _ in range(count):
        starts.append(datetime(year, month, 1, tzinfo=UTC))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return starts[::-1]


def marketplace_images():
    """The ad:mpuri of the images the demo's fedcloud.egi.eu list endorses, so that usage shows on their
    marketplace pages (records carry the image's marketplace identifier, as cASO sends vmcatcher's)."""
    if not apps.is_installed("appliances"):
        return []
    artefact = (
        apps.get_model("appliances", "PublishedArtefact")
        .objects.filter(vo__name="fedcloud.egi.eu")
        .order_by("-created")
        .first()
    )
    if artefact is None:
        return []
    return [image["hv:image"]["ad:mpuri"] for image in json.loads(artefact.document)["hv:imagelist"]["hv:images"]]


def virtual_machines(site, rng, first, now, images):
    """(uuid, vo, user, project, start, end or None, flavour, image, gpu) of a site's demo VMs."""
    vms = []
    span = (now - first).total_seconds()
    for n in range(18):
        start = first + timedelta(seconds=rng.uniform(0, span * 0.9))
        end = None if rng.random() < 0.35 else start + timedelta(hours=rng.uniform(6, 24 * 45))
        end = None if end is not None and end >= now else end
        vo = VOS[n % len(VOS)]
        user = f"{rng.getrandbits(64):016x}{rng.getrandbits(64):016x}@egi.eu"
        project = f"{rng.getrandbits(128):032x}"
        uuid = "-".join(f"{rng.getrandbits(b * 4):0{b}x}" for b in (8, 4, 4, 4, 12))
        image = rng.choice(images) if images and rng.random() < 0.7 else f"{rng.getrandbits(128):032x}"
        vms.append((uuid, vo, user, project, start, end, rng.choice(FLAVOURS), image, n % 6 == 0))
    return vms


def runs(site, vms, starts, now):
    """The message bodies of each monthly cASO run: (month start, kind, body)."""
    for index, month in enumerate(starts):
        extract_to = min(starts[index + 1] - timedelta(hours=1), now) if index + 1 < len(starts) else now
        cloud, gpus = [], []
        for uuid, vo, user, project, start, end, (cpus, memory, disk), image, gpu in vms:
            if start >= extract_to or (end is not None and end < month):
                continue
            finished = end is not None and end <= extract_to
            cloud.append(
                testing.cloud_record(
                    uuid=uuid, site_name=site.short_name, compute_service=f"https://keystone.{site.domain}:5000/v3",
                    name=f"vm-{uuid[:8]}", user_id=project[:32], group_id=project, fqan=vo, user_dn=user,
                    status="completed" if finished else "started", image_id=image, start_time=start,
                    end_time=end if finished else None, memory=memory, cpu_count=cpus, disk=disk,
                    extract_to=None if finished else extract_to,
                )
            )  # fmt: skip
            if gpu:
                seconds = int((min(end or extract_to, extract_to) - max(start, month)).total_seconds())
                gpus.append(
                    testing.accelerator_record(
                        uuid=uuid, site_name=site.short_name, user_dn=user, fqan=vo, count=1,
                        available_duration=max(seconds, 1), measurement_month=month.month,
                        measurement_year=month.year, model="NVIDIA A100",
                    )
                )  # fmt: skip
        if cloud:
            yield month, "cloud", testing.cloud_message(cloud)
        if gpus:
            yield month, "accelerator", testing.accelerator_message(gpus)
        projects = sorted({(vm[1], vm[3]) for vm in vms if vm[4] < extract_to})
        ips = [
            testing.ip_record(
                uuid=f"{project[:8]}-{project[8:12]}-4{project[13:16]}-8{project[17:20]}-{project[20:32]}",
                measure_time=extract_to, site_name=site.short_name, group_id=project, fqan=vo,
                public_ip_count=1 + int(project[:2], 16) % 4,
            )
            for vo, project in projects[:6]
        ]  # fmt: skip
        if ips:
            yield month, "ip", testing.ip_message(ips)
        volumes = [
            testing.storage_record(
                uuid=f"{project[:8]}-0000-4000-8000-{project[20:32]}", site_name=site.short_name, group_id=project,
                fqan=vo, capacity=50 * (1 + int(project[2:4], 16) % 8), measure_time=extract_to,
                start_time=month, volume_creation=month - timedelta(days=3),
            )
            for vo, project in projects[:4]
        ]  # fmt: skip
        if volumes:
            yield month, "storage", testing.storage_message(volumes)


def accounting_services():
    return (
        Service.objects.filter(service_type__name="eu.egi.cloud.accounting", production=True)
        .exclude(dn="")
        .select_related("site")
        .order_by("site__short_name")
    )


def load(now=None):
    """Send the demo's messages; returns (messages stored, messages already there)."""
    now = now or timezone.now()
    starts = month_starts(now, MONTHS)
    images = marketplace_images()
    stored = duplicates = 0
    for index, service in enumerate(accounting_services()):
        site = service.site
        rng = random.Random(site.short_name)
        vms = virtual_machines(site, rng, starts[0], now, images)
        sender = services.sender_for_signer(service.dn)
        for month, kind, body in runs(site, vms, starts, now):
            if index == GAP_SITE_INDEX and month == starts[-3]:
                continue
            message_id = f"demo/{site.short_name}/{month:%Y-%m}/{kind}/{now:%Y%m%d}"
            done = services.ingest(sender, body, message_id=message_id, source="dirq")
            duplicates += done.duplicate
            stored += not done.duplicate
    services.summarise()
    return stored, duplicates
