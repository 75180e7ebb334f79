"""The command-line parser: every subcommand, flag and help text.

Kept apart from the commands themselves so that building it imports nothing
heavy (the one-shot path must stay fast) and so that the shell completion
scripts can be generated from it.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from typing import NoReturn, TypeAlias, TypeVar

from . import __version__
from .errors import EXIT_CODE_HELP, UsageError

PROG = "cris-cli"

DESCRIPTION = """\
See, drive, script and test CRIS Connect, the WebSocket link between CRIS
Reporting and a PACS image viewer. cris-cli plays the PACS: it listens where
CRIS Reporting connects, shows every event it sends, and sends it commands.

With no command, on a terminal, cris-cli is the PACS console: an interactive
shell where events stream in while you type 'display ACC1', 'clear', 'login
USER', 'logout'... It hosts the endpoint, or attaches to the one already
running on the port."""

EPILOG = f"""\
exit status:
{EXIT_CODE_HELP}

configuration: settings come from the config file (see 'cris-cli config path'),
then CRIS_CLI_* environment variables, then flags; 'cris-cli config show' tells
which applied."""


class CliParser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of exiting, so that
    errors become messages in one place (and tests can run the CLI in-process)."""

    def error(self, message: str) -> NoReturn:
        unknown = re.match(r"argument \[COMMAND\]: invalid choice: '([^']*)'", message)
        if unknown:
            import difflib

            word = unknown.group(1)
            close = difflib.get_close_matches(word, list(SUBCOMMANDS), n=1)
            guess = f"; did you mean '{close[0]}'?" if close else ""
            message = f"unknown command '{word}'{guess}"
        raise UsageError(message, hint=f"see '{self.prog} --help'")


# Subscripting is for type checkers only: the runtime class is not generic.
Commands: TypeAlias = "argparse._SubParsersAction[CliParser]"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)


def _subparser(
    commands: Commands,
    name: str,
    summary: str,
    description: str,
    epilog: str | None = None,
) -> CliParser:
    return commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=_Formatter,
    )


def _takes_files(action: argparse.Action) -> argparse.Action:
    """Mark an argument as a file name, for the shell completion scripts."""
    vars(action)["path_kind"] = "file"
    return action


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``cris-cli`` parser; with ``only``, just that subcommand (faster to build)."""
    parser = CliParser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG, formatter_class=_Formatter
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    if only is None:
        _add_shell_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="[COMMAND]", title="commands")
    for name, add in SUBCOMMANDS.items():
        if only is None or only == name:
            add(commands)
    return parser


def _add_shell_options(parser: argparse.ArgumentParser) -> None:
    """Options of the PACS console (``cris-cli`` with no command)."""
    add_endpoint_options(parser)
    shell = parser.add_argument_group("shell (cris-cli with no command)")
    shell.add_argument(
        "--vi", action="store_const", const=True, help="vi key bindings (default: emacs)"
    )
    shell.add_argument(
        "--redact", action="store_const", const=True, help="mask NHS and CHI numbers on screen"
    )
    _add_script_options(parser)


def _add_record_option(parser: argparse.ArgumentParser) -> None:
    _takes_files(
        parser.add_argument(
            "--record",
            metavar="FILE",
            help="append every message and connection to FILE as JSON Lines (mode 0600)",
        )
    )


def _add_script_options(parser: argparse.ArgumentParser) -> None:
    script = parser.add_argument_group("scripts (stdin not a terminal, or 'run FILE')")
    script.add_argument("--json", action="store_true", help="print NDJSON records")
    script.add_argument(
        "--step-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="default limit of 'wait' and 'expect' (default 10)",
    )
    _add_record_option(parser)


def add_endpoint_options(parser: argparse.ArgumentParser) -> None:
    """Where and how the PACS endpoint listens (the same for every command that hosts one)."""
    group = parser.add_argument_group("endpoint")
    group.add_argument("--host", metavar="HOST", help="address to listen on (default 127.0.0.1)")
    group.add_argument(
        "--port", metavar="PORT", type=_port, help="port to listen on (default 56998)"
    )
    group.add_argument(
        "--tls",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="serve wss:// with a certificate (default); --no-tls serves plain ws://",
    )
    _takes_files(group.add_argument("--cert", metavar="FILE", help="PEM certificate to serve"))
    _takes_files(group.add_argument("--key", metavar="FILE", help="PEM key for --cert"))
    _takes_files(
        group.add_argument(
            "--pfx",
            metavar="FILE",
            help="PKCS#12 file with certificate and key; password from CRIS_CLI_PFX_PASSWORD "
            "or asked",
        )
    )
    group.add_argument(
        "--allow-origin",
        dest="allow_origins",
        action="append",
        metavar="URL",
        help="let browser pages from this origin connect (repeatable; adds to the config)",
    )
    group.add_argument(
        "--allow-any-origin",
        action="store_const",
        const=True,
        help="let any web page connect (unsafe: any site you visit could drive CRIS)",
    )
    group.add_argument(
        "--allow-remote",
        action="store_const",
        const=True,
        help="allow --host to be an address other machines can reach",
    )
    group.add_argument(
        "--max-clients",
        type=_positive,
        metavar="N",
        help="CRIS clients at once (default 1: a new one replaces the old; "
        "more: commands go to all)",
    )
    group.add_argument(
        "--max-message-size",
        type=_positive,
        metavar="BYTES",
        help="largest message accepted (default 65536)",
    )


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0 to 65535, not {port}")
    return port


Number = TypeVar("Number", int, float)


def _at_least(
    convert: Callable[[str], Number], minimum: Number, what: str
) -> Callable[[str], Number]:
    """An argument type: a finite number of at least ``minimum``."""

    def parse(text: str) -> Number:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not minimum <= value < math.inf:  # NaN fails this too
            raise argparse.ArgumentTypeError(f"must be {minimum:g} or more, not {text}")
        return value

    return parse


_positive = _at_least(int, 1, "a whole number")
_count = _at_least(int, 0, "a whole number")
_speed = _at_least(float, 0.0, "a number")
_seconds = _at_least(float, 0.0, "a number of seconds")


def _add_serve(commands: Commands) -> None:
    serve = _subparser(
        commands,
        "serve",
        "run the PACS endpoint headless, printing what CRIS sends",
        "Listen where CRIS Reporting connects and print every message and connection as it\n"
        "happens: table rows on a terminal, plain lines in a pipe, NDJSON with --json.\n"
        "Ctrl-C (or SIGTERM) closes every connection cleanly and exits 0.",
        "NDJSON fields: seq, time, kind (message, connect, disconnect, refused, notice),\n"
        "direction, peer, client, origin, raw, command, fields, valid, deviations, notes,\n"
        "delivered, text. Every key is always present.",
    )
    add_endpoint_options(serve)
    serve.add_argument("--json", action="store_true", help="print NDJSON records")
    _add_record_option(serve)


SEND_EXIT = """\
exit status:
    0  delivered (and, with --expect, the expected event arrived)
    2  wrong command or flag; nothing sent
    4  no CRIS client connected within --wait
    5  the --expect event did not arrive within --timeout
    6  connection or TLS failure
  130  interrupted"""


def _add_send(commands: Commands) -> None:
    send = _subparser(
        commands,
        "send",
        "send one command to CRIS Reporting and exit",
        "Send one command to CRIS Reporting, in the same words as the interactive shell:\n"
        "  display ACCESSION [ACCESSION ...]   clear   login USER   logout\n"
        "  fetched ACCESSION [ACCESSION ...]   raw JSON\n"
        "Through the endpoint that owns the port if one runs; otherwise cris-cli listens\n"
        "there itself, waits for CRIS to connect (--wait), sends and exits. The login\n"
        "password is never an argument: it is asked on a terminal, or read from\n"
        "CRIS_CLI_PASSWORD or (with --password-stdin) the first line of stdin.",
        "examples:\n"
        "  cris-cli send display HSS07170319\n"
        "  cris-cli send display HSS07170319 --expect EVENT HSS07170319\n"
        '  cris-cli send raw \'{"command":"CLEAR"}\'\n'
        "  printf '%s\\n' \"$PW\" | cris-cli send login rad1 --password-stdin\n\n" + SEND_EXIT,
    )
    send.add_argument("words", nargs="+", metavar="COMMAND", help="the command and its arguments")
    send.add_argument(
        "--expect",
        nargs="+",
        metavar="WORD",
        help="COMMAND [ACCESSION]: wait for this event from CRIS after sending, and print it",
    )
    send.add_argument(
        "--timeout", type=_seconds, metavar="SECONDS", help="how long --expect waits (default 10)"
    )
    send.add_argument(
        "--wait",
        type=_seconds,
        metavar="SECONDS",
        help="how long to wait for a CRIS client to be connected (default 30)",
    )
    send.add_argument(
        "--password-stdin", action="store_true", help="read the login password from stdin"
    )
    send.add_argument("--json", action="store_true", help="print the expected event as NDJSON")
    add_endpoint_options(send)


def _add_watch(commands: Commands) -> None:
    watch = _subparser(
        commands,
        "watch",
        "stream the records of a running endpoint",
        "Attach to the cris-cli endpoint on the port and print its records as they happen,\n"
        "until interrupted; if the endpoint stops, wait for it and attach again. Output is\n"
        "a table on a terminal, plain lines in a pipe, NDJSON with --json (the same\n"
        "schema as 'serve --json').",
    )
    watch.add_argument(
        "--command",
        dest="command_filter",
        action="append",
        metavar="LIST",
        help="only messages with these commands (EVENT,RELEASE; repeatable)",
    )
    watch.add_argument(
        "--accession", action="append", metavar="ACC", help="only messages naming ACC (repeatable)"
    )
    watch.add_argument(
        "--history", type=_count, default=0, metavar="N", help="first show the last N held records"
    )
    watch.add_argument("--json", action="store_true", help="print NDJSON records")
    watch.add_argument(
        "--port", metavar="PORT", type=_port, help="the endpoint's port (default 56998)"
    )


SCRIPT_HELP = """\
script lines:
  the console's commands      display ACC..., clear, login USER, logout, fetched ACC...,
                              raw JSON (login reads CRIS_CLI_PASSWORD)
  wait client [SECONDS]       until a CRIS client is connected
  expect COMMAND [ACC...] [within SECONDS]
                              until CRIS sends this (only what arrives after the
                              last command counts)
  sleep SECONDS, echo TEXT, quit, # comments, blank lines

exit status: 0 the script passed; 2 a line is wrong (nothing of a file runs);
4 no CRIS client (wait client, or a command with nobody to send to); 5 an
expect timed out; 6 a connection failed."""


def _add_run(commands: Commands) -> None:
    run = _subparser(
        commands,
        "run",
        "run a script file as the PACS (the same as 'cris-cli < FILE')",
        "Run the command lines of FILE in order, as the PACS, stopping at the first step\n"
        "that fails (its line number, what was expected and what arrived). The whole file\n"
        "is checked before anything runs.",
        SCRIPT_HELP,
    )
    _takes_files(run.add_argument("file", metavar="FILE", help="the script"))
    add_endpoint_options(run)
    _add_script_options(run)


def _add_replay(commands: Commands) -> None:
    replay = _subparser(
        commands,
        "replay",
        "play one side of a record file again, against a live peer",
        "Send again, in order and with the original timing (divided by --speed), the\n"
        "messages one side sent in a cris-cli record file (--record). --side cris dials a\n"
        "PACS endpoint as CRIS Reporting would (--url, and the TLS options of 'simulate');\n"
        "--side pacs sends the PACS's commands to the CRIS client of the endpoint on the\n"
        "port. Passwords are masked in records: a LOGIN is replayed with CRIS_CLI_PASSWORD,\n"
        "or skipped.",
    )
    _takes_files(replay.add_argument("file", metavar="FILE", help="a record file"))
    replay.add_argument(
        "--side",
        choices=("cris", "pacs"),
        default="cris",
        help="whose messages to replay (default cris)",
    )
    replay.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="X",
        help="play X times faster (0: no pauses; default 1)",
    )
    replay.add_argument(
        "--wait",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for the peer (default 30)",
    )
    add_dial_options(replay, "--side cris: ")
    replay.add_argument("--json", action="store_true", help="print NDJSON records")
    add_endpoint_options(replay)


def _add_demo(commands: Commands) -> None:
    demo = _subparser(
        commands,
        "demo",
        "the PACS console with a simulated CRIS Reporting attached: try it all, no setup",
        "Start the PACS console with its own endpoint (a free port, no TLS) and a simulated\n"
        "CRIS Reporting connected to it, where a simulated radiologist logs in and opens\n"
        "reports at a gentle pace. Type 'display ACCESSION' and watch the EVENT come back.\n"
        "Without a terminal it plays for --duration seconds and prints what happened.",
    )
    demo.add_argument("--seed", type=int, default=1, help="worklist seed (default 1)")
    demo.add_argument(
        "--pace",
        type=_seconds,
        default=3.0,
        metavar="SECONDS",
        help="seconds between the simulated radiologist's actions (default 3)",
    )
    demo.add_argument(
        "--duration",
        type=_seconds,
        metavar="SECONDS",
        help="play this long, then stop (default without a terminal: 10)",
    )
    demo.add_argument("--json", action="store_true", help="NDJSON records (without a terminal)")


def add_dial_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """Where CRIS dials, and how it trusts the PACS (``simulate``, ``replay``)."""
    parser.add_argument(
        "--url", metavar="URL", help=f"{prefix}the PACS endpoint (default wss://localhost:56998/)"
    )
    trust = parser.add_argument_group(
        "TLS trust (a cris-cli endpoint on this machine is trusted by itself)"
    )
    _takes_files(
        trust.add_argument(
            "--cafile", metavar="FILE", help=f"{prefix}CA or self-signed certificate to trust"
        )
    )
    trust.add_argument(
        "--pin-sha256",
        metavar="FINGERPRINT",
        help=f"{prefix}trust exactly the certificate with this SHA-256 fingerprint",
    )
    trust.add_argument(
        "--insecure",
        action="store_true",
        help=f"{prefix}do not check the certificate at all (warns)",
    )
    parser.add_argument(
        "--origin", metavar="URL", help=f"{prefix}send this Origin header, as a browser would"
    )


def _add_simulate(commands: Commands) -> None:
    simulate = _subparser(
        commands,
        "simulate",
        "play CRIS Reporting against a PACS endpoint (for testing a PACS)",
        "Dial a PACS endpoint and behave like CRIS Reporting: answer DISPLAY, CLEAR, LOGIN,\n"
        "LOGOUT and FETCHED as CRIS does, and send EVENT, COMMIT, RELEASE, READONLY,\n"
        "PREFETCH, LOGIN and LOGOUT for the user's actions, with a synthetic worklist of\n"
        "patients whose NHS and CHI numbers pass their checks. Interactive on a terminal;\n"
        "--auto plays a radiologist on its own; with stdin not a terminal, it runs the\n"
        "command lines it reads (a script). Reconnects with backoff if the PACS goes away.\n"
        "A PACS LOGIN is checked against --user names with the password in\n"
        "CRIS_CLI_SIM_PASSWORD (default 'cris-demo').",
        "examples:\n"
        "  cris-cli simulate                            # against cris-cli on this machine\n"
        "  cris-cli simulate --url wss://localhost:56996/ --cafile pacs-cert.pem\n"
        "  cris-cli simulate --auto 2 --duration 60 --json > session.jsonl\n"
        "  cris-cli simulate --origin https://cris.example.nhs.uk   # test an origin check",
    )
    add_dial_options(simulate)
    cris = simulate.add_argument_group("the simulated CRIS")
    cris.add_argument("--domain", metavar="CODE", help="the CRIS domain (default RXH)")
    cris.add_argument(
        "--user",
        action="append",
        metavar="NAME",
        help="a user a PACS LOGIN may log in (repeatable; default rad1)",
    )
    cris.add_argument("--seed", type=int, default=1, help="worklist seed (default 1)")
    cris.add_argument(
        "--worklist-size",
        type=_positive,
        default=80,
        metavar="N",
        help="exams on the worklist, for about 3/4 as many patients (default 80)",
    )
    cris.add_argument(
        "--display-from-worklist",
        action="store_true",
        help="let DISPLAY open a report from the worklist (real CRIS does not)",
    )
    play = simulate.add_argument_group("playing on its own")
    play.add_argument(
        "--auto", type=float, metavar="RATE", help="play a radiologist: RATE actions per second"
    )
    play.add_argument("--duration", type=_seconds, metavar="SECONDS", help="stop after this long")
    simulate.add_argument("--json", action="store_true", help="print NDJSON records")
    simulate.add_argument(
        "--step-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="default limit of a script's 'wait' and 'expect' (default 10)",
    )
    _add_record_option(simulate)
    simulate.add_argument("--vi", action="store_const", const=True, help="vi key bindings")
    simulate.add_argument(
        "--redact", action="store_const", const=True, help="mask NHS and CHI numbers on screen"
    )


def _add_cert(commands: Commands) -> None:
    cert = _subparser(
        commands,
        "cert",
        "show, locate, regenerate or export the endpoint's certificate",
        "The endpoint's self-signed certificate for localhost is made on first use and kept\n"
        "in the user data directory (key mode 0600).",
    )
    actions = cert.add_subparsers(dest="cert_action", metavar="ACTION", required=True)
    actions.add_parser("show", help="subject, names, validity and fingerprints")
    actions.add_parser("path", help="print the certificate and key file paths")
    actions.add_parser(
        "regenerate", help="make a new key and certificate (browsers must accept it again)"
    )
    export = actions.add_parser("export", help="write certificate and key as a PKCS#12 (.pfx) file")
    _takes_files(export.add_argument("--pfx", metavar="FILE", required=True, help="file to write"))


def _add_doctor(commands: Commands) -> None:
    doctor = _subparser(
        commands,
        "doctor",
        "diagnose the setup: port, certificate, TLS, origins, config",
        "Check each part of a CRIS Connect setup and say what to do about anything wrong:\n"
        "the config file, the port, the certificate (expiry, names), a TLS handshake with it,\n"
        "ws:// against wss://, and the allowed origins. Exit status 0 unless a check fails.",
    )
    add_endpoint_options(doctor)


def _add_lint(commands: Commands) -> None:
    lint = _subparser(
        commands,
        "lint",
        "check messages a CRIS or PACS implementation sends",
        "Check CRIS Connect messages against the protocol: missing and mistyped fields,\n"
        "unknown commands and fields, NHS and CHI numbers failing their checks.\n"
        "Input is one JSON object per line, one (pretty-printed) object, a JSON array\n"
        "of objects, or a cris-cli record file (which says who sent each message).",
        "examples:\n"
        '  echo \'{"command":"DISPLAY"}\' | cris-cli lint --from pacs\n'
        "  cris-cli lint --from cris --json captured-events.jsonl\n\n"
        "exit status: 0 every message valid, 3 at least one invalid, 2 bad usage.",
    )
    _takes_files(
        lint.add_argument(
            "files", nargs="*", metavar="FILE", help="files to read; '-' or none reads stdin"
        )
    )
    lint.add_argument(
        "--from",
        dest="sender",
        choices=("cris", "pacs"),
        help="who sent the messages: cris (events) or pacs (commands); records say it themselves",
    )
    lint.add_argument("--json", action="store_true", help="print NDJSON, one object per message")
    lint.add_argument("--strict", action="store_true", help="count warnings as failures too")


def _add_config(commands: Commands) -> None:
    config = _subparser(
        commands,
        "config",
        "show the configuration file and effective settings",
        "Settings come from the config file, then CRIS_CLI_* environment variables,\n"
        "then flags, each overriding the one before.",
    )
    actions = config.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    actions.add_parser("path", help="print the configuration file's path")
    actions.add_parser("show", help="print every effective setting and where it came from")


def _add_completion(commands: Commands) -> None:
    completion = _subparser(
        commands,
        "completion",
        "print a shell completion script",
        "Print the completion script for a shell. Install it with, for example:\n"
        "  cris-cli completion bash > ~/.local/share/bash-completion/completions/cris-cli\n"
        "  cris-cli completion zsh > ~/.zfunc/_cris-cli   (fpath+=~/.zfunc in ~/.zshrc)\n"
        "  cris-cli completion fish > ~/.config/fish/completions/cris-cli.fish",
    )
    completion.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell")


SUBCOMMANDS = {
    "demo": _add_demo,
    "run": _add_run,
    "serve": _add_serve,
    "send": _add_send,
    "watch": _add_watch,
    "simulate": _add_simulate,
    "replay": _add_replay,
    "lint": _add_lint,
    "cert": _add_cert,
    "doctor": _add_doctor,
    "config": _add_config,
    "completion": _add_completion,
}
