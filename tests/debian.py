"""Installing a Debian package the tests need (a browser, a terminal), when this
is root on a machine with apt-get: tests find or install what they drive, and
fail, never skip, when they can do neither."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess

import pytest

INSTALL_TIMEOUT = 600  # seconds for each apt-get step: a slow mirror is not a failure


def can_install() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get") is not None


def apt_install(package: str, how_to: str) -> None:
    """``apt-get update`` then install ``package``; a step that fails fails the tests,
    with its output and ``how_to`` (what a person can do instead)."""
    environ = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", package],
    ):
        try:
            done = subprocess.run(
                command,
                env=environ,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"'{shlex.join(command)}' took over {INSTALL_TIMEOUT} s; {how_to}")
        if done.returncode != 0:
            output = (done.stdout + done.stderr)[-3000:]
            pytest.fail(
                f"'{shlex.join(command)}' failed (exit {done.returncode}); {how_to}\n{output}"
            )
