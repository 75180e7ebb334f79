"""Errors cris-cli reports to its user, and the exit codes they map to.

Every error a user can cause or meet derives from :class:`CrisCliError` and
carries the exit code it ends the program with. ``cli.main`` is the one place
that turns them into a one-line message; anything else is a bug and gets a
traceback.

* :class:`CrisCliError`
    * :class:`UsageError` - a wrong flag, argument or command line
    * :class:`ConfigError` - a configuration file that cannot be used
    * :class:`InvalidMessages` - ``lint`` found messages that break the protocol
    * :class:`NoClient` - no CRIS client connected in time
    * :class:`ExpectationFailed` - an expected event did not arrive in time
    * :class:`ConnectionFailed` - a connection or TLS handshake failed
    * :class:`PortInUse` - the port is held by a program that is not cris-cli
    * :class:`CertificateError` - a certificate or key cannot be read or made
    * :class:`ScriptFailed` - a script step failed
    * :class:`Interrupted` - the user pressed Ctrl-C
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit statuses of ``cris-cli``; :data:`MEANINGS` says what each means."""

    OK = 0
    ERROR = 1
    USAGE = 2
    INVALID = 3
    NO_CLIENT = 4
    TIMEOUT = 5
    CONNECTION = 6
    CONFIG = 7
    PORT_IN_USE = 8
    CERTIFICATE = 9
    INTERRUPTED = 130


# The README's exit status table says the same (a test keeps them equal).
MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "done: messages delivered, every linted message valid, script passed",
    ExitCode.ERROR: "an unexpected internal error (a bug; please report it)",
    ExitCode.USAGE: "wrong flag, argument or command line; nothing was sent",
    ExitCode.INVALID: "`lint` found at least one message that breaks the protocol",
    ExitCode.NO_CLIENT: "no CRIS client was connected within the wait",
    ExitCode.TIMEOUT: "an expected event (`--expect`, script `expect`) did not arrive in time",
    ExitCode.CONNECTION: "a connection or TLS handshake failed, or a peer went away",
    ExitCode.CONFIG: "the configuration file or environment cannot be used",
    ExitCode.PORT_IN_USE: "the port is held by another program that is not a cris-cli endpoint",
    ExitCode.CERTIFICATE: "a certificate, key or PFX file cannot be read or created",
    ExitCode.INTERRUPTED: "interrupted by Ctrl-C (SIGINT)",
}

EXIT_CODE_HELP = "\n".join(
    f"  {code.value:>3}  {MEANINGS[code].replace('`', '')}" for code in ExitCode
)


class CrisCliError(Exception):
    """Root of every error cris-cli reports to its user.

    ``hint`` says what to try, on a line of its own.
    """

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(CrisCliError):
    """Raised when a flag, argument or command line is not what was expected."""

    exit_code = ExitCode.USAGE


class ConfigError(CrisCliError):
    """Raised when a configuration file or variable cannot be used."""

    exit_code = ExitCode.CONFIG


class NoClient(CrisCliError):
    """Raised when no CRIS client connected within the wait."""

    exit_code = ExitCode.NO_CLIENT


class ExpectationFailed(CrisCliError):
    """Raised when an expected event did not arrive in time."""

    exit_code = ExitCode.TIMEOUT


class ConnectionFailed(CrisCliError):
    """Raised when a connection or TLS handshake fails."""

    exit_code = ExitCode.CONNECTION


class PortInUse(CrisCliError):
    """Raised when the port is held by a program that is not a cris-cli endpoint."""

    exit_code = ExitCode.PORT_IN_USE


class CertificateError(CrisCliError):
    """Raised when a certificate, key or PFX file cannot be read or created."""

    exit_code = ExitCode.CERTIFICATE


class ScriptFailed(CrisCliError):
    """Raised when a script step fails; ``exit_code`` is the step's own."""

    def __init__(self, message: str, *, exit_code: ExitCode, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code
