"""Parsers for the APEL accounting messages that cloud sites send (accounting.md §1, §2.1, §2.2).

`parse(body)` sniffs the body as APEL's RecordFactory does and returns a `Message` of plain dicts whose keys
are APEL's field names in snake_case. It is pure: no database, no settings. Parsing is all or nothing: the
first problem raises `MessageError` naming the record (1-based) and the field, and nothing is returned.

Kinds:
- ``cloud``: ``APEL-cloud-message`` (any version, both the cASO and the APEL unloader framing);
- ``cloud_summary``: ``APEL-cloud-summary-message``;
- ``ip``: JSON ``APEL Public IP message`` (Version ``0.2`` or ``v0.2``);
- ``accelerator``: JSON ``APEL-accelerator-message`` (Version ``0.1``);
- ``storage``: EMI StAR XML.
"""

import datetime
import functools
import json
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from lxml import etree

MAX_BODY_BYTES = 1_048_576
MAX_RECORDS = 1000
MAX_STRING = 255  # APEL's varchar(255)
MAX_BENCHMARK_TYPE = 50  # APEL's varchar(50)
MAX_INT = 2**63 - 1  # BIGINT
MAX_DECIMAL = Decimal("9999999.999")  # DECIMAL(10,3)
MAX_NUMBER_CHARS = 40  # no legitimate number needs more; keeps hostile digit strings cheap
MIN_YEAR = 2000

KINDS = ("cloud", "cloud_summary", "ip", "accelerator", "storage")
CLOUD_HEADER = "APEL-cloud-message"
SUMMARY_HEADER = "APEL-cloud-summary-message"
IP_TYPE = "APEL Public IP message"
ACCELERATOR_TYPE = "APEL-accelerator-message"
STAR_NS = "http://eu-emi.eu/namespaces/2011/02/storagerecord"
NULL_LITERALS = frozenset({"null", "none", ""})
UTC = datetime.UTC

_INT_RE = re.compile(r"[+-]?[0-9]+\Z")
_DECIMAL_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_ISO_Z_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z\Z")
_MAX_EPOCH = int(datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


class MessageError(Exception):
    """A message that cannot be accepted, whole. `status` is the HTTP status an entry point should answer
    (400, or 413 for an oversized message); `record` is the 1-based record number, `field` the APEL field."""

    def __init__(self, message, status=400, record=None, field=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.record = record
        self.field = field

    def __str__(self):
        where = []
        if self.record is not None:
            where.append(f"record {self.record}")
        if self.field is not None:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass(frozen=True)
class Message:
    """A parsed message: its kind (one of KINDS), the version it declared, and its records as dicts."""

    kind: str
    version: str
    records: list[dict] = field(default_factory=list)


class _FieldError(Exception):
    """Raised by a converter; the caller adds the record number and the field name."""


class _NonFinite(str):
    """NaN and Infinity in JSON: kept as a marker so the field check names the record and the field."""


def _show(value, limit=40):
    """A value quoted for an error message, cut short so hostile input cannot blow up the message."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text)


def site_names(message):
    """The set of SiteName values in a message: the sites a sender must be authorised for."""
    return {record["site_name"] for record in message.records}


def parse_fqan(fqan):
    """(vo, vo_group, vo_role) from an FQAN as APEL's parsing_utils.parse_fqan derives them.

    Only the first of several `;`-separated FQANs counts. A value not starting with `/` is the VO itself
    (cASO puts the mapped VO name there). Otherwise the VO is the first path element, the group every
    element before the first `Role=` piece, and the role that piece; APEL's string 'None' is None here."""
    if fqan is None:
        return None, None, None
    fqan = fqan.split(";")[0]
    if not fqan.startswith("/"):
        return fqan or None, None, None
    pieces = fqan.split("/")
    group, role = "", None
    for piece in pieces:
        if not piece:
            continue
        if piece.lower().startswith("role="):
            role = piece
            break
        group += "/" + piece
    return pieces[1] or None, group or None, role


# --- converters: text values arrive stripped and non-null; JSON values with their JSON type ---


def _string(limit=MAX_STRING, choices=None):
    def convert(value):
        if not isinstance(value, str) or isinstance(value, _NonFinite):
            raise _FieldError(f"expected a string, got {_show(value)}")
        if len(value) > limit:
            raise _FieldError(f"longer than {limit} characters")
        if choices is not None and value not in choices:
            raise _FieldError(f"{_show(value)} is not one of {', '.join(sorted(choices))}")
        return value

    convert.is_string = True
    return convert


def _integer(low=0, high=MAX_INT):
    """Strict integers: ASCII digits only in text (`12.5`, `1e3`, `1_000` are refused), JSON integers only in
    JSON (no floats, no booleans), within [low, high]: negatives make no sense for durations and sizes."""

    def convert(value):
        if isinstance(value, str):
            if len(value) > MAX_NUMBER_CHARS or not _INT_RE.match(value):
                raise _FieldError(f"invalid integer {_show(value)}")
            number = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise _FieldError(f"invalid integer {_show(value)}")
        if not low <= number <= high:
            raise _FieldError(f"integer {_show(value)} out of range {low}..{high}")
        return number

    return convert


def _decimal(value):
    """A non-negative decimal that fits APEL's DECIMAL(10,3), rounded half up to 3 places as that column
    stores it. Parsed from text (or from JSON with parse_float=Decimal), so never through a float."""
    if isinstance(value, str):
        if len(value) > MAX_NUMBER_CHARS or not _DECIMAL_RE.match(value):
            raise _FieldError(f"invalid decimal {_show(value)}")
        number = Decimal(value)
    elif isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        number = Decimal(value)
    else:
        raise _FieldError(f"invalid decimal {_show(value)}")
    if not number.is_finite():
        raise _FieldError(f"invalid decimal {_show(value)}")
    if not Decimal(0) <= number <= MAX_DECIMAL:
        raise _FieldError(f"decimal {_show(value)} out of range 0..{MAX_DECIMAL}")
    try:
        return number.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:  # pragma: no cover - excluded by the range check above
        raise _FieldError(f"invalid decimal {_show(value)}") from exc


def _datetime(value, zero_is_null=False):
    """An aware UTC datetime from an epoch integer or `YYYY-MM-DDTHH:MM:SSZ` (APEL's two forms)."""
    if isinstance(value, str) and _ISO_Z_RE.match(value):
        try:
            return datetime.datetime(*(int(part) for part in _ISO_Z_RE.match(value).groups()), tzinfo=UTC)
        except ValueError as exc:
            raise _FieldError(f"invalid date and time {_show(value)}") from exc
    try:
        epoch = _integer(0, _MAX_EPOCH)(value)
    except _FieldError as exc:
        raise _FieldError(f"invalid date and time {_show(value)}: epoch seconds or YYYY-MM-DDTHH:MM:SSZ") from exc
    if zero_is_null and epoch == 0:
        return None  # cASO's `EndTime: 0` means the VM has not ended
    return datetime.datetime.fromtimestamp(epoch, UTC)


def _end_time(value):
    return _datetime(value, zero_is_null=True)


def _ip_version(value):
    number = _integer(4, 6)(value)
    if number == 5:
        raise _FieldError(f"IP version {_show(value)} is neither 4 nor 6")
    return number


def _year(value):
    return _integer(MIN_YEAR, datetime.datetime.now(UTC).year + 1)(value)


STR = _string()
BENCHMARK_TYPE = _string(MAX_BENCHMARK_TYPE)
UINT = _integer()
DT = _datetime
MONTH = _integer(1, 12)

# (APEL name, dict key, converter, mandatory), in APEL's _msg_fields order.
CLOUD_FIELDS = (
    ("RecordCreateTime", "record_create_time", DT, False),
    ("VMUUID", "vm_uuid", STR, True),
    ("SiteName", "site_name", STR, True),
    ("CloudComputeService", "cloud_compute_service", STR, False),
    ("MachineName", "machine_name", STR, False),
    ("LocalUserId", "local_user_id", STR, False),
    ("LocalGroupId", "local_group_id", STR, False),
    ("GlobalUserName", "global_user_name", STR, False),
    ("FQAN", "fqan", STR, False),
    ("Status", "status", STR, False),
    ("StartTime", "start_time", DT, False),
    ("EndTime", "end_time", _end_time, False),
    ("SuspendDuration", "suspend_duration", UINT, False),
    ("WallDuration", "wall_duration", UINT, False),
    ("CpuDuration", "cpu_duration", UINT, False),
    ("CpuCount", "cpu_count", _decimal, False),
    ("NetworkType", "network_type", STR, False),
    ("NetworkInbound", "network_inbound", UINT, False),
    ("NetworkOutbound", "network_outbound", UINT, False),
    ("PublicIPCount", "public_ip_count", UINT, False),
    ("Memory", "memory", UINT, False),
    ("Disk", "disk", UINT, False),
    ("BenchmarkType", "benchmark_type", BENCHMARK_TYPE, False),
    ("Benchmark", "benchmark", _decimal, False),
    ("StorageRecordId", "storage_record_id", STR, False),
    ("ImageId", "image_id", STR, False),
    ("CloudType", "cloud_type", STR, False),
)
CLOUD_IGNORED = frozenset({"UpdateTime", "MeasurementTime", "MeasurementMonth", "MeasurementYear"})

SUMMARY_FIELDS = (
    ("SiteName", "site_name", STR, True),
    ("CloudComputeService", "cloud_compute_service", STR, False),
    ("Month", "month", MONTH, True),
    ("Year", "year", _year, True),
    ("GlobalUserName", "global_user_name", STR, False),
    ("VO", "vo", STR, False),
    ("VOGroup", "vo_group", STR, False),
    ("VORole", "vo_role", STR, False),
    ("Status", "status", STR, False),
    ("CloudType", "cloud_type", STR, False),
    ("ImageId", "image_id", STR, False),
    ("EarliestStartTime", "earliest_start_time", DT, False),
    ("LatestStartTime", "latest_start_time", DT, False),
    ("WallDuration", "wall_duration", UINT, False),
    ("CpuDuration", "cpu_duration", UINT, False),
    ("CpuCount", "cpu_count", _decimal, False),
    ("NetworkInbound", "network_inbound", UINT, False),
    ("NetworkOutbound", "network_outbound", UINT, False),
    ("Memory", "memory", UINT, False),
    ("Disk", "disk", UINT, False),
    ("BenchmarkType", "benchmark_type", BENCHMARK_TYPE, False),
    ("Benchmark", "benchmark", _decimal, False),
    ("NumberOfVMs", "number_of_vms", UINT, True),
)
SUMMARY_IGNORED = frozenset({"UpdateTime"})

# The EGI IP record v0.2 with the portal rule: LocalUser and GlobalUserName may be missing (cASO 5.2.2 never
# sends them) and unknown keys such as cASO's random `uuid` are ignored.
IP_FIELDS = (
    ("MeasurementTime", "measurement_time", DT, True),
    ("SiteName", "site_name", STR, True),
    ("CloudComputeService", "cloud_compute_service", STR, False),
    ("CloudType", "cloud_type", STR, False),
    ("LocalUser", "local_user", STR, False),
    ("LocalGroup", "local_group", STR, True),
    ("GlobalUserName", "global_user_name", STR, False),
    ("FQAN", "fqan", STR, True),
    ("IPVersion", "ip_version", _ip_version, True),
    ("IPCount", "ip_count", UINT, True),
)

# apel PR #459's AcceleratorRecord; Model is optional in its schema but NOT NULL in its table (part of the
# primary key), so a record without it could never be stored there either.
ACCELERATOR_FIELDS = (
    ("MeasurementMonth", "measurement_month", MONTH, True),
    ("MeasurementYear", "measurement_year", _year, True),
    ("AssociatedRecordType", "associated_record_type", _string(choices={"cloud", "job"}), True),
    ("AssociatedRecord", "associated_record", STR, True),
    ("GlobalUserName", "global_user_name", STR, False),
    ("FQAN", "fqan", STR, True),
    ("SiteName", "site_name", STR, True),
    ("Count", "count", _decimal, True),
    ("Cores", "cores", UINT, False),
    ("ActiveDuration", "active_duration", UINT, False),
    ("AvailableDuration", "available_duration", UINT, True),
    ("BenchmarkType", "benchmark_type", BENCHMARK_TYPE, False),
    ("Benchmark", "benchmark", _decimal, False),
    ("Type", "type", _string(choices={"GPU", "FPGA", "Other"}), True),
    ("Model", "model", STR, True),
    ("CloudType", "cloud_type", STR, False),
    ("CloudComputeService", "cloud_compute_service", STR, False),
)


def _is_null(value):
    return value is None or (isinstance(value, str) and value.strip().lower() in NULL_LITERALS)


def _convert(raw, fields, number, ignore_unknown=False, ignored=frozenset(), typed=False):
    """Typed dict (every key of `fields` present) from the raw `{APEL name: value}` of record `number`.
    `typed`: the values come from JSON, where numbers and times must be JSON numbers, not strings."""
    known = _known(fields)
    if not ignore_unknown:
        for name in raw:
            if name not in known and name not in ignored:
                raise MessageError("unknown field", record=number, field=_field_name(name))
    record = {}
    for apel, (key, convert, mandatory) in known.items():
        value = raw.get(apel)
        if _is_null(value):
            if mandatory:
                raise MessageError("mandatory field not specified", record=number, field=apel)
            record[key] = None
            continue
        if typed and isinstance(value, str) and not getattr(convert, "is_string", False):
            raise MessageError(f"expected a JSON number, got {_show(value)}", record=number, field=apel)
        if type(value) is str:  # not a _NonFinite marker, which must reach the converter as it is
            value = value.strip()
        try:
            record[key] = convert(value)
        except _FieldError as exc:
            raise MessageError(str(exc), record=number, field=apel) from None
    return record


@functools.cache
def _known(fields):
    """{APEL name: (key, converter, mandatory)} of a field table (made once per table)."""
    return {apel: (key, convert, mandatory) for apel, key, convert, mandatory in fields}


def _field_name(name):
    return name if len(name) <= 60 else name[:60] + "..."


def _add_vo(record, fqan):
    record["vo"], record["vo_group"], record["vo_role"] = parse_fqan(fqan)


def _add_month(record, when):
    record["measurement_year"] = when.year if when else None
    record["measurement_month"] = when.month if when else None


# --- plain-text APEL messages ---


def _text_records(text):
    """Split the text after the header on `%%` (cASO's `\\n%%\\n`, the unloader's `%%\\n` with a trailing one),
    skipping blank chunks; refuse too many before parsing any of them."""
    chunks = [chunk for chunk in text.split("%%") if chunk.strip()]
    _check_count(len(chunks))
    return chunks


def _text_fields(chunk, number):
    """`{key: value}` from one record's `Key: value` lines, each split on its first `:`."""
    raw = {}
    for line in chunk.split("\n"):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise MessageError(f"line without ':': {_show(line.strip())}", record=number)
        key, value = key.strip(), value.strip()
        if key in raw:
            raise MessageError("field given twice", record=number, field=_field_name(key))
        raw[key] = value
    return raw


def _cloud_record(raw, number):
    record = _convert(raw, CLOUD_FIELDS, number, ignored=CLOUD_IGNORED)
    _add_vo(record, record["fqan"])
    record["measurement_time"] = _measurement_time(record, number)
    _add_month(record, record["measurement_time"])
    return record


def _measurement_time(record, number):
    """MeasurementTime as APEL's ReplaceCloudRecord computes it (§2.2). Status is compared case-insensitively
    like MySQL's default collation does; APEL's zero date (no EndTime, no StartTime) is None here."""
    if (record["status"] or "").lower() == "completed":
        return record["end_time"]
    if record["record_create_time"] is not None:
        return record["record_create_time"]
    if record["start_time"] is None:
        return None
    seconds = (record["suspend_duration"] or 0) + (record["wall_duration"] or 0)
    try:
        return record["start_time"] + datetime.timedelta(seconds=seconds)
    except OverflowError:
        raise MessageError(
            "StartTime + SuspendDuration + WallDuration is past year 9999", record=number, field="WallDuration"
        ) from None


def _summary_record(raw, number):
    return _convert(raw, SUMMARY_FIELDS, number, ignored=SUMMARY_IGNORED)


def _parse_text(text):
    header, _, rest = text.partition("\n")
    kind_name, colon, version = header.partition(":")
    kind_name, version = kind_name.strip(), version.strip()
    builders = {CLOUD_HEADER: ("cloud", _cloud_record), SUMMARY_HEADER: ("cloud_summary", _summary_record)}
    if not colon or kind_name not in builders:
        raise MessageError(f"message type {_show(kind_name)} not recognised")
    if not version or len(version) > MAX_STRING:
        raise MessageError(f"invalid message version {_show(version)}")
    kind, build = builders[kind_name]
    chunks = _text_records(rest)
    records = [build(_text_fields(chunk, number), number) for number, chunk in enumerate(chunks, 1)]
    return Message(kind, version, records)


# --- JSON messages ---


def _no_duplicates(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise MessageError(f"JSON key {_show(key)} given twice")
        result[key] = value
    return result


def _ip_record(raw, number):
    record = _convert(raw, IP_FIELDS, number, ignore_unknown=True, typed=True)
    _add_vo(record, record["fqan"])
    _add_month(record, record["measurement_time"])
    return record


def _accelerator_record(raw, number):
    record = _convert(raw, ACCELERATOR_FIELDS, number, typed=True)
    if record["active_duration"] is None:
        record["active_duration"] = record["available_duration"]
    _add_vo(record, record["fqan"])
    return record


JSON_TYPES = {
    IP_TYPE: ("ip", {"0.2", "v0.2"}, _ip_record),
    ACCELERATOR_TYPE: ("accelerator", {"0.1", "v0.1"}, _accelerator_record),
}


def _parse_json(text):
    try:
        envelope = json.loads(text, parse_float=Decimal, parse_constant=_NonFinite, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise MessageError("invalid JSON: nested too deeply") from None
    except ValueError as exc:
        raise MessageError(f"invalid JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise MessageError("invalid JSON message: not an object")
    unknown = set(envelope) - {"Type", "Version", "UsageRecords"}
    if unknown:
        raise MessageError(f"invalid JSON message: unknown key {_show(sorted(unknown)[0])}")
    message_type, version, items = envelope.get("Type"), envelope.get("Version"), envelope.get("UsageRecords")
    if not isinstance(message_type, str) or message_type not in JSON_TYPES:
        raise MessageError(f"message type {_show(message_type)} not recognised")
    kind, versions, build = JSON_TYPES[message_type]
    if version not in versions:
        raise MessageError(f"unsupported version {_show(version)} of {message_type}")
    if not isinstance(items, list):
        raise MessageError("invalid JSON message: UsageRecords is not a list")
    _check_count(len(items))
    records = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise MessageError("not a JSON object", record=number)
        for name, value in item.items():
            if isinstance(value, dict | list):
                raise MessageError(f"nested value {_show(value)}", record=number, field=_field_name(name))
        records.append(build(item, number))
    return Message(kind, version, records)


# --- StAR XML ---

_STAR_LEAVES = {
    "StorageSystem": "StorageSystem",
    "Site": "Site",
    "StartTime": "StartTime",
    "EndTime": "EndTime",
    "ResourceCapacityUsed": "ResourceCapacityUsed",
}
_SUBJECT_LEAVES = {"LocalUser", "LocalGroup", "UserIdentity", "Group"}
# Standard StAR elements that a cloud portal has no column for: accepted and dropped, like APEL's parser does.
_STAR_IGNORED = {
    "StorageShare",
    "StorageMedia",
    "StorageClass",
    "FileCount",
    "DirectoryPath",
    "LogicalCapacityUsed",
    "ResourceCapacityAllocated",
}
_SUBJECT_IGNORED = {"GroupAttribute"}


def _iso_datetime(value):
    """StAR times are xsd:dateTime (cASO writes `2024-03-31T23:00:00+00:00`); a time without offset is UTC."""
    if not isinstance(value, str) or len(value) > MAX_NUMBER_CHARS:
        raise _FieldError(f"invalid date and time {_show(value)}")
    try:
        when = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise _FieldError(f"invalid date and time {_show(value)}") from None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise _FieldError(f"invalid date and time {_show(value)}") from None


STORAGE_FIELDS = (
    ("RecordId", "record_id", STR, True),
    ("CreateTime", "create_time", _iso_datetime, True),
    ("StorageSystem", "storage_system", STR, True),
    ("Site", "site_name", STR, True),
    ("LocalUser", "local_user", STR, False),
    ("LocalGroup", "local_group", STR, False),
    ("UserIdentity", "global_user_name", STR, False),
    ("Group", "group", STR, False),
    ("StartTime", "start_time", _iso_datetime, True),
    ("EndTime", "end_time", _iso_datetime, True),
    ("ResourceCapacityUsed", "resource_capacity_used", UINT, True),
)


def _tag(element):
    """Local name of a StAR element; anything outside the StAR namespace is refused by the caller."""
    qname = etree.QName(element)
    return qname.localname if qname.namespace == STAR_NS else None


def _leaf_text(element, number, name, raw):
    if len(element):
        raise MessageError("element has child elements", record=number, field=name)
    if name in raw:
        raise MessageError("element given twice", record=number, field=name)
    raw[name] = element.text or ""


def _star_fields(element, number):
    """`{StAR name: text}` of one sr:StorageUsageRecord, refusing elements StAR does not define."""
    raw = {}
    for child in element:
        if not isinstance(child.tag, str):  # comments and processing instructions carry no data
            continue
        name = _tag(child)
        if name == "RecordIdentity":
            if "RecordId" in raw:
                raise MessageError("element given twice", record=number, field=name)
            # cASO qualifies the attributes with the StAR prefix; other producers may not.
            for attribute, key in (("recordId", "RecordId"), ("createTime", "CreateTime")):
                raw[key] = child.get(f"{{{STAR_NS}}}{attribute}", child.get(attribute))
        elif name in _STAR_LEAVES:
            _leaf_text(child, number, name, raw)
        elif name == "SubjectIdentity":
            for part in child:
                if not isinstance(part.tag, str):
                    continue
                part_name = _tag(part)
                if part_name in _SUBJECT_LEAVES:
                    _leaf_text(part, number, part_name, raw)
                elif part_name not in _SUBJECT_IGNORED:
                    raise MessageError("unknown element", record=number, field=_field_name(str(part.tag)))
        elif name not in _STAR_IGNORED:
            raise MessageError("unknown element", record=number, field=_field_name(str(child.tag)))
    return raw


def _storage_record(raw, number):
    record = _convert(raw, STORAGE_FIELDS, number)
    _add_vo(record, record["group"])
    _add_month(record, record["end_time"] or record["create_time"])
    return record


def _parse_star(body):
    # Entity expansion ("billion laughs") and external entities live in a DTD: refuse any before lxml sees
    # it, and parse with every loading feature off in case one slips through in another spelling.
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise MessageError("XML with a DOCTYPE or entity declarations is not accepted")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, dtd_validation=False
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise MessageError(f"invalid XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise MessageError("XML with a DOCTYPE or entity declarations is not accepted")
    name = _tag(root)
    if name == "StorageUsageRecords":
        elements = [child for child in root if isinstance(child.tag, str)]
    elif name == "StorageUsageRecord":
        elements = [root]
    else:
        raise MessageError(f"XML message type {_show(root.tag)} not recognised")
    _check_count(len(elements))
    records = []
    for number, element in enumerate(elements, 1):
        if _tag(element) != "StorageUsageRecord":
            raise MessageError(f"unexpected element {_show(element.tag)}", record=number)
        records.append(_storage_record(_star_fields(element, number), number))
    return Message("storage", "", records)


# --- entry point ---


def _check_count(count):
    if count == 0:
        raise MessageError("message holds no records (1 to 1000 expected)")
    if count > MAX_RECORDS:
        raise MessageError(f"message holds {count} records, more than {MAX_RECORDS}", status=413)


def parse(body):
    """Parse one APEL message body (bytes, or str as a dirq queue may give it) into a Message.

    Sniffed as APEL's RecordFactory does after stripping whitespace: `<` is StAR XML, `{` is JSON chosen by
    its Type, anything else starts with an APEL `Type: version` header line. Raises MessageError.
    Limits: MAX_BODY_BYTES and MAX_RECORDS (413 beyond), no NUL bytes, UTF-8 only."""
    if isinstance(body, str):
        body = body.encode("utf-8", errors="surrogatepass")
    body = bytes(body)
    if len(body) > MAX_BODY_BYTES:
        raise MessageError(f"message of {len(body)} bytes, more than {MAX_BODY_BYTES}", status=413)
    if b"\x00" in body:
        raise MessageError("message contains NUL bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MessageError(f"message is not valid UTF-8 (byte {exc.start})") from None
    text = text.strip()
    if not text:
        raise MessageError("empty message")
    if text[0] == "<":
        return _parse_star(text.encode("utf-8"))
    if text[0] in "{[":  # APEL sniffs `{`; a JSON array is taken here too, for a clearer error
        return _parse_json(text)
    return _parse_text(text)
