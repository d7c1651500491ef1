"""The usage the view tests look at: the spec's §2.4 scenario at CESGA-CLOUD, ingested as the messages cASO
makes for its three runs, plus IPs, GPU time and a volume, and one VM of VO belle at another site (another
NGI and country) in January 2025."""

from datetime import UTC, datetime

from accounting import services, testing
from egiportal.tests.factories import VOFactory
from sites.models import Country
from sites.tests.factories import NGIFactory, SiteFactory

OTHER = "OTHER-CLOUD"
BELLE = "belle"
OTHER_USER = "other-user@egi.eu"


def t(*args):
    return datetime(*args, tzinfo=UTC)


VM_B = "a53738e1-13eb-4047-800c-067d14ce3d22"
RUNS = [
    # 15 March 00:00: A running (Wall 1180800)
    [{"extract_to": t(2024, 3, 15)}],
    # 31 March 23:00: A running (Wall 2646000), B ran 10-12 March (16 vCPUs, Wall 196200)
    [
        {},
        {"uuid": VM_B, "name": "gpu-worker", "status": "completed", "cpu_count": 16, "memory": 32768, "disk": 200,
         "start_time": t(2024, 3, 10, 12), "end_time": t(2024, 3, 12, 18, 30), "public_ip_count": 0},
    ],
    # 15 April: A completed on 10 April (Wall 3427200, as in the spec)
    [{"status": "completed", "end_time": t(2024, 4, 10, 8), "wall_duration": 3427200}],
]  # fmt: skip


def build():
    """Make the sites and VOs and ingest everything; returns (cesga, other)."""
    VOFactory(name=testing.VO)
    VOFactory(name=BELLE)
    cesga = SiteFactory(short_name=testing.SITE, ngi=NGIFactory(name="NGI_IBERGRID"))
    germany = Country.objects.get_or_create(code="DE", defaults={"name": "Germany"})[0]
    other = SiteFactory(short_name=OTHER, ngi=NGIFactory(name="NGI_DE"), country=germany)
    sender = services.Sender(cesga, description="tests")
    for run in RUNS:
        services.ingest(sender, testing.cloud_message(run))
    services.ingest(sender, testing.ip_message([{}]))
    services.ingest(sender, testing.accelerator_message([{}]))
    services.ingest(sender, testing.storage_message([{}]))
    belle_vm = {
        "uuid": "0b7c4d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e", "site_name": OTHER, "fqan": BELLE, "status": "completed",
        "cpu_count": 2, "start_time": t(2025, 1, 1), "end_time": t(2025, 1, 2), "user_dn": OTHER_USER,
        "image_id": "img-belle",
    }  # fmt: skip
    services.ingest(services.Sender(other, description="tests"), testing.cloud_message([belle_vm]))
    services.summarise()
    return cesga, other
