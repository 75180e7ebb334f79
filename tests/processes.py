"""Test support: cris-cli as a real process, its output read as it comes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO


class Running:
    """A cris-cli process started by a test; only this process is ever signalled."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cris_cli", *args],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=dict(os.environ) | (env or {}),
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._lock = threading.Condition()
        for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            assert stream is not None
            threading.Thread(target=self._pump, args=(stream, lines), daemon=True).start()
        if stdin is not None:
            assert self.process.stdin is not None
            self.process.stdin.write(stdin)
            self.process.stdin.close()

    def _pump(self, stream: IO[str], lines: list[str]) -> None:
        for line in stream:
            with self._lock:
                lines.append(line)
                self._lock.notify_all()
        with self._lock:
            self._lock.notify_all()

    def wait_for(self, pattern: str, *, stream: str = "err", timeout: float = 15) -> re.Match[str]:
        """The first line of stdout or stderr matching ``pattern``, waiting up to ``timeout``."""
        lines = self.err if stream == "err" else self.out
        deadline = time.monotonic() + timeout
        with self._lock:
            seen = 0
            while True:
                for line in lines[seen:]:
                    found = re.search(pattern, line)
                    if found:
                        return found
                seen = len(lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and seen == len(lines)):
                    raise AssertionError(
                        f"no line matching {pattern!r} on std{stream} within {timeout} s; "
                        f"exit {self.process.poll()}\n"
                        f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
                    )
                self._lock.wait(min(left, 0.2))

    def port(self) -> int:
        return int(self.wait_for(r"listening on wss?://[^:]+:(\d+)/").group(1))

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = 15) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            raise AssertionError(f"process did not end within {timeout} s\n{self.stderr}") from None
        time.sleep(0.05)  # let the readers take the last lines
        return code

    @property
    def stdout(self) -> str:
        with self._lock:
            return "".join(self.out)

    @property
    def stderr(self) -> str:
        with self._lock:
            return "".join(self.err)

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def free_port() -> int:
    """A loopback port nothing listens on right now (for commands that take --port)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run_async(
    args: Sequence[str],
    *,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, str, str]:
    """Run cris-cli to completion without blocking the test's event loop."""
    import asyncio

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cris_cli",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ) | (env or {}),
    )
    try:
        out, err = await asyncio.wait_for(
            process.communicate(None if stdin is None else stdin.encode()), timeout
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
