"""Shared by the benchmarks: isolated directories, a running endpoint, a CRIS
stand-in, and timing with interleaved runs and medians.

Everything runs on loopback, every loop is bounded in count and time, and
only processes started here are ever stopped (by their own handle).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CRIS_CLI = str(Path(PYTHON).with_name("cris-cli"))


@dataclass
class Result:
    """One benchmark's outcome, as a row of the summary table."""

    name: str
    measured: str
    reference: str
    ratio: str
    goal: str
    met: bool | None  # None: nothing to judge (smoke mode, or informational)
    detail: str = ""


def summary(
    samples: list[float], unit: str = " ms", scale: float = 1000.0, spec: str = ".1f"
) -> str:
    """``median (min–max)`` of samples, scaled and written with ``spec``, then ``unit``."""
    if not samples:
        return "-"
    low, median, high = (
        v * scale for v in (min(samples), statistics.median(samples), max(samples))
    )
    return f"{median:{spec}}{unit} ({low:{spec}}–{high:{spec}})"


def rate(samples: list[float]) -> str:
    """``median/s (min–max)`` of rates."""
    return summary(samples, "/s", 1.0, ",.0f")


def compile_package() -> None:
    """Compile cris_cli's bytecode, as installing it does (a checkout may have none)."""
    import compileall

    compileall.compile_dir(str(ROOT / "cris_cli"), quiet=1)


@contextmanager
def isolated_environment() -> Iterator[dict[str, str]]:
    """Environment variables giving cris-cli its own config, data, state and runtime dirs."""
    with tempfile.TemporaryDirectory(prefix="cris-cli-bench-") as home:
        environ = dict(os.environ)
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            path = Path(home) / name.lower()
            path.mkdir()
            environ[name] = str(path)
        runtime = Path(home) / "runtime"
        runtime.mkdir(mode=0o700)
        environ["XDG_RUNTIME_DIR"] = str(runtime)
        environ.update(HOME=home, NO_COLOR="1")
        # Measure what users run: an installed package has its bytecode compiled.
        environ.pop("PYTHONDONTWRITEBYTECODE", None)
        for name in list(environ):
            if name.startswith("CRIS_CLI_"):
                del environ[name]
        yield environ


class Process:
    """A process this benchmark started; stopped only through its own handle."""

    def __init__(self, args: list[str], environ: dict[str, str], **kwargs: object) -> None:
        self.popen = subprocess.Popen(
            args,
            env=environ,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,  # type: ignore[call-overload]
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.search(pattern, line)
                if found:
                    return found
            if self.popen.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"no {pattern!r} from {self.popen.args}: {''.join(self.lines)}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


@contextmanager
def serving(environ: dict[str, str], *args: str) -> Iterator[tuple[Process, int]]:
    """``cris-cli serve`` on a free port, its output discarded; yields it and its port."""
    process = Process(
        [CRIS_CLI, "serve", "--port", "0", "--json", *args], environ, stdout=subprocess.DEVNULL
    )
    try:
        port = int(process.wait_for(r"listening on wss?://[^:]+:(\d+)/").group(1))
        yield process, port
    finally:
        process.stop()


class CrisStandIn:
    """A CRIS Reporting stand-in in a thread: connects, counts what it receives."""

    def __init__(self, url: str, cafile: Path | None) -> None:
        self.url = url
        self.cafile = cafile
        self.received: list[tuple[float, str]] = []
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.connection: object = None
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self._run(),), daemon=True
        )

    def __enter__(self) -> CrisStandIn:
        self.thread.start()
        if not self.ready.wait(20):
            raise RuntimeError(f"the CRIS stand-in could not connect to {self.url}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(10)

    async def _run(self) -> None:
        import ssl

        from websockets.asyncio.client import connect

        self._stop = asyncio.Event()
        context = ssl.create_default_context(cafile=str(self.cafile)) if self.cafile else None
        async with connect(self.url, ssl=context, compression=None, max_queue=None) as client:
            self.connection = client
            self.ready.set()
            receiving = asyncio.ensure_future(self._receive(client))
            await self._stop.wait()
            receiving.cancel()

    async def _receive(self, client: object) -> None:
        async for text in client:  # type: ignore[attr-defined]
            self.received.append((time.perf_counter(), text))


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def interleaved(
    ours: Callable[[], object], reference: Callable[[], object], runs: int, warmup: int = 2
) -> tuple[list[float], list[float]]:
    """Time both ``runs`` times, alternating (which one goes first alternates too)."""
    for _ in range(warmup):
        ours()
        reference()
    mine: list[float] = []
    theirs: list[float] = []
    for index in range(runs):
        if index % 2:
            theirs.append(timed(reference))
            mine.append(timed(ours))
        else:
            mine.append(timed(ours))
            theirs.append(timed(reference))
    return mine, theirs


def run_quietly(args: list[str], environ: dict[str, str]) -> None:
    done = subprocess.run(
        args, env=environ, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args} exited {done.returncode}: {done.stderr}")
