"""Accounting messages made by the real cASO 5.2.2 (accounting.md §3.4, §3.5), for tests and the demo data.

Records are built with cASO's own record classes and pushed through cASO's own SSM messenger into a temporary
dirq QueueSimple; the element read back is the body, byte for byte, that ssmsend would sign and send.

cASO is a test dependency (it drags in the OpenStack clients): import this module only from tests and the demo
loader, never from the portal's runtime code. Every datetime handed to cASO is made aware in UTC, because cASO
turns a naive one into epoch seconds through the host's time zone.
"""

import datetime
import tempfile
from contextlib import contextmanager

UTC = datetime.UTC

SITE = "CESGA-CLOUD"
SERVICE = "https://keystone.example.org:5000/v3"
VO = "vo.access.egi.eu"
USER_DN = "8b2f0c3e1d7a4b5c9e6f@egi.eu"
PROJECT_ID = "2dae43c4188943e6b172d4e99381e30a"
USER_ID = "a4519d7df60a49089d637d9e17422188"
IMAGE_ID = "b39a8ed9-e15d-4b71-ada2-daf88efbac0a"
VM_UUID = "721cf1db-0e0f-4c24-a5ea-cd75e0f303e8"
VOLUME_UUID = "99cf5d02-a573-46a1-b90d-0f7327126876"
IP_UUID = "e3c5aeef-37b8-4332-ad9f-9d068f156dc2"
EXTRACT_TO = datetime.datetime(2024, 3, 31, 23, 0, 0, tzinfo=UTC)  # the end of the spec's sample cASO run

_configured = False
_DEFAULT = object()


def _caso():
    """Import cASO and parse its (empty) configuration once; later calls reuse it."""
    global _configured
    import caso.messenger.ssm  # noqa: F401 - registers the [ssm] options
    import caso.record
    from oslo_config import cfg

    if not _configured:
        # No command line, and no /etc/caso/caso.conf of whatever machine runs the tests.
        cfg.CONF([], project="caso", default_config_files=[], default_config_dirs=[])
        _configured = True
    return caso


def utc(value):
    """`value` as an aware UTC datetime; a naive one is taken to be UTC already."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def cloud_record(**overrides):
    """A caso.record.CloudRecord like the nova extractor makes, for a VM of CESGA-CLOUD started on
    1 March 2024 08:00 UTC (4 vCPUs, 8 GB, 80 GB, HEPscore23 12.5); `overrides` use cASO's field names.
    With no overrides it is the spec's running VM (§1.1 Sample 2, first record).

    `wall_duration` and `cpu_duration` may be given (cASO sets them after construction). `extract_to`
    (default: EXTRACT_TO for a VM without end time; None for none) does what the extractor does for a VM still running at the end of a
    run: EndTime cleared, status `started`, Wall = extract_to - start and CPU = Wall x vCPUs."""
    caso = _caso()
    extract_to = overrides.pop("extract_to", _DEFAULT)
    wall = overrides.pop("wall_duration", None)
    cpu = overrides.pop("cpu_duration", None)
    fields = {
        "uuid": VM_UUID,
        "site_name": SITE,
        "compute_service": SERVICE,
        "name": "analysis-node-1",
        "user_id": USER_ID,
        "group_id": PROJECT_ID,
        "fqan": VO,
        "user_dn": USER_DN,
        "status": "started",
        "image_id": IMAGE_ID,
        "start_time": datetime.datetime(2024, 3, 1, 8, 0, 0, tzinfo=UTC),
        "end_time": None,
        "memory": 8192,
        "cpu_count": 4,
        "disk": 80,
        "public_ip_count": 1,
        "benchmark_type": "HEPscore23",
        "benchmark_value": 12.5,
    }
    fields.update(overrides)
    fields["start_time"], fields["end_time"] = utc(fields["start_time"]), utc(fields["end_time"])
    if extract_to is _DEFAULT:
        extract_to = EXTRACT_TO if fields["end_time"] is None else None
    extract_to = utc(extract_to)
    if extract_to is not None and (fields["end_time"] is None or fields["end_time"] > extract_to):
        fields["end_time"] = None
        if fields["status"] == "completed":
            fields["status"] = "started"
        if wall is None:
            wall = int((extract_to - fields["start_time"]).total_seconds())
    record = caso.record.CloudRecord(**fields)
    if wall is not None:
        record.wall_duration = wall
        if cpu is None and record.cpu_count:
            cpu = wall * record.cpu_count
    if cpu is not None:
        record.cpu_duration = cpu
    return record


def ip_record(**overrides):
    """A caso.record.IPRecord as the neutron extractor makes it: per project, no user (cASO 5.2.2)."""
    caso = _caso()
    fields = {
        "uuid": IP_UUID,
        "measure_time": datetime.datetime(2024, 3, 31, 23, 0, 0, tzinfo=UTC),
        "site_name": SITE,
        "compute_service": SERVICE,
        "user_id": None,
        "group_id": PROJECT_ID,
        "user_dn": None,
        "fqan": VO,
        "ip_version": 4,
        "public_ip_count": 3,
    }
    fields.update(overrides)
    fields["measure_time"] = utc(fields["measure_time"])
    return caso.record.IPRecord(**fields)


def accelerator_record(**overrides):
    """A caso.record.AcceleratorRecord: one GPU flavour's usage of a VM in one month."""
    caso = _caso()
    active = overrides.pop("active_duration", None)
    fields = {
        "uuid": "a53738e1-13eb-4047-800c-067d14ce3d22",
        "site_name": SITE,
        "compute_service": SERVICE,
        "user_dn": USER_DN,
        "fqan": VO,
        "count": 2,
        "available_duration": 196200,
        "measurement_month": 3,
        "measurement_year": 2024,
        "accelerator_type": "GPU",
        "model": "NVIDIA A100",
    }
    fields.update(overrides)
    record = caso.record.AcceleratorRecord(**fields)
    if active is not None:
        record.active_duration = active
    return record


def storage_record(**overrides):
    """A caso.record.StorageRecord as the cinder extractor makes it: a 100 GiB volume measured at 31 March
    2024 23:00 UTC (`capacity` in GiB; cASO sends bytes)."""
    caso = _caso()
    fields = {
        "uuid": VOLUME_UUID,
        "site_name": SITE,
        "compute_service": SERVICE,
        "name": "data-volume",
        "user_id": USER_ID,
        "group_id": PROJECT_ID,
        "fqan": VO,
        "user_dn": USER_DN,
        "status": "in-use",
        "active_duration": 2588400,
        "capacity": 100,
        "measure_time": datetime.datetime(2024, 3, 31, 23, 0, 0, tzinfo=UTC),
        "start_time": datetime.datetime(2024, 3, 1, 0, 0, 0, tzinfo=UTC),
        "volume_creation": datetime.datetime(2024, 2, 20, 9, 0, 0, tzinfo=UTC),
    }
    fields.update(overrides)
    for name in ("measure_time", "start_time", "volume_creation"):
        fields[name] = utc(fields[name])
    return caso.record.StorageRecord(**fields)


@contextmanager
def _ssm_overrides(**values):
    from oslo_config import cfg

    for name, value in values.items():
        cfg.CONF.set_override(name, value, group="ssm")
    try:
        yield
    finally:
        for name in values:
            cfg.CONF.clear_override(name, group="ssm")


def push(records):
    """The bodies cASO's SSM messenger writes for `records` (cASO record objects), in the order it writes
    them: cloud, IP, accelerator, storage, up to `max_size` records each (left at cASO's default, 100)."""
    import dirq.QueueSimple

    _caso()
    from caso.messenger import ssm

    with tempfile.TemporaryDirectory(prefix="caso-outgoing-") as outdir, _ssm_overrides(output_path=outdir):
        ssm.SSMMessenger().push(list(records))
        queue = dirq.QueueSimple.QueueSimple(outdir)
        bodies = []
        for name in sorted(queue):
            queue.lock(name)
            body = queue.get(name)
            queue.remove(name)
            bodies.append(body if isinstance(body, bytes) else body.encode("utf-8"))
    return bodies


def _one_message(records):
    """The single message cASO makes for `records` of one kind (max_size raised so it does not split)."""
    with _ssm_overrides(max_size=max(1, len(records))):
        bodies = push(records)
    if len(bodies) != 1:
        raise ValueError(f"cASO wrote {len(bodies)} messages for one kind of record")
    return bodies[0]


def _records(items, build):
    return [item if not isinstance(item, dict) else build(**item) for item in items]


def cloud_message(records):
    """`APEL-cloud-message: v0.4` body, as cASO writes it, for `records`: dicts of `cloud_record` overrides
    or CloudRecord objects."""
    return _one_message(_records(records, cloud_record))


def ip_message(records):
    """`APEL Public IP message` v0.2 JSON body for dicts of `ip_record` overrides or IPRecord objects."""
    return _one_message(_records(records, ip_record))


def accelerator_message(records):
    """`APEL-accelerator-message` v0.1 JSON body for dicts of `accelerator_record` overrides or records."""
    return _one_message(_records(records, accelerator_record))


def storage_message(records):
    """StAR XML body (`sr:StorageUsageRecords`) for dicts of `storage_record` overrides or StorageRecords."""
    return _one_message(_records(records, storage_record))


def apel_framing(body):
    """The same cloud message re-joined the APEL unloader's way: each record followed by `%%\\n`, including
    the last one (cASO joins with `\\n%%\\n` and ends with one newline)."""
    header, _, rest = body.partition(b"\n")
    chunks = [chunk.strip(b"\n") for chunk in rest.split(b"%%") if chunk.strip()]
    return header + b"\n" + b"".join(chunk + b"\n%%\n" for chunk in chunks)
