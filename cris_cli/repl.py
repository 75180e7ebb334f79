"""The interactive shell: the PACS console.

Records stream in above the prompt as pre-rendered rows while the user types
(``patch_stdout``); the half-typed line survives. The same command words as
``cris-cli send`` drive CRIS; a few more look at what happened.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
from collections.abc import Sequence
from typing import IO, Any

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.formatted_text import ANSI, FormattedText
from prompt_toolkit.history import History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from prompt_toolkit.patch_stdout import patch_stdout
from prompt_toolkit.styles import Style
from prompt_toolkit.validation import ValidationError, Validator

from . import config
from .codec import Parsed, serialize
from .completion import CommandCompleter
from .environment import Environment
from .errors import CrisCliError, ExitCode, UsageError
from .grammar import (
    PACS_VERBS,
    SHELL_VERBS,
    Invocation,
    Verb,
    pacs_message,
    parse_line,
    verbs_by_name,
)
from .history import shell_history
from .links import Link, LocalLink, RemoteLink, open_link
from .messages import accessions_of
from .records import Record
from .render import RowFormatter
from .session import Session
from .tables import clients_table, events_table, help_panel, record_detail, render, status_panel
from .toolbar import toolbar

STYLE = Style.from_dict(
    {
        "prompt": "bold ansicyan",
        "bottom-toolbar": "noreverse bg:#262626 #d0d0d0",
        "toolbar": "",
        "toolbar.address": "bold",
        "toolbar.ok": "ansigreen",
        "toolbar.warning": "ansiyellow",
        "toolbar.hint": "italic #a0a0a0",
    }
)
DEFAULT_EVENTS = 20


class _Question(Exception):
    """Raised out of the prompt when a question must be asked first."""


class _Choice(Validator):
    def __init__(self, choices: Sequence[str]) -> None:
        self.choices = choices

    def validate(self, document: Any) -> None:
        if document.text.strip().lower() not in self.choices:
            raise ValidationError(message=f"answer {', '.join(self.choices)}")


class Shell:
    """One interactive session on a link (hosted here or attached)."""

    verbs_list: tuple[Verb, ...] = PACS_VERBS + SHELL_VERBS

    def __init__(
        self,
        link: Link,
        settings: config.Settings,
        env: Environment,
        *,
        banner: Sequence[str] = (),
        input: Input | None = None,
        output: Output | None = None,
        history: History | None = None,
        width: int | None = None,
    ) -> None:
        self.link = link
        self.settings = settings
        self.env = env
        self.banner = list(banner)
        self.session = Session(settings.history)
        self.verbs = verbs_by_name(self.verbs_list)
        self.color = env.color
        self.patch = input is None  # a real terminal: rows go above the prompt
        self.out: IO[str] = env.stdout
        self.width = width
        self.rows = RowFormatter(self._width(), color=self.color, redact=settings.redact)
        self.prompt: PromptSession[str] = PromptSession(
            history=history if history is not None else shell_history(),
            auto_suggest=AutoSuggestFromHistory(),
            completer=CommandCompleter(self.verbs, self.session),
            complete_while_typing=True,
            bottom_toolbar=self._toolbar,
            vi_mode=settings.vi,
            refresh_interval=1.0,
            style=STYLE,
            input=input,
            output=output,
        )
        self.asker: PromptSession[str] = PromptSession(
            history=InMemoryHistory(), style=STYLE, input=input, output=output
        )
        self.pending_origins: list[str] = []
        self.decided_origins: set[str] = set()
        self._resume = ""
        self._endpoint_gone = False

    # --- output ---------------------------------------------------------------------

    def _width(self) -> int:
        if self.width is not None:
            return self.width
        return shutil.get_terminal_size((120, 24)).columns

    def _print(self, text: str) -> None:
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()

    def _say(self, text: str, style: str = "dim") -> None:
        codes = {"dim": "\x1b[2m", "error": "\x1b[31m", "warning": "\x1b[33m", "ok": "\x1b[32m"}
        self._print(f"{codes[style]}{text}\x1b[0m" if self.color else text)

    def _on_record(self, record: Record) -> None:
        self.session.observe(record)
        width = self._width()
        if width != self.rows.width:
            self.rows = RowFormatter(width, color=self.color, redact=self.settings.redact)
        self._print(self.rows.row(record))
        if record.kind == "refused" and record.origin and record.origin not in self.decided_origins:
            if record.origin not in self.pending_origins:
                self.pending_origins.append(record.origin)
            self._interrupt()

    def _interrupt(self) -> None:
        """Leave the prompt to ask a question; the typed text is put back after."""
        app = self.prompt.app
        if app.is_running and not app.is_done:
            self._resume = self.prompt.default_buffer.text
            app.exit(exception=_Question())

    def _toolbar(self) -> FormattedText:
        description = self.link.description.split()[1]
        tls = description.startswith("wss")
        return FormattedText(
            toolbar(
                self.session,
                description,
                tls,
                self.settings.max_clients,
                self.verbs,
                self.prompt.default_buffer.text,
                self._width(),
            )
        )

    # --- the loop -------------------------------------------------------------------

    async def run(self) -> int:
        self.session.seed(await self.link.status())
        await self.link.subscribe(self._on_record)
        watcher = None
        if isinstance(self.link, RemoteLink):
            watcher = asyncio.ensure_future(self._watch_remote(self.link))
        context = patch_stdout(raw=True) if self.patch else contextlib.nullcontext()
        try:
            with context:
                if self.patch:
                    self.out = sys.stdout
                for line in self.banner:
                    self._say(line)
                self._say("type help for the commands, Tab to complete, Ctrl-D to leave")
                self._print(self.rows.header())
                await self._loop()
        finally:
            if watcher is not None:
                watcher.cancel()
            await self.link.close()
        return int(ExitCode.CONNECTION if self._endpoint_gone else ExitCode.OK)

    async def _loop(self) -> None:
        while not self._endpoint_gone:
            if self.pending_origins:
                await self._ask_about_origins()
                continue
            try:
                line = await self.prompt.prompt_async(
                    ANSI(self._prompt_text()), default=self._resume
                )
            except KeyboardInterrupt:  # Ctrl-C: the line is dropped, the shell goes on
                self._resume = ""
                continue
            except EOFError:  # Ctrl-D
                return
            except _Question:
                continue
            self._resume = ""
            try:
                if await self.execute(line):
                    return
            except CrisCliError as error:
                self._say(str(error), "error")
                if error.hint:
                    self._say(f"  hint: {error.hint}")

    def _prompt_text(self) -> str:
        role = "pacs" if isinstance(self.link, LocalLink) else "pacs (attached)"
        return f"\x1b[1;36m{role}>\x1b[0m " if self.color else f"{role}> "

    async def _watch_remote(self, link: RemoteLink) -> None:
        await link.wait_closed()
        self._endpoint_gone = True
        self._say(f"the endpoint {link.description} went away; leaving", "error")
        app = self.prompt.app
        if app.is_running and not app.is_done:
            app.exit(exception=EOFError())

    # --- commands -------------------------------------------------------------------

    async def execute(self, line: str) -> bool:
        """Run one command line; True when the shell should end."""
        invocation = parse_line(line, self.verbs)
        if invocation is None:
            return False
        verb = invocation.verb
        if verb.sends:
            await self._send(invocation)
            return False
        if verb.name == "quit":
            return True
        handler = getattr(self, f"_{verb.name}")
        await handler(invocation)
        return False

    async def _send(self, invocation: Invocation) -> None:
        if not self.session.clients:
            raise UsageError(
                "no CRIS client is connected; nothing sent",
                hint="is CRIS Reporting open, with CRIS Connect pointing here?",
            )
        password = None
        if invocation.verb.name == "login":
            password = await self._ask_password(invocation.args[0])
        message = pacs_message(invocation, password)
        if isinstance(message, Parsed):
            for deviation in message.deviations:
                style = "error" if deviation.is_error else "warning"
                self._say(f"raw message: {deviation.severity.value}: {deviation.text}", style)
            text = message.raw
        else:
            text = serialize(message)
            self.session.remember(accessions_of(message))
        sent = await self.link.send(text)
        if sent.delivered == 0:
            self._say("no CRIS client is connected; nothing sent", "warning")

    async def _ask_password(self, user: str) -> str:
        try:
            password = await self.asker.prompt_async(f"password for {user}: ", is_password=True)
        except (KeyboardInterrupt, EOFError):
            raise UsageError("login cancelled; nothing sent") from None
        if not password:
            raise UsageError("the password is empty; nothing sent")
        return password

    async def _events(self, invocation: Invocation) -> None:
        count = _number(invocation.args[0], "events N") if invocation.args else DEFAULT_EVENTS
        records = self.session.latest(count)
        if not records:
            self._say("nothing has happened yet")
            return
        self._render(events_table(records, redact=self.settings.redact))

    async def _show(self, invocation: Invocation) -> None:
        seq = _number(invocation.args[0], "show N")
        record = self.session.record(seq)
        if record is None:
            held = self.session.records
            span = f"{held[0].seq}–{held[-1].seq}" if held else "none yet"
            raise UsageError(f"no record #{seq} is held (held: {span})")
        self._render(record_detail(record, redact=self.settings.redact))

    def _render(self, renderable: Any) -> None:
        self._print(render(renderable, self._width(), self.color))

    async def _status(self, invocation: Invocation) -> None:
        self._render(status_panel(await self.link.status(), self.link.description))

    async def _clients(self, invocation: Invocation) -> None:
        self._render(clients_table(await self.link.clients()))

    async def _help(self, invocation: Invocation) -> None:
        name = invocation.args[0].lower() if invocation.args else None
        if name is not None and name not in self.verbs:
            raise UsageError(f"no command {name!r}; 'help' lists them")
        self._render(help_panel(self.verbs_list, name))

    async def _allow(self, invocation: Invocation) -> None:
        origin = invocation.args[0]
        always = len(invocation.args) > 1
        if always and invocation.args[1].lower() != "always":
            raise UsageError(f"allow takes ORIGIN [always], not {invocation.args[1]!r}")
        await self._allow_origin(origin, always)

    async def _allow_origin(self, origin: str, always: bool) -> None:
        from .doctor import origin_problem

        problem = origin_problem(origin)
        if problem:
            raise UsageError(f"{origin!r} {problem}")
        await self.link.allow_origin(origin)
        self.decided_origins.add(origin)
        if always:
            from .origins import save_allowed_origin

            file = save_allowed_origin(origin)
            self._say(f"{origin} may connect, now and from now on (saved to {file})", "ok")
        else:
            self._say(f"{origin} may connect until this endpoint stops", "ok")

    async def _ask_about_origins(self) -> None:
        origin = self.pending_origins.pop(0)
        if origin in self.decided_origins:
            return
        self._say(f"a browser page from {origin} tried to connect, and was refused", "warning")
        question = "allow it [o]nce, [a]lways (saved to the config file), or [n]o? "
        try:
            answer = await self.asker.prompt_async(
                question, validator=_Choice(("o", "once", "a", "always", "n", "no"))
            )
        except (KeyboardInterrupt, EOFError):
            answer = "n"
        choice = answer.strip().lower()[:1]
        if choice == "n":
            self.decided_origins.add(origin)
            self._say(f"{origin} stays refused (allow it later with: allow {origin})")
            return
        await self._allow_origin(origin, always=choice == "a")
        self._say("the page connects when it next tries (CRIS retries on its own, or reload it)")


def _number(text: str, usage: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{usage}: {text!r} is not a number") from None
    if value < 0:
        raise UsageError(f"{usage}: {value} is negative")
    return value


def run(args: argparse.Namespace, env: Environment) -> int:
    settings = config.from_args(args, env.environ)
    return asyncio.run(_start(settings, env))


async def _start(settings: config.Settings, env: Environment) -> int:
    link = await open_link(settings, env)
    if isinstance(link, LocalLink):
        from .hosting import banner

        lines = banner(link.endpoint, link.certificate, settings)
    else:
        lines = [f"attached to {link.description}: commands go through it"]
    try:
        shell = Shell(link, settings, env, banner=lines)
    except BaseException:
        await link.close()
        raise
    return await shell.run()
