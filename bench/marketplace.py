"""The marketplace part of `make bench` (issue 12): render + validate + sign a list of 500 images (target
200 ms), and the catalogue page and API list over 2,000 appliances (target 100 ms median, fixed queries)."""

import hashlib
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

SIGN_IMAGES, SIGN_TARGET_MS, SIGN_RUNS = 500, 200, 10
CATALOGUE_APPLIANCES, CATALOGUE_TARGET_MS, CATALOGUE_TARGET_QUERIES = 2000, 100, 15
PREFIX = "bench-appliance-"


def _image(n, now):
    return {
        "dc:identifier": str(uuid.uuid5(uuid.NAMESPACE_OID, f"bench:{n}")),
        "dc:title": f"Image for bench appliance {n} [Ubuntu/24.04/KVM]",
        "dc:description": "A benchmark image.",
        "dc:date:expires": now + timedelta(days=200),
        "hv:uri": f"https://images.example.org/bench/{n}.qcow2",
        "hv:size": str(1 << 30),
        "hv:version": "1.0",
        "hv:format": "qcow2",
        "hv:hypervisor": "KVM",
        "sl:arch": "x86_64",
        "sl:os": "Linux",
        "sl:osname": "Ubuntu",
        "sl:osversion": "24.04",
        "sl:comments": "",
        "sl:checksum:sha512": hashlib.sha512(str(n).encode()).hexdigest(),
        "ad:mpuri": f"https://portal.example.org/store/vo/image/{n}/",
        "ad:base_mpuri": f"https://portal.example.org/store/vm/image/{n}/",
        "ad:appid": str(n),
        "ad:group": "General group",
        "ad:user:fullname": "",
        "ad:user:guid": "",
        "ad:user:uri": "",
        "hv:ram_minimum": "1024",
        "ad:ram_recommended": "4096",
        "hv:core_minimum": "1",
        "ad:core_recommended": "2",
    }


def sign_bench():
    """(median ms wall, median ms CPU, bytes) of render + consumers' checks + sign for SIGN_IMAGES images."""
    from appliances import consumers, publishing

    signer = publishing.signer()
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    images = [_image(n, now) for n in range(SIGN_IMAGES)]
    walls, cpus, size = [], [], 0
    for _ in range(SIGN_RUNS + 1):
        wall, cpu = time.perf_counter(), time.process_time()
        data = publishing.render(
            identifier=uuid.uuid4(),
            title="Bench list.",
            description="A benchmark list.",
            uri="https://portal.example.org/store/vo/bench/image.list",
            vo_name="bench.egi.eu",
            version=now.strftime("%Y%m%d%H%M%S"),
            images=images,
            now=now,
            signer_=signer,
        )
        problems = consumers.problems(data, signer_dn=signer.dn, signer_ca=signer.ca_dn)
        signed = publishing.signing.sign(data, signer)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
        size = len(signed)
        assert not problems, problems
    return statistics.median(walls[1:]), statistics.median(cpus[1:]), size


def seed_catalogue():
    """2,000 appliances, each with a published version of one image (made once; kept between runs)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from appliances.choices import IntegrityStatus, VersionState
    from appliances.models import ApplianceVersion, Image, VirtualAppliance

    present = VirtualAppliance.objects.filter(name__startswith=PREFIX).count()
    if present >= CATALOGUE_APPLIANCES:
        return present
    owner, _ = get_user_model().objects.get_or_create(username="bench-author")
    now = datetime.now(UTC)
    with transaction.atomic():
        VirtualAppliance.objects.filter(name__startswith=PREFIX).delete()
        appliances = VirtualAppliance.objects.bulk_create(
            VirtualAppliance(name=f"{PREFIX}{n:05d}", title=f"Bench appliance {n}", owner=owner, description="Bench.")
            for n in range(CATALOGUE_APPLIANCES)
        )
        versions = ApplianceVersion.objects.bulk_create(
            ApplianceVersion(
                appliance=a, version="1.0", state=VersionState.PUBLISHED, status=IntegrityStatus.VERIFIED,
                expires=now + timedelta(days=300), published=now,
            )
            for a in appliances
        )  # fmt: skip
        Image.objects.bulk_create(
            Image(
                version=v, url=f"https://images.example.org/{v.appliance.name}.qcow2", format="qcow2",
                os_name="Ubuntu", os_version="24.04", size=1 << 30, sha512=hashlib.sha512(b"x").hexdigest(),
            )
            for v in versions
        )  # fmt: skip
    return CATALOGUE_APPLIANCES


def pages():
    return [
        ("catalogue", "/appliances/"),
        ("API list", "/api/v1/appliances/"),
        ("API brief", "/api/v1/appliances/?brief=true"),
    ]


def report(sign, catalogue):
    wall, cpu, size = sign
    print(f"\n{'marketplace':<38}{'median ms':>11}{'CPU ms':>9}  target")
    ok = "met" if wall <= SIGN_TARGET_MS else "MISSED"
    print(
        f"{f'render+check+sign {SIGN_IMAGES} images':<38}{wall:>11.1f}{cpu:>9.1f}  {SIGN_TARGET_MS} ms {ok} ({size:,} bytes)"
    )
    print(
        f"\n{f'catalogue, {CATALOGUE_APPLIANCES:,} appliances':<30}{'path':<34}{'status':>7}{'median ms':>11}{'p95 ms':>9}{'queries':>9}  target"
    )  # noqa: E501
    for label, path, result in catalogue:
        if result is None:
            print(f"{label:<30}{path:<34}  not available")
            continue
        status, median, p95, queries = result
        met = status == 200 and median <= CATALOGUE_TARGET_MS and queries <= CATALOGUE_TARGET_QUERIES
        target = f"{CATALOGUE_TARGET_MS} ms, {CATALOGUE_TARGET_QUERIES} q {'met' if met else 'MISSED'}"
        print(f"{label:<30}{path:<34}{status:>7}{median:>11.1f}{p95:>9.1f}{queries:>9}  {target}")
