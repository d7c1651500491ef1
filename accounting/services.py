"""Business operations of accounting (accounting.md §2, §4.3, §6): who may send for which site, ingesting
one message all-or-nothing, and rebuilding the summaries.

A message is parsed whole first (accounting.messages); if any record is bad, or claims another site, the
message is refused and only the raw message with the reason is kept. Otherwise its records are written in
one transaction with the improved replace rule: a snapshot replaces the stored one of the same key only
if it is not older (MeasurementTime, then WallDuration), so replays and reordering give the same state.
"""

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import BigIntegerField, Count, ExpressionWrapper, F, Max, Sum
from django.utils import timezone

from egiportal import outbox
from egiportal.errors import Conflict, Forbidden, Invalid
from egiportal.models import VirtualOrganisation
from endpoints.models import Service
from sites.models import Site

from . import messages
from .choices import MessageKind, MessageState
from .models import (
    AcceleratorRecord,
    AcceleratorSummary,
    CloudRecord,
    CloudSummary,
    CloudUsage,
    IPRecord,
    IPSummary,
    RawMessage,
    StorageRecord,
    StorageSummary,
    sum_of_product,
)

logger = logging.getLogger(__name__)

ACCOUNTING_SERVICE_TYPES = ("eu.egi.cloud.accounting", "eu.egi.storage.accounting")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TooLarge(Invalid):
    """A message over the size or record limits (HTTP 413)."""


@dataclass
class Sender:
    """Who sends: the site a write-enabled API credential belongs to, or the DN that signed an SSM message."""

    site: Site | None = None
    signer: str = ""
    description: str = ""
    sites: list = field(default_factory=list)


def sender_for_credential(credential):
    """The sender of a request authenticated with a site API credential; refused unless write-enabled."""
    if credential is None:
        raise Forbidden("Send accounting messages with a write-enabled API credential of your site.")
    if not credential.allow_write:
        raise Forbidden(f"This API credential of {credential.site} is read-only: accounting needs write access.")
    return Sender(credential.site, description=f"{credential.get_kind_display()} {credential.identifier}")


def sender_for_signer(dn):
    """The sender of an SSM message signed by `dn`: the sites whose accounting services in production have
    that host DN (one cASO host may send for one site only; several matches are refused as ambiguous)."""
    services = Service.objects.filter(
        dn=dn, production=True, service_type__name__in=ACCOUNTING_SERVICE_TYPES
    ).select_related("site")
    sites = sorted({s.site for s in services}, key=lambda s: s.pk)
    if not sites:
        raise Forbidden(f"{dn!r} is not the host DN of an accounting service in production.")
    if len(sites) > 1:
        raise Forbidden(f"{dn!r} is the host DN of accounting services at several sites.")
    return Sender(sites[0], signer=dn, description=f"signer {dn}")


# ---------------------------------------------------------------------------------------------
# Ingestion
# ---------------------------------------------------------------------------------------------


@dataclass
class Ingested:
    message: RawMessage
    stored: int
    duplicate: bool = False


def _reject(sender, body, digest, message_id, source, error, kind=""):
    RawMessage.objects.create(
        kind=kind,
        state=MessageState.REJECTED,
        body=body[: messages.MAX_BODY_BYTES].decode("utf-8", "replace").replace("\x00", "\ufffd"),
        sha256=digest,
        site=sender.site,
        sender=sender.description[:255],
        source=source,
        error=error[:2000],
        message_id="",  # a rejected message may be sent again with its id once fixed
    )


def ingest(sender, body, *, message_id="", source="http"):
    """Parse and store one message for `sender`. Returns Ingested; raises Invalid (400), TooLarge (413) or
    Forbidden (403) having stored nothing but the rejected raw message."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    digest = hashlib.sha256(body).hexdigest()
    message_id = _clean_id(message_id)
    try:
        parsed = messages.parse(body)
    except messages.MessageError as exc:
        _reject(sender, body, digest, message_id, source, str(exc))
        raise (TooLarge if exc.status == 413 else Invalid)(str(exc)) from exc
    claimed = sorted(messages.site_names(parsed) - {sender.site.short_name})
    if claimed:
        reason = f"This message has records of {', '.join(claimed[:5])}; you may send only for {sender.site}."
        _reject(sender, body, digest, message_id, source, reason, parsed.kind)
        raise Forbidden(reason)
    if message_id:
        done = RawMessage.objects.filter(site=sender.site, message_id=message_id).first()
        if done is not None:
            return Ingested(done, done.record_count, duplicate=True)
    try:
        with transaction.atomic():
            raw = RawMessage.objects.create(
                kind=parsed.kind,
                state=MessageState.ACCEPTED,
                body=body.decode("utf-8"),
                sha256=digest,
                message_id=message_id,
                site=sender.site,
                sender=sender.description[:255],
                source=source,
                record_count=len(parsed.records),
            )
            STORE[parsed.kind](sender.site, raw, parsed.records)
            outbox.enqueue("accounting.tasks.summarise_site", sender.site.pk)
    except IntegrityError as exc:  # the same message id, sent twice at once: the other one stored it
        done = RawMessage.objects.filter(site=sender.site, message_id=message_id).first() if message_id else None
        if done is None:
            raise Conflict("This message clashed with another stored at the same time; send it again.") from exc
        return Ingested(done, done.record_count, duplicate=True)
    return Ingested(raw, len(parsed.records))


def _clean_id(message_id):
    message_id = (message_id or "").strip()
    if len(message_id) > 255 or not message_id.isprintable() or not message_id.isascii():
        raise Invalid("X-Message-Id must be at most 255 printable ASCII characters.")
    return message_id


def _vo_ids(names):
    names = {n for n in names if n}
    return dict(VirtualOrganisation.objects.filter(name__in=names).values_list("name", "id")) if names else {}


def _rows(model, site, raw, records, key, newer=None):
    """The rows of `records` (dicts with the model's field names) as {column: value} with every column of
    the table, one per `key` (the newest by `newer` when a message repeats a key), site, VO and message set."""
    vo_ids = _vo_ids(r.get("vo") for r in records)
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    text = {f.name for f in fields if f.get_internal_type() == "CharField"}
    names = {f.name for f in fields}
    chosen = {}
    for record in records:
        values = {n: ("" if v is None and n in text else v) for n, v in record.items() if n in names}
        k = tuple(values.get(name) for name in key)
        if k not in chosen or newer is None or newer(values) >= newer(chosen[k]):
            chosen[k] = values
    now = timezone.now()
    defaults = {f.name: now if getattr(f, "auto_now", False) else f.get_default() for f in fields}
    links = {"site": site.pk, "message": raw.pk if raw is not None else None}
    rows = []
    for values in chosen.values():
        row = {**defaults, **values, **{n: v for n, v in links.items() if n in names}}
        row["vo_ref"] = vo_ids.get(row.get("vo"))
        rows.append({f.column: row[f.name] for f in fields})
    return rows


def _snapshot_order(values):
    return (values.get("measurement_time") or EPOCH, values.get("wall_duration") or 0)


def upsert(model, rows, key, update_when=None):
    """INSERT the rows ({column: value}); a row whose key is stored already replaces it when `update_when`
    (SQL over `excluded` and the stored row) holds, or always without it. On PostgreSQL one statement
    takes each column as one array (unnest), so 1,000 records cost 40 parameters, not 40,000."""
    if not rows:
        return
    table = model._meta.db_table
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    keys = [model._meta.get_field(name).column for name in key]
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns if c not in keys)
    conflict = f"ON CONFLICT ({', '.join(quote(c) for c in keys)}) DO UPDATE SET {updates}"
    conflict += f" WHERE {update_when}" if update_when else ""
    insert = f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
            params = [[row[c] for row in rows] for c in columns]
            cursor.execute(f"{insert} SELECT * FROM unnest({arrays}) {conflict}", params)
            return
        for start in range(0, len(rows), 500):  # SQLite: rows of placeholders, values prepared by the fields
            batch = rows[start : start + 500]
            params = [f.get_db_prep_save(row[f.column], connection) for row in batch for f in fields]
            values = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(batch))
            cursor.execute(f"{insert} VALUES {values} {conflict}", params)


def quote(name):
    return connection.ops.quote_name(name)


CLOUD_KEY = ("site", "vm_uuid", "measurement_year", "measurement_month")
# The improved replace rule (§6): an older snapshot never replaces a newer one.
NOT_OLDER = (
    "(COALESCE(excluded.measurement_time, '1970-01-01'), COALESCE(excluded.wall_duration, 0)) >= "
    "(COALESCE({t}.measurement_time, '1970-01-01'), COALESCE({t}.wall_duration, 0))"
)


def store_cloud(site, raw, records):
    for record in records:
        if record.get("measurement_time") is None:  # never started: APEL's zero date, month 0
            record["measurement_year"] = record["measurement_month"] = 0
    rows = _rows(CloudRecord, site, raw, records, CLOUD_KEY[1:], _snapshot_order)
    upsert(CloudRecord, rows, CLOUD_KEY, NOT_OLDER.format(t=quote(CloudRecord._meta.db_table)))


IP_KEY = (
    "site", "cloud_compute_service", "local_group", "global_user_name", "ip_version", "measurement_year",
    "measurement_month",
)  # fmt: skip


def store_ip(site, raw, records):
    """The latest snapshot per key wins; the month's maximum is kept beside it."""
    rows = _rows(IPRecord, site, raw, records, IP_KEY[1:], lambda v: v["measurement_time"])
    for row in rows:
        row["max_ip_count"] = row["ip_count"]
    table = quote(IPRecord._meta.db_table)
    upsert(IPRecord, rows, IP_KEY, f"excluded.measurement_time >= {table}.measurement_time")
    # The maximum is over every snapshot of the month, also older ones that did not replace the row.
    for row in rows:
        IPRecord.objects.filter(
            **{name: row[name] for name in IP_KEY if name != "site"}, site=site, max_ip_count__lt=row["ip_count"]
        ).update(max_ip_count=row["ip_count"])


ACCELERATOR_KEY = ("site", "associated_record", "model", "measurement_year", "measurement_month")


def store_accelerator(site, raw, records):
    rows = _rows(AcceleratorRecord, site, raw, records, ACCELERATOR_KEY[1:], lambda v: v["available_duration"])
    table = quote(AcceleratorRecord._meta.db_table)
    upsert(AcceleratorRecord, rows, ACCELERATOR_KEY, f"excluded.available_duration >= {table}.available_duration")


STORAGE_KEY = ("site", "record_id", "measurement_year", "measurement_month")


def store_storage(site, raw, records):
    order = lambda v: v.get("end_time") or v.get("create_time") or EPOCH  # noqa: E731
    rows = _rows(StorageRecord, site, raw, records, STORAGE_KEY[1:], order)
    table = quote(StorageRecord._meta.db_table)
    newer = f"COALESCE(excluded.end_time, excluded.create_time) >= COALESCE({table}.end_time, {table}.create_time)"
    upsert(StorageRecord, rows, STORAGE_KEY, newer)


SUMMARY_KEY = (
    "site", "cloud_compute_service", "year", "month", "global_user_name", "vo", "vo_group", "vo_role", "status",
    "image_id", "cpu_count", "benchmark_type", "benchmark", "from_records",
)  # fmt: skip


def store_cloud_summary(site, raw, records):
    """Summaries from a regional server (§6): kept beside the ones rebuilt from records, replaced by newer ones."""
    for record in records:
        record["cpu_count"] = record.get("cpu_count") or 0
        record["benchmark"] = record.get("benchmark") or 0
    rows = _rows(CloudSummary, site, None, records, SUMMARY_KEY[1:-1])
    for row in rows:
        row["from_records"] = False
    upsert(CloudSummary, rows, SUMMARY_KEY)


STORE = {
    MessageKind.CLOUD: store_cloud,
    MessageKind.CLOUD_SUMMARY: store_cloud_summary,
    MessageKind.IP: store_ip,
    MessageKind.ACCELERATOR: store_accelerator,
    MessageKind.STORAGE: store_storage,
}


# ---------------------------------------------------------------------------------------------
# Summaries (§2.3)
# ---------------------------------------------------------------------------------------------

CLOUD_GROUP = (
    "site_id", "cloud_compute_service", "measurement_year", "measurement_month", "global_user_name", "vo",
    "vo_group", "vo_role", "status", "image_id", "COALESCE(cpu_count, 0)", "benchmark_type", "COALESCE(benchmark, 0)",
)  # fmt: skip


def _delta(column):
    """This snapshot minus the VM's previous one (0 when there is none), as APEL's SummariseVMs."""
    return f"{column} - COALESCE(LAG({column}) OVER (PARTITION BY site_id, vm_uuid ORDER BY measurement_time), 0)"


def _cloud_summary_sql(where):
    group = ", ".join(CLOUD_GROUP)
    return f"""
        INSERT INTO accounting_cloudsummary (
            site_id, cloud_compute_service, year, month, global_user_name, vo, vo_group, vo_role, status, image_id,
            cpu_count, benchmark_type, benchmark, vo_ref_id, number_of_vms, wall_duration, cpu_duration,
            network_inbound, network_outbound, memory, disk, earliest_start_time, latest_start_time, cloud_type,
            from_records, updated
        )
        SELECT {group}, MAX(vo_ref_id), COUNT(*), SUM(c_wall), SUM(c_cpu), SUM(c_in), SUM(c_out), SUM(memory),
               SUM(disk), MIN(start_time), MAX(start_time), MAX(cloud_type), %s, %s
        FROM (
            SELECT r.*, {_delta("wall_duration")} AS c_wall, {_delta("cpu_duration")} AS c_cpu,
                   {_delta("network_inbound")} AS c_in, {_delta("network_outbound")} AS c_out
            FROM accounting_cloudrecord r
            WHERE measurement_month > 0 {where}
        ) usage
        GROUP BY {group}
    """


@transaction.atomic
def summarise(site_ids=None):
    """Rebuild the summaries of these sites (all when None) from their records, in one transaction: what
    no record produces any more (a VO or status changed) goes (APEL's stale-summary cleaning)."""
    scope = {} if site_ids is None else {"site_id__in": list(site_ids)}
    where, params = "", []
    if site_ids is not None:
        ids = [int(pk) for pk in site_ids]
        if not ids:
            return
        where = f"AND site_id IN ({', '.join(['%s'] * len(ids))})"
        params = ids
    CloudSummary.objects.filter(from_records=True, **scope).delete()
    with connection.cursor() as cursor:
        cursor.execute(_cloud_summary_sql(where), [True, timezone.now(), *params])
    _roll_up(scope)
    _summarise_accelerators(scope)
    _summarise_ips(scope)
    _summarise_storage(scope)


def _roll_up(scope):
    """CloudUsage: the summaries (from records and from summary messages) per site, VO and month."""
    CloudUsage.objects.filter(**scope).delete()
    grouped = (
        CloudSummary.objects.filter(**scope)
        .values("site_id", "vo", "year", "month")
        .annotate(
            vo_id=Max("vo_ref_id"), vms=Sum("number_of_vms"), wall=Sum("wall_duration"),
            cpu=sum_of_product("wall_duration", "cpu_count"),
            normalised=sum_of_product("wall_duration", "cpu_count", "benchmark"),
            processors=sum_of_product("cpu_count", "number_of_vms"), memory_=Sum("memory"), disk_=Sum("disk"),
            net_in=Sum("network_inbound"), net_out=Sum("network_outbound"),
        )
        .order_by()
    )  # fmt: skip
    CloudUsage.objects.bulk_create(
        (
            CloudUsage(
                site_id=g["site_id"], vo_ref_id=g["vo_id"], vo=g["vo"], year=g["year"], month=g["month"],
                number_of_vms=g["vms"], wall_duration=g["wall"], cpu_seconds=g["cpu"],
                normalised_seconds=g["normalised"], processors=g["processors"], memory=g["memory_"], disk=g["disk_"],
                network_inbound=g["net_in"], network_outbound=g["net_out"],
            )
            for g in grouped
        ),
        batch_size=2000,
    )  # fmt: skip


def _summarise_accelerators(scope):
    AcceleratorSummary.objects.filter(**scope).delete()
    seconds = ExpressionWrapper(F("available_duration") * F("count"), output_field=BigIntegerField())
    grouped = (
        AcceleratorRecord.objects.filter(**scope)
        .values(
            "site_id", "measurement_year", "measurement_month", "associated_record_type", "global_user_name", "vo",
            "type", "model",
        )
        .annotate(
            vo_id=Max("vo_ref_id"), count_=Sum("count"), available=Sum("available_duration"),
            active=Sum("active_duration"), acc_seconds=Sum(seconds), n=Count("pk"),
        )
        .order_by()
    )  # fmt: skip
    AcceleratorSummary.objects.bulk_create(
        AcceleratorSummary(
            site_id=g["site_id"], vo_ref_id=g["vo_id"], year=g["measurement_year"], month=g["measurement_month"],
            associated_record_type=g["associated_record_type"], global_user_name=g["global_user_name"],
            vo=g["vo"], type=g["type"], model=g["model"], count=g["count_"], available_duration=g["available"],
            active_duration=g["active"], accelerator_seconds=int(g["acc_seconds"] or 0), number_of_records=g["n"],
        )
        for g in grouped
    )  # fmt: skip


def _summarise_ips(scope):
    IPSummary.objects.filter(**scope).delete()
    grouped = (
        IPRecord.objects.filter(**scope)
        .values("site_id", "measurement_year", "measurement_month", "vo", "ip_version")
        .annotate(vo_id=Max("vo_ref_id"), last=Sum("ip_count"), most=Sum("max_ip_count"))
        .order_by()
    )
    IPSummary.objects.bulk_create(
        IPSummary(
            site_id=g["site_id"], vo_ref_id=g["vo_id"], year=g["measurement_year"], month=g["measurement_month"],
            vo=g["vo"], ip_version=g["ip_version"], last_count=g["last"], max_count=g["most"],
        )
        for g in grouped
    )  # fmt: skip


def _summarise_storage(scope):
    StorageSummary.objects.filter(**scope).delete()
    grouped = (
        StorageRecord.objects.filter(**scope)
        .values("site_id", "measurement_year", "measurement_month", "vo")
        .annotate(vo_id=Max("vo_ref_id"), n=Count("pk"), capacity=Sum("resource_capacity_used"))
        .order_by()
    )
    StorageSummary.objects.bulk_create(
        StorageSummary(
            site_id=g["site_id"], vo_ref_id=g["vo_id"], year=g["measurement_year"], month=g["measurement_month"],
            vo=g["vo"], volumes=g["n"], capacity=g["capacity"],
        )
        for g in grouped
    )  # fmt: skip


def summarise_site(site_id):
    """The task after an ingestion: rebuild that site's summaries."""
    summarise([site_id])


def last_received(site):
    """When the site's last accepted message of each kind arrived: {kind: datetime}."""
    rows = (
        RawMessage.objects.filter(site=site, state=MessageState.ACCEPTED).values("kind").annotate(last=Max("received"))
    )
    return {row["kind"]: row["last"] for row in rows.order_by()}
