"""``cris-cli cert show | path | regenerate | export --pfx FILE``."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from . import tls, trust
from .config import PFX_PASSWORD_ENV
from .environment import Environment
from .errors import CertificateError, UsageError


def run(args: argparse.Namespace, env: Environment) -> int:
    files = tls.default_files()
    action = args.cert_action
    if action == "path":
        env.stdout.write(f"certificate: {files.cert}\nkey: {files.key}\n")
        return 0
    if action == "regenerate":
        tls.generate(files)
        pem = tls.read_pem(files.cert)
        env.stdout.write(
            f"new certificate: {files.cert}\nSHA-256 fingerprint: {trust.fingerprint(pem)}\n"
        )
        env.say("browsers must accept the new certificate once: open https://localhost:PORT/ again")
        return 0
    files, created = tls.ensure_generated()
    if created:
        env.say(f"cris-cli: made a new certificate at {files.cert}")
    if action == "show":
        _show(tls.describe(tls.read_pem(files.cert)), files, env)
        return 0
    if action == "export":
        target = Path(args.pfx).expanduser()
        if target.exists():
            raise UsageError(f"{target} exists; choose another name or remove it first")
        password = _export_password(env)
        tls.export_pfx(files, target, password)
        protected = "password-protected" if password else "NOT password-protected"
        env.stdout.write(f"wrote {target} (mode 0600, {protected})\n")
        if not password:  # it holds the private key: say so, however it came to be
            env.say(
                f"cris-cli: warning: the private key in {target} is not encrypted; "
                f"set {PFX_PASSWORD_ENV} (or answer the prompt) to protect it"
            )
        return 0
    raise CertificateError(f"unknown cert action {action!r}")  # argparse prevents this


def _export_password(env: Environment) -> str | None:
    password = env.environ.get(PFX_PASSWORD_ENV)
    if password is not None:
        return password or None
    if env.stdin_isatty:
        first = getpass.getpass("password for the PFX file (empty for none): ")
        if first and getpass.getpass("again: ") != first:
            raise UsageError("the passwords differ; nothing written")
        return first or None
    return None


def _show(info: tls.CertificateInfo, files: tls.CertificateFiles, env: Environment) -> None:
    left = info.days_left()
    state = "EXPIRED" if left < 0 else f"{left:.0f} days left"
    rows = [
        ("file", str(files.cert)),
        ("key", f"{files.key} (mode {files.key.stat().st_mode & 0o777:o})"),
        ("subject", info.subject),
        ("issuer", "self-signed" if info.self_signed else info.issuer),
        ("names", ", ".join(info.names) or "none (browsers will refuse it)"),
        ("valid from", info.not_before.isoformat(timespec="seconds")),
        ("valid until", f"{info.not_after.isoformat(timespec='seconds')} ({state})"),
        ("SHA-256", info.fingerprint),
        ("SPKI SHA-256", info.spki_sha256),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        env.stdout.write(f"{name:<{width}}  {value}\n")
