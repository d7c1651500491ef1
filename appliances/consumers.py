"""What the three consumers of a HEPiX image list would refuse, checked before the portal signs.

Each checker takes the JSON bytes and returns human-readable problems (empty: that consumer accepts the list).
They follow the spec `appdb-hepix.md` §1.3, §1.4, §1.7 and §1.8:

* atrope 2.0.0 (and the EGI fork's per-image expiry): required keys, a missing or null image key invalidates the
  whole list; signer DN/CA must equal `hv:dn`/`hv:ca`; expired list; lowercase `hv:format` in its whitelist;
* cloudkeeper: non-blank values, strict `%Y-%m-%dT%H:%M:%SZ` dates, expired list or appliance;
* vmcatcher (hepixvmitrust): required keys, signer DN/CA, created not in the future, not expired,
  `hv:version` greater than the previous one, `dc:identifier` unchanged for a subscription;
* "hepix": the portal's own rules of the format that no single consumer states but all rely on
  (no JSON null anywhere, UUID identifiers, sha512 and size shapes, http(s) URIs).
"""

import json
import re
import uuid
from datetime import UTC, datetime
from email.parser import BytesHeaderParser

from appliances.hepix import ENDORSER_KEYS, HEPIX_DATE_FORMAT, IMAGE_KEYS, REQUIRED_IMAGE_VALUES

# atrope's HepixImageList.required_fields and HepixImage.field_map keys
ATROPE_LIST_KEYS = (
    "dc:date:created",
    "dc:date:expires",
    "hv:endorser",
    "dc:identifier",
    "dc:description",
    "dc:title",
    "hv:images",
    "dc:source",
    "hv:version",
    "hv:uri",
)
ATROPE_IMAGE_KEYS = (
    "ad:group",
    "ad:mpuri",
    "ad:user:fullname",
    "ad:user:guid",
    "ad:user:uri",
    "dc:description",
    "dc:identifier",
    "dc:title",
    "hv:hypervisor",
    "hv:format",
    "hv:size",
    "hv:uri",
    "hv:version",
    "sl:arch",
    "sl:checksum:sha512",
    "sl:comments",
    "sl:os",
    "sl:osname",
    "sl:osversion",
)
# Glance disk formats atrope keeps (anything else becomes raw), plus ova, which it unpacks itself
ATROPE_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop", "root-tar", "ova")
CLOUDKEEPER_LIST_VALUES = ("dc:identifier", "dc:date:expires", "ad:vo")
VMCATCHER_LIST_KEYS = ATROPE_LIST_KEYS
VMCATCHER_IMAGE_KEYS = (
    "dc:identifier",
    "dc:title",
    "dc:description",
    "hv:uri",
    "hv:size",
    "hv:version",
    "hv:hypervisor",
    "sl:arch",
    "sl:os",
    "sl:osversion",
    "sl:comments",
    "sl:checksum:sha512",
)
SHA512_RE = re.compile(r"[0-9a-f]{128}")
DIGITS_RE = re.compile(r"[0-9]+")


class _Invalid(Exception):
    pass


def _load(data: bytes) -> tuple[dict, list[dict]]:
    """The list object and its image objects; _Invalid when the bytes are not a HEPiX list at all."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _Invalid(f"invalid JSON ({exc})") from exc
    imagelist = document.get("hv:imagelist") if isinstance(document, dict) else None
    if not isinstance(imagelist, dict):
        raise _Invalid('no "hv:imagelist" object')
    entries = imagelist.get("hv:images", [])
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("hv:image"), dict) for e in entries
    ):
        raise _Invalid('"hv:images" is not a list of {"hv:image": {...}} objects')
    return imagelist, [e["hv:image"] for e in entries]


def _endorser(imagelist: dict) -> dict:
    x509 = imagelist.get("hv:endorser", {})
    x509 = x509.get("hv:x509") if isinstance(x509, dict) else None
    return x509 if isinstance(x509, dict) else {}


def _date(value) -> datetime | None:
    """A strict HEPiX date, or None (cloudkeeper's strptime refuses `+00:00`, `.000Z` and a missing Z)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, HEPIX_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _name(index: int, image: dict) -> str:
    return f"image #{index} ({image.get('dc:identifier') or 'no identifier'})"


def _checked(data: bytes, check) -> list[str]:
    try:
        imagelist, images = _load(data)
    except _Invalid as exc:
        return [str(exc)]
    return check(imagelist, images)


def _signer_problems(imagelist: dict, signer_dn, signer_ca) -> list[str]:
    x509 = _endorser(imagelist)
    found = []
    if signer_dn is not None and x509.get("hv:dn") != signer_dn:
        found.append(f"hv:dn {x509.get('hv:dn')!r} is not the signer's DN {signer_dn!r}")
    if signer_ca is not None and x509.get("hv:ca") != signer_ca:
        found.append(f"hv:ca {x509.get('hv:ca')!r} is not the signer's issuer {signer_ca!r}")
    return found


def atrope_problems(data: bytes, *, signer_dn=None, signer_ca=None, now=None) -> list[str]:
    """atrope 2.0.0 plus the EGI fork: any problem here makes it reject (or distrust) the whole list."""
    now = now or datetime.now(UTC)

    def check(imagelist, images):
        found = [f"list lacks {key}" for key in ATROPE_LIST_KEYS if key not in imagelist]
        x509 = _endorser(imagelist)
        found += [f"endorser lacks {key}" for key in ENDORSER_KEYS if key not in x509]
        found += _signer_problems(imagelist, signer_dn, signer_ca)
        expires = _date(imagelist.get("dc:date:expires"))
        if expires is None or _date(imagelist.get("dc:date:created")) is None:
            found.append(
                "list dc:date:created/dc:date:expires not UTC 'YYYY-MM-DDTHH:MM:SSZ' (a naive date breaks its expiry check)"
            )
        elif expires <= now:
            found.append(f"list expired on {imagelist['dc:date:expires']}: sites delete its images")
        for index, image in enumerate(images):
            name = _name(index, image)
            found += [
                f"{name}: {key} missing or null (whole list invalid)"
                for key in ATROPE_IMAGE_KEYS
                if image.get(key) is None
            ]
            fmt = image.get("hv:format")
            if isinstance(fmt, str) and fmt not in ATROPE_FORMATS:
                found.append(f"{name}: hv:format {fmt!r} is not a lowercase known format (atrope uploads it as raw)")
            image_expires = _date(image.get("dc:date:expires"))
            if image_expires is None:
                found.append(f"{name}: dc:date:expires missing or malformed (the EGI fork treats it as expired)")
            elif image_expires <= now:
                found.append(f"{name}: expired on {image['dc:date:expires']}: sites delete it")
            if not SHA512_RE.fullmatch(str(image.get("sl:checksum:sha512", ""))):
                found.append(f"{name}: sl:checksum:sha512 is not 128 lowercase hex digits (download check fails)")
        return found

    return _checked(data, check)


def cloudkeeper_problems(data: bytes, *, now=None) -> list[str]:
    """cloudkeeper 1.x/2.x: a blank required value or a malformed date anywhere rejects the whole list."""
    now = now or datetime.now(UTC)

    def check(imagelist, images):
        found = [f"list {key} is blank" for key in CLOUDKEEPER_LIST_VALUES if _blank(imagelist.get(key))]
        for key in ("dc:date:created", "dc:date:expires"):
            if key in imagelist and _date(imagelist[key]) is None:
                found.append(f"list {key} {imagelist[key]!r} does not match {HEPIX_DATE_FORMAT}")
        expires = _date(imagelist.get("dc:date:expires"))
        if expires is not None and expires <= now:
            found.append(f"list expired on {imagelist['dc:date:expires']}: its appliances are removed")
        for index, image in enumerate(images):
            name = _name(index, image)
            found += [f"{name}: {key} is blank" for key in REQUIRED_IMAGE_VALUES if _blank(image.get(key))]
            value = image.get("dc:date:expires")
            if not _blank(value):
                expires = _date(value)
                if expires is None:
                    found.append(f"{name}: dc:date:expires {value!r} does not match {HEPIX_DATE_FORMAT}")
                elif expires <= now:
                    found.append(f"{name}: expired on {value}: the appliance is removed")
            uri = image.get("hv:uri")
            if isinstance(uri, str) and uri and not uri.startswith(("http://", "https://")):
                found.append(f"{name}: hv:uri {uri!r} is not http(s)")
        return found

    return _checked(data, check)


def _version_key(value: str):
    """AppDB versions are YYYYMMDDhhmmss digits: compare as numbers; anything else as text."""
    return (0, int(value), "") if DIGITS_RE.fullmatch(value) else (1, 0, value)


def vmcatcher_problems(
    data: bytes,
    *,
    signer_dn=None,
    signer_ca=None,
    previous_version=None,
    previous_identifier=None,
    now=None,
) -> list[str]:
    """vmcatcher with hepixvmitrust: list-level problems refuse the update; an image lacking a key is dropped."""
    now = now or datetime.now(UTC)

    def check(imagelist, images):
        found = [f"list lacks {key}" for key in VMCATCHER_LIST_KEYS if key not in imagelist]
        x509 = _endorser(imagelist)
        found += [f"endorser lacks {key}" for key in ENDORSER_KEYS if key not in x509]
        found += _signer_problems(imagelist, signer_dn, signer_ca)
        created, expires = _date(imagelist.get("dc:date:created")), _date(imagelist.get("dc:date:expires"))
        if created is not None and created > now:
            found.append(f"list created in the future ({imagelist['dc:date:created']})")
        if expires is not None and expires <= now:
            found.append(f"list expired on {imagelist['dc:date:expires']}")
        version = imagelist.get("hv:version")
        if previous_version is not None and isinstance(version, str):
            if _version_key(version) <= _version_key(str(previous_version)):
                found.append(f"hv:version {version!r} is not greater than the previous {previous_version!r}")
        identifier = imagelist.get("dc:identifier")
        if previous_identifier is not None and identifier != previous_identifier:
            found.append(f"dc:identifier {identifier!r} changed from {previous_identifier!r}: subscribers refuse it")
        for index, image in enumerate(images):
            missing = [key for key in VMCATCHER_IMAGE_KEYS if key not in image]
            if missing:
                found.append(f"{_name(index, image)}: lacks {', '.join(missing)} (silently dropped)")
        return found

    return _checked(data, check)


def _nulls(value, path: str) -> list[str]:
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _nulls(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _nulls(item, f"{path}[{index}]")]
    return []


def hepix_problems(data: bytes) -> list[str]:
    """The format's own shapes, which every consumer relies on somewhere."""

    def check(imagelist, images):
        found = [f"JSON null at {path}" for path in _nulls(imagelist, "hv:imagelist")]
        for key, value in imagelist.items():
            if key.startswith("dc:date:") and _date(value) is None:
                found.append(f"list {key} {value!r} is not 'YYYY-MM-DDTHH:MM:SSZ'")
        ids = [image.get("dc:identifier") for image in images] + [imagelist.get("dc:identifier")]
        for value in ids:
            try:
                uuid.UUID(str(value))
            except ValueError:
                found.append(f"dc:identifier {value!r} is not a UUID")
        if len(set(map(str, ids))) != len(ids):
            found.append("dc:identifier values are not unique within the list")
        for index, image in enumerate(images):
            name = _name(index, image)
            missing = [key for key in IMAGE_KEYS if key not in image]
            if missing:
                found.append(f"{name}: lacks {', '.join(missing)}")
            for key, value in image.items():
                if key.startswith("dc:date:") and _date(value) is None:
                    found.append(f"{name}: {key} {value!r} is not 'YYYY-MM-DDTHH:MM:SSZ'")
                if value is not None and not isinstance(value, str):
                    found.append(f"{name}: {key} is a JSON {type(value).__name__}, not a string")
            if not DIGITS_RE.fullmatch(str(image.get("hv:size", ""))):
                found.append(f"{name}: hv:size {image.get('hv:size')!r} is not a byte count")
            if not str(image.get("hv:uri", "")).startswith(("http://", "https://")):
                found.append(f"{name}: hv:uri {image.get('hv:uri')!r} is not http(s)")
        return found

    return _checked(data, check)


def problems(
    data: bytes,
    *,
    signer_dn,
    signer_ca,
    previous_version=None,
    previous_identifier=None,
    now=None,
) -> list[str]:
    """Everything any consumer (or the format) would object to, each prefixed with who objects."""
    groups = {
        "hepix": hepix_problems(data),
        "atrope": atrope_problems(data, signer_dn=signer_dn, signer_ca=signer_ca, now=now),
        "cloudkeeper": cloudkeeper_problems(data, now=now),
        "vmcatcher": vmcatcher_problems(
            data,
            signer_dn=signer_dn,
            signer_ca=signer_ca,
            previous_version=previous_version,
            previous_identifier=previous_identifier,
            now=now,
        ),
    }
    return [f"{who}: {problem}" for who, found in groups.items() for problem in found]


def parse_signed(smime: bytes) -> bytes:
    """The signed content of a detached multipart/signed message, as consumers hand it to the JSON parser:
    the first part's bytes, CRLF line ends as canonicalised for the signature, without the CRLF that belongs to
    the closing boundary (RFC 1847). ValueError if the message is not multipart/signed."""
    head, sep, body = smime.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = smime.partition(b"\n\n")
    headers = BytesHeaderParser().parsebytes(head + b"\n\n")
    if headers.get_content_type() != "multipart/signed" or not headers.get_boundary():
        raise ValueError("not a multipart/signed S/MIME message")
    delimiter = b"--" + headers.get_boundary().encode("ascii", "replace")
    start = body.find(delimiter)
    if start < 0:
        raise ValueError("no first boundary")
    line_end = body.find(b"\n", start)
    end = body.find(b"\r\n" + delimiter, line_end)
    if line_end < 0 or end < 0:
        raise ValueError("no second boundary")
    return body[line_end + 1 : end]
