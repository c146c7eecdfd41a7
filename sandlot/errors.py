"""One exception tree for every tier and front end: catch `SandboxError` to catch them all.

Each error's message is written for the person who has to act on it: what happened, and
what to change.
"""

from __future__ import annotations

import builtins


class SandboxError(Exception):
    """The root of every error sandlot raises on purpose."""


class TimeoutError(SandboxError, builtins.TimeoutError):
    """A call ran past its wall-clock limit. The sandbox lives on with its earlier state."""


class LimitExceeded(SandboxError):
    """A resource limit stopped the call; `limit` names which one.

    `limit` is one of "cpu", "memory", "stack", "file_size", "entries", "disk".
    """

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


class SandboxClosed(SandboxError):
    """The sandbox was closed (or expired) and can run nothing more."""


class InvalidArgument(SandboxError, ValueError):
    """An argument is out of range or of the wrong kind; nothing was run."""


class NotFound(SandboxError, FileNotFoundError):
    """A path, template or sandbox that does not exist."""


class Unsatisfiable(SandboxError):
    """No tier available on this host provides what the sandbox requires."""


class GuestProtocolError(SandboxError):
    """The guest answered something the host cannot accept (a broken or hostile guest)."""


class Interrupted(SandboxError):
    """The call was stopped on request (a background command's `kill()`, Ctrl-C); the
    sandbox lives on."""


class Unsupported(SandboxError):
    """This sandbox's tier cannot do that operation; the message names a tier that can."""


class ImageMissing(NotFound):
    """A template's image is not built on this host; the message gives the command that
    builds it (`sandlot image build NAME`)."""


class ImageError(SandboxError):
    """Building, importing or verifying an image failed; the message says at which step."""


__all__ = [
    "ImageError",
    "ImageMissing",
    "Interrupted",
    "GuestProtocolError",
    "InvalidArgument",
    "LimitExceeded",
    "NotFound",
    "SandboxClosed",
    "SandboxError",
    "TimeoutError",
    "Unsatisfiable",
    "Unsupported",
]
