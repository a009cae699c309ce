"""The errors every client call raises: each message names what to fix."""

from __future__ import annotations


class RegistryError(Exception):
    """What a command could not do, said for a person."""


class Refused(RegistryError):
    """The API server refused the request; the message is its own."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status, where it matters to the caller


class VersionStalled(RegistryError):
    """The version needs a person: its Stalled condition's reason and message."""

    def __init__(self, name: str, reason: str, message: str) -> None:
        super().__init__(f"{name} is stalled: {reason}: {message}")
        self.name = name
        self.reason = reason
        self.message = message


class WaitTimedOut(RegistryError):
    """The version was not Ready in time; it may still become Ready."""


class BadQuery(RegistryError):
    """A search term that cannot be understood: the message quotes it and shows the fix."""
