"""The one-shot path stays light: no shell libraries, no certificate generator."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from processes import Running

HEAVY = ("prompt_toolkit", "rich", "cryptography", "psutil")


def imported_modules(args: list[str], env: dict[str, str] | None = None) -> tuple[int, set[str]]:
    """Run cris-cli under ``python -X importtime`` and list every module it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cris_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ) | (env or {}),
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return done.returncode, modules


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY}


def test_send_through_a_running_endpoint_imports_no_shell_library() -> None:
    with Running(["serve", "--port", "0"]) as serve:
        port = serve.port()

        async def connect_and_wait() -> None:
            from websockets.asyncio.client import connect

            from cris_cli import tls, trust

            context = trust.client_context(cafile=tls.default_files().cert)
            async with connect(f"wss://localhost:{port}/", ssl=context) as client:
                code, modules = await asyncio.to_thread(
                    imported_modules, ["send", "--port", str(port), "display", "A1"]
                )
                assert code == 0
                assert await asyncio.wait_for(client.recv(), 5) == (
                    '{"command":"DISPLAY","accession":["A1"]}'
                )
                assert "websockets.sync.client" in modules  # the check really sees imports
                assert heavy(modules) == set()
                assert "asyncio" not in modules  # no event loop to start on this path

        asyncio.run(connect_and_wait())
        assert serve.stop() == 0


def test_send_hosting_an_endpoint_imports_no_shell_library() -> None:
    from processes import free_port

    code, modules = imported_modules(
        ["send", "--port", str(free_port()), "--no-tls", "--wait", "0", "clear"]
    )
    assert code == 4  # nobody connected: the path ran to its end
    assert "websockets.asyncio.server" in modules
    assert heavy(modules) == set()
