"""The HEPiX image list document: field names, value rendering and the JSON bytes that get signed.

Pure functions, no Django. The rules come from the consumers (cloudkeeper, atrope, vmcatcher), see the
spec `appdb-hepix.md` §1.3-§1.4:

* every scalar is a JSON string (AppDB practice; cloudkeeper hashes some fields, so types must not change
  between publishes), never `null`: a missing or None value is `""`;
* every key of the union the consumers require is present in every image, even when empty;
* dates are `YYYY-MM-DDTHH:MM:SSZ` in UTC;
* an unknown key in the input is an error, so a typo cannot silently drop a field.

Optional image extras, portal-defined `ad:` names (AppDB stored these but its JSON names are not known);
they are strings and emitted only when given a non-empty value, so an image without them has exactly the
AppDB shape:

* `ad:accelerator:type` — e.g. `GPU`; `ad:accelerator:vendor` — e.g. `NVIDIA`;
* `ad:accelerator:minimum`, `ad:accelerator:recommended` — number of accelerators, digits;
* `ad:network_traffic` — `;`-separated `direction:protocol:ports` rules, e.g. `in:tcp:22;out:any:0-65535`;
* `ad:context_formats` — `,`-separated contextualisation formats, e.g. `cloud-init,contextualization`.
"""

import json
from datetime import UTC, datetime

from cryptography import x509

HEPIX_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

LIST_KEYS = (
    "dc:identifier",
    "dc:title",
    "dc:description",
    "dc:date:created",
    "dc:date:expires",
    "dc:source",
    "hv:uri",
    "hv:version",
    "ad:vo",
)
ENDORSER_KEYS = ("dc:creator", "hv:ca", "hv:dn", "hv:email")
IMAGE_KEYS = (
    "dc:identifier",
    "dc:title",
    "dc:description",
    "dc:date:expires",
    "hv:uri",
    "hv:size",
    "hv:version",
    "hv:format",
    "hv:hypervisor",
    "sl:arch",
    "sl:os",
    "sl:osname",
    "sl:osversion",
    "sl:comments",
    "sl:checksum:sha512",
    "ad:mpuri",
    "ad:group",
    "ad:user:fullname",
    "ad:user:guid",
    "ad:user:uri",
    # recommended: cloudkeeper digests them, cloud-info-provider and probes read ad:base_mpuri / ad:appid
    "ad:base_mpuri",
    "ad:appid",
    "hv:ram_minimum",
    "ad:ram_recommended",
    "hv:core_minimum",
    "ad:core_recommended",
)
IMAGE_EXTRA_KEYS = (
    "ad:accelerator:type",
    "ad:accelerator:vendor",
    "ad:accelerator:minimum",
    "ad:accelerator:recommended",
    "ad:network_traffic",
    "ad:context_formats",
)
REQUIRED_LIST_VALUES = ("dc:identifier", "dc:date:created", "dc:date:expires", "hv:uri", "hv:version", "ad:vo")
REQUIRED_ENDORSER_VALUES = ("hv:ca", "hv:dn")
REQUIRED_IMAGE_VALUES = ("dc:identifier", "ad:mpuri", "dc:date:expires", "hv:uri", "sl:checksum:sha512")


def hepix_date(dt: datetime) -> str:
    """An aware datetime as `YYYY-MM-DDTHH:MM:SSZ` in UTC; fractions are dropped. A naive one is refused:
    its time zone would be a guess, and a wrong expiry removes images at every site."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()} has no time zone; HEPiX dates are UTC")
    return dt.astimezone(UTC).strftime(HEPIX_DATE_FORMAT)


# OpenSSL's short names; cryptography's RFC 4514 names differ for some (emailAddress is a dotted OID there).
_SHORT_NAMES = {
    x509.NameOID.COMMON_NAME: "CN",
    x509.NameOID.COUNTRY_NAME: "C",
    x509.NameOID.LOCALITY_NAME: "L",
    x509.NameOID.STATE_OR_PROVINCE_NAME: "ST",
    x509.NameOID.STREET_ADDRESS: "street",
    x509.NameOID.ORGANIZATION_NAME: "O",
    x509.NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    x509.NameOID.DOMAIN_COMPONENT: "DC",
    x509.NameOID.EMAIL_ADDRESS: "emailAddress",
    x509.NameOID.SERIAL_NUMBER: "serialNumber",
    x509.NameOID.USER_ID: "UID",
    x509.NameOID.TITLE: "title",
    x509.NameOID.GIVEN_NAME: "GN",
    x509.NameOID.SURNAME: "SN",
}


def _oneline_value(value: str) -> str:
    """OpenSSL's `compat` escaping: `/` and `+` get a backslash, printable ASCII stays, anything else is `\\xHH`
    per UTF-8 byte. Signer DNs should be plain ASCII anyway: consumers differ on escaped forms."""

    def escape(ch: str) -> str:
        if ch in "/+":
            return "\\" + ch
        return ch if 32 <= ord(ch) < 127 else "".join(f"\\x{b:02X}" for b in ch.encode())

    return "".join(map(escape, value))


def one_line_dn(name: x509.Name) -> str:
    """OpenSSL's legacy one-line form `/DC=EU/DC=EGI/C=NL/O=.../CN=...` in the certificate's RDN order, the form
    `hv:dn`/`hv:ca` must have (atrope and vmcatcher compare the strings exactly)."""
    parts = []
    for rdn in name.rdns:
        avas = [f"{_SHORT_NAMES.get(a.oid, a.oid.dotted_string)}={_oneline_value(str(a.value))}" for a in rdn]
        parts.append("+".join(avas))
    return "".join("/" + part for part in parts)


def _render(key: str, value) -> str:
    """One scalar as the string consumers expect."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return hepix_date(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{key}: unsupported value type {type(value).__name__}")
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{key}: not encodable as UTF-8 ({exc.reason})") from exc
    return text


def _section(what: str, values: dict, keys: tuple, extras: tuple = ()) -> dict:
    unknown = sorted(set(values) - set(keys) - set(extras))
    if unknown:
        raise ValueError(f"unknown {what} key(s): {', '.join(map(str, unknown))}")
    rendered = {key: _render(key, values.get(key)) for key in keys}
    for key in extras:
        text = _render(key, values.get(key))
        if text:
            rendered[key] = text
    return rendered


def build_document(fields: dict, endorser: dict, images: list[dict]) -> dict:
    """The `{"hv:imagelist": {...}}` document from HEPiX-named inputs (str, int, aware datetime or None).

    Every key of LIST_KEYS / ENDORSER_KEYS / IMAGE_KEYS is emitted, as a string; unknown keys raise ValueError.
    """
    imagelist = _section("list", fields, LIST_KEYS)
    imagelist["hv:endorser"] = {"hv:x509": _section("endorser", endorser, ENDORSER_KEYS)}
    imagelist["hv:images"] = [
        {"hv:image": _section(f"image #{index}", image, IMAGE_KEYS, IMAGE_EXTRA_KEYS)}
        for index, image in enumerate(images)
    ]
    return {"hv:imagelist": imagelist}


def dumps(document: dict) -> bytes:
    """The bytes to sign: UTF-8 JSON, 3-space indent (AppDB's), sorted keys so a re-render is byte-identical,
    `\\n` line ends and a final newline."""
    return (json.dumps(document, indent=3, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode()
