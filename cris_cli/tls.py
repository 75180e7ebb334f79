"""Certificates for the PACS endpoint: generate, load (PEM or PFX), describe,
and the TLS contexts built from them.

The generated certificate is self-signed, like the vendor's demos use: the
user accepts it once in the browser. Its key never leaves the user's data
directory (mode 0600). Reading PEM files and computing fingerprints uses only
the standard library, so the one-shot path does not import ``cryptography``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import paths
from .errors import CertificateError
from .trust import fingerprint

if TYPE_CHECKING:
    from cryptography import x509

CERT_FILE = "endpoint-cert.pem"
KEY_FILE = "endpoint-key.pem"
VALIDITY_DAYS = 825  # the longest macOS and iOS accept for a server certificate
SUBJECT_NAME = "cris-cli PACS endpoint (localhost)"
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True, slots=True)
class CertificateFiles:
    """A certificate and its key as PEM files, and where they came from."""

    cert: Path
    key: Path
    origin: str  # "generated", "PEM files" or "PFX file"


def default_files() -> CertificateFiles:
    directory = paths.data_dir()
    return CertificateFiles(directory / CERT_FILE, directory / KEY_FILE, "generated")


def read_pem(path: Path) -> str:
    """The first certificate in a PEM file."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise CertificateError(f"cannot read certificate {path}: {exc}") from None
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    start = text.find(begin)
    stop = text.find(end, start)
    if start < 0 or stop < 0:
        raise CertificateError(f"{path} holds no PEM certificate")
    return text[start : stop + len(end)] + "\n"


def generate(files: CertificateFiles, *, days: int = VALIDITY_DAYS) -> None:
    """Create a new key and self-signed certificate for localhost at ``files``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SUBJECT_NAME)])
    now = datetime.datetime.now(datetime.UTC)
    not_after = now + datetime.timedelta(days=days)
    # A few minutes' grace for clocks behind ours (a negative validity is for tests).
    not_before = min(now - datetime.timedelta(minutes=5), not_after - datetime.timedelta(days=1))
    key_id = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(key_id, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(key_id), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        paths.write_private_file(files.key, key_pem)
        paths.write_private_file(files.cert, cert.public_bytes(serialization.Encoding.PEM))
    except OSError as exc:
        raise CertificateError(
            f"cannot write the certificate to {files.cert.parent}: {exc}"
        ) from None


def ensure_generated() -> tuple[CertificateFiles, bool]:
    """The generated certificate, made now if missing or expired; True if it is new."""
    files = default_files()
    if files.cert.exists() and files.key.exists():
        info = describe(read_pem(files.cert))
        if info.not_after > datetime.datetime.now(datetime.UTC):
            return files, False
    generate(files)
    return files, True


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """What ``cert show`` and ``doctor`` tell about a certificate."""

    subject: str
    issuer: str
    names: tuple[str, ...]
    not_before: datetime.datetime
    not_after: datetime.datetime
    fingerprint: str
    spki_sha256: str
    """Base64 SHA-256 of the public key (Chromium's ``--ignore-certificate-errors-spki-list``)."""

    @property
    def self_signed(self) -> bool:
        return self.subject == self.issuer

    def days_left(self, now: datetime.datetime | None = None) -> float:
        now = now or datetime.datetime.now(datetime.UTC)
        return (self.not_after - now).total_seconds() / 86400

    def covers(self, host: str) -> bool:
        """True when the certificate names ``host``."""
        return host.strip("[]").lower() in {n.lower() for n in self.names}


def _load(cert_pem: str) -> x509.Certificate:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
    except ValueError as exc:
        raise CertificateError(f"not a readable certificate: {exc}") from None


def describe(cert_pem: str) -> CertificateInfo:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = _load(cert_pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(
            [str(n) for n in san.get_values_for_type(x509.DNSName)]
            + [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        )
    except x509.ExtensionNotFound:
        names = ()
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        names=names,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint=fingerprint(cert_pem),
        spki_sha256=base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii"),
    )


def read_pfx(path: Path, password: str | None) -> tuple[bytes, bytes]:
    """The certificate (with any chain) and key of a PKCS#12 file, as PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"cannot read PFX file {path}: {exc.strerror or exc}") from None
    try:
        bundle = pkcs12.load_pkcs12(data, password.encode("utf-8") if password else None)
    except ValueError:
        raise CertificateError(
            f"cannot open PFX file {path}: wrong password, or not a PKCS#12 file",
            hint="give its password in CRIS_CLI_PFX_PASSWORD, or type it when asked",
        ) from None
    if bundle.cert is None or bundle.key is None:
        raise CertificateError(f"PFX file {path} must hold both a certificate and its key")
    chain = [bundle.cert.certificate, *(c.certificate for c in bundle.additional_certs)]
    cert_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    key_pem = bundle.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert_pem, key_pem


def export_pfx(files: CertificateFiles, target: Path, password: str | None) -> None:
    """Write the certificate and key as a PKCS#12 file (mode 0600)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise CertificateError(f"cannot read key {files.key}: {exc}") from None
    allowed = (
        rsa.RSAPrivateKey,
        ec.EllipticCurvePrivateKey,
        ed25519.Ed25519PrivateKey,
        ed448.Ed448PrivateKey,
    )
    if not isinstance(key, allowed):
        raise CertificateError(f"a PFX file cannot hold a {type(key).__name__}")
    cert = _load(read_pem(files.cert))
    encryption = (
        serialization.BestAvailableEncryption(password.encode("utf-8"))
        if password
        else serialization.NoEncryption()
    )
    data = pkcs12.serialize_key_and_certificates(b"cris-cli", key, cert, None, encryption)
    try:
        paths.write_private_file(target, data)
    except OSError as exc:
        raise CertificateError(f"cannot write {target}: {exc.strerror or exc}") from None


@contextmanager
def _private_copy(cert_pem: bytes, key_pem: bytes) -> Iterator[tuple[Path, Path]]:
    """PEM files for ``ssl`` (which reads only files), removed as soon as read."""
    with tempfile.TemporaryDirectory(prefix="cris-cli-") as directory:
        cert_path, key_path = Path(directory) / "cert.pem", Path(directory) / "key.pem"
        paths.write_private_file(cert_path, cert_pem)
        paths.write_private_file(key_path, key_pem)
        yield cert_path, key_path


def server_context(files: CertificateFiles) -> ssl.SSLContext:
    """A TLS server context for the endpoint (TLS 1.2 or newer)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(files.cert, files.key)
    except (OSError, ssl.SSLError) as exc:
        raise CertificateError(
            f"cannot use certificate {files.cert} with key {files.key}: {exc}",
            hint="check that the key belongs to the certificate and is not encrypted",
        ) from None
    return context


def pfx_context(pfx: Path, password: str | None) -> tuple[ssl.SSLContext, str]:
    """A TLS server context from a PFX file, and its certificate in PEM."""
    cert_pem, key_pem = read_pfx(pfx, password)
    with _private_copy(cert_pem, key_pem) as (cert_path, key_path):
        context = server_context(CertificateFiles(cert_path, key_path, "PFX file"))
    return context, cert_pem.decode("ascii")
