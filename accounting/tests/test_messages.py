"""APEL message parsers, driven by messages that the real cASO 5.2.2 produces (accounting.md §1, §2.1, §2.2).

Pure tests: no database. Times are compared as aware UTC datetimes, so the host's time zone plays no part."""

import datetime
import json
import os
import time
from decimal import Decimal

import pytest

from accounting import testing
from accounting.messages import MAX_BODY_BYTES, MAX_RECORDS, MessageError, parse, parse_fqan, site_names

UTC = datetime.UTC
VM_B = "a53738e1-13eb-4047-800c-067d14ce3d22"


def at(*args):
    return datetime.datetime(*args, tzinfo=UTC)


def epoch(*args):
    return int(at(*args).timestamp())


def vm_b(**overrides):
    """The spec's VM B: 16 vCPUs, ran 10-12 March 2024, no benchmark."""
    fields = dict(
        uuid=VM_B,
        name="gpu-worker",
        status="completed",
        start_time=at(2024, 3, 10, 12),
        end_time=at(2024, 3, 12, 18, 30),
        memory=32768,
        cpu_count=16,
        disk=200,
        public_ip_count=0,
        benchmark_type=None,
        benchmark_value=None,
    )
    fields.update(overrides)
    return fields


def rejected(body, status=400):
    """The MessageError that parsing `body` raises (and that it is raised, with that status)."""
    with pytest.raises(MessageError) as caught:
        parse(body)
    assert caught.value.status == status, str(caught.value)
    return caught.value


def cloud_text(*records, header="APEL-cloud-message: v0.4"):
    """A hand-written cloud message: each record a dict of APEL field to value text."""
    return (
        header + "\n" + "\n%%\n".join("\n".join(f"{k}: {v}" for k, v in r.items()) for r in records) + "\n"
    ).encode()


MINIMAL = {"VMUUID": "vm-1", "SiteName": "CESGA-CLOUD"}


SAMPLE_1 = """APEL-cloud-message: v0.4
VMUUID: 2012-08-14 14:00:01+0200 FZJ Accounting Test
SiteName: FZJ
CloudComputeService: OpenStack Service A
MachineName: Accounting Test
LocalUserId: 1189105086dc4959bc9889383afc43b5
LocalGroupId: EGI FCTF
GlobalUserName: /DC=es/DC=irisgrid/O=cesga/CN=javier-lopez
FQAN: /ops/Role=NULL/Capability=NULL
Status: started
StartTime: 1343362725
EndTime: NULL
SuspendDuration: NULL
WallDuration: 1582876
CpuDuration: 437
CpuCount: 1.456
NetworkType: NULL
NetworkInbound: NULL
NetworkOutbound: NULL
PublicIPCount: 1
Memory: 512
Disk: 0
BenchmarkType: Si2k
Benchmark: 200
StorageRecordId: NULL
ImageId: Debian Testing (Wheezy)
CloudType: Openstack
"""

SUMMARY_SAMPLE = """APEL-cloud-summary-message: v0.4
SiteName: CESGA-CLOUD
CloudComputeService: https://keystone.example.org:5000/v3
Month: 3
Year: 2024
GlobalUserName: 8b2f0c3e1d7a4b5c9e6f@egi.eu
VO: vo.access.egi.eu
VOGroup: None
VORole: None
Status: started
CloudType: caso/5.2.2 (OpenStack)
ImageId: img-1
EarliestStartTime: 1709280000
LatestStartTime: 1709280000
WallDuration: 2646000
CpuDuration: 10584000
CpuCount: 4.0
NetworkInbound: None
NetworkOutbound: None
Memory: 8192
Disk: 80
BenchmarkType: HEPscore23
Benchmark: 12.5
NumberOfVMs: 1
%%
SiteName: CESGA-CLOUD
CloudComputeService: https://keystone.example.org:5000/v3
Month: 4
Year: 2024
GlobalUserName: 8b2f0c3e1d7a4b5c9e6f@egi.eu
VO: vo.access.egi.eu
VOGroup: None
VORole: None
Status: completed
CloudType: caso/5.2.2 (OpenStack)
ImageId: img-1
EarliestStartTime: 1709280000
LatestStartTime: 1709280000
WallDuration: 781200
CpuDuration: 3124800
CpuCount: 4.0
NetworkInbound: None
NetworkOutbound: None
Memory: 8192
Disk: 80
BenchmarkType: HEPscore23
Benchmark: 12.5
NumberOfVMs: 1
%%
"""

# §1.1 Sample 2, as the spec quotes it: what cASO 5.2.2 wrote for the sample run (the 1153-byte message).
SAMPLE_2 = """APEL-cloud-message: v0.4
Benchmark: 12.5
BenchmarkType: HEPscore23
CloudComputeService: https://keystone.example.org:5000/v3
CloudType: caso/5.2.2 (OpenStack)
CpuCount: 4
CpuDuration: 10584000
Disk: 80
EndTime: 0
FQAN: vo.access.egi.eu
GlobalUserName: 8b2f0c3e1d7a4b5c9e6f@egi.eu
ImageId: b39a8ed9-e15d-4b71-ada2-daf88efbac0a
LocalGroupId: 2dae43c4188943e6b172d4e99381e30a
LocalUserId: a4519d7df60a49089d637d9e17422188
MachineName: analysis-node-1
Memory: 8192
PublicIPCount: 1
SiteName: CESGA-CLOUD
StartTime: 1709280000
Status: started
VMUUID: 721cf1db-0e0f-4c24-a5ea-cd75e0f303e8
WallDuration: 2646000
%%
CloudComputeService: https://keystone.example.org:5000/v3
CloudType: caso/5.2.2 (OpenStack)
CpuCount: 16
CpuDuration: 3139200
Disk: 200
EndTime: 1710268200
FQAN: vo.access.egi.eu
GlobalUserName: 8b2f0c3e1d7a4b5c9e6f@egi.eu
ImageId: b39a8ed9-e15d-4b71-ada2-daf88efbac0a
LocalGroupId: 2dae43c4188943e6b172d4e99381e30a
LocalUserId: a4519d7df60a49089d637d9e17422188
MachineName: gpu-worker
Memory: 32768
PublicIPCount: 0
SiteName: CESGA-CLOUD
StartTime: 1710072000
Status: completed
VMUUID: a53738e1-13eb-4047-800c-067d14ce3d22
WallDuration: 196200
"""


# --- messages made by cASO ---


def test_cloud_message_from_caso_is_the_spec_sample_and_parses_to_the_expected_records():
    body = testing.cloud_message([{}, vm_b()])
    assert body == SAMPLE_2.encode() and len(body) == 1153
    message = parse(body)
    assert (message.kind, message.version, len(message.records)) == ("cloud", "v0.4", 2)
    a, b = message.records
    assert a == {
        "vm_uuid": "721cf1db-0e0f-4c24-a5ea-cd75e0f303e8",
        "site_name": "CESGA-CLOUD",
        "cloud_compute_service": "https://keystone.example.org:5000/v3",
        "machine_name": "analysis-node-1",
        "local_user_id": "a4519d7df60a49089d637d9e17422188",
        "local_group_id": "2dae43c4188943e6b172d4e99381e30a",
        "global_user_name": "8b2f0c3e1d7a4b5c9e6f@egi.eu",
        "fqan": "vo.access.egi.eu",
        "vo": "vo.access.egi.eu",
        "vo_group": None,
        "vo_role": None,
        "status": "started",
        "start_time": at(2024, 3, 1, 8),
        "end_time": None,
        "suspend_duration": None,
        "wall_duration": 2646000,
        "cpu_duration": 10584000,
        "cpu_count": Decimal("4"),
        "network_type": None,
        "network_inbound": None,
        "network_outbound": None,
        "public_ip_count": 1,
        "memory": 8192,
        "disk": 80,
        "benchmark_type": "HEPscore23",
        "benchmark": Decimal("12.5"),
        "storage_record_id": None,
        "image_id": "b39a8ed9-e15d-4b71-ada2-daf88efbac0a",
        "cloud_type": "caso/5.2.2 (OpenStack)",
        "record_create_time": None,
        "measurement_time": at(2024, 3, 31, 23),
        "measurement_year": 2024,
        "measurement_month": 3,
    }
    assert (b["status"], b["end_time"], b["wall_duration"], b["cpu_duration"]) == (
        "completed",
        at(2024, 3, 12, 18, 30),
        196200,
        3139200,
    )
    assert (b["benchmark_type"], b["benchmark"], b["cpu_count"], b["memory"]) == (None, None, Decimal(16), 32768)
    assert b["measurement_time"] == b["end_time"]  # completed: MeasurementTime = EndTime
    assert site_names(message) == {"CESGA-CLOUD"}


def test_both_framings_parse_to_the_same_records():
    body = testing.cloud_message([{}, vm_b()])
    apel = testing.apel_framing(body)
    assert b"\n%%\n" in body and not body.rstrip().endswith(b"%%")
    assert apel.endswith(b"WallDuration: 196200\n%%\n") and apel.count(b"%%\n") == 2
    assert parse(apel) == parse(body)


def test_v02_header_is_accepted():
    body = testing.cloud_message([{}]).replace(b"APEL-cloud-message: v0.4", b"APEL-cloud-message: v0.2", 1)
    assert parse(body).version == "v0.2"
    assert parse(body).records == parse(testing.cloud_message([{}])).records


def test_spec_scenario_runs_give_the_spec_measurement_times_and_walls():
    """§2.4: VM A (4 vCPUs, from 1 March 08:00) and VM B (16 vCPUs, 10-12 March) over three cASO runs."""
    run1 = parse(testing.cloud_message([{"extract_to": at(2024, 3, 15)}])).records
    run2 = parse(testing.cloud_message([{"extract_to": at(2024, 3, 31, 23)}, vm_b()])).records
    run3 = parse(
        testing.cloud_message([{"status": "completed", "end_time": at(2024, 4, 10), "extract_to": at(2024, 4, 15)}])
    ).records
    assert [(r["wall_duration"], r["cpu_duration"], r["measurement_time"]) for r in run1] == [
        (1180800, 4723200, at(2024, 3, 15))
    ]
    assert [(r["vm_uuid"][:4], r["status"], r["wall_duration"], r["measurement_month"]) for r in run2] == [
        ("721c", "started", 2646000, 3),
        ("a537", "completed", 196200, 3),
    ]
    (a_april,) = run3
    assert (a_april["status"], a_april["wall_duration"], a_april["cpu_duration"]) == ("completed", 3427200, 13708800)
    assert (a_april["measurement_time"], a_april["measurement_month"]) == (at(2024, 4, 10), 4)
    # The summariser's April delta for A, as the spec's table gives it.
    assert a_april["wall_duration"] - run2[0]["wall_duration"] == 781200


def test_vm_across_a_year_end_is_measured_in_january():
    record = parse(testing.cloud_message([{"start_time": at(2023, 12, 20, 6), "extract_to": at(2024, 1, 5)}])).records[
        0
    ]
    assert (record["wall_duration"], record["measurement_year"], record["measurement_month"]) == (1360800, 2024, 1)
    assert record["measurement_time"] == at(2024, 1, 5)


def test_suspended_vm_counts_its_suspension_in_the_measurement_time():
    record = parse(
        testing.cloud_message([{"status": "suspended", "suspend_duration": 86400, "extract_to": at(2024, 3, 2, 8)}])
    ).records[0]
    assert (record["status"], record["suspend_duration"], record["wall_duration"]) == ("suspended", 86400, 86400)
    assert record["measurement_time"] == at(2024, 3, 3, 8)  # start + suspend + wall


def test_never_started_vm_reports_cASO_minimum_of_one_second():
    # The nova extractor sets EndTime = created for a server that never launched; cASO raises 0 s to 1 s.
    record = parse(
        testing.cloud_message([{"status": "completed", "start_time": at(2024, 3, 5), "end_time": at(2024, 3, 5)}])
    ).records[0]
    assert (record["wall_duration"], record["cpu_duration"], record["measurement_time"]) == (1, 1, at(2024, 3, 5))


def test_record_create_time_is_the_measurement_time_of_a_running_vm():
    body = cloud_text(
        {
            **MINIMAL,
            "Status": "started",
            "StartTime": epoch(2024, 3, 1),
            "WallDuration": 10,
            "RecordCreateTime": 1711000000,
        }
    )
    assert parse(body).records[0]["measurement_time"] == datetime.datetime.fromtimestamp(1711000000, UTC)


def test_gpu_flavours_from_caso_parse():
    body = testing.accelerator_message(
        [
            {},
            {"measurement_month": 4, "available_duration": 777600, "active_duration": 3600, "cores": 6912},
            {
                "uuid": "11111111-2222-3333-4444-555555555555",
                "accelerator_type": "FPGA",
                "model": "Xilinx U250",
                "count": 1,
            },
        ]
    )
    message = parse(body)
    assert (message.kind, message.version) == ("accelerator", "0.1")
    march, april, fpga = message.records
    assert march == {
        "measurement_month": 3,
        "measurement_year": 2024,
        "associated_record_type": "cloud",
        "associated_record": VM_B,
        "global_user_name": "8b2f0c3e1d7a4b5c9e6f@egi.eu",
        "fqan": "vo.access.egi.eu",
        "vo": "vo.access.egi.eu",
        "vo_group": None,
        "vo_role": None,
        "site_name": "CESGA-CLOUD",
        "count": Decimal(2),
        "cores": None,
        "active_duration": 196200,  # defaults to AvailableDuration
        "available_duration": 196200,
        "benchmark_type": None,
        "benchmark": None,
        "type": "GPU",
        "model": "NVIDIA A100",
        "cloud_type": "caso/5.2.2 (OpenStack)",
        "cloud_compute_service": "https://keystone.example.org:5000/v3",
    }
    assert (april["measurement_month"], april["active_duration"], april["available_duration"]) == (4, 3600, 777600)
    assert april["cores"] == 6912
    assert (fpga["type"], fpga["model"], fpga["count"]) == ("FPGA", "Xilinx U250", Decimal(1))


def test_active_duration_missing_defaults_to_available_duration():
    body = testing.accelerator_message([{}])
    envelope = json.loads(body)
    del envelope["UsageRecords"][0]["ActiveDuration"]
    assert parse(json.dumps(envelope).encode()).records[0]["active_duration"] == 196200


def test_ip_v4_and_v6_from_caso_parse_without_user():
    message = parse(testing.ip_message([{}, {"ip_version": 6, "public_ip_count": 20, "uuid": testing.VM_UUID}]))
    assert (message.kind, message.version) == ("ip", "0.2")
    v4, v6 = message.records
    assert v4 == {
        "measurement_time": at(2024, 3, 31, 23),
        "measurement_year": 2024,
        "measurement_month": 3,
        "site_name": "CESGA-CLOUD",
        "cloud_compute_service": "https://keystone.example.org:5000/v3",
        "cloud_type": "caso/5.2.2 (OpenStack)",
        "local_user": None,
        "local_group": "2dae43c4188943e6b172d4e99381e30a",
        "global_user_name": None,
        "fqan": "vo.access.egi.eu",
        "vo": "vo.access.egi.eu",
        "vo_group": None,
        "vo_role": None,
        "ip_version": 4,
        "ip_count": 3,
    }
    assert (v6["ip_version"], v6["ip_count"]) == (6, 20)


def test_ip_message_with_user_and_v_prefixed_version_parses():
    body = testing.ip_message([{"user_id": "u-1", "user_dn": "User 1 DN"}]).replace(b'"0.2"', b'"v0.2"', 1)
    record = parse(body).records[0]
    assert (record["local_user"], record["global_user_name"]) == ("u-1", "User 1 DN")


def test_storage_100_gib_from_caso_parses():
    body = testing.storage_message([{}])
    assert body.startswith(b'<sr:StorageUsageRecords xmlns:sr="http://eu-emi.eu/namespaces/2011/02/storagerecord">')
    message = parse(body)
    assert message.kind == "storage"
    assert message.records == [
        {
            "record_id": "99cf5d02-a573-46a1-b90d-0f7327126876",
            "create_time": at(2024, 3, 31, 23),
            "storage_system": "https://keystone.example.org:5000/v3",
            "site_name": "CESGA-CLOUD",
            "local_user": "a4519d7df60a49089d637d9e17422188",
            "local_group": "2dae43c4188943e6b172d4e99381e30a",
            "global_user_name": "8b2f0c3e1d7a4b5c9e6f@egi.eu",
            "group": "vo.access.egi.eu",
            "vo": "vo.access.egi.eu",
            "vo_group": None,
            "vo_role": None,
            "start_time": at(2024, 3, 1),
            "end_time": at(2024, 3, 31, 23),
            "resource_capacity_used": 100 * 2**30,
            "measurement_year": 2024,
            "measurement_month": 3,
        }
    ]


def test_several_storage_records_and_a_single_record_root():
    body = testing.storage_message([{}, {"uuid": testing.VM_UUID, "capacity": 1, "fqan": "/ops/Role=admin"}])
    first, second = parse(body).records
    assert (second["resource_capacity_used"], second["vo"], second["vo_group"], second["vo_role"]) == (
        2**30,
        "ops",
        "/ops",
        "Role=admin",
    )
    single = testing.storage_record().ssm_message()
    assert parse(single).records == [first]


def test_push_gives_every_kind_in_cASO_order():
    bodies = testing.push([testing.storage_record(), testing.ip_record(), testing.cloud_record()])
    assert [parse(body).kind for body in bodies] == ["cloud", "ip", "storage"]


# --- the spec's quoted samples ---


def test_spec_sample_1_parses():
    record = parse(SAMPLE_1.encode()).records[0]
    assert (record["vo"], record["vo_group"], record["vo_role"]) == ("ops", "/ops", "Role=NULL")
    assert (record["cpu_count"], record["benchmark"], record["benchmark_type"]) == (
        Decimal("1.456"),
        Decimal(200),
        "Si2k",
    )
    assert (record["end_time"], record["suspend_duration"], record["network_type"]) == (None, None, None)
    assert record["measurement_time"] == datetime.datetime.fromtimestamp(1343362725 + 1582876, UTC)
    assert record["vm_uuid"] == "2012-08-14 14:00:01+0200 FZJ Accounting Test"


def test_spec_summary_sample_parses():
    message = parse(SUMMARY_SAMPLE.encode())
    assert (message.kind, message.version, len(message.records)) == ("cloud_summary", "v0.4", 2)
    march, april = message.records
    assert march == {
        "site_name": "CESGA-CLOUD",
        "cloud_compute_service": "https://keystone.example.org:5000/v3",
        "month": 3,
        "year": 2024,
        "global_user_name": "8b2f0c3e1d7a4b5c9e6f@egi.eu",
        "vo": "vo.access.egi.eu",
        "vo_group": None,
        "vo_role": None,
        "status": "started",
        "cloud_type": "caso/5.2.2 (OpenStack)",
        "image_id": "img-1",
        "earliest_start_time": at(2024, 3, 1, 8),
        "latest_start_time": at(2024, 3, 1, 8),
        "wall_duration": 2646000,
        "cpu_duration": 10584000,
        "cpu_count": Decimal("4.0"),
        "network_inbound": None,
        "network_outbound": None,
        "memory": 8192,
        "disk": 80,
        "benchmark_type": "HEPscore23",
        "benchmark": Decimal("12.5"),
        "number_of_vms": 1,
    }
    assert (april["month"], april["status"], april["wall_duration"], april["cpu_duration"]) == (
        4,
        "completed",
        781200,
        3124800,
    )


def test_summary_needs_its_mandatory_fields_and_a_real_month():
    good = {"SiteName": "S", "Month": 3, "Year": 2024, "NumberOfVMs": 1}
    assert parse(cloud_text(good, header="APEL-cloud-summary-message: v0.4")).records[0]["number_of_vms"] == 1
    for name in good:
        error = rejected(
            cloud_text({k: v for k, v in good.items() if k != name}, header="APEL-cloud-summary-message: v0.4")
        )
        assert (error.record, error.field) == (1, name)
    error = rejected(cloud_text({**good, "Month": 13}, header="APEL-cloud-summary-message: v0.4"))
    assert str(error) == "record 1, field Month: integer '13' out of range 1..12"
    error = rejected(cloud_text({**good, "VMUUID": "x"}, header="APEL-cloud-summary-message: v0.4"))
    assert (error.field, error.message) == ("VMUUID", "unknown field")


def test_accelerator_sample_of_the_egi_page_parses():
    body = {
        "Type": "APEL-accelerator-message",
        "Version": "0.1",
        "UsageRecords": [
            {
                "SiteName": "SAMPLE-SITE",
                "CloudType": "caso/5.2.1 (OpenStack)",
                "CloudComputeService": "host.example.com",
                "AssociatedRecord": "12345678-1234-5678-9012-123456789012",
                "FQAN": "vo.sample.org",
                "Count": 4,
                "AvailableDuration": 2592000,
                "MeasurementMonth": 4,
                "MeasurementYear": 2026,
                "AssociatedRecordType": "cloud",
                "Type": "GPU",
                "Model": "NVIDIA Tesla V100",
                "ActiveDuration": 2592000,
            }
        ],
    }
    record = parse(json.dumps(body, indent=2).encode()).records[0]
    assert (record["site_name"], record["count"], record["measurement_year"]) == ("SAMPLE-SITE", 4, 2026)


# --- §2.1's edge-case table ---


def test_only_vmuuid_and_sitename_is_accepted():
    record = parse(cloud_text(MINIMAL)).records[0]
    assert (record["vm_uuid"], record["site_name"]) == ("vm-1", "CESGA-CLOUD")
    assert record["measurement_time"] is None and record["measurement_month"] is None
    assert all(value is None for key, value in record.items() if key not in ("vm_uuid", "site_name"))


def test_missing_sitename_is_rejected():
    error = rejected(cloud_text({"VMUUID": "vm-1"}))
    assert str(error) == "record 1, field SiteName: mandatory field not specified"
    assert (error.record, error.field) == (1, "SiteName")


def test_null_sitename_is_missing():
    assert rejected(cloud_text({"VMUUID": "vm-1", "SiteName": "NULL"})).field == "SiteName"


def test_unknown_field_is_rejected():
    error = rejected(cloud_text({**MINIMAL, "Foo": "bar"}))
    assert str(error) == "record 1, field Foo: unknown field"


def test_keys_are_case_sensitive():
    assert rejected(cloud_text({**MINIMAL, "wallduration": "1"})).field == "wallduration"


def test_non_integral_integer_is_rejected_naming_record_and_field():
    error = rejected(cloud_text(MINIMAL, MINIMAL, {**MINIMAL, "WallDuration": "12.5"}))
    assert str(error) == "record 3, field WallDuration: invalid integer '12.5'"


@pytest.mark.parametrize("value", ["1e3", "1_000", "0x10", "١٢", "12 5", "+", "--1"])
def test_other_non_integers_are_rejected(value):
    assert rejected(cloud_text({**MINIMAL, "Memory": value})).field == "Memory"


@pytest.mark.parametrize("field", ["WallDuration", "CpuDuration", "SuspendDuration", "Memory", "Disk", "PublicIPCount"])
def test_negative_sizes_and_durations_are_rejected(field):
    error = rejected(cloud_text({**MINIMAL, field: "-1"}))
    assert (error.record, error.field) == (1, field)


def test_absurd_integers_are_rejected():
    assert parse(cloud_text({**MINIMAL, "NetworkInbound": 2**63 - 1})).records[0]["network_inbound"] == 2**63 - 1
    error = rejected(cloud_text({**MINIMAL, "NetworkInbound": 2**63}))
    assert error.field == "NetworkInbound" and "out of range" in error.message
    assert rejected(cloud_text({**MINIMAL, "Disk": "9" * 5000})).field == "Disk"


def test_null_literals_are_null():
    record = parse(
        cloud_text({**MINIMAL, "WallDuration": "NULL", "CpuDuration": "none", "Memory": "", "FQAN": "NoNe"})
    ).records[0]
    assert (record["wall_duration"], record["cpu_duration"], record["memory"], record["fqan"], record["vo"]) == (
        None,
        None,
        None,
        None,
        None,
    )


def test_three_records_one_bad_rejects_the_whole_message():
    error = rejected(cloud_text(MINIMAL, {**MINIMAL, "CpuDuration": "x"}, MINIMAL))
    assert (error.record, error.field) == (2, "CpuDuration")


def test_iso_start_time_is_accepted():
    record = parse(cloud_text({**MINIMAL, "StartTime": "2024-03-01T08:00:00Z", "WallDuration": 60})).records[0]
    assert (record["start_time"], record["measurement_time"]) == (at(2024, 3, 1, 8), at(2024, 3, 1, 8, 1))


@pytest.mark.parametrize(
    "value", ["2024-02-30T08:00:00Z", "2024-03-01 08:00:00", "2024-03-01T08:00:00+01:00", "-5", "1.5"]
)
def test_invalid_times_are_rejected(value):
    error = rejected(cloud_text({**MINIMAL, "StartTime": value}))
    assert (error.record, error.field) == (1, "StartTime")


def test_end_time_zero_means_not_ended():
    assert parse(cloud_text({**MINIMAL, "EndTime": "0"})).records[0]["end_time"] is None


def test_completed_without_end_time_has_no_measurement_month():
    record = parse(
        cloud_text({**MINIMAL, "Status": "completed", "StartTime": epoch(2024, 3, 1), "EndTime": 0})
    ).records[0]
    assert (record["measurement_time"], record["measurement_year"]) == (None, None)


def test_header_v02_accepted_and_wrong_headers_rejected():
    assert parse(cloud_text(MINIMAL, header="APEL-cloud-message: v0.2")).kind == "cloud"
    for header in (
        "APEL-cloud-message-x: v0.4",
        "apel-cloud-message: v0.4",
        "APEL-cloud-message",
        "APEL-individual-job-message: v0.3",
    ):
        error = rejected(cloud_text(MINIMAL, header=header))
        assert "not recognised" in error.message, header


def test_ignored_cloud_fields_are_accepted_and_dropped():
    body = cloud_text(
        {**MINIMAL, "UpdateTime": "x", "MeasurementTime": "y", "MeasurementMonth": "z", "MeasurementYear": "w"}
    )
    record = parse(body).records[0]
    assert record["measurement_time"] is None and "update_time" not in record


def test_line_without_colon_is_rejected():
    error = rejected(b"APEL-cloud-message: v0.4\nVMUUID: a\nSiteName: S\njust text\n")
    assert (error.record, str(error)) == (1, "record 1: line without ':': 'just text'")


def test_value_may_contain_colons_and_line_order_is_free():
    record = parse(b"APEL-cloud-message: v0.4\nSiteName: S\nImageId: http://x:80/y\nVMUUID: a\n").records[0]
    assert (record["image_id"], record["vm_uuid"]) == ("http://x:80/y", "a")


def test_field_given_twice_is_rejected():
    assert rejected(cloud_text(MINIMAL) + b"SiteName: OTHER\n").field == "SiteName"


def test_string_limits():
    assert parse(cloud_text({**MINIMAL, "MachineName": "m" * 255})).records[0]["machine_name"] == "m" * 255
    assert (
        str(rejected(cloud_text({**MINIMAL, "MachineName": "m" * 256})))
        == "record 1, field MachineName: longer than 255 characters"
    )
    assert rejected(cloud_text({**MINIMAL, "BenchmarkType": "b" * 51})).field == "BenchmarkType"


def test_decimals_are_exact_and_nan_infinity_negative_are_rejected():
    record = parse(cloud_text({**MINIMAL, "CpuCount": "0.1", "Benchmark": "12.3456"})).records[0]
    assert record["cpu_count"] == Decimal("0.1") and record["benchmark"] == Decimal("12.346")  # DECIMAL(10,3)
    for value in ("NaN", "nan", "Infinity", "-inf", "-1", "1e9", "abc", "sNaN"):
        error = rejected(cloud_text({**MINIMAL, "Benchmark": value}))
        assert (error.record, error.field) == (1, "Benchmark"), value


def test_measurement_time_overflow_is_a_400():
    error = rejected(cloud_text({**MINIMAL, "StartTime": epoch(2024, 1, 1), "WallDuration": 2**62}))
    assert (error.record, error.field) == (1, "WallDuration")


def test_fqan_parsing():
    assert parse_fqan("/fedcloud.egi.eu/ops/Role=VMManager/Capability=NULL") == (
        "fedcloud.egi.eu",
        "/fedcloud.egi.eu/ops",
        "Role=VMManager",
    )
    assert parse_fqan("vo.access.egi.eu") == ("vo.access.egi.eu", None, None)
    assert parse_fqan("/atlas/Role=production;/atlas/Role=NULL") == ("atlas", "/atlas", "Role=production")
    assert parse_fqan("/biomed") == ("biomed", "/biomed", None)
    assert parse_fqan("/dteam/group/role=x") == ("dteam", "/dteam/group", "role=x")
    assert parse_fqan(None) == (None, None, None)


# --- JSON messages: rules and hostile input ---


def ip_body(**changes):
    envelope = json.loads(testing.ip_message([{}]))
    envelope["UsageRecords"][0].update(changes)
    return json.dumps(envelope).encode()


def accelerator_body(*removed, **changes):
    envelope = json.loads(testing.accelerator_message([{}, {}]))
    envelope["UsageRecords"][1].update(changes)
    for name in removed:
        del envelope["UsageRecords"][1][name]
    return json.dumps(envelope).encode()


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"IPVersion": 5}, "IPVersion"),
        ({"IPVersion": "4"}, "IPVersion"),
        ({"IPCount": -1}, "IPCount"),
        ({"IPCount": 1.5}, "IPCount"),
        ({"IPCount": True}, "IPCount"),
        ({"SiteName": 7}, "SiteName"),
        ({"SiteName": None}, "SiteName"),
        ({"LocalGroup": ""}, "LocalGroup"),
        ({"FQAN": "null"}, "FQAN"),
        ({"MeasurementTime": "yesterday"}, "MeasurementTime"),
        ({"CloudType": {"nested": 1}}, "CloudType"),
        ({"uuid": [1, 2]}, "uuid"),
    ],
)
def test_bad_ip_fields_are_rejected(changes, field):
    error = rejected(ip_body(**changes))
    assert (error.record, error.field) == (1, field), str(error)


def test_ip_unknown_keys_are_ignored():
    assert parse(ip_body(Extra="x")).records[0]["ip_count"] == 3


@pytest.mark.parametrize(
    "removed, changes, field",
    [
        (("Type",), {}, "Type"),
        ((), {"Type": "TPU"}, "Type"),
        ((), {"MeasurementMonth": 0}, "MeasurementMonth"),
        ((), {"MeasurementYear": 1999}, "MeasurementYear"),
        ((), {"MeasurementYear": datetime.datetime.now(UTC).year + 2}, "MeasurementYear"),
        ((), {"AssociatedRecordType": "vm"}, "AssociatedRecordType"),
        (("Model",), {}, "Model"),
        (("AvailableDuration",), {}, "AvailableDuration"),
        ((), {"Count": -2}, "Count"),
        ((), {"Unknown": 1}, "Unknown"),
    ],
)
def test_bad_accelerator_fields_are_rejected(removed, changes, field):
    error = rejected(accelerator_body(*removed, **changes))
    assert (error.record, error.field) == (2, field), str(error)


def test_accelerator_decimal_count_is_exact():
    body = accelerator_body().replace(b'"Count": 2', b'"Count": 0.5', 1)
    assert parse(body).records[0]["count"] == Decimal("0.5")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_decimal_is_rejected_naming_the_field(literal):
    body = accelerator_body().replace(b'"Count": 2', f'"Count": {literal}'.encode())
    error = rejected(body)
    assert (error.record, error.field) == (1, "Count") and literal in error.message


def test_json_nan_as_a_string_field_is_rejected():
    assert rejected(ip_body().replace(b'"FQAN": "vo.access.egi.eu"', b'"FQAN": NaN')).field == "FQAN"


@pytest.mark.parametrize(
    "body, words",
    [
        (b"[1, 2]", "not an object"),
        (b'"APEL"', "not recognised"),  # neither `{` nor `<`: read as an APEL header line
        (b'{"Type": "APEL Public IP message", "Version": "0.2", "UsageRecords": {"a": 1}}', "not a list"),
        (b'{"Type": "APEL Public IP message", "Version": "0.2", "UsageRecords": []}', "no records"),
        (b'{"Type": "APEL Public IP message", "Version": "0.3", "UsageRecords": [{}]}', "unsupported version"),
        (b'{"Type": "APEL-job-message", "Version": "0.1", "UsageRecords": [{}]}', "not recognised"),
        (b'{"Type": "APEL Public IP message", "Version": "0.2", "UsageRecords": [{}], "More": 1}', "unknown key"),
        (b'{"Type": "APEL Public IP message", "Type": "APEL Public IP message"}', "given twice"),
        (b'{"Type": "APEL Public IP message", "Version": "0.2", "UsageRecords": [{}', "invalid JSON"),
    ],
)
def test_malformed_json_envelopes_are_400(body, words):
    assert words in rejected(body).message


def test_usage_record_not_an_object_names_the_record():
    error = rejected(ip_body().replace(b"}]}", b"}, 5]}"))
    assert (error.record, error.message) == (2, "not a JSON object")


def test_deeply_nested_json_is_a_fast_400():
    for body in (b"{" + b'"a":[' * 100_000 + b"]" * 100_000 + b"}", b'{"a":' * 100_000 + b"1" + b"}" * 100_000):
        started = time.monotonic()
        error = rejected(body)
        assert time.monotonic() - started < 2, error
        assert "JSON" in error.message or "not recognised" in error.message


def test_too_many_json_records_is_413_fast():
    body = (
        b'{"Type": "APEL Public IP message", "Version": "0.2", "UsageRecords": [' + b",".join([b"{}"] * 100_000) + b"]}"
    )
    started = time.monotonic()
    error = rejected(body, status=413)
    assert time.monotonic() - started < 2 and "100000 records" in error.message


# --- size and encoding limits ---


def test_ten_megabyte_body_is_413():
    body = testing.cloud_message([{}]) + b"x" * (10 * 2**20)
    assert "bytes" in rejected(body, status=413).message


def test_body_at_the_limit_is_parsed_not_refused_for_size():
    body = cloud_text({**MINIMAL, "MachineName": "m"})
    padded = body + b" " * (MAX_BODY_BYTES - len(body))
    assert len(padded) == MAX_BODY_BYTES and parse(padded).records[0]["machine_name"] == "m"
    rejected(padded + b" ", status=413)


def test_one_hundred_thousand_tiny_records_is_413_fast():
    body = b"APEL-cloud-message: v0.4\n" + b"a\n%%\n" * 100_000
    assert len(body) <= MAX_BODY_BYTES
    started = time.monotonic()
    error = rejected(body, status=413)
    assert time.monotonic() - started < 1, "counted after parsing"
    assert "100000 records" in error.message


def test_exactly_the_record_limit_is_accepted():
    body = cloud_text(*[{"VMUUID": f"vm-{n}", "SiteName": "S"} for n in range(MAX_RECORDS)])
    assert len(parse(body).records) == MAX_RECORDS
    rejected(cloud_text(*[MINIMAL] * (MAX_RECORDS + 1)), status=413)


def test_message_without_records_is_400():
    for body in (b"APEL-cloud-message: v0.4\n", b"APEL-cloud-message: v0.4\n%%\n%%\n", b"  \n ", b""):
        assert rejected(body).status == 400


def test_nul_bytes_are_400():
    error = rejected(cloud_text({**MINIMAL, "MachineName": "a\x00b"}))
    assert "NUL" in error.message


def test_invalid_utf8_is_400():
    error = rejected(cloud_text(MINIMAL) + b"MachineName: \xff\xfe\n")
    assert "UTF-8" in error.message


def test_utf8_text_and_str_bodies_are_fine():
    body = cloud_text({**MINIMAL, "MachineName": "nodo-señal"})
    assert parse(body.decode()).records[0]["machine_name"] == "nodo-señal"


# --- StAR XML: hostile input ---

PASSWD = open("/etc/passwd").read()  # noqa: SIM115 - the secret an external entity would leak

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<sr:StorageUsageRecords xmlns:sr="http://eu-emi.eu/namespaces/2011/02/storagerecord"><sr:StorageUsageRecord>
<sr:RecordIdentity sr:createTime="2024-03-31T23:00:00+00:00" sr:recordId="&lol9;" /><sr:StorageSystem>s</sr:StorageSystem>
<sr:Site>&lol9;</sr:Site><sr:StartTime>2024-03-01T00:00:00</sr:StartTime><sr:EndTime>2024-03-31T23:00:00</sr:EndTime>
<sr:ResourceCapacityUsed>1</sr:ResourceCapacityUsed></sr:StorageUsageRecord></sr:StorageUsageRecords>"""


def external_entity(doctype="DOCTYPE"):
    body = testing.storage_message([{}]).replace(b"<sr:Site>CESGA-CLOUD</sr:Site>", b"<sr:Site>&xxe;</sr:Site>")
    return f'<?xml version="1.0"?>\n<!{doctype} r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'.encode() + body


def test_billion_laughs_is_a_fast_400():
    started = time.monotonic()
    error = rejected(BILLION_LAUGHS)
    assert time.monotonic() - started < 1
    assert "DOCTYPE" in error.message and "lol" not in str(error)


@pytest.mark.parametrize("doctype", ["DOCTYPE", "doctype"])
def test_external_entity_is_refused_without_reading_the_file(doctype):
    error = rejected(external_entity(doctype))
    for line in PASSWD.splitlines()[:3]:
        assert line not in str(error) and line not in repr(error.args)
    assert "root:" not in str(error)


def test_lxml_settings_alone_do_not_expand_or_read_entities():
    """Belt and braces: even if a DTD got past the refusal, the parser settings neither expand nor fetch."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    started = time.monotonic()
    root = etree.fromstring(external_entity(), parser)
    text = etree.tostring(root).decode()
    assert "root:" not in text and time.monotonic() - started < 1
    try:
        root = etree.fromstring(BILLION_LAUGHS, parser)
    except etree.XMLSyntaxError as exc:  # libxml2's own amplification guard
        assert "amplification" in str(exc)
    else:
        assert len(etree.tostring(root)) < 10_000
    assert time.monotonic() - started < 1


def star(record_xml):
    return (
        b'<sr:StorageUsageRecords xmlns:sr="http://eu-emi.eu/namespaces/2011/02/storagerecord">'
        + record_xml
        + b"</sr:StorageUsageRecords>"
    )


def caso_star_record():
    return (
        testing.storage_record()
        .ssm_message()
        .replace(b' xmlns:sr="http://eu-emi.eu/namespaces/2011/02/storagerecord"', b"")
    )


@pytest.mark.parametrize(
    "old, new, field",
    [
        (b"<sr:ResourceCapacityUsed>107374182400", b"<sr:ResourceCapacityUsed>100.5", "ResourceCapacityUsed"),
        (b"<sr:ResourceCapacityUsed>107374182400", b"<sr:ResourceCapacityUsed>-1", "ResourceCapacityUsed"),
        (b"<sr:Site>CESGA-CLOUD</sr:Site>", b"", "Site"),
        (b"<sr:Site>CESGA-CLOUD</sr:Site>", b"<sr:Site>NULL</sr:Site>", "Site"),
        (b"<sr:Site>CESGA-CLOUD</sr:Site>", b"<sr:Site>A</sr:Site><sr:Site>B</sr:Site>", "Site"),
        (b"<sr:Site>CESGA-CLOUD</sr:Site>", b"<sr:Site>CESGA<sr:b/></sr:Site>", "Site"),
        (
            b"<sr:Site>CESGA-CLOUD</sr:Site>",
            b"<sr:Site>CESGA-CLOUD</sr:Site><sr:Colour>red</sr:Colour>",
            "{http://eu-emi.eu/namespaces/2011/02/storagerecord}Colour",
        ),
        (b"<sr:StartTime>2024-03-01T00:00:00+00:00", b"<sr:StartTime>March", "StartTime"),
        (b'sr:recordId="99cf5d02-a573-46a1-b90d-0f7327126876"', b"", "RecordId"),
        (b"<sr:StorageSystem>", b"<sr:StorageSystem>" + b"s" * 300, "StorageSystem"),
    ],
)
def test_bad_star_records_are_rejected_naming_record_and_field(old, new, field):
    record = caso_star_record()
    assert old in record
    error = rejected(star(record + record.replace(old, new)))
    assert (error.record, error.field) == (2, field), str(error)


def test_star_standard_extras_are_ignored_and_naive_times_are_utc():
    record = (
        caso_star_record()
        .replace(b"+00:00", b"")
        .replace(b"<sr:Site>", b"<sr:StorageMedia>disk</sr:StorageMedia><sr:Site>")
    )
    parsed = parse(star(record)).records[0]
    assert parsed["end_time"] == at(2024, 3, 31, 23) and parsed["create_time"] == at(2024, 3, 31, 23)


def test_other_xml_is_not_recognised():
    assert "not recognised" in rejected(b"<car:UsageRecord xmlns:car='urn:x'/>").message
    assert "invalid XML" in rejected(b"<sr:StorageUsageRecords").message
    assert "no records" in rejected(star(b"")).message


def test_too_many_star_records_is_413():
    record = caso_star_record()
    rejected(star(record * (MAX_RECORDS + 1)), status=413)


def test_every_error_of_a_record_names_record_and_field():
    """Every record-level rejection carries both, and str() shows them in the documented order."""
    cases = [
        cloud_text(MINIMAL, {**MINIMAL, "Disk": "1.0"}),
        ip_body(IPCount="3"),
        accelerator_body(Count="two"),
        star(caso_star_record() + caso_star_record().replace(b"107374182400", b"x")),
    ]
    for body in cases:
        error = rejected(body)
        assert error.record is not None and error.field is not None, str(error)
        assert str(error).startswith(f"record {error.record}, field {error.field}: ")


def test_caso_is_imported_by_the_test_kit_only():
    root = os.path.dirname(os.path.dirname(__file__))
    with open(os.path.join(root, "messages.py")) as source:
        assert "caso" not in source.read().replace("cASO", "")


def test_crlf_line_ends_parse_like_lf():
    body = testing.cloud_message([{}, vm_b()])
    assert parse(body.replace(b"\n", b"\r\n")) == parse(body)


def test_caso_configuration_is_parsed_once_and_reused():
    testing.cloud_message([{}])
    assert testing._configured
    assert testing.cloud_message([{}]) == testing.cloud_message([{}])
