"""Signing with the demo PKI, verified by the real openssl command line, and the signer traps of spec §1.7."""

# ruff: noqa: F401, F811 (pytest fixtures shared through hepix_support are imported, then requested by name)

import json
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID

from appliances import consumers, hepix
from appliances.signing import (
    SigningSetupError,
    ensure_demo_pki,
    issue_certificate,
    load_signer,
    make_name,
    sign,
    subject_hash,
)
from appliances.tests.hepix_support import demo_pki, openssl, signer, valid_document

PEM = serialization.Encoding.PEM


def _verify(path, *trust: str, extra=()):
    return openssl("smime", "-verify", "-in", str(path), *trust, "-purpose", "smimesign", *extra)


def _sign_to(tmp_path, signer, name="image.list"):
    data = hepix.dumps(valid_document(signer))
    path = tmp_path / name
    path.write_bytes(sign(data, signer))
    return data, path


def test_signed_list_verifies_with_openssl_cafile_and_all_consumers_accept(tmp_path, signer, demo_pki):
    data, path = _sign_to(tmp_path, signer)
    result = _verify(path, "-CAfile", str(demo_pki.ca_cert))
    assert result.returncode == 0, result.stderr
    assert b"Verification successful" in result.stderr
    assert json.loads(result.stdout) == json.loads(data)
    assert result.stdout == data.replace(b"\n", b"\r\n")  # CRLF-canonical, byte for byte otherwise
    assert consumers.problems(result.stdout, signer_dn=signer.dn, signer_ca=signer.ca_dn) == []


def test_signed_list_verifies_with_the_hashed_ca_directory(tmp_path, signer, demo_pki):
    _, path = _sign_to(tmp_path, signer)
    result = _verify(path, "-CApath", str(demo_pki.ca_dir))
    assert result.returncode == 0, result.stderr
    # our hash names are the ones openssl itself computes (what `openssl rehash` would write)
    for cert_path in (demo_pki.ca_cert, demo_pki.intermediate_cert):
        expected = openssl("x509", "-in", str(cert_path), "-noout", "-hash").stdout.decode().strip()
        assert (demo_pki.ca_dir / f"{expected}.0").read_bytes() == cert_path.read_bytes()


def test_signed_message_is_detached_sha256_and_carries_the_intermediate(tmp_path, signer, demo_pki):
    data, path = _sign_to(tmp_path, signer)
    message = path.read_bytes()
    assert b'Content-Type: multipart/signed; protocol="application/x-pkcs7-signature"; micalg="sha-256"' in message
    signers = tmp_path / "signers.pem"
    result = _verify(path, "-CAfile", str(demo_pki.ca_cert), extra=("-signer", str(signers)))
    assert result.returncode == 0, result.stderr
    assert x509.load_pem_x509_certificates(signers.read_bytes()) == [signer.certificate]
    p7 = tmp_path / "p7.pem"
    assert openssl("smime", "-pk7out", "-in", str(path), "-out", str(p7)).returncode == 0
    listed = openssl("pkcs7", "-in", str(p7), "-print_certs", "-noout").stdout.decode()
    subjects = sorted(line for line in listed.splitlines() if line.startswith("subject="))
    assert len(subjects) == 2 and "EGI Portal Demo Signing CA" in subjects[0] and "image-list signer" in subjects[1]


def test_signed_content_has_no_text_header(tmp_path, signer):
    _, path = _sign_to(tmp_path, signer)
    content = consumers.parse_signed(path.read_bytes())
    assert content.startswith(b"{")
    assert b"Content-Type:" not in content


def test_the_text_option_is_what_breaks_json(tmp_path, signer, demo_pki):
    """The counter-example: with Text the signed body starts with a header, so consumers' JSON parse fails."""
    data = hepix.dumps(valid_document(signer))
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(signer.certificate, signer.key, hashes.SHA256())
    bad = builder.add_certificate(signer.chain[0]).sign(
        serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Text]
    )
    (tmp_path / "bad.list").write_bytes(bad)
    result = _verify(tmp_path / "bad.list", "-CAfile", str(demo_pki.ca_cert))
    assert result.returncode == 0 and result.stdout.startswith(b"Content-Type: text/plain")
    assert consumers.atrope_problems(result.stdout)[0].startswith("invalid JSON")


def test_no_binary_flag_so_crlf_canonical_content_verifies(tmp_path, signer, demo_pki):
    _, path = _sign_to(tmp_path, signer)
    content = consumers.parse_signed(path.read_bytes())
    assert b"\r\n" in content and b"\n" not in content.replace(b"\r\n", b"")
    # detach the signature and verify the CRLF content against it, as a consumer canonicalising does
    p7 = tmp_path / "sig.pem"
    assert openssl("smime", "-pk7out", "-in", str(path), "-out", str(p7)).returncode == 0
    (tmp_path / "content").write_bytes(content)
    ok = openssl(
        "smime", "-verify", "-binary", "-inform", "PEM", "-in", str(p7), "-content", str(tmp_path / "content"),
        "-CAfile", str(demo_pki.ca_cert), "-purpose", "smimesign",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    # and the Binary counter-example: signed over LF bytes, a CRLF-canonicalising verifier refuses it
    data = hepix.dumps(valid_document(signer))
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(signer.certificate, signer.key, hashes.SHA256())
    bad = builder.add_certificate(signer.chain[0]).sign(
        serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    )
    (tmp_path / "binary.list").write_bytes(bad)
    refused = _verify(tmp_path / "binary.list", "-CAfile", str(demo_pki.ca_cert))
    assert refused.returncode != 0


def test_without_the_chain_openssl_with_only_the_root_fails(tmp_path, signer, demo_pki):
    _, path = _sign_to(tmp_path, replace(signer, chain=[]))
    result = _verify(path, "-CAfile", str(demo_pki.ca_cert))
    assert result.returncode != 0
    assert b"unable to get local issuer certificate" in result.stderr


def test_load_signer_refuses_a_missing_intermediate(demo_pki):
    with pytest.raises(SigningSetupError, match="not in the chain file"):
        load_signer(demo_pki.signer_cert, demo_pki.signer_key)
    with pytest.raises(SigningSetupError, match="not in the chain file"):
        load_signer(demo_pki.signer_cert, demo_pki.signer_key, demo_pki.ca_cert)  # only the root


def test_load_signer_orders_chain_and_leaves_roots_out(demo_pki, tmp_path):
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(demo_pki.ca_cert.read_bytes() + demo_pki.intermediate_cert.read_bytes())
    loaded = load_signer(demo_pki.signer_cert, demo_pki.signer_key, bundle)
    assert [one.subject for one in loaded.chain] == [
        x509.load_pem_x509_certificate(demo_pki.intermediate_cert.read_bytes()).subject
    ]
    assert loaded.dn == "/DC=EU/DC=EGI/C=NL/O=Demo/O=EGI Portal/CN=EGI Portal demo image-list signer"
    assert loaded.ca_dn == "/DC=EU/DC=EGI/C=NL/O=Demo/CN=EGI Portal Demo Signing CA"
    pems = x509.load_pem_x509_certificates(loaded.chain_pem())
    assert pems == [loaded.certificate, *loaded.chain]


def _own_pki(tmp_path, *, eku=None, not_before=None, days=30):
    """A small EC PKI (fast) with a root, an intermediate and a signer with the given EKU/validity."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    root_key, mid_key, key = (ec.generate_private_key(ec.SECP256R1()) for _ in "abc")
    root_name, mid_name = make_name([("CN", "Test Root")]), make_name([("CN", "Test Mid")])
    root = issue_certificate(root_name, root_key.public_key(), root_name, root_key, ca=True, days=30)
    mid = issue_certificate(mid_name, mid_key.public_key(), root_name, root_key, ca=True, days=30)
    cert = issue_certificate(
        make_name([("O", "Test"), ("CN", "signer")]), key.public_key(), mid_name, mid_key,
        ca=False, days=days, eku=eku, not_before=not_before,
    )  # fmt: skip
    paths = {name: tmp_path / f"{name}.pem" for name in ("cert", "key", "chain", "root")}
    paths["cert"].write_bytes(cert.public_bytes(PEM))
    paths["key"].write_bytes(key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    paths["chain"].write_bytes(mid.public_bytes(PEM))
    paths["root"].write_bytes(root.public_bytes(PEM))
    return paths


def test_load_signer_refuses_a_tls_only_certificate(tmp_path):
    paths = _own_pki(tmp_path, eku=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])
    with pytest.raises(SigningSetupError, match="lacks emailProtection"):
        load_signer(paths["cert"], paths["key"], paths["chain"])


def test_tls_only_certificate_is_what_openssl_refuses(tmp_path):
    """The counter-example: signed anyway, openssl's smimesign purpose check refuses it like the consumers."""
    paths = _own_pki(tmp_path, eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    cert = x509.load_pem_x509_certificate(paths["cert"].read_bytes())
    key = serialization.load_pem_private_key(paths["key"].read_bytes(), None)
    builder = pkcs7.PKCS7SignatureBuilder().set_data(b"{}\n").add_signer(cert, key, hashes.SHA256())
    builder = builder.add_certificate(x509.load_pem_x509_certificate(paths["chain"].read_bytes()))
    (tmp_path / "tls.list").write_bytes(
        builder.sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature])
    )
    result = _verify(tmp_path / "tls.list", "-CAfile", str(paths["root"]))
    assert result.returncode != 0 and b"unsuitable certificate purpose" in result.stderr


def test_certificate_without_eku_is_accepted_and_verifies(tmp_path):
    paths = _own_pki(tmp_path, eku=[])
    loaded = load_signer(paths["cert"], paths["key"], paths["chain"])
    (tmp_path / "l").write_bytes(sign(b"{}\n", loaded))
    assert _verify(tmp_path / "l", "-CAfile", str(paths["root"])).returncode == 0


def test_load_signer_refuses_a_key_that_does_not_match(tmp_path, demo_pki):
    paths = _own_pki(tmp_path)
    with pytest.raises(SigningSetupError, match="does not match"):
        load_signer(demo_pki.signer_cert, paths["key"], demo_pki.chain)


def test_load_signer_refuses_expired_and_not_yet_valid(tmp_path):
    old = _own_pki(tmp_path / "old", not_before=datetime.now(UTC) - timedelta(days=10), days=1)
    with pytest.raises(SigningSetupError, match="expired"):
        load_signer(old["cert"], old["key"], old["chain"])
    future = _own_pki(tmp_path / "future", not_before=datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(SigningSetupError, match="not valid before"):
        load_signer(future["cert"], future["key"], future["chain"])


@pytest.mark.parametrize(
    "content", [b"", b"garbage", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]
)
def test_load_signer_reports_unreadable_files(tmp_path, demo_pki, content):
    (tmp_path / "bad.pem").write_bytes(content)
    with pytest.raises(SigningSetupError, match="cannot read"):
        load_signer(tmp_path / "bad.pem", demo_pki.signer_key, demo_pki.chain)
    with pytest.raises(SigningSetupError, match="cannot read"):
        load_signer(tmp_path / "missing.pem", demo_pki.signer_key, demo_pki.chain)


def test_demo_pki_is_created_once_with_private_keys_0600(tmp_path):
    first = ensure_demo_pki(tmp_path / "pki")
    before = {p: p.read_bytes() for p in (first.ca_cert, first.signer_cert, first.signer_key)}
    second = ensure_demo_pki(tmp_path / "pki")
    assert second == first and {p: p.read_bytes() for p in before} == before
    assert stat.S_IMODE(first.signer_key.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(first.signer_cert.read_bytes())
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert timedelta(days=729) < lifetime < timedelta(days=731)
    root = x509.load_pem_x509_certificate(first.ca_cert.read_bytes())
    assert root.not_valid_after_utc - root.not_valid_before_utc >= timedelta(days=3650)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    assert list(tmp_path.glob("pki/*.tmp")) == []


def test_subject_hash_matches_openssl_for_awkward_names(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = make_name([("DC", "EU"), ("C", "nl"), ("O", "  Mixed   CASE  Org "), ("CN", "Ünïcode Signer")])
    cert = issue_certificate(name, key.public_key(), name, key, ca=True, days=1)
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(PEM))
    result = openssl("x509", "-in", str(tmp_path / "c.pem"), "-noout", "-hash")
    assert result.returncode == 0
    assert subject_hash(cert.subject) == result.stdout.decode().strip()
