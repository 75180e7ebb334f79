"""Runtime files: how a running endpoint tells other cris-cli processes where
it is and how to reach its control path.

One file per port, ``endpoint-PORT.json`` in the user's runtime directory,
mode 0600, holding the port, process id, certificate and a random token.
It is removed when the endpoint stops; a file left by a process that died is
detected (its process is gone) and replaced.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import __version__, paths
from .errors import ConnectionFailed

CONTROL_PATH = "/cris-cli/control"
"""Where other cris-cli processes reach a running endpoint (same port as CRIS)."""


@dataclass(frozen=True)
class RuntimeInfo:
    """What another process needs to attach to a running endpoint."""

    port: int
    host: str
    pid: int
    tls: bool
    cert_pem: str | None
    fingerprint: str | None
    token: str
    version: str = __version__
    started: float = 0.0

    @property
    def control_host(self) -> str:
        """Where to dial the control path: the bound address, or loopback for a wildcard."""
        if self.host in ("0.0.0.0", "::", ""):  # noqa: S104 - compared, not bound
            return "127.0.0.1"
        return f"[{self.host}]" if ":" in self.host else self.host


def new_token() -> str:
    return secrets.token_urlsafe(32)


def runtime_file(port: int) -> Path:
    return paths.runtime_dir() / f"endpoint-{port}.json"


def publish(info: RuntimeInfo) -> Path:
    """Write the runtime file for ``info.port`` (mode 0600)."""
    file = runtime_file(info.port)
    data = asdict(info) | {"started": info.started or time.time()}
    paths.write_private_file(file, json.dumps(data, indent=2).encode("utf-8"))
    return file


def withdraw(info: RuntimeInfo) -> None:
    """Remove the runtime file, if it is still ours."""
    file = runtime_file(info.port)
    current = _read(file)
    if current is not None and current.pid == info.pid and current.token == info.token:
        file.unlink(missing_ok=True)


def find(port: int) -> RuntimeInfo | None:
    """The endpoint running on ``port``, or None. Stale files are removed."""
    file = runtime_file(port)
    info = _read(file)
    if info is None:
        if file.exists():
            file.unlink(missing_ok=True)  # unreadable: a crash mid-write, or not ours
        return None
    if not process_alive(info.pid):
        file.unlink(missing_ok=True)
        return None
    return info


def discard_if_unreachable(info: RuntimeInfo) -> bool:
    """Remove the runtime file when nothing listens on its port; True if removed.

    A live process can own a runtime file it no longer serves (or a new
    process can have the dead one's id): the port tells the truth.
    """
    from .ports import is_listening

    if is_listening(info.control_host.strip("[]"), info.port):
        return False
    runtime_file(info.port).unlink(missing_ok=True)
    return True


def _read(file: Path) -> RuntimeInfo | None:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        return RuntimeInfo(**data)
    except (OSError, ValueError, TypeError):
        return None


def process_alive(pid: int) -> bool:
    """True when a process with this id exists."""
    if pid <= 0:
        return False
    if os.name == "posix":
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    import psutil

    return bool(psutil.pid_exists(pid))


def control_dial(info: RuntimeInfo) -> tuple[str, dict[str, Any]]:
    """The control path's address and the ``connect`` options to reach it.

    TLS trusts exactly the endpoint's certificate; the token goes in a header.
    """
    from .trust import pinned_client_context

    scheme = "wss" if info.tls else "ws"
    context = pinned_client_context(info.cert_pem) if info.tls and info.cert_pem else None
    options = {
        "ssl": context,
        "additional_headers": {"Authorization": f"Bearer {info.token}"},
        "compression": None,
        "max_size": None,
        "proxy": None,  # loopback: never through a proxy the environment names
    }
    return f"{scheme}://{info.control_host}:{info.port}{CONTROL_PATH}", options


def control_failure(info: RuntimeInfo, error: Exception) -> ConnectionFailed:
    """The error to report when the control path cannot be reached."""
    response = getattr(error, "response", None)
    if response is not None:  # websockets' InvalidStatus: the endpoint said no
        return ConnectionFailed(
            f"the endpoint on port {info.port} refused the control connection "
            f"(HTTP {response.status_code})",
            hint="its runtime file may be from another user or an older run",
        )
    return ConnectionFailed(
        f"cannot reach the cris-cli endpoint on port {info.port} (process {info.pid}): {error}"
    )
