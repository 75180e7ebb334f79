"""What sending one message to CRIS did, however it was sent (by the endpoint
in this process, or through another one's control channel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sent:
    """To how many CRIS clients a message went, its record number, and how many
    were connected."""

    delivered: int
    seq: int | None
    clients: int

    @classmethod
    def from_answer(cls, answer: dict[str, Any]) -> Sent:
        """From the control channel's ``sent`` answer."""
        delivered = int(answer["delivered"])
        return cls(delivered, answer.get("seq"), int(answer.get("clients", delivered)))

    @property
    def nothing_sent(self) -> str | None:
        """Why the message reached no CRIS client (None when it reached one)."""
        if self.delivered:
            return None
        if self.clients:  # connected, but skipped: see Endpoint.send
            return (
                "the CRIS client is not reading what it is sent (it is skipped until it "
                "catches up); nothing sent"
            )
        return "no CRIS client is connected; nothing sent"
