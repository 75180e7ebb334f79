"""The PACS console: ``cris-cli`` with no command, on a terminal.

It hosts the endpoint (or attaches to the one already running on the port)
and drives CRIS Reporting with the same words as ``cris-cli send``, while
every record streams in above the prompt.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from . import config
from .codec import Parsed, serialize
from .environment import Environment
from .errors import UsageError
from .grammar import PACS_VERBS, SHELL_VERBS, Invocation, pacs_message
from .links import Link, LocalLink, RemoteLink, open_link
from .messages import accessions_of
from .recorder import Recorder
from .records import Record
from .shell import Shell

Opener = Callable[[], Awaitable[tuple[Link, list[str]]]]


class PacsShell(Shell):
    """The PACS console on one link (hosted here, or attached)."""

    role = "pacs"
    peer = "CRIS"
    own_verbs = PACS_VERBS + tuple(v for v in SHELL_VERBS if v.name == "allow")

    def __init__(
        self,
        link: Link | None,
        settings: config.Settings,
        env: Environment,
        *,
        opener: Opener | None = None,
        **kwargs: Any,
    ) -> None:
        """``link``, or an ``opener`` that makes one once the prompt shows."""
        self._link = link
        self._opener = opener
        super().__init__(settings, env, **kwargs)
        self.pending_origins: list[str] = []
        self.decided_origins: set[str] = set()

    @property
    def link(self) -> Link:
        assert self._link is not None, "the link is opened by start()"
        return self._link

    async def start(self) -> None:
        if self._link is None and self._opener is not None:
            self._link, lines = await self._opener()
            self.banner = [*lines, *self.banner]

    @property
    def address(self) -> str:
        if self._link is None:
            return "starting…"
        return self.link.description.split()[1]

    @property
    def tls(self) -> bool:
        return self.address.startswith("wss")

    @property
    def max_clients(self) -> int:
        return int(self.settings.max_clients)

    def prompt_name(self) -> str:
        return "pacs" if self._link is None or self._link.hosted else "pacs (attached)"

    async def status(self) -> dict[str, Any]:
        return await self.link.status()

    async def subscribe(self, listener: Any) -> None:
        await self.link.subscribe(listener)

    def status_view(self, status: dict[str, Any]) -> Any:
        from .tables import status_panel

        return status_panel(status, self.link.description)

    async def close(self) -> None:
        if self._link is not None:
            await self._link.close()

    async def watch(self) -> None:
        if isinstance(self.link, RemoteLink):
            await self.link.wait_closed()
            self.ended = f"the endpoint {self.link.description} went away; leaving"
        else:
            await super().watch()

    def on_record(self, record: Record) -> None:
        super().on_record(record)
        if record.kind == "refused" and record.origin and record.origin not in self.decided_origins:
            if record.origin not in self.pending_origins:
                self.pending_origins.append(record.origin)
            self.interrupt()

    async def perform(self, invocation: Invocation) -> None:
        if invocation.verb.name == "allow":
            origin, *rest = invocation.args
            if rest and rest[0].lower() != "always":
                raise UsageError(f"allow takes ORIGIN [always], not {rest[0]!r}")
            await self._allow(origin, always=bool(rest))
            return
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
            self.say_findings(message.deviations)
            text = message.raw
        else:
            text = serialize(message)
            self.session.remember(accessions_of(message), "typed here")
        sent = await self.link.send(text)
        if sent.nothing_sent:
            self.say(sent.nothing_sent, "warning")

    async def _ask_password(self, user: str) -> str:
        try:
            password = await self.asker.prompt_async(f"password for {user}: ", is_password=True)
        except (KeyboardInterrupt, EOFError):
            raise UsageError("login cancelled; nothing sent") from None
        if not password:
            raise UsageError("the password is empty; nothing sent")
        return password

    async def _allow(self, origin: str, always: bool) -> None:
        from .doctor import origin_problem

        problem = origin_problem(origin)
        if problem:
            raise UsageError(f"{origin!r} {problem}")
        await self.link.allow_origin(origin)
        self.decided_origins.add(origin)
        if always:
            from .origins import save_allowed_origin

            file = save_allowed_origin(origin)
            self.say(f"{origin} may connect, now and from now on (saved to {file})", "ok")
        else:
            self.say(f"{origin} may connect until this endpoint stops", "ok")

    async def before_prompt(self) -> None:
        while self.pending_origins:
            origin = self.pending_origins.pop(0)
            if origin in self.decided_origins:
                continue
            self.say(f"a browser page from {origin} tried to connect, and was refused", "warning")
            answer = await self.ask(
                "allow it [o]nce, [a]lways (saved to the config file), or [n]o? ",
                ("o", "once", "a", "always", "n", "no"),
            )
            if answer.startswith("n"):
                self.decided_origins.add(origin)
                self.say(f"{origin} stays refused (allow it later with: allow {origin})")
                continue
            await self._allow(origin, always=answer.startswith("a"))
            self.say("the page connects when it next tries (CRIS retries, or reload it)")


def run(args: argparse.Namespace, env: Environment) -> int:
    settings = config.from_args(args, env.environ)
    if settings.pfx:
        from .hosting import ask_pfx_password

        env = ask_pfx_password(settings, env)
    recorder = Recorder(Path(args.record)) if getattr(args, "record", None) else None
    try:
        return asyncio.run(_start(settings, env, recorder))
    finally:
        if recorder is not None:
            recorder.close()


async def _start(settings: config.Settings, env: Environment, recorder: Recorder | None) -> int:
    async def opener() -> tuple[Link, list[str]]:
        link = await open_link(settings, env)
        if recorder is not None:
            await link.subscribe(recorder)
        if isinstance(link, LocalLink):
            from .hosting import banner

            return link, banner(link.endpoint, link.certificate, settings)
        return link, [f"attached to {link.description}: commands go through it"]

    return await PacsShell(None, settings, env, opener=opener).run()
