"""The accounting part of `make bench` (issue 13): ingestion of cASO messages into PostgreSQL (target
5,000 records/s), the summary rebuild over 1,000,000 records, and a pivot view over the summaries (200 ms
median)."""

import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

INGEST_MESSAGES, INGEST_RECORDS, INGEST_TARGET = 20, 1000, 5000
SUMMARY_RECORDS, SUMMARY_SITES = 1_000_000, 50
PIVOT_TARGET_MS = 200
VM_PREFIX = "bench-vm-"


def _messages(site_name):
    """INGEST_MESSAGES cASO-made messages of INGEST_RECORDS records each (made before the clock starts)."""
    from accounting import testing

    start = datetime(2024, 1, 1, tzinfo=UTC)
    bodies = []
    for m in range(INGEST_MESSAGES):
        records = [
            testing.cloud_record(
                uuid=f"{m:08x}-0000-4000-8000-{n:012x}",
                site_name=site_name,
                start_time=start + timedelta(minutes=n),
                extract_to=start + timedelta(days=20 + m),
            )
            for n in range(INGEST_RECORDS)
        ]
        bodies.append(testing.cloud_message(records))
    return bodies


def ingest_bench():
    """(records/s wall, records/s CPU, records) of ingesting the messages for one site, summaries not run."""
    from accounting import services
    from accounting.models import CloudRecord, RawMessage
    from egiportal.celery import app
    from sites.synthetic import synthetic_sites

    site = synthetic_sites().order_by("pk").first()
    bodies = _messages(site.short_name)
    sender = services.Sender(site, description="bench")
    saved = app.conf.task_always_eager, app.conf.broker_url
    # The summary task each message asks for is left to a worker, as in production: measure the ingestion.
    app.conf.task_always_eager, app.conf.broker_url = False, "memory://"
    try:
        CloudRecord.objects.filter(site=site).delete()
        RawMessage.objects.filter(site=site).delete()
        wall, cpu = time.perf_counter(), time.process_time()
        for body in bodies:
            services.ingest(sender, body)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        app.conf.task_always_eager, app.conf.broker_url = saved
    records = INGEST_MESSAGES * INGEST_RECORDS
    stored = CloudRecord.objects.filter(site=site).count()
    assert stored == records, stored
    return records / wall, records / cpu, records


def seed_records():
    """1,000,000 cloud records over SUMMARY_SITES synthetic sites, 12 months (made once, kept between runs)."""
    from django.db import connection

    from accounting.models import CloudRecord
    from sites.synthetic import synthetic_sites

    present = CloudRecord.objects.filter(vm_uuid__startswith=VM_PREFIX).count()
    if present >= SUMMARY_RECORDS:
        return present, 0.0
    started = time.perf_counter()
    CloudRecord.objects.filter(vm_uuid__startswith=VM_PREFIX).delete()
    sites = list(synthetic_sites().order_by("pk").values_list("pk", flat=True)[1 : SUMMARY_SITES + 1])
    rng = random.Random(13)
    vos = ["fedcloud.egi.eu", "vo.access.egi.eu", "biomed", "enmr.eu", "eiscat.se"]
    batch, per_vm, made = [], 12, 0
    vm = 0
    while made < SUMMARY_RECORDS:
        site, vo = rng.choice(sites), rng.choice(vos)
        cpus, start = rng.choice([1, 2, 4, 8, 16]), datetime(2025, 1, 1, tzinfo=UTC)
        for month in range(per_vm):
            measured = datetime(2025, month + 1, 28, tzinfo=UTC)
            wall = int((measured - start).total_seconds())
            batch.append(
                CloudRecord(
                    site_id=site, vm_uuid=f"{VM_PREFIX}{vm:09d}", vo=vo, fqan=vo, status="started",
                    global_user_name=f"user{vm % 5000}@egi.eu", start_time=start, wall_duration=wall,
                    cpu_duration=wall * cpus, cpu_count=Decimal(cpus), memory=2048 * cpus, disk=20 * cpus,
                    benchmark_type="HEPscore23", benchmark=Decimal("10.5"), image_id=f"img-{vm % 40}",
                    measurement_time=measured, measurement_year=2025, measurement_month=month + 1,
                )
            )  # fmt: skip
        vm += 1
        made += per_vm
        if len(batch) >= 20_000:
            CloudRecord.objects.bulk_create(batch)
            batch = []
    CloudRecord.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounting_cloudrecord")
    return made, time.perf_counter() - started


def summary_bench():
    """(seconds wall, seconds CPU, summaries) of rebuilding every summary, as the nightly task does (a
    worker runs without the web requests' statement_timeout, which the timed pages left on this connection)."""
    from accounting import services
    from accounting.models import CloudSummary
    from egiportal.dbtimeout import set_statement_timeout

    set_statement_timeout(0)

    wall, cpu = time.perf_counter(), time.process_time()
    services.summarise()
    return time.perf_counter() - wall, time.process_time() - cpu, CloudSummary.objects.count()


def pivot_pages():
    return [
        (
            "CPU h, NGI x year",
            "/accounting/cloud/sum_elap_processors/REGION/Year/2025/1/2025/12/egi/onlyinfrajobs/JSON/",
        ),
        ("VMs, VO x month", "/accounting/cloud/vm_num/VO/DATE/2025/1/2025/12/egi/onlyinfrajobs/JSON/"),
        ("wall h, site x VO", "/accounting/cloud/sum_elap/SITE/VO/2025/1/2025/12/egi/onlyinfrajobs/CSV/"),
    ]


def report(ingest, seeded, summary, pivots):
    per_s, per_cpu_s, records = ingest
    print(f"\n{'accounting':<44}{'figure':>16}{'CPU-only':>14}  target")
    ok = "met" if per_s >= INGEST_TARGET else "MISSED"
    print(
        f"{f'ingest {records:,} cASO records':<44}{per_s:>12,.0f} r/s{per_cpu_s:>10,.0f} r/s  {INGEST_TARGET:,} r/s {ok}"
    )
    made, seed_s = seeded
    if seed_s:
        print(f"{f'seeded {made:,} records':<44}{seed_s:>14.1f} s")
    wall, cpu, rows = summary
    print(f"{f'summaries from {made:,} records ({rows:,} rows)':<44}{wall:>14.1f} s{cpu:>12.1f} s  -")
    print(f"\n{'pivot view':<22}{'path':<80}{'status':>7}{'median ms':>11}{'queries':>9}  target")
    for label, path, result in pivots:
        if result is None:
            print(f"{label:<22}{path:<80}  not available")
            continue
        status, median, _p95, queries = result
        ok = "met" if status == 200 and median <= PIVOT_TARGET_MS else "MISSED"
        print(f"{label:<22}{path:<80}{status:>7}{median:>11.1f}{queries:>9}  {PIVOT_TARGET_MS} ms {ok}")
