"""S/MIME signing of image lists, the checks that keep a wrong signer out, and a demo PKI.

The consumers' traps (spec `appdb-hepix.md` §1.7): a detached multipart/signed message, SHA-256, the
intermediates in the PKCS#7 bag, and neither the `Text` option (it puts a `Content-Type:` header inside the
signed body, which is then no JSON) nor `Binary` (consumers canonicalise to CRLF, the digest would not match).
The signer must pass OpenSSL's S/MIME signing purpose: a TLS-only host certificate does not.
"""

import fcntl
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from appliances.hepix import one_line_dn


class SigningSetupError(Exception):
    """The configured signer cannot produce lists that consumers accept; the message says why."""


@dataclass(frozen=True)
class Signer:
    """A signing certificate, its key and the intermediate CAs up to (not including) a root, issuer first."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    chain: list[x509.Certificate]

    @property
    def dn(self) -> str:
        return one_line_dn(self.certificate.subject)

    @property
    def ca_dn(self) -> str:
        """The immediate issuer, what `hv:ca` must say."""
        return one_line_dn(self.certificate.issuer)

    def chain_pem(self) -> bytes:
        """Signer certificate then intermediates, PEM: what sites add to their CA directory's neighbours."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [self.certificate, *self.chain])


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _check_validity(cert: x509.Certificate, what: str, now: datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise SigningSetupError(f"{what} {one_line_dn(cert.subject)} is not valid before {cert.not_valid_before_utc}")
    if now > cert.not_valid_after_utc:
        raise SigningSetupError(f"{what} {one_line_dn(cert.subject)} expired on {cert.not_valid_after_utc}")


def _check_purpose(cert: x509.Certificate) -> None:
    """OpenSSL's `smimesign` purpose: an extendedKeyUsage, if present, must allow emailProtection; a keyUsage,
    if present, must allow digitalSignature or nonRepudiation."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    if eku is not None and ExtendedKeyUsageOID.EMAIL_PROTECTION not in eku:
        names = ", ".join(getattr(oid, "_name", oid.dotted_string) for oid in eku)
        raise SigningSetupError(
            f"the certificate's extendedKeyUsage ({names}) lacks emailProtection: a TLS-only host certificate "
            "fails S/MIME verification at every site (unsuitable certificate purpose)"
        )
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not (usage.digital_signature or usage.content_commitment):
        raise SigningSetupError("the certificate's keyUsage allows neither digitalSignature nor nonRepudiation")


def _order_chain(cert: x509.Certificate, pool: list[x509.Certificate]) -> list[x509.Certificate]:
    """The intermediates from the signer's issuer upwards (roots left out: sites have them). Refuses a chain that
    lacks the signer's own issuer, the 'unable to get local issuer certificate' trap."""
    chain, current = [], cert
    while not _self_signed(current):
        issuer = next((c for c in pool if c.subject == current.issuer and _issued_by(current, c)), None)
        if issuer is None:
            if current is cert:
                raise SigningSetupError(
                    f"the issuing CA {one_line_dn(cert.issuer)} is not in the chain file: sites trust only roots, "
                    "so the intermediate must travel in the signature (for a certificate issued by a root, "
                    "put that root in the chain file)"
                )
            break  # the rest of the path is the sites' business (their CA directory)
        if _self_signed(issuer) or issuer in chain:
            break
        chain.append(issuer)
        current = issuer
    return chain


def load_signer(cert_path, key_path, chain_path=None, *, now: datetime | None = None) -> Signer:
    """Load and check the signer's PEM files; raise SigningSetupError with the reason sites would refuse it."""
    now = now or datetime.now(UTC)
    try:
        cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
        pool = x509.load_pem_x509_certificates(Path(chain_path).read_bytes()) if chain_path else []
    except (OSError, ValueError, TypeError) as exc:
        raise SigningSetupError(f"cannot read the signing files: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise SigningSetupError(f"unsupported key type {type(key).__name__}: use RSA or EC")
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, public) != cert.public_key().public_bytes(
        serialization.Encoding.DER, public
    ):
        raise SigningSetupError("the private key does not match the certificate")
    _check_validity(cert, "the signing certificate", now)
    _check_purpose(cert)
    chain = [] if _self_signed(cert) else _order_chain(cert, pool)
    for ca in chain:
        _check_validity(ca, "the intermediate CA", now)
    return Signer(certificate=cert, key=key, chain=chain)


def sign(data: bytes, signer: Signer) -> bytes:
    """Detached S/MIME (multipart/signed) over `data`, SHA-256, intermediates in the bag; no Text, no Binary."""
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(signer.certificate, signer.key, hashes.SHA256())
    for ca in signer.chain:
        builder = builder.add_certificate(ca)
    return builder.sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature])


# --- demo PKI ---------------------------------------------------------------------------------------------

DEMO_BASE = [("DC", "EU"), ("DC", "EGI"), ("C", "NL"), ("O", "Demo")]
DEMO_ROOT_DN = [*DEMO_BASE, ("CN", "EGI Portal Demo Root CA")]
DEMO_INTERMEDIATE_DN = [*DEMO_BASE, ("CN", "EGI Portal Demo Signing CA")]
DEMO_SIGNER_DN = [*DEMO_BASE, ("O", "EGI Portal"), ("CN", "EGI Portal demo image-list signer")]
_OIDS = {"DC": NameOID.DOMAIN_COMPONENT, "C": NameOID.COUNTRY_NAME, "O": NameOID.ORGANIZATION_NAME}
_OIDS["CN"] = NameOID.COMMON_NAME


def make_name(pairs) -> x509.Name:
    """An x509.Name from (short name, value) pairs in order (DC, C, O, OU, CN)."""
    return x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(_OIDS[k], v)]) for k, v in pairs])


def issue_certificate(
    subject: x509.Name,
    public_key,
    issuer: x509.Name,
    issuer_key,
    *,
    ca: bool,
    days: int,
    eku: list | None = None,
    not_before: datetime | None = None,
) -> x509.Certificate:
    """One certificate: a CA (keyCertSign, cRLSign) or an end entity (digitalSignature, nonRepudiation, the given
    extendedKeyUsage; None means emailProtection)."""
    start = not_before or datetime.now(UTC) - timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    usage = dict.fromkeys(
        ["digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement"], False
    )
    if ca:
        usage.update(key_cert_sign=True, crl_sign=True)
    else:
        usage.update(digital_signature=True, content_commitment=True, key_cert_sign=False, crl_sign=False)
        eku = [ExtendedKeyUsageOID.EMAIL_PROTECTION] if eku is None else eku
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    builder = builder.add_extension(x509.KeyUsage(**usage, encipher_only=False, decipher_only=False), critical=True)
    if issuer != subject:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def subject_hash(name: x509.Name) -> str:
    """OpenSSL's `x509 -hash` of a name (the `<hash>.0` file name in a CA directory): the first four bytes,
    little-endian, of SHA-1 over the canonical encoding (each RDN's SET with values as lower-cased,
    whitespace-collapsed UTF8Strings, without the outer SEQUENCE)."""
    canonical = b"".join(_der(0x31, b"".join(sorted(_canonical_ava(a) for a in rdn))) for rdn in name.rdns)
    return f"{int.from_bytes(hashlib.sha1(canonical).digest()[:4], 'little'):08x}"


def _canonical_ava(attribute: x509.NameAttribute) -> bytes:
    value = " ".join(str(attribute.value).split())  # strip and collapse whitespace, as OpenSSL does
    value = "".join(ch.lower() if ch.isascii() else ch for ch in value)
    return _der(0x30, _der(0x06, _oid_body(attribute.oid.dotted_string)) + _der(0x0C, value.encode()))


def _oid_body(dotted: str) -> bytes:
    arcs = [int(part) for part in dotted.split(".")]
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        out += bytes(reversed(chunk))
    return bytes(out)


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


@dataclass(frozen=True)
class DemoPKI:
    """Paths of the demo PKI: root and intermediate CA certificates, the signer's certificate and key, the chain
    file for load_signer (the intermediate), a bundle for `-CAfile` and a hashed directory for `-CApath`."""

    ca_cert: Path
    intermediate_cert: Path
    signer_cert: Path
    signer_key: Path
    chain: Path
    ca_bundle: Path
    ca_dir: Path


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file so that a reader never sees half a PEM file."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def ensure_demo_pki(directory: Path) -> DemoPKI:
    """Create the demo root CA, intermediate CA and S/MIME signer in `directory` once; later calls reuse the
    files. CA private keys are not kept: nothing else is ever issued from them. Keys are mode 0600."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pki = DemoPKI(
        ca_cert=directory / "demo-root-ca.pem",
        intermediate_cert=directory / "demo-intermediate-ca.pem",
        signer_cert=directory / "signer.pem",
        signer_key=directory / "signer.key",
        chain=directory / "chain.pem",
        ca_bundle=directory / "ca-bundle.pem",
        ca_dir=directory / "certificates",
    )
    # Several processes (web workers, tests) may start at once: one creates, the others wait and reuse.
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all(p.exists() for p in (pki.ca_cert, pki.intermediate_cert, pki.signer_cert, pki.signer_key)):
            _create_demo_pki(pki)
    return pki


def _create_demo_pki(pki: DemoPKI) -> None:
    pem = serialization.Encoding.PEM
    root_key, mid_key, signer_key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in "abc")
    root_name, mid_name = make_name(DEMO_ROOT_DN), make_name(DEMO_INTERMEDIATE_DN)
    root = issue_certificate(root_name, root_key.public_key(), root_name, root_key, ca=True, days=3650)
    mid = issue_certificate(mid_name, mid_key.public_key(), root_name, root_key, ca=True, days=3650)
    signer = issue_certificate(
        make_name(DEMO_SIGNER_DN), signer_key.public_key(), mid_name, mid_key, ca=False, days=730
    )
    key_pem = signer_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write(pki.signer_key, key_pem, 0o600)
    _write(pki.ca_cert, root.public_bytes(pem), 0o644)
    _write(pki.intermediate_cert, mid.public_bytes(pem), 0o644)
    _write(pki.chain, mid.public_bytes(pem), 0o644)
    _write(pki.ca_bundle, root.public_bytes(pem) + mid.public_bytes(pem), 0o644)
    pki.ca_dir.mkdir(exist_ok=True)
    for old in pki.ca_dir.glob("*.0"):
        old.unlink()
    for cert in (root, mid):
        _write(pki.ca_dir / f"{subject_hash(cert.subject)}.0", cert.public_bytes(pem), 0o644)
    _write(pki.signer_cert, signer.public_bytes(pem), 0o644)  # last: its presence means the set is complete
