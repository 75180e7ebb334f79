"""Settings to a running endpoint: address checks, certificate, banner.

Every front end that hosts the PACS endpoint (``serve``, the shell, ``send``
when nothing else listens, ``demo``) starts it the same way, here.
"""

from __future__ import annotations

import dataclasses
import getpass
import ssl
from dataclasses import dataclass
from pathlib import Path

from . import tls, trust
from .config import PFX_PASSWORD_ENV, Settings
from .endpoint import Endpoint, EndpointOptions
from .environment import Environment
from .errors import UsageError
from .ports import is_loopback


@dataclass(frozen=True)
class Certificate:
    """The certificate an endpoint serves, described for the banner."""

    pem: str
    fingerprint: str
    where: str
    created: bool


def check_address(settings: Settings) -> None:
    if not is_loopback(settings.host) and not settings.allow_remote:
        raise UsageError(
            f"listening on {settings.host} lets other machines connect to the PACS endpoint",
            hint="add --allow-remote if that is what you want, or use --host 127.0.0.1",
        )


def ask_pfx_password(settings: Settings, env: Environment) -> Environment:
    """``env`` with the PFX password in it, asked now if this process will need it.

    For front ends that start the endpoint behind a full-screen prompt: the
    prompt owns the terminal by then, and a password cannot be asked there.
    """
    from . import runtime

    if (
        not settings.pfx
        or not settings.tls
        or PFX_PASSWORD_ENV in env.environ
        or not env.stdin_isatty
        or runtime.find(settings.port) is not None  # attaching: the other process has it
    ):
        return env
    password = getpass.getpass(f"password for {Path(settings.pfx).expanduser()} (empty for none): ")
    return dataclasses.replace(env, environ={**env.environ, PFX_PASSWORD_ENV: password})


def certificate(settings: Settings, env: Environment) -> tuple[ssl.SSLContext, Certificate]:
    """The TLS context for the endpoint, from PFX, PEM files or the generated certificate."""
    if settings.pfx:
        pfx = Path(settings.pfx).expanduser()
        password = env.environ.get(PFX_PASSWORD_ENV)
        if password is None and env.stdin_isatty:
            password = getpass.getpass(f"password for {pfx} (empty for none): ")
        context, pem = tls.pfx_context(pfx, password or None)
        return context, Certificate(pem, trust.fingerprint(pem), f"PFX file {pfx}", False)
    if settings.cert:
        cert = Path(settings.cert).expanduser()
        key = Path(settings.key).expanduser() if settings.key else cert
        files = tls.CertificateFiles(cert, key, "PEM files")
        context = tls.server_context(files)
        pem = tls.read_pem(cert)
        return context, Certificate(pem, trust.fingerprint(pem), f"{cert}", False)
    if settings.key:
        raise UsageError("--key needs --cert (the certificate the key belongs to)")
    files, created = tls.ensure_generated()
    pem = tls.read_pem(files.cert)
    return tls.server_context(files), Certificate(
        pem, trust.fingerprint(pem), str(files.cert), created
    )


def endpoint_options(
    settings: Settings, env: Environment, *, port: int | None = None
) -> tuple[EndpointOptions, Certificate | None]:
    """Endpoint options from settings; ``port`` overrides the configured one (0: any free)."""
    check_address(settings)
    context, cert = None, None
    if settings.tls:
        context, cert = certificate(settings, env)
    options = EndpointOptions(
        host=settings.host,
        port=settings.port if port is None else port,
        ssl=context,
        fingerprint=None if cert is None else cert.fingerprint,
        allow_origins=tuple(settings.allow_origins),
        allow_any_origin=settings.allow_any_origin,
        max_clients=settings.max_clients,
        max_message_size=settings.max_message_size,
        history=settings.history,
        confirm_within=settings.confirm_within,
    )
    return options, cert


def banner(endpoint: Endpoint, cert: Certificate | None, settings: Settings) -> list[str]:
    """What a user needs to know when the endpoint starts, line by line."""
    lines = [f"cris-cli PACS endpoint listening on {endpoint.url}"]
    if cert is not None:
        made = " (new)" if cert.created else ""
        lines += [
            f"  certificate{made}: {cert.where}",
            f"  SHA-256 fingerprint: {cert.fingerprint}",
            f"  new browser? open {endpoint.page_url} once and accept the certificate",
        ]
    host_port = endpoint.url.split("://", 1)[1].rstrip("/")
    lines.append(f"  in CRIS Reporting: Integration on, CRIS Connect on, {host_port}")
    if settings.allow_any_origin:
        lines.append("  WARNING: --allow-any-origin: any web page in this browser can drive CRIS")
    elif settings.allow_origins:
        lines.append(f"  allowed browser origins: {', '.join(settings.allow_origins)}")
    else:
        lines.append(
            "  no browser origin allowed yet: a CRIS page is refused until allowed "
            "(the refusal says how)"
        )
    if not is_loopback(settings.host):
        lines.append(f"  WARNING: listening on {settings.host}: other machines can connect")
    if settings.max_clients > 1:
        lines.append(f"  up to {settings.max_clients} CRIS clients; commands go to all of them")
    return lines
