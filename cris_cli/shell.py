"""The interactive shell machinery shared by both roles (the PACS console and
the simulated CRIS Reporting).

Records stream in above the prompt as pre-rendered rows while the user types
(``patch_stdout``); the half-typed line survives. A role adds its own verbs
and how to carry them out; looking (``events``, ``show``, ``status``,
``clients``, ``help``) and leaving are the same for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import IO, Any

from prompt_toolkit import PromptSession
from prompt_toolkit.application import Application
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.formatted_text import ANSI, FormattedText
from prompt_toolkit.history import DummyHistory, History
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from prompt_toolkit.styles import Style
from prompt_toolkit.validation import ValidationError, Validator

from . import config
from .codec import Deviation
from .completion import CommandCompleter
from .environment import Environment
from .errors import CrisCliError, ExitCode, UsageError
from .grammar import SHELL_VERBS, Invocation, Verb, number, parse_line, verbs_by_name
from .history import shell_history
from .printing import above
from .records import Record
from .render import RowFormatter
from .session import Session
from .toolbar import toolbar

STYLE = Style.from_dict(
    {
        "bottom-toolbar": "noreverse bg:#262626 #d0d0d0",
        "toolbar": "",
        "toolbar.address": "bold",
        "toolbar.ok": "ansigreen",
        "toolbar.warning": "ansiyellow",
        "toolbar.hint": "italic #a0a0a0",
    }
)
DEFAULT_EVENTS = 20
LOOKING = ("events", "show", "status", "clients", "help")


class Interruption(Exception):
    """Raised out of the prompt when something must be asked first."""


class Choice(Validator):
    """Accepts one of a few answers."""

    def __init__(self, choices: Sequence[str]) -> None:
        self.choices = choices

    def validate(self, document: Any) -> None:
        if document.text.strip().lower() not in self.choices:
            raise ValidationError(message=f"answer {', '.join(self.choices)}")


class Shell(ABC):
    """An interactive session: a prompt, rows above it, a toolbar below."""

    role = "pacs"
    peer = "CRIS"
    own_verbs: tuple[Verb, ...] = ()
    shared_verbs: tuple[Verb, ...] = tuple(v for v in SHELL_VERBS if v.name != "allow")

    def __init__(
        self,
        settings: config.Settings,
        env: Environment,
        *,
        banner: Sequence[str] = (),
        input: Input | None = None,
        output: Output | None = None,
        history: History | None = None,
        width: int | None = None,
    ) -> None:
        self.settings = settings
        self.env = env
        self.banner = list(banner)
        self.session = Session(settings.history, local=self.role)  # 'in' and 'out' as seen here
        self.verbs_list = (*self.own_verbs, *self.shared_verbs)
        self.verbs = verbs_by_name(self.verbs_list)
        self.color = env.color
        self.patch = input is None  # a real terminal: rows go above the prompt
        self.out: IO[str] = env.stdout
        self.width = width
        self.rows = self._formatter()
        self.prompt: PromptSession[str] = PromptSession(
            history=history if history is not None else shell_history(f"history-{self.role}"),
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
        self._io = (input, output)
        self._asker: PromptSession[str] | None = None
        self._resume = ""
        self.ended: str | None = None  # why the session ended on its own, if it did
        self.ready = asyncio.Event()  # set once started (or failed to): commands wait for it
        self._failure: Exception | None = None  # why starting failed

    # --- what a role provides -------------------------------------------------------

    @property
    @abstractmethod
    def address(self) -> str:
        """Where the link is (``wss://localhost:56998/``)."""

    @property
    @abstractmethod
    def tls(self) -> bool: ...

    @property
    def max_clients(self) -> int:
        return 1

    def prompt_name(self) -> str:
        return self.role

    @abstractmethod
    async def status(self) -> dict[str, Any]: ...

    @abstractmethod
    async def subscribe(self, listener: Any) -> None: ...

    @abstractmethod
    async def perform(self, invocation: Invocation) -> None:
        """Carry out one of the role's own verbs."""

    @abstractmethod
    def status_view(self, status: dict[str, Any]) -> Any: ...

    @abstractmethod
    async def close(self) -> None: ...

    async def before_prompt(self) -> None:  # noqa: B027 - a hook; most roles ask nothing
        """Questions to ask before the next prompt (none by default)."""

    async def watch(self) -> None:
        """Wait until the session must end on its own (never, by default)."""
        await asyncio.Event().wait()

    @property
    def asker(self) -> PromptSession[str]:
        """The prompt for questions (passwords, origins): made when first needed.
        It keeps no history: a password must not come back with the up arrow."""
        if self._asker is None:
            self._asker = PromptSession(
                history=DummyHistory(),
                bottom_toolbar=self._toolbar,
                style=STYLE,
                input=self._io[0],
                output=self._io[1],
            )
        return self._asker

    # --- output ---------------------------------------------------------------------

    def _formatter(self) -> RowFormatter:
        return RowFormatter(
            self._width(), color=self.color, redact=self.settings.redact, local=self.role
        )

    def _width(self) -> int:
        if self.width is not None:
            return self.width
        return shutil.get_terminal_size((120, 24)).columns

    def print(self, text: str) -> None:
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()

    def show(self, renderable: Any) -> None:
        from .tables import render  # rich loads when first asked for, not at start-up

        self.print(render(renderable, self._width(), self.color))

    def say(self, text: str, style: str = "dim") -> None:
        codes = {"dim": "\x1b[2m", "error": "\x1b[31m", "warning": "\x1b[33m", "ok": "\x1b[32m"}
        self.print(f"{codes[style]}{text}\x1b[0m" if self.color else text)

    def say_findings(self, deviations: Sequence[Deviation]) -> None:
        """How a raw line departs from the protocol (it is sent as typed all the same)."""
        for deviation in deviations:
            style = "error" if deviation.is_error else "warning"
            self.say(f"raw message: {deviation.severity.value}: {deviation.text}", style)

    def on_record(self, record: Record) -> None:
        self.session.observe(record)
        if self._width() != self.rows.width:
            self.rows = self._formatter()
        self.print(self.rows.row(record))

    def _apps(self) -> list[Application[Any]]:
        """The prompts that may be on the screen: a question first, then the command line."""
        asked = [] if self._asker is None else [self._asker.app]
        return [*asked, self.prompt.app]

    def interrupt(self) -> None:
        """Leave the prompt (to ask something); the typed text is put back after."""
        app = self.prompt.app
        if app.is_running and not app.is_done:
            self._resume = self.prompt.default_buffer.text
            app.exit(exception=Interruption())

    def _toolbar(self) -> FormattedText:
        return FormattedText(
            toolbar(
                self.session,
                self.address,
                self.tls,
                self.max_clients,
                self.verbs,
                self.prompt.default_buffer.text,
                self._width(),
                peer=self.peer,
            )
        )

    # --- the loop -------------------------------------------------------------------

    async def start(self) -> None:  # noqa: B027 - a hook; most roles have nothing to start
        """Get ready (start or reach the link); runs once the prompt is on the screen."""

    async def run(self) -> int:
        context = above(self._apps) if self.patch else contextlib.nullcontext()
        # The prompt shows first; starting (an endpoint, say) happens behind it, and
        # commands typed meanwhile wait for it (see ``ready``).
        rendered = asyncio.Event()
        self.prompt.app.after_render += lambda _: rendered.set()
        beginning = asyncio.ensure_future(self._begin(rendered))
        try:
            with context:
                if self.patch:
                    self.out = sys.stdout
                await self._loop()
        finally:
            beginning.cancel()
            await self.close()
        return int(ExitCode.CONNECTION if self.ended else ExitCode.OK)

    async def _begin(self, rendered: asyncio.Event) -> None:
        await rendered.wait()
        try:
            await self.start()
            self.session.seed(await self.status())
            await self.subscribe(self.on_record)
        except BaseException as error:  # leave the prompt with it: main() reports it
            app = self.prompt.app
            if app.is_running and not app.is_done:
                app.exit(exception=error)
            elif isinstance(error, Exception):  # a command is waiting: it raises it
                self._failure = error
                self.ready.set()
            raise
        for line in self.banner:
            self.say(line)
        self.say("type help for the commands, Tab to complete, Ctrl-D to leave")
        self.print(self.rows.header())
        self.ready.set()
        await self._watch()

    async def _watch(self) -> None:
        await self.watch()
        if self.ended:
            self.say(self.ended, "error")
        app = self.prompt.app
        if app.is_running and not app.is_done:
            app.exit(exception=EOFError())

    async def _loop(self) -> None:
        while not self.ended:
            await self.before_prompt()
            try:
                line = await self.prompt.prompt_async(
                    ANSI(self._prompt_text()), default=self._resume
                )
            except KeyboardInterrupt:  # Ctrl-C: the line is dropped, the shell goes on
                self._resume = ""
                continue
            except EOFError:  # Ctrl-D
                return
            except Interruption:
                continue
            self._resume = ""
            try:
                if await self.execute(line):
                    return
            except CrisCliError as error:
                if error is self._failure:
                    raise
                self.say(str(error), "error")
                if error.hint:
                    self.say(f"  hint: {error.hint}")

    def _prompt_text(self) -> str:
        name = self.prompt_name()
        return f"\x1b[1;36m{name}>\x1b[0m " if self.color else f"{name}> "

    async def ask(self, question: str, choices: Sequence[str]) -> str:
        """One answer from ``choices`` (the first one when the user gives up)."""
        try:
            answer = await self.asker.prompt_async(question, validator=Choice(choices))
        except (KeyboardInterrupt, EOFError):
            return choices[-1]
        return answer.strip().lower()

    # --- commands -------------------------------------------------------------------

    async def execute(self, line: str) -> bool:
        """Run one command line; True when the shell should end."""
        invocation = parse_line(line, self.verbs)
        if invocation is None:
            return False
        name = invocation.verb.name
        if name == "quit":
            return True
        await self.ready.wait()
        if self._failure is not None:
            raise self._failure
        if name in LOOKING:
            await getattr(self, f"_{name}")(invocation)
        else:
            await self.perform(invocation)
        return False

    async def _events(self, invocation: Invocation) -> None:
        count = number(invocation.args[0], "events N") if invocation.args else DEFAULT_EVENTS
        records = self.session.latest(count)
        if not records:
            self.say("nothing has happened yet")
            return
        from .tables import events_table

        self.show(events_table(records, redact=self.settings.redact, local=self.role))

    async def _show(self, invocation: Invocation) -> None:
        seq = number(invocation.args[0], "show N")
        record = self.session.record(seq)
        if record is None:
            held = self.session.records
            span = f"{held[0].seq}–{held[-1].seq}" if held else "none yet"
            raise UsageError(f"no record #{seq} is held (held: {span})")
        from .tables import record_detail

        self.show(record_detail(record, redact=self.settings.redact))

    async def _status(self, invocation: Invocation) -> None:
        self.show(self.status_view(await self.status()))

    async def _clients(self, invocation: Invocation) -> None:
        from .tables import clients_table

        self.show(clients_table((await self.status())["clients"], peer=self.peer))

    async def _help(self, invocation: Invocation) -> None:
        name = invocation.args[0].lower() if invocation.args else None
        if name is not None and name not in self.verbs:
            raise UsageError(f"no command {name!r}; 'help' lists them")
        from .tables import help_panel

        self.show(help_panel(self.verbs_list, name))
