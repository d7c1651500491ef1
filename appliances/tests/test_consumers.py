"""The consumers' rules: a portal-built list passes them all, and each trap of spec §1.7-§1.8 is reported."""

# ruff: noqa: F401, F811 (pytest fixtures shared through hepix_support are imported, then requested by name)

import json
from datetime import UTC, datetime, timedelta

import pytest

from appliances import consumers, hepix
from appliances.signing import sign
from appliances.tests.hepix_support import (
    LIST_ID,
    demo_pki,
    image_fields,
    signer,
    valid_document,
)


def _data(signer, change=None) -> bytes:
    """A valid list's bytes, with `change(imagelist, image)` applied to the parsed document first."""
    document = valid_document(signer)
    if change:
        imagelist = document["hv:imagelist"]
        change(imagelist, imagelist["hv:images"][0]["hv:image"])
    return hepix.dumps(document)


def _problems(signer, data, **kwargs):
    return consumers.problems(data, signer_dn=signer.dn, signer_ca=signer.ca_dn, **kwargs)


def _has(found, who, text):
    return any(p.startswith(who + ":") and text in p for p in found)


def test_portal_list_passes_every_consumer(signer):
    assert _problems(signer, _data(signer), previous_version="20000101000000", previous_identifier=LIST_ID) == []


def test_empty_image_list_is_fine(signer):
    assert _problems(signer, hepix.dumps(valid_document(signer, images=[]))) == []


@pytest.mark.parametrize("where", ["list", "image"])
@pytest.mark.parametrize("value", ["2030-01-01T00:00:00+00:00", "2030-01-01T00:00:00.000Z", "2030-01-01T00:00:00"])
def test_malformed_dates_are_reported(signer, where, value):
    def change(imagelist, image):
        (imagelist if where == "list" else image)["dc:date:expires"] = value

    found = _problems(signer, _data(signer, change))
    assert _has(found, "cloudkeeper", "does not match %Y-%m-%dT%H:%M:%SZ")
    assert _has(found, "hepix", "is not 'YYYY-MM-DDTHH:MM:SSZ'")
    assert _has(found, "atrope", "dc:date")


def test_null_anywhere_is_reported(signer):
    def change(imagelist, image):
        image["ad:user:guid"] = None
        imagelist["hv:endorser"]["hv:x509"]["hv:email"] = None

    found = _problems(signer, _data(signer, change))
    assert _has(found, "hepix", "JSON null at hv:imagelist.hv:images[0].hv:image.ad:user:guid")
    assert _has(found, "hepix", "JSON null at hv:imagelist.hv:endorser.hv:x509.hv:email")
    assert _has(found, "atrope", "ad:user:guid missing or null (whole list invalid)")


def test_missing_atrope_key_invalidates_the_list(signer):
    found = consumers.atrope_problems(_data(signer, lambda _, image: image.pop("ad:user:guid")))
    assert found == [f"image #0 ({image_fields()['dc:identifier']}): ad:user:guid missing or null (whole list invalid)"]


def test_missing_vmcatcher_key_drops_the_image(signer):
    found = consumers.vmcatcher_problems(_data(signer, lambda _, image: image.pop("sl:osversion")))
    assert len(found) == 1 and "lacks sl:osversion (silently dropped)" in found[0]


@pytest.mark.parametrize("key", ["dc:identifier", "ad:mpuri", "dc:date:expires", "hv:uri", "sl:checksum:sha512"])
def test_blank_required_image_value_is_reported_by_cloudkeeper(signer, key):
    found = consumers.cloudkeeper_problems(_data(signer, lambda _, image: image.update({key: " "})))
    assert any(f"{key} is blank" in p for p in found)


def test_blank_vo_is_reported(signer):
    found = _problems(signer, _data(signer, lambda imagelist, _: imagelist.update({"ad:vo": ""})))
    assert _has(found, "cloudkeeper", "ad:vo is blank")


def test_wrong_endorser_dn_and_ca_are_reported(signer):
    def change(imagelist, _):
        x509 = imagelist["hv:endorser"]["hv:x509"]
        x509["hv:dn"] = "CN=EGI Portal demo image-list signer,O=EGI Portal,O=Demo,C=NL,DC=EGI,DC=EU"  # RFC 4514
        x509["hv:ca"] = signer.dn

    found = _problems(signer, _data(signer, change))
    for who in ("atrope", "vmcatcher"):
        assert _has(found, who, "is not the signer's DN") and _has(found, who, "is not the signer's issuer")
    assert not any(p.startswith("cloudkeeper") for p in found)  # cloudkeeper does not look at hv:dn


@pytest.mark.parametrize("previous", ["20991231235959", None])
def test_version_must_increase(signer, previous):
    data = _data(signer)
    current = json.loads(data)["hv:imagelist"]["hv:version"]
    for earlier_or_same in [previous or current, current]:
        found = _problems(signer, data, previous_version=earlier_or_same)
        assert _has(found, "vmcatcher", "is not greater than the previous")
    assert _problems(signer, data, previous_version=str(int(current) - 1)) == []


def test_changed_list_identifier_is_reported(signer):
    found = _problems(signer, _data(signer), previous_identifier="4f0f5b2e-0000-5000-8000-000000000000")
    assert _has(found, "vmcatcher", "changed from")


def test_expired_list_and_image_are_reported(signer):
    past = "2001-01-01T00:00:00Z"

    def change(imagelist, image):
        imagelist["dc:date:expires"] = past
        image["dc:date:expires"] = past

    found = _problems(signer, _data(signer, change))
    assert _has(found, "atrope", "list expired") and _has(found, "atrope", "image #0")
    assert _has(found, "cloudkeeper", "list expired") and _has(found, "cloudkeeper", "the appliance is removed")
    assert _has(found, "vmcatcher", "list expired")


def test_image_without_expiry_counts_as_expired_for_the_egi_atrope(signer):
    found = consumers.atrope_problems(_data(signer, lambda _, image: image.update({"dc:date:expires": ""})))
    assert any("treats it as expired" in p for p in found)


def test_created_in_the_future_is_reported(signer):
    data = _data(signer)
    found = _problems(signer, data, now=datetime.now(UTC) - timedelta(days=1))
    assert _has(found, "vmcatcher", "created in the future")


@pytest.mark.parametrize(
    "fmt, ok", [("qcow2", True), ("ova", True), ("raw", True), ("QCOW2", False), ("OVA", False), ("tar.gz", False)]
)
def test_format_must_be_lowercase_whitelisted(signer, fmt, ok):
    found = consumers.atrope_problems(_data(signer, lambda _, image: image.update({"hv:format": fmt})))
    assert (found == []) is ok


@pytest.mark.parametrize(
    "key, value, text",
    [
        ("sl:checksum:sha512", "AB" * 64, "128 lowercase hex"),
        ("sl:checksum:sha512", "ab" * 63, "128 lowercase hex"),
        ("hv:size", "12 MB", "not a byte count"),
        ("hv:size", 1234, "not a string"),
        ("dc:identifier", "image-1", "not a UUID"),
        ("hv:uri", "ftp://images.example.org/x.qcow2", "not http(s)"),
    ],
)
def test_value_shapes_are_reported(signer, key, value, text):
    found = _problems(signer, _data(signer, lambda _, image: image.update({key: value})))
    assert any(text in p for p in found), found


def test_duplicate_image_identifiers_are_reported(signer):
    document = valid_document(signer, images=[image_fields(), image_fields()])
    assert _has(_problems(signer, hepix.dumps(document)), "hepix", "not unique")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"[]",
        b"null",
        b'{"hv:imagelist": []}',
        b'{"hv:imagelist": {"hv:images": [1]}}',
        b"{" * 100_000,
    ],
)
def test_hostile_bytes_are_reported_not_raised(signer, data):
    found = _problems(signer, data)
    assert {p.split(":")[0] for p in found} == {"hepix", "atrope", "cloudkeeper", "vmcatcher"}


def test_parse_signed_returns_crlf_content_without_the_boundary_newline(signer):
    data = _data(signer)
    content = consumers.parse_signed(sign(data, signer))
    assert content == data.replace(b"\n", b"\r\n")


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"plain json",
        b"Content-Type: text/plain\r\n\r\n{}",
        b'Content-Type: multipart/signed; boundary="b"\r\n\r\nno boundary here',
        b'Content-Type: multipart/signed; boundary="b"\r\n\r\n--b\r\n{}\r\n',
    ],
)
def test_parse_signed_refuses_what_is_not_multipart_signed(message):
    with pytest.raises(ValueError):
        consumers.parse_signed(message)
