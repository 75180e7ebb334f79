"""``cris-cli doctor``: each check, ok and failing."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath

import pytest

from cris_cli import paths, tls
from cris_cli.doctor import origin_problem
from cris_cli.endpoint import Endpoint, EndpointOptions
from cris_cli.errors import ExitCode, PortInUse
from cris_cli.ports import PortHolder, command_line
from helpers import run_cli
from processes import Running


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
    assert result.out.rstrip().endswith("1 warning, 0 failed")


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


def test_a_listener_that_never_answers_is_not_called_plain_ws() -> None:
    with socket.socket() as holder:  # listens, never accepts: the kernel queues the probes
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_cli(["doctor", "--port", str(port), "--allow-origin", "https://cris.example"])
    assert result.code == ExitCode.PORT_IN_USE
    assert "plain ws://" not in result.out
    assert f"warn  the program on port {port} does not answer TLS (nor plain HTTP) within" in (
        result.out
    )


def test_a_listener_that_hangs_up_at_once_is_not_called_plain_ws() -> None:
    done = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        holder.settimeout(0.1)  # so that the thread sees ``done``: a close would not wake it

        def hang_up() -> None:
            while not done.is_set():
                try:
                    connection, _ = holder.accept()
                except TimeoutError:
                    continue
                connection.close()

        hanging_up = threading.Thread(target=hang_up, daemon=True)
        hanging_up.start()
        result = run_cli(["doctor", "--port", str(port), "--allow-origin", "https://cris.example"])
        done.set()
        hanging_up.join()
    assert result.code == ExitCode.PORT_IN_USE
    assert "plain ws://" not in result.out
    assert f"warn  the program on port {port} closes the connection without answering" in (
        result.out
    )


def test_origins_come_from_the_running_endpoint() -> None:
    origin = "https://cris.example.nhs.uk"
    with Running(["serve", "--port", "0", "--no-tls", "--allow-origin", origin]) as serve:
        port = serve.port()
        result = run_cli(["doctor", "--port", str(port)])  # expects wss://, no origin configured
        assert serve.stop() == 0
    statuses = lines(result.out)
    assert result.code == 0, result.out
    assert "no browser origin is allowed" not in result.out
    assert statuses[f"browser origin {origin} is allowed by the endpoint on port {port}"] == "ok"
    held = f"ok    port {port} is held by a cris-cli endpoint, process {serve.process.pid} ("
    assert held in result.out
    assert (
        statuses[f"the program on port {port} speaks plain ws:// but this setup expects wss://"]
        == "warn"
    )


def test_the_running_endpoint_allowing_no_origin_is_named() -> None:
    with Running(["serve", "--port", "0", "--no-tls"]) as serve:
        port = serve.port()
        result = run_cli(
            ["doctor", "--port", str(port), "--no-tls", "--allow-origin", "https://cris.example"]
        )
        assert serve.stop() == 0
    assert f"warn  no browser origin is allowed by the endpoint on port {port}:" in result.out
    assert "browser origin https://cris.example is allowed" not in result.out


@contextmanager
def holder_process(tmp_path: Path, *args: str) -> Iterator[tuple[int, int]]:
    """A program with ``args`` on its command line holding a loopback port: (pid, port)."""
    script = tmp_path / "holder.py"
    script.write_text(
        "import socket, sys\n"
        "listener = socket.create_server(('127.0.0.1', 0))\n"
        "print(listener.getsockname()[1], flush=True)\n"
        "sys.stdin.read()\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, str(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.pid, int(process.stdout.readline())
    finally:
        process.kill()
        process.wait(5)


def test_the_holder_is_one_line_with_its_whole_command(tmp_path: Path) -> None:
    origin = "https://cris.example.nhs.uk"
    python = PurePath(sys.executable).name
    with holder_process(tmp_path, "two\nlines", "--allow-origin", origin) as (pid, port):
        described = f"process {pid} ({python} holder.py two\\nlines --allow-origin {origin})"

        async def start() -> None:
            async with Endpoint(EndpointOptions(host="127.0.0.1", port=port)):
                pass

        with pytest.raises(PortInUse) as caught:
            asyncio.run(start())
        result = run_cli(["doctor", "--port", str(port), "--no-tls", "--allow-origin", origin])
    assert str(caught.value) == f"port {port} is already in use by {described}"
    assert f"fail  port {port} is held by {described}\n" in result.out


def test_a_long_command_is_cut_by_characters() -> None:
    args = ["/opt/tools/bin/python3", "/opt/tools/bin/pacs-viewer", *["--option", "value"] * 20]
    described = PortHolder(42, "python3", command_line(args)).describe()
    assert described.startswith("process 42 (python3 pacs-viewer --option value --option")
    assert described.endswith("…)")
    assert 60 <= len(described) - len("process 42 ()") <= 80
    escaped = PortHolder(7, "x", "viewer \x1b[2Jbell\x07").describe()
    assert escaped == "process 7 (viewer \\x1b[2Jbell\\x07)"
