"""``cris-cli cert`` and the certificate module."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest

from cris_cli import tls, trust
from cris_cli.errors import CertificateError, ExitCode
from helpers import run_cli


def test_first_use_makes_a_private_key_and_a_localhost_certificate() -> None:
    files, created = tls.ensure_generated()
    assert created
    assert files.key.stat().st_mode & 0o777 == 0o600
    info = tls.describe(tls.read_pem(files.cert))
    assert set(info.names) == {"localhost", "127.0.0.1", "::1"}
    assert info.self_signed
    assert 800 < info.days_left() <= 825
    again, created_again = tls.ensure_generated()
    assert again == files and not created_again


def test_cert_show_and_path() -> None:
    shown = run_cli(["cert", "show"])
    assert shown.code == 0
    files = tls.default_files()
    fingerprint = trust.fingerprint(tls.read_pem(files.cert))
    assert f"SHA-256       {fingerprint}" in shown.out
    assert "names         localhost, 127.0.0.1, ::1" in shown.out
    assert "(mode 600)" in shown.out
    path = run_cli(["cert", "path"])
    assert path.out == f"certificate: {files.cert}\nkey: {files.key}\n"


def test_regenerate_changes_the_fingerprint() -> None:
    files, _ = tls.ensure_generated()
    before = trust.fingerprint(tls.read_pem(files.cert))
    result = run_cli(["cert", "regenerate"])
    assert result.code == 0
    after = trust.fingerprint(tls.read_pem(files.cert))
    assert after != before
    assert after in result.out


def test_export_pfx_round_trips_with_its_password(tmp_path: Path) -> None:
    target = tmp_path / "endpoint.pfx"
    result = run_cli(
        ["cert", "export", "--pfx", str(target)], environ={"CRIS_CLI_PFX_PASSWORD": "pw"}
    )
    assert result.code == 0, result.err
    assert target.stat().st_mode & 0o777 == 0o600
    context, pem = tls.pfx_context(target, "pw")
    assert isinstance(context, ssl.SSLContext)
    assert trust.fingerprint(pem) == trust.fingerprint(tls.read_pem(tls.default_files().cert))
    with pytest.raises(CertificateError, match="wrong password"):
        tls.read_pfx(target, "nope")
    assert "(mode 0600, password-protected)" in result.out and "not encrypted" not in result.err
    again = run_cli(["cert", "export", "--pfx", str(target)], environ={})
    assert again.code == ExitCode.USAGE
    assert "exists" in again.err
    # No password to be had (no terminal, no variable): written, and said to be open.
    open_target = tmp_path / "open.pfx"
    unprotected = run_cli(["cert", "export", "--pfx", str(open_target)], environ={})
    assert unprotected.code == 0
    assert "NOT password-protected" in unprotected.out
    assert "the private key in" in unprotected.err and "is not encrypted" in unprotected.err
    tls.pfx_context(open_target, None)


def test_expired_generated_certificate_is_replaced() -> None:
    files = tls.default_files()
    tls.generate(files, days=-1)
    assert tls.describe(tls.read_pem(files.cert)).not_after < datetime.datetime.now(datetime.UTC)
    _, created = tls.ensure_generated()
    assert created


def test_unreadable_certificate_files() -> None:
    with pytest.raises(CertificateError, match="cannot read certificate"):
        tls.read_pem(Path("/nonexistent/cert.pem"))
    bogus = tls.CertificateFiles(Path(__file__), Path(__file__), "PEM files")
    with pytest.raises(CertificateError, match="holds no PEM certificate"):
        tls.read_pem(bogus.cert)
    with pytest.raises(CertificateError, match="cannot use certificate"):
        tls.server_context(bogus)


def test_fingerprints_are_normalised() -> None:
    digits = "ab" * 32
    assert trust.normalize_fingerprint(digits) == ":".join(["AB"] * 32)
    assert trust.normalize_fingerprint(":".join(["ab"] * 32)) == ":".join(["AB"] * 32)
    with pytest.raises(ValueError, match="64 hex digits"):
        trust.normalize_fingerprint("abc")
