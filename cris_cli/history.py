"""Shell history on disk, minus anything holding a secret.

``login USER`` asks for the password separately, so it never reaches a
command line; a ``raw`` line with a password field would, and so would a
password typed after the user name by habit: both are kept out of the
history file and of up-arrow recall alike.
"""

from __future__ import annotations

from pathlib import Path

from prompt_toolkit.history import FileHistory, History, InMemoryHistory

from . import paths
from .codec import mask_secrets


def holds_secret(line: str) -> bool:
    """A ``raw`` line with a password field, or ``login`` with a password typed after
    the user name (refused as a command, and not to be recalled either)."""
    words = line.split()
    if len(words) > 2 and words[0].lower() == "login":
        return True
    return mask_secrets(line) != line


class SafeFileHistory(FileHistory):
    """A history file that never stores a line holding a password."""

    def append_string(self, string: str) -> None:
        if not holds_secret(string):
            super().append_string(string)

    def store_string(self, string: str) -> None:
        if not holds_secret(string):
            super().store_string(string)


def shell_history(name: str = "history") -> History:
    """The persistent history for a shell (in memory when the state dir is unusable)."""
    try:
        directory = paths.make_private_dir(paths.state_dir())
        file = Path(directory) / name
        file.touch(mode=0o600, exist_ok=True)
        return SafeFileHistory(str(file))
    except OSError:
        return InMemoryHistory()
