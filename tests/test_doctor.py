"""``cris-cli doctor``: each check, ok and failing."""

from __future__ import annotations

import socket

from cris_cli import paths, tls
from cris_cli.doctor import origin_problem
from cris_cli.errors import ExitCode
from helpers import run_cli


def lines(out: str) -> dict[str, str]:
    """Check text -> status."""
    return {
        line[6:]: line[:4].strip()
        for line in out.splitlines()
        if line[:4].strip() in ("ok", "warn", "fail")
    }


def test_a_fresh_setup_is_healthy_with_one_warning() -> None:
    tls.ensure_generated()
    result = run_cli(["doctor", "--port", "0"])
    assert result.code == 0, result.out
    statuses = lines(result.out)
    assert "a TLS WebSocket handshake for localhost with this certificate works" in statuses
    assert statuses["a TLS WebSocket handshake for localhost with this certificate works"] == "ok"
    assert "warn  no browser origin is allowed" in result.out
    assert "→ add CRIS's origin: --allow-origin" in result.out
    assert result.out.rstrip().endswith("0 failed")


def test_port_held_by_another_program_fails_with_its_code() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_cli(["doctor", "--port", str(port), "--allow-origin", "https://cris.example"])
    assert result.code == ExitCode.PORT_IN_USE
    assert f"fail  port {port} is held by" in result.out


def test_broken_config_fails_with_the_config_code() -> None:
    config = paths.config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[endpoint]\nport = 'x'\n", encoding="utf-8")
    result = run_cli(["doctor"])
    assert result.code == ExitCode.CONFIG
    assert f"fail  {config}:2: endpoint.port must be a whole number" in result.out


def test_expired_certificate_and_open_key_are_reported() -> None:
    files = tls.default_files()
    tls.generate(files, days=-1)
    files.key.chmod(0o644)
    result = run_cli(["doctor", "--port", "0"])
    assert result.code == ExitCode.CERTIFICATE
    assert "fail  certificate expired on" in result.out
    assert "→ cris-cli cert regenerate" in result.out
    assert "warn  key " in result.out and "readable by others (mode 644)" in result.out


def test_no_tls_and_any_origin_warn() -> None:
    result = run_cli(["doctor", "--port", "0", "--no-tls", "--allow-any-origin"])
    assert result.code == 0
    assert "warn  TLS is off" in result.out
    assert "warn  every browser origin is allowed" in result.out


def test_badly_written_origin_fails() -> None:
    result = run_cli(["doctor", "--port", "0", "--allow-origin", "https://cris.example/login"])
    assert result.code == ExitCode.CONFIG
    assert "has a path" in result.out
    assert origin_problem("cris.example") == "does not start with https:// or http://"
    assert origin_problem("https://cris.example:8443") is None
