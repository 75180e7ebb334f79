"""The interactive shell in a real terminal: ``cris-cli`` in a tmux pane, keys
typed with send-keys, the screen read back with capture-pane, and a CRIS test
client on loopback receiving what the shell sends."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect

from debian import INSTALL_TIMEOUT
from processes import free_port
from terminal import (
    WAIT,
    Terminal,
    cris_cli_command,
    find_tmux,
    last_line_starting,
    lines,
)

# Only the first test may wait for apt-get to install tmux; every wait on the
# screen is bounded by WAIT, so a test that works takes a few seconds.
pytestmark = pytest.mark.timeout(2 * INSTALL_TIMEOUT + 120)

PROMPT = "pacs>"  # capture-pane trims the blank after it on an empty line
SECRET = "s3cret-typed"


@pytest.fixture(scope="session")
def tmux() -> str:
    return find_tmux()


def prompt_line(screen: str) -> tuple[int, str] | None:
    """The live prompt's row index and text (the last row starting with the prompt)."""
    index = last_line_starting(screen, PROMPT)
    return None if index is None else (index, lines(screen)[index])


def prompt_reads(screen: str, text: str) -> bool:
    found = prompt_line(screen)
    return found is not None and found[1] == text


@dataclass
class Shell:
    terminal: Terminal
    port: int
    home: Path

    def history(self) -> str:
        """The shell's history as kept in the test's own state directory (not the user's)."""
        directory = Path(self.terminal.environ["XDG_STATE_HOME"]) / "cris-cli"
        files = sorted(directory.glob("history*"))  # one per role: history-pacs, ...
        assert files, f"no history file in {directory}: {sorted(directory.glob('*'))}"
        return "".join(file.read_text() for file in files)

    async def cris(self) -> ClientConnection:
        """A CRIS test client, connected once the shell shows its connect row."""
        client = await connect(f"ws://127.0.0.1:{self.port}/", open_timeout=WAIT)
        await self.terminal.until(
            lambda screen: re.search(r"connect +CRIS client \d+ connected", screen) is not None,
            "the connect row",
        )
        return client

    async def received(self, client: ClientConnection) -> str | bytes:
        try:
            return await asyncio.wait_for(client.recv(), WAIT)
        except TimeoutError:
            raise AssertionError(
                f"CRIS received nothing within {WAIT} s; the screen:\n{self.terminal.screen()}"
            ) from None

    async def leave(self) -> str:
        """Ctrl-D on an empty line: the shell ends with status 0."""
        self.terminal.press("C-d")
        screen = await self.terminal.shows("EXIT=")
        assert "EXIT=0" in lines(screen), f"the shell did not end cleanly; the screen:\n{screen}"
        return screen


@pytest.fixture
async def shell(tmux: str, isolated_dirs: Path) -> AsyncIterator[Shell]:
    """cris-cli hosting the PACS endpoint in a 140×40 pane, at its first prompt."""
    environ = dict(os.environ)  # conftest's isolated directories, no CRIS_CLI_* variables
    environ.pop("NO_COLOR", None)  # colour as a user sees it; capture-pane reads plain text
    port = free_port()
    terminal = Terminal(tmux, environ)
    try:
        terminal.start([*cris_cli_command(), "--port", str(port), "--no-tls"], width=140, height=40)
        await terminal.shows(f"listening on ws://localhost:{port}/")
        await terminal.until(lambda screen: prompt_reads(screen, PROMPT), "the prompt 'pacs> '")
        # The endpoint announced itself in the test's runtime directory, not the user's.
        runtime = Path(environ["XDG_RUNTIME_DIR"])
        assert list(runtime.rglob(f"*{port}*")), f"nothing about port {port} in {runtime}"
        yield Shell(terminal, port, isolated_dirs)
    finally:
        terminal.close()


async def test_tab_completes_the_command_and_the_line_reaches_cris(shell: Shell) -> None:
    terminal = shell.terminal
    client = await shell.cris()
    terminal.type("dis")

    def offers_display(screen: str) -> bool:
        # The completer answers asynchronously, while typing: Tab pressed before
        # its menu is up races it.
        found = prompt_line(screen)
        if found is None or found[1] != "pacs> dis":
            return False
        return any(row.strip().startswith("display") for row in lines(screen)[found[0] + 1 :])

    await terminal.until(offers_display, "the completion menu offering 'display'")
    terminal.press("Tab")
    await terminal.until(
        lambda screen: prompt_reads(screen, "pacs> display"), "Tab completing 'dis' to 'display'"
    )
    terminal.type(" ACC1")
    terminal.press("Enter")

    assert await shell.received(client) == '{"command":"DISPLAY","accession":["ACC1"]}'
    screen = await terminal.until(
        lambda screen: re.search(r"→CRIS +DISPLAY +ACC1\b", screen) is not None, "the sent row"
    )
    assert prompt_reads(screen, PROMPT), f"no fresh prompt after the line; the screen:\n{screen}"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.recv(), 0.3)  # exactly one message

    await shell.leave()
    await asyncio.wait_for(client.wait_closed(), WAIT)
    assert client.close_code == 1001  # going away: the shell closed the link on its way out
    assert "display ACC1" in shell.history()


async def test_rows_arrive_above_a_half_typed_line(shell: Shell) -> None:
    terminal = shell.terminal
    client = await shell.cris()
    terminal.type("display PART")
    await terminal.until(
        lambda screen: prompt_reads(screen, "pacs> display PART"), "the half-typed line"
    )

    await client.send('{"command":"EVENT","accession":["EVT9"],"domain":"RXH"}')

    def row_above_intact_line(screen: str) -> bool:
        found = prompt_line(screen)
        rows = [i for i, row in enumerate(lines(screen)) if re.search(r"CRIS→ +EVENT +EVT9\b", row)]
        return found is not None and found[1] == "pacs> display PART" and len(rows) == 1

    # Redrawing is not atomic: wait for the settled screen, the row printed and
    # the prompt back with the half-typed line.
    screen = await terminal.until(
        row_above_intact_line, "the EVENT row, with the half-typed line still at the prompt"
    )
    prompt = prompt_line(screen)
    assert prompt is not None
    row = next(i for i, line in enumerate(lines(screen)) if "CRIS→" in line and "EVT9" in line)
    assert row < prompt[0], f"the row is not above the prompt; the screen:\n{screen}"
    assert "RXH" in lines(screen)[row]
    assert terminal.cursor() == (len("pacs> display PART"), prompt[0]), (
        f"the cursor left the end of the half-typed line; the screen:\n{screen}"
    )
    everything = terminal.scrollback()
    assert sum("display PART" in line for line in lines(everything)) == 1, (
        f"the half-typed line was left behind when the row was printed:\n{everything}"
    )

    terminal.type(" 2")
    terminal.press("Enter")
    assert await shell.received(client) == '{"command":"DISPLAY","accession":["PART","2"]}'
    await terminal.until(
        lambda screen: re.search(r"→CRIS +DISPLAY +PART 2\b", screen) is not None, "the sent row"
    )

    await client.close()
    await shell.leave()


async def test_the_password_is_never_shown_nor_kept(shell: Shell) -> None:
    terminal = shell.terminal
    client = await shell.cris()
    terminal.type("login rad1")
    terminal.press("Enter")
    await terminal.until(
        lambda screen: any(row.startswith("password for rad1:") for row in lines(screen)),
        "the password question",
    )

    terminal.type(SECRET)
    # While typed: masked, one * per character.
    typing = await terminal.until(
        lambda screen: f"password for rad1: {'*' * len(SECRET)}" in lines(screen),
        "the masked password",
    )
    assert SECRET not in terminal.scrollback(), f"the password shows:\n{typing}"
    terminal.press("Enter")

    assert await shell.received(client) == (
        f'{{"command":"LOGIN","username":"rad1","password":"{SECRET}"}}'
    )
    await terminal.until(
        lambda screen: re.search(r"→CRIS +LOGIN\b", screen) is not None, "the sent row"
    )
    await client.close()
    screen = await shell.leave()

    everything = terminal.scrollback()
    assert "password for rad1:" in everything
    assert SECRET not in everything, f"the password shows:\n{everything}"
    history = shell.history()
    assert "login rad1" in history, f"the shell kept no history here:\n{history}\n{screen}"
    assert SECRET not in history
    # Nor anywhere else the shell may write: config, data, state, cache, runtime.
    for file in shell.home.rglob("*"):
        if file.is_file():
            assert SECRET.encode() not in file.read_bytes(), f"the password is kept in {file}"


async def test_a_refused_origin_is_asked_about_below_its_row(shell: Shell) -> None:
    """The question about a refused browser page sits on its own line below the
    refused row (rows go above whichever prompt is up, a question's too), and its
    answer takes effect."""
    from websockets.exceptions import InvalidStatus
    from websockets.typing import Origin

    terminal = shell.terminal
    origin = "https://cris.example.nhs.uk"
    url = f"ws://127.0.0.1:{shell.port}/"
    with pytest.raises(InvalidStatus):
        await connect(url, origin=Origin(origin), open_timeout=WAIT)
    question = "allow it [o]nce, [a]lways (saved to the config file), or [n]o?"
    screen = await terminal.until(
        lambda screen: (
            (index := last_line_starting(screen, question)) is not None
            and any("refused" in row for row in lines(screen)[:index])
        ),
        "the question below the refused row",
    )
    rows = lines(screen)
    asked = last_line_starting(screen, question)
    assert asked is not None
    assert rows[asked].rstrip() == question, f"the question shares its line:\n{screen}"
    assert not any(question in row for row in rows[:asked]), screen
    refused = [row for row in rows[:asked] if re.search(r"refused +refused browser origin", row)]
    assert refused, f"no refused row above the question:\n{screen}"
    terminal.type("o")
    terminal.press("Enter")
    await terminal.shows("the page connects when it next tries")
    client = await connect(url, origin=Origin(origin), open_timeout=WAIT)
    await terminal.until(
        lambda screen: (
            re.search(rf"connected from .*origin {re.escape(origin)}", screen) is not None
        ),
        "the page connecting once allowed",
    )
    await client.close()
    await shell.leave()
