"""``cris-cli simulate``: play CRIS Reporting against a PACS endpoint.

Interactive on a terminal (the CRIS console: the user's actions as commands,
with completion of worklist accessions); ``--auto RATE`` plays a radiologist
on its own, for demos and load, until interrupted or for ``--duration``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import config, runtime
from .codec import Malformed, parse
from .environment import Environment
from .errors import ConnectionFailed, UsageError
from .grammar import CRIS_VERBS, Invocation, Verb, number
from .lifecycle import stop_on_signals
from .messages import Direction
from .recorder import Recorder
from .reporting import Action, Machine, Options
from .shell import Shell
from .simulator import Dial, Fatal, Simulator
from .sinks import printer
from .worklist import Worklist, synthetic_worklist

SIM_PASSWORD_ENV = "CRIS_CLI_SIM_PASSWORD"  # noqa: S105 - a variable's name, not a password
DEFAULT_SIM_PASSWORD = "cris-demo"  # noqa: S105 - the simulated CRIS's documented test password
WORKLIST_ROWS = 15

# The shared looking verbs, as this side sees them: one link that it dials, not an
# endpoint with clients and allowed origins.
CRIS_SUMMARIES = {
    "status": "this CRIS: the PACS it dials, connections, screen, user, open report, domain",
    "clients": "the connection to the PACS: its address, the origin sent, since when",
    "quit": "leave (closes the connection to the PACS); Ctrl-D does the same",
}


def _cris_side(verbs: tuple[Verb, ...]) -> tuple[Verb, ...]:
    return tuple(
        dataclasses.replace(v, summary=CRIS_SUMMARIES[v.name]) if v.name in CRIS_SUMMARIES else v
        for v in verbs
    )


class CrisShell(Shell):
    """The simulated CRIS Reporting's console.

    It runs the simulator itself (from :meth:`start`, so that no record is
    published before the console listens) and ends, with exit status 6, when
    the simulator gives up for good.
    """

    role = "cris"
    peer = "PACS"
    own_verbs = CRIS_VERBS
    shared_verbs = _cris_side(Shell.shared_verbs)

    def __init__(
        self,
        simulator: Simulator,
        worklist: Worklist,
        settings: config.Settings,
        env: Environment,
        **kwargs: Any,
    ) -> None:
        self.simulator = simulator
        self.worklist = worklist
        self.running: asyncio.Future[None] | None = None
        super().__init__(settings, env, **kwargs)
        # Worklist accessions complete from the start, next ones first.
        self.session.remember(
            reversed([exam.accession for exam in worklist.exams]), "on the worklist"
        )

    @property
    def address(self) -> str:
        return self.simulator.dial.url

    @property
    def tls(self) -> bool:
        return self.simulator.dial.tls

    def prompt_name(self) -> str:
        state = self.simulator.machine.state
        where = state.screen.value if not state.report else " ".join(state.report)
        return f"cris [{where}]"

    async def status(self) -> dict[str, Any]:
        return self.simulator.status()

    async def subscribe(self, listener: Any) -> None:
        self.simulator.journal.add_listener(listener)

    def status_view(self, status: dict[str, Any]) -> Any:
        from rich.table import Table

        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim")
        grid.add_column()
        grid.add_row("PACS", status["url"] + ("" if status["connected"] else "  (not connected)"))
        grid.add_row("connections", str(status["connects"]))
        grid.add_row("screen", status["screen"])
        grid.add_row("user", status["user"] or "-")
        grid.add_row("report", " ".join(status["report"]) or "-")
        grid.add_row("domain", self.simulator.machine.context.options.domain)
        return grid

    async def start(self) -> None:
        self.running = asyncio.ensure_future(self.simulator.run())

    async def watch(self) -> None:
        if self.running is None:
            return
        await asyncio.wait((self.running,))  # not awaited directly: leaving must not cancel it
        error = self.simulator.error
        if error is not None:  # retrying cannot help: the console has nothing left to do
            hint = f"\n  hint: {error.hint}" if error.hint else ""
            self.ended = f"{error}; leaving{hint}"

    async def close(self) -> None:
        await self.simulator.stop()
        if self.running is not None:
            self.running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Fatal):
                await self.running

    async def perform(self, invocation: Invocation) -> None:
        name, args = invocation.verb.name, invocation.args
        if name == "worklist":
            count = number(args[0], "worklist N") if args else WORKLIST_ROWS
            self.show(worklist_table(self.worklist, count, self.settings.redact))
            return
        if name == "raw":
            await self._raw(invocation.text)
            return
        await self.simulator.act(Action(name, args))

    async def _raw(self, text: str) -> None:
        decoded = parse(text, Direction.CRIS_TO_PACS)
        if isinstance(decoded, Malformed):
            raise UsageError(f"raw needs a JSON object: {decoded.reason}; nothing sent")
        self.say_findings(decoded.deviations)
        if not await self.simulator.send_raw(text):
            self.say("not connected to the PACS; nothing sent", "warning")


def worklist_table(worklist: Worklist, count: int, redact: bool) -> Any:
    from rich.table import Table

    table = Table(header_style="bold")
    for name in ("accession", "exam", "", "NHS", "CHI", "born", "sex"):
        table.add_column(name)
    for exam in worklist.exams[:count]:
        patient = exam.patient
        table.add_row(
            exam.accession,
            exam.exam_code,
            exam.description,
            "•" * 10 if redact else patient.nhs,
            ("•" * 10 if redact else patient.chi) if patient.chi else "",
            "••/••/••••" if redact else patient.birth_date.strftime("%d/%m/%Y"),
            patient.sex,
        )
    return table


def dial_from(args: argparse.Namespace, settings: config.Settings, env: Environment) -> Dial:
    url = args.url or settings.url
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - reading it checks it (a ValueError when not 0-65535)
        valid = parts.scheme in ("ws", "wss") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise UsageError(f"--url must be ws://HOST:PORT/ or wss://HOST:PORT/, not {url!r}")
    pin = args.pin_sha256
    if pin is not None:
        from .trust import normalize_fingerprint

        try:
            pin = normalize_fingerprint(pin)
        except ValueError as error:
            raise UsageError(f"--pin-sha256: {error}") from None
    if args.insecure:
        env.say("cris-cli: WARNING: --insecure: the PACS certificate is not checked at all")
    dial = Dial(
        url, Path(args.cafile) if args.cafile else None, pin, bool(args.insecure), args.origin
    )
    return _trust_local_endpoint(dial, env)


def _trust_local_endpoint(dial: Dial, env: Environment) -> Dial:
    """Dialling a cris-cli endpoint on this machine: trust its certificate by pin.

    Its runtime file names the certificate, so no --cafile is needed locally.
    """
    parts = urlsplit(dial.url)
    if not dial.tls or dial.cafile or dial.pin_sha256 or dial.insecure:
        return dial
    if parts.hostname not in ("localhost", "127.0.0.1", "::1") or parts.port is None:
        return dial
    info = runtime.find(parts.port)
    if info is None or not info.fingerprint:
        return dial
    env.say(
        f"cris-cli: trusting the cris-cli endpoint on port {parts.port} "
        f"(certificate {info.fingerprint[:23]}…)"
    )
    return Dial(dial.url, None, info.fingerprint, False, dial.origin)


def build(
    args: argparse.Namespace, settings: config.Settings, env: Environment
) -> tuple[Simulator, Worklist]:
    worklist = synthetic_worklist(seed=args.seed, size=args.worklist_size)
    password = env.environ.get(SIM_PASSWORD_ENV) or DEFAULT_SIM_PASSWORD
    users = tuple((user, password) for user in (args.user or ["rad1"]))
    options = Options(
        domain=args.domain or settings.domain,
        users=users,
        display_from_worklist=bool(args.display_from_worklist),
    )
    simulator = Simulator(
        dial_from(args, settings, env), Machine(options, worklist), history=settings.history
    )
    return simulator, worklist


def run(args: argparse.Namespace, env: Environment) -> int:
    settings = config.from_args(args, env.environ)
    if args.auto is not None and args.auto <= 0:
        raise UsageError("--auto needs a positive rate (actions per second)")
    simulator, worklist = build(args, settings, env)
    recorder = None
    if args.record and (args.auto is not None or env.interactive):
        recorder = Recorder(Path(args.record))  # a script run records for itself
        simulator.journal.add_listener(recorder)
    try:
        if args.auto is not None:
            return asyncio.run(_auto(simulator, worklist, args, settings, env))
        if env.interactive:
            return asyncio.run(_interactive(simulator, worklist, settings, env))
        from .script import run_simulator_script

        return run_simulator_script(simulator, worklist, args, settings, env)
    finally:
        if recorder is not None:
            recorder.close()


async def _interactive(
    simulator: Simulator, worklist: Worklist, settings: config.Settings, env: Environment
) -> int:
    banner = [
        f"simulated CRIS Reporting, dialling the PACS at {simulator.dial.url}",
        f"  {len(worklist)} exams on the worklist ('worklist' shows them); domain "
        f"{simulator.machine.context.options.domain}; users "
        f"{', '.join(u for u, _ in simulator.machine.context.options.users)}",
    ]
    return await CrisShell(simulator, worklist, settings, env, banner=banner).run()


async def _auto(
    simulator: Simulator,
    worklist: Worklist,
    args: argparse.Namespace,
    settings: config.Settings,
    env: Environment,
) -> int:
    from .autopilot import Autopilot

    stop = asyncio.Event()
    sink, writer = printer(env, json_output=args.json, redact=settings.redact, local="cris")
    simulator.journal.add_listener(writer)
    pilot = Autopilot(simulator, worklist, args.auto, seed=args.seed)
    env.say(
        f"cris-cli: simulated CRIS Reporting playing {args.auto:g} actions a second "
        f"against {simulator.dial.url}"
        + (f" for {args.duration:g} s" if args.duration else "")
        + "; Ctrl-C stops"
    )
    loop = asyncio.get_running_loop()
    began = loop.time()
    connecting = asyncio.ensure_future(simulator.run())
    flying = asyncio.ensure_future(pilot.fly(stop))
    with stop_on_signals(stop):
        waits = [asyncio.ensure_future(stop.wait()), connecting]
        if args.duration:
            waits.append(asyncio.ensure_future(asyncio.sleep(args.duration)))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    interrupted = stop.is_set()  # Ctrl-C or SIGTERM: stopping is how it is used
    played = loop.time() - began
    if args.duration:
        played = min(played, args.duration)  # "in 2 s" when its duration ended it
    stop.set()
    await flying
    await simulator.stop()
    for task in waits:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Fatal):  # Fatal: raised below
        await connecting
    sink.flush()
    if simulator.error is not None:
        raise simulator.error
    if simulator.connects == 0 and not interrupted:
        # Its time ran out and nothing was played: the run failed (exit status 6).
        raise never_connected(simulator, played)
    env.say(
        f"cris-cli: {pilot.actions} actions played, "
        f"{simulator.connects} connection{'s' * (simulator.connects != 1)}"
    )
    return 0


def never_connected(simulator: Simulator, seconds: float) -> ConnectionFailed:
    """The error for a run that ended without ever reaching the PACS."""
    reason = f": {simulator.last_failure}" if simulator.last_failure else ""
    return ConnectionFailed(
        f"never connected to the PACS at {simulator.dial.url} in {round(seconds, 1):g} s{reason}"
    )
