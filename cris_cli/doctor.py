"""``cris-cli doctor``: check each part of a CRIS Connect setup, and say what to do.

Each check prints one line, ``ok``, ``warn`` or ``fail``, and for the last two
what to try. The exit status is that of the first failure's kind (config 7,
port 8, certificate 9, connection 6), or 0 when nothing failed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import ssl
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import config, paths, runtime, tls, trust
from .endpoint import Endpoint, EndpointOptions
from .environment import Environment
from .errors import ConnectionFailed, CrisCliError, ExitCode
from .ports import PROBE_SECONDS, Listener, PortHolder, holder_of, is_loopback, listener_on

RENEW_DAYS = 30


@dataclass(frozen=True)
class Check:
    status: str  # ok, warn or fail
    text: str
    advice: str | None = None
    code: ExitCode = ExitCode.OK


def ok(text: str) -> Check:
    return Check("ok", text)


def warn(text: str, advice: str) -> Check:
    return Check("warn", text, advice)


def fail(text: str, advice: str, code: ExitCode) -> Check:
    return Check("fail", text, advice, code)


def run(args: argparse.Namespace, env: Environment) -> int:
    checks: list[Check] = []
    try:
        settings = config.from_args(args, env.environ)
        state = "present" if settings.file.exists() else "not present, defaults apply"
        checks.append(ok(f"config file {settings.file} ({state})"))
    except CrisCliError as error:
        checks.append(fail(str(error), error.hint or "fix the file named", ExitCode.CONFIG))
        settings = config.load(environ={}, file=Path(os.devnull))
    for check in _all_checks(settings):
        checks.append(check)
    _print(checks, env)
    failed = [c for c in checks if c.status == "fail"]
    return int(failed[0].code if failed else ExitCode.OK)


def _all_checks(settings: config.Settings) -> Iterator[Check]:
    yield from _address(settings)
    listener = listener_on(settings.host, settings.port, expect_tls=settings.tls)
    holder = holder_of(settings.port) if listener is not None else None
    running = _endpoint_on(settings.port, holder)
    yield from _port(settings, listener, holder, running)
    yield from _certificate(settings)
    yield from _origins(settings, running if listener in ("tls", "plain") else None)
    yield from _directories()


def _endpoint_on(port: int, holder: PortHolder | None) -> runtime.RuntimeInfo | None:
    """The cris-cli endpoint holding ``port``, by its runtime file: the command
    line is only a guess (``python -m cris_cli`` does not say cris-cli)."""
    if holder is None:
        return None
    running = runtime.find(port)
    if running is None or holder.pid not in (None, running.pid):
        return None  # nothing published, or another program took the port since
    return running


def _address(settings: config.Settings) -> Iterator[Check]:
    if is_loopback(settings.host):
        yield ok(f"listening address {settings.host} is loopback: only this machine can connect")
    elif settings.allow_remote:
        yield warn(
            f"listening address {settings.host} can be reached from other machines",
            "use --host 127.0.0.1 unless CRIS runs on another machine",
        )
    else:
        yield fail(
            f"listening address {settings.host} is not loopback and --allow-remote is not set",
            "use --host 127.0.0.1, or add --allow-remote",
            ExitCode.USAGE,
        )


def _port(
    settings: config.Settings,
    listener: Listener | None,
    holder: PortHolder | None,
    running: runtime.RuntimeInfo | None,
) -> Iterator[Check]:
    port = settings.port
    if listener is None or holder is None:
        yield ok(f"port {port} is free")
        return
    mine = running is not None or (holder.command is not None and "cris-cli" in holder.command)
    who = holder.describe()
    if holder.pid is None and running is not None:
        who = f"process {running.pid}"  # the runtime file says what the platform hides
    if mine:
        yield ok(f"port {port} is held by a cris-cli endpoint, {who}; front ends attach to it")
    else:
        yield fail(
            f"port {port} is held by {who}",
            "stop that program, or use another port (--port 56996)",
            ExitCode.PORT_IN_USE,
        )
    if listener == "tls" and not settings.tls:
        yield warn(
            f"the program on port {port} speaks TLS (wss://) but this setup is --no-tls",
            "drop --no-tls (tls = true), or stop that program",
        )
    elif listener == "plain" and settings.tls:
        yield warn(
            f"the program on port {port} speaks plain ws:// but this setup expects wss://",
            "CRIS Reporting on an https:// page needs wss://; restart the endpoint with TLS",
        )
    elif listener in ("silent", "closed"):
        what = (
            f"does not answer TLS (nor plain HTTP) within {PROBE_SECONDS:g} s"
            if listener == "silent"
            else "closes the connection without answering TLS (nor plain HTTP)"
        )
        text = f"the program on port {port} {what}"
        if mine:  # the port check said ok: this is the news
            yield fail(text, "it may be stuck: stop it and start it again", ExitCode.CONNECTION)
        else:
            yield warn(text, "it is not a WebSocket server: CRIS Reporting cannot use it")


def _certificate(settings: config.Settings) -> Iterator[Check]:
    if not settings.tls:
        yield warn(
            "TLS is off (--no-tls): the endpoint serves plain ws://",
            "CRIS Reporting runs on an https:// page and normally needs wss://; drop --no-tls",
        )
        return
    try:
        if settings.cert:
            files = tls.CertificateFiles(
                Path(settings.cert), Path(settings.key or settings.cert), "PEM files"
            )
        elif settings.pfx:
            yield ok(f"certificate from PFX file {settings.pfx} (password checked at start)")
            return
        else:
            files = tls.default_files()
            if not files.cert.exists():
                yield ok("no certificate yet: one is made for localhost on first start")
                return
        pem = tls.read_pem(files.cert)
        info = tls.describe(pem)
    except CrisCliError as error:
        yield fail(str(error), "cris-cli cert regenerate", ExitCode.CERTIFICATE)
        return
    yield from _validity(info)
    missing = [n for n in ("localhost", "127.0.0.1") if not info.covers(n)]
    if missing:
        yield warn(
            f"certificate does not name {', '.join(missing)}",
            "browsers refuse it for those names: cris-cli cert regenerate",
        )
    else:
        yield ok(f"certificate names {', '.join(info.names)}")
    yield from _key_mode(files.key)
    yield _handshake(files, pem)


def _validity(info: tls.CertificateInfo) -> Iterator[Check]:
    left = info.days_left(datetime.datetime.now(datetime.UTC))
    until = info.not_after.date().isoformat()
    if left < 0:
        yield fail(
            f"certificate expired on {until}", "cris-cli cert regenerate", ExitCode.CERTIFICATE
        )
    elif left < RENEW_DAYS:
        yield warn(f"certificate expires in {left:.0f} days ({until})", "cris-cli cert regenerate")
    else:
        yield ok(f"certificate valid until {until}; SHA-256 {info.fingerprint}")


def _key_mode(key: Path) -> Iterator[Check]:
    if os.name != "posix":
        return
    mode = key.stat().st_mode & 0o777
    if mode & 0o077:
        yield warn(f"key {key} is readable by others (mode {mode:o})", f"chmod 600 {key}")
    else:
        yield ok(f"key {key} is private (mode {mode:o})")


def _handshake(files: tls.CertificateFiles, pem: str) -> Check:
    """A real TLS handshake with this certificate, on a free loopback port."""

    async def attempt() -> None:
        from websockets.asyncio.client import connect

        options = EndpointOptions(host="127.0.0.1", port=0, ssl=tls.server_context(files))
        async with Endpoint(options) as endpoint:
            context = trust.client_context(cafile=files.cert)
            async with connect(f"wss://localhost:{endpoint.port}/", ssl=context, open_timeout=5):
                pass

    try:
        asyncio.run(attempt())
    except (OSError, ssl.SSLError, CrisCliError, TimeoutError) as exc:
        return fail(
            f"TLS handshake with this certificate failed: {exc}",
            "cris-cli cert regenerate (or check --cert/--key belong together)",
            ExitCode.CONNECTION,
        )
    except Exception as exc:  # websockets' handshake errors
        return fail(
            f"WebSocket handshake failed: {exc}",
            "run cris-cli serve and try again",
            ExitCode.CONNECTION,
        )
    return ok("a TLS WebSocket handshake for localhost with this certificate works")


def _origins(settings: config.Settings, running: runtime.RuntimeInfo | None) -> Iterator[Check]:
    """The origins a browser may come from: the running endpoint's when there is one
    (it may have been started with other options, or allowed more since), else this setup's."""
    allowed, any_origin, by = tuple(settings.allow_origins), settings.allow_any_origin, ""
    if running is not None:
        try:
            status = _endpoint_status(running)
        except CrisCliError as error:
            yield warn(
                f"cannot ask the endpoint on port {running.port} which origins it allows: {error}",
                "the origin checks below are this setup's, not the endpoint's",
            )
        else:
            allowed = tuple(status.get("allowed_origins") or ())
            any_origin = bool(status.get("allow_any_origin"))
            by = f" by the endpoint on port {running.port}"
    if any_origin:
        yield warn(
            f"every browser origin is allowed{by} (--allow-any-origin)",
            "any web page open in the browser could drive CRIS; list CRIS's origin instead",
        )
        return
    if not allowed:
        yield warn(
            f"no browser origin is allowed{by}: CRIS Reporting in a browser will be refused",
            "add CRIS's origin: --allow-origin https://YOUR-CRIS-HOST "
            "(the refusal shows the exact origin)"
            + ("; restart the endpoint with it, or allow it at its shell's prompt" if by else ""),
        )
        return
    for origin in allowed:
        problem = origin_problem(origin)
        if problem:
            yield fail(
                f"allowed origin {origin!r} {problem}",
                "an origin is scheme://host[:port]",
                ExitCode.CONFIG,
            )
        else:
            yield ok(f"browser origin {origin} is allowed{by}")


def _endpoint_status(running: runtime.RuntimeInfo) -> dict[str, Any]:
    """The running endpoint's own status, over its control channel, within a limit:
    doctor must end even when the endpoint is stuck."""
    from .blocking import BlockingControl

    with BlockingControl.connect(
        running, open_timeout=PROBE_SECONDS, answer_within=PROBE_SECONDS
    ) as control:
        try:
            return control.status()
        except (ValueError, KeyError) as error:  # not the answer it gives
            raise ConnectionFailed(
                f"the endpoint on port {running.port} answered oddly: {error!r}"
            ) from None


def origin_problem(origin: str) -> str | None:
    """Why ``origin`` can never match a browser's Origin header, or None."""
    parts = urllib.parse.urlsplit(origin)
    if parts.scheme not in ("http", "https"):
        return "does not start with https:// or http://"
    if not parts.hostname:
        return "names no host"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "has a path; browsers send only scheme://host[:port]"
    return None


def _directories() -> Iterator[Check]:
    for label, directory in (("data", paths.data_dir()), ("state", paths.state_dir())):
        try:
            paths.make_private_dir(directory)
            probe = directory / f".doctor-{os.getpid()}"
            probe.write_text("", encoding="utf-8")
            probe.unlink()
            yield ok(f"{label} directory {directory} is writable")
        except OSError as exc:
            yield fail(
                f"{label} directory {directory} is not writable: {exc.strerror}",
                "check its permissions",
                ExitCode.CONFIG,
            )


def _print(checks: list[Check], env: Environment) -> None:
    colours = {"ok": "\x1b[32m", "warn": "\x1b[33m", "fail": "\x1b[1;31m"}
    for check in checks:
        label = f"{check.status:<4}"
        if env.color:
            label = f"{colours[check.status]}{label}\x1b[0m"
        env.stdout.write(f"{label}  {check.text}\n")
        if check.advice:
            env.stdout.write(f"      → {check.advice}\n")
    counts = {s: sum(c.status == s for c in checks) for s in ("ok", "warn", "fail")}
    warnings = f"{counts['warn']} warning{'' if counts['warn'] == 1 else 's'}"
    env.stdout.write(f"\n{counts['ok']} ok, {warnings}, {counts['fail']} failed\n")
