"""A real Chromium for the browser tests: found (or installed), launched, ended.

The ``chromium`` fixture finds a Chromium binary: ``$CRIS_CLI_TEST_CHROMIUM``,
then ``chromium``, ``chromium-browser`` or ``google-chrome`` on the PATH, then
``/usr/bin/chromium``. When none is there and we are root on a machine with
``apt-get`` (a developer's Debian machine, CI), it installs Debian's
``chromium`` package. When Chromium still cannot be had, the browser tests
fail, saying how to install it: they never skip, so a green run always means a
real browser talked to the endpoint.

:class:`Chromium` runs one headless browser process and ends exactly that
process afterwards; :class:`PageServer` serves the page that stands in for
CRIS Reporting, on its own loopback port, and collects what that page reports.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

from debian import apt_install, can_install

ENV_VAR = "CRIS_CLI_TEST_CHROMIUM"
NAMES = ("chromium", "chromium-browser", "google-chrome")
FALLBACK = Path("/usr/bin/chromium")
WAIT = 30.0  # seconds: the bound on every wait in the browser tests

HOW_TO_INSTALL = (
    "the browser tests need Chromium: install it (Debian/Ubuntu: "
    "'apt-get install --no-install-recommends chromium'), or set "
    f"{ENV_VAR}=/path/to/chromium-or-chrome"
)

# Flags for every launch: no sandbox (we may be root), nothing from the network
# but what the test asks for, nothing that outlives the test's profile.
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)

T = TypeVar("T")


# --- finding Chromium ----------------------------------------------------------------


def find_chromium() -> Path | None:
    """Chromium's path, or None. A set but unusable $CRIS_CLI_TEST_CHROMIUM fails."""
    override = os.environ.get(ENV_VAR)
    if override:
        found = shutil.which(override)
        if found is None:
            pytest.fail(f"{ENV_VAR}={override!r} is not an executable file; {HOW_TO_INSTALL}")
        return Path(found)
    for name in NAMES:
        found = shutil.which(name)
        if found is not None:
            return Path(found)
    if os.access(FALLBACK, os.X_OK):
        return FALLBACK
    return None


def find_or_install_chromium() -> Path:
    found = find_chromium()
    if found is None and can_install():
        apt_install("chromium", HOW_TO_INSTALL)
        found = find_chromium()
    if found is None:
        pytest.fail(f"Chromium not found and could not be installed; {HOW_TO_INSTALL}")
    return found


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The Chromium binary, installed first if need be.

    Session-scoped fixtures are set up before function-scoped ones, so this
    reads ``$CRIS_CLI_TEST_CHROMIUM`` before conftest's ``isolated_dirs``
    removes every ``CRIS_CLI_*`` variable for the test.
    """
    return find_or_install_chromium()


def chromium_version(binary: Path) -> str:
    """``Chromium 156.0.8078.114 built on Debian ...``, for failure messages."""
    try:
        done = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=WAIT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"Chromium (version unknown: {exc})"
    return done.stdout.strip() or "Chromium (version unknown)"


# --- running Chromium ----------------------------------------------------------------


class Chromium:
    """One headless Chromium process, started with :func:`subprocess.Popen`.

    Its output goes to files (a full pipe would stall the browser), so that a
    failing test can show it. :meth:`stop` ends exactly this process: terminate,
    wait, then kill. Chromium's own helper processes (zygote, renderer) exit
    with it.
    """

    def __init__(self, binary: Path, directory: Path, *arguments: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.profile = directory / "profile"
        self.stdout_path = directory / "chromium-stdout.txt"
        self.stderr_path = directory / "chromium-stderr.txt"
        self.argv = [str(binary), *BASE_FLAGS, f"--user-data-dir={self.profile}", *arguments]
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err
            )
        self.pid = self.process.pid

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def describe(self) -> str:
        """The command line, exit status and output, for a failure message."""
        status = self.process.poll()
        state = "still running" if status is None else f"exited with {status}"
        lines = self.stderr().splitlines()
        # Without a D-Bus (containers, CI) Chromium logs dozens of harmless errors.
        useful = [line for line in lines if "dbus" not in line]
        return (
            f"{chromium_version(Path(self.argv[0]))} (pid {self.pid}, {state}): "
            f"{' '.join(self.argv)}\n"
            f"--- Chromium stderr, last 60 lines ({len(lines) - len(useful)} D-Bus lines left "
            f"out; all in {self.stderr_path}) ---\n" + "\n".join(useful[-60:])
        )

    async def exited(self, timeout: float = WAIT) -> int:
        """Wait (bounded) for the process to end by itself; its exit status."""
        deadline = time.monotonic() + timeout
        while (status := self.process.poll()) is None:
            if time.monotonic() > deadline:
                pytest.fail(f"Chromium did not exit within {timeout:.0f} s\n{self.describe()}")
            await asyncio.sleep(0.05)
        return status

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --- the page that stands in for CRIS Reporting ----------------------------------------

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CRIS Reporting stand-in</title></head>
<body><p>CRIS Reporting stand-in</p>
<script>
"use strict";
let number = 0;
function report(event, detail) {
  number += 1;
  const body = JSON.stringify(Object.assign({n: number, event: event}, detail || {}));
  return fetch("/report", {method: "POST", headers: {"Content-Type": "application/json"}, body});
}
window.addEventListener("error", (e) => report("page-error", {text: String(e.message)}));
report("loaded", {origin: location.origin});
try {
  const socket = new WebSocket(__URL__);
  socket.onopen = () => {
    report("open");
    socket.send(JSON.stringify(__FIRST__));
    report("sent");
  };
  socket.onmessage = (e) => report("message", {data: String(e.data)});
  socket.onerror = () => report("error");
  socket.onclose = (e) => report("close", {code: e.code, reason: e.reason, clean: e.wasClean});
} catch (e) {
  report("exception", {text: String(e)});
}
</script>
</body></html>
"""


class PageServer:
    """An HTTP server on 127.0.0.1 (its own port) serving the stand-in page.

    The page opens a WebSocket to :attr:`socket_url` (set once the endpoint is
    bound), sends :attr:`first` when open, and POSTs every event it sees to
    ``/report``; :attr:`reports` collects them, in the order they arrive.
    """

    def __init__(self) -> None:
        self.socket_url = ""
        self.first: dict[str, Any] = {}
        self.reports: list[dict[str, Any]] = []
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.origin}/"

    def page(self) -> bytes:
        return (
            PAGE.replace("__URL__", json.dumps(self.socket_url))
            .replace("__FIRST__", json.dumps(self.first))
            .encode("utf-8")
        )

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.reports)

    def events(self) -> list[str]:
        return [str(r.get("event")) for r in self.snapshot()]

    def find(self, event: str) -> dict[str, Any] | None:
        return next((r for r in self.snapshot() if r.get("event") == event), None)

    def describe(self) -> str:
        with self._lock:
            requests = list(self.requests)
        return f"page requests: {requests}\npage reports: {self.snapshot()}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                with server._lock:
                    server.requests.append(format % args)

            def _answer(self, status: HTTPStatus, body: bytes = b"", kind: str = "") -> None:
                self.send_response(status)
                if kind:
                    self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/":
                    self._answer(HTTPStatus.OK, server.page(), "text/html; charset=utf-8")
                else:
                    self._answer(HTTPStatus.NOT_FOUND)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 1_000_000))
                if self.path != "/report":
                    self._answer(HTTPStatus.NOT_FOUND)
                    return
                try:
                    report = json.loads(body)
                except ValueError:
                    report = {"event": "unreadable-report", "body": body.decode("latin-1")}
                with server._lock:
                    server.reports.append(report)
                self._answer(HTTPStatus.NO_CONTENT)

        return Handler

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def page_server() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


# --- waiting -------------------------------------------------------------------------


async def eventually(
    find: Callable[[], T | None],
    what: str,
    explain: Callable[[], str],
    timeout: float = WAIT,
) -> T:
    """Poll ``find`` until it gives something (bounded); fail with ``explain()`` if not."""
    deadline = time.monotonic() + timeout
    while True:
        found = find()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout:.0f} s\n{explain()}")
        await asyncio.sleep(0.05)
