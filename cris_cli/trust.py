"""Trusting an endpoint's certificate: fingerprints and client TLS contexts.

Standard library only, so that attaching to a running endpoint (the one-shot
``send`` path) never loads the ``cryptography`` package or the generator.
"""

from __future__ import annotations

import hashlib
import os
import ssl
from pathlib import Path


def fingerprint(cert_pem: str) -> str:
    """SHA-256 of the certificate, as browsers show it (``AB:CD:...``)."""
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert_pem)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def normalize_fingerprint(text: str) -> str:
    """A fingerprint typed any common way (colons, spaces, case) in canonical form."""
    digits = "".join(c for c in text if c not in ": -").upper()
    if len(digits) != 64 or any(c not in "0123456789ABCDEF" for c in digits):
        raise ValueError(f"not a SHA-256 fingerprint: {text!r} (64 hex digits expected)")
    return ":".join(digits[i : i + 2] for i in range(0, 64, 2))


def pinned_client_context(cert_pem: str) -> ssl.SSLContext:
    """A client context that trusts exactly this certificate and nothing else.

    Used to reach our own endpoint: the certificate is its own trust anchor
    (partial-chain verification), so no secret is sent to an impostor.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # the pin is stronger than a name check
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.load_verify_locations(cadata=cert_pem)
    return context


def client_context(*, cafile: Path | None = None, insecure: bool = False) -> ssl.SSLContext:
    """A client context for dialling a PACS: system trust, a CA file, or none at all."""
    if insecure:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = ssl.create_default_context(cafile=os.fspath(cafile) if cafile else None)
    if cafile is not None:
        # A self-signed server certificate given as the CA is its own anchor.
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context
