"""The HEPiX document: dates, one-line DNs, the key union, string-only values and the exact bytes."""

# ruff: noqa: F401, F811 (pytest fixtures shared through hepix_support are imported, then requested by name)

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from appliances import hepix
from appliances.signing import issue_certificate, make_name
from appliances.tests.hepix_support import (
    demo_pki,
    endorser_fields,
    image_fields,
    list_fields,
    openssl,
    signer,
    valid_document,
)


def test_hepix_date_is_utc_with_literal_z_and_no_fraction():
    cest = timezone(timedelta(hours=2))
    assert hepix.hepix_date(datetime(2025, 6, 1, 12, 30, 5, 999999, tzinfo=cest)) == "2025-06-01T10:30:05Z"
    assert hepix.hepix_date(datetime(2499, 12, 31, 22, tzinfo=UTC)) == "2499-12-31T22:00:00Z"


def test_hepix_date_refuses_a_naive_datetime():
    with pytest.raises(ValueError, match="naive"):
        hepix.hepix_date(datetime(2025, 6, 1, 12, 0))


def test_naive_date_in_a_document_is_refused(signer):
    with pytest.raises(ValueError, match="naive"):
        hepix.build_document(list_fields(**{"dc:date:created": datetime(2025, 1, 1)}), endorser_fields(signer), [])


@pytest.mark.parametrize("which", ["ca_cert", "intermediate_cert", "signer_cert"])
def test_one_line_dn_equals_openssl_compat_subject(demo_pki, which):
    path = getattr(demo_pki, which)
    result = openssl("x509", "-in", str(path), "-noout", "-subject", "-issuer", "-nameopt", "compat")
    assert result.returncode == 0, result.stderr
    subject, issuer = result.stdout.decode().splitlines()
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    assert subject == "subject=" + hepix.one_line_dn(cert.subject)
    assert issuer == "issuer=" + hepix.one_line_dn(cert.issuer)


@pytest.mark.parametrize(
    "pairs",
    [
        [("DC", "EU"), ("O", "A/B=C, D+E"), ("CN", "Ünïcode Signer")],
        [("O", 'back\\slash "q" #h ;s <>'), ("CN", " lead trail ")],
    ],
)
def test_one_line_dn_escapes_like_openssl(tmp_path, pairs):
    key = ec.generate_private_key(ec.SECP256R1())
    name = make_name(pairs)
    (tmp_path / "c.pem").write_bytes(
        issue_certificate(name, key.public_key(), name, key, ca=True, days=1).public_bytes(serialization.Encoding.PEM)
    )
    result = openssl("x509", "-in", str(tmp_path / "c.pem"), "-noout", "-subject", "-nameopt", "compat")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().rstrip("\n") == "subject=" + hepix.one_line_dn(name)


def test_one_line_dn_keeps_rdn_order_and_is_not_rfc4514():
    name = make_name(
        [("DC", "EU"), ("DC", "EGI"), ("C", "NL"), ("O", "Hosts"), ("O", "EGI.eu"), ("CN", "appdb.egi.eu")]
    )
    assert hepix.one_line_dn(name) == "/DC=EU/DC=EGI/C=NL/O=Hosts/O=EGI.eu/CN=appdb.egi.eu"
    assert name.rfc4514_string() != hepix.one_line_dn(name)


def test_document_has_every_key_of_the_union_as_strings(signer):
    document = hepix.build_document(list_fields(), endorser_fields(signer), [image_fields(), {}])
    imagelist = document["hv:imagelist"]
    assert set(hepix.LIST_KEYS) | {"hv:endorser", "hv:images"} == set(imagelist)
    assert set(imagelist["hv:endorser"]["hv:x509"]) == set(hepix.ENDORSER_KEYS)
    full, empty = (entry["hv:image"] for entry in imagelist["hv:images"])
    assert set(full) == set(empty) == set(hepix.IMAGE_KEYS)
    assert full["hv:size"] == "121243136" and full["hv:ram_minimum"] == "512" and full["ad:ram_recommended"] == ""
    assert all(value == "" for value in empty.values())
    assert set(hepix.REQUIRED_IMAGE_VALUES) <= set(hepix.IMAGE_KEYS)


def test_none_everywhere_becomes_empty_strings_never_null(signer):
    fields = dict.fromkeys(hepix.LIST_KEYS)
    endorser = dict.fromkeys(hepix.ENDORSER_KEYS)
    image = dict.fromkeys(hepix.IMAGE_KEYS + hepix.IMAGE_EXTRA_KEYS)
    data = hepix.dumps(hepix.build_document(fields, endorser, [image]))
    assert b"null" not in data
    parsed = json.loads(data)["hv:imagelist"]
    assert set(parsed["hv:images"][0]["hv:image"]) == set(hepix.IMAGE_KEYS)  # empty extras are left out
    assert all(v == "" for k, v in parsed.items() if k not in ("hv:endorser", "hv:images"))


def test_dates_in_document_never_carry_offset_or_fraction(signer):
    odd = datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=-5)))
    document = hepix.build_document(
        list_fields(**{"dc:date:expires": odd}), endorser_fields(signer), [image_fields(**{"dc:date:expires": odd})]
    )
    data = hepix.dumps(document).decode()
    assert '"2030-01-02T08:04:05Z"' in data
    assert "+00:00" not in data and ".000" not in data and ".123" not in data and "-05:00" not in data


@pytest.mark.parametrize(
    "section, bad",
    [("list", {"dc:titel": "typo"}), ("endorser", {"hv:DN": "/CN=x"}), ("image", {"sl:checksum:sha256": "ab"})],
)
def test_unknown_key_is_an_error(signer, section, bad):
    fields, endorser, image = list_fields(), endorser_fields(signer), image_fields()
    {"list": fields, "endorser": endorser, "image": image}[section].update(bad)
    with pytest.raises(ValueError, match="unknown .* key"):
        hepix.build_document(fields, endorser, [image])


@pytest.mark.parametrize("value", [True, 1.5, b"bytes", ["list"], {"a": 1}])
def test_unsupported_value_types_are_errors(signer, value):
    with pytest.raises(ValueError, match="unsupported value type"):
        hepix.build_document(list_fields(), endorser_fields(signer), [image_fields(**{"sl:comments": value})])


def test_lone_surrogate_is_an_error_not_a_crash_later(signer):
    with pytest.raises(ValueError, match="UTF-8"):
        hepix.build_document(list_fields(), endorser_fields(signer), [image_fields(**{"dc:title": "bad \udc80"})])


def test_huge_and_non_ascii_strings_round_trip(signer):
    huge = "x" * 2_000_000
    text = 'Ελληνικά, 日本語, emoji 🚀, quotes " \\ and \n newline, \u2028 separator, NUL \x00'
    document = hepix.build_document(
        list_fields(**{"dc:description": huge}), endorser_fields(signer), [image_fields(**{"dc:description": text})]
    )
    data = hepix.dumps(document)
    parsed = json.loads(data.decode("utf-8"))
    assert parsed == document
    assert parsed["hv:imagelist"]["dc:description"] == huge
    assert parsed["hv:imagelist"]["hv:images"][0]["hv:image"]["dc:description"] == text
    assert "Ελληνικά".encode() in data  # UTF-8, not \u escapes


def test_extras_are_emitted_as_strings_when_given(signer):
    image = image_fields(**{"ad:accelerator:type": "GPU", "ad:accelerator:minimum": 1, "ad:network_traffic": ""})
    emitted = hepix.build_document(list_fields(), endorser_fields(signer), [image])["hv:imagelist"]["hv:images"][0]
    assert emitted["hv:image"]["ad:accelerator:type"] == "GPU"
    assert emitted["hv:image"]["ad:accelerator:minimum"] == "1"
    assert "ad:network_traffic" not in emitted["hv:image"]


def test_dumps_is_stable_three_space_lf_and_ends_with_newline(signer):
    document = valid_document(signer)
    data = hepix.dumps(document)
    assert data.endswith(b"}\n") and b"\r" not in data
    assert data.startswith(b'{\n   "hv:imagelist": {\n      "ad:vo": ')
    reordered = {"hv:imagelist": dict(reversed(list(document["hv:imagelist"].items())))}
    assert hepix.dumps(reordered) == data
    assert json.loads(data) == document
