"""Every error blindfill raises, split by who is at fault.

There are three families, and a caller can tell them apart without reading
messages:

* `LocalError`: the program or person driving blindfill misused it: a wrong
  flag, a call out of order, a malformed file they handed over, a wrong
  master password. Fixing the call fixes the problem.
* `RemoteError`: the other side sent something blindfill refuses: a garbled
  or oversized frame, a replay, a message that fails authentication, a peer
  that is not (or no longer) paired. Nothing the caller does locally fixes it;
  the state of this side is unchanged.
* `EnvironmentFault`: something around blindfill failed: the network, the
  browser, the disk, a timeout.

Each error carries a stable, machine-readable `code` (snake case, part of the
public interface, printed by the CLI) and an optional `hint` saying what to do.
A message never contains a secret: not a password, a key, a token or a pairing
code. Foreign exceptions (noiseprotocol, cryptography, Playwright, httpx) are
translated where they are caught and raised `from` the original, so none of
their types leaves the public API.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "ApproverUnreachableError",
    "AuthenticationError",
    "BlindfillError",
    "BrowserError",
    "ChannelBrokenError",
    "DetectionError",
    "EnvironmentFault",
    "ExitStatus",
    "InvalidInputError",
    "LocalError",
    "LocalProtocolError",
    "OriginError",
    "PairingError",
    "RateLimitedError",
    "RemoteError",
    "RemoteProtocolError",
    "ReplayError",
    "StorageError",
    "TimeoutFault",
    "UnpairedError",
    "UsageError",
    "VaultCorruptError",
    "VaultPasswordError",
]


class ExitStatus:
    """Process exit statuses of the `blindfill` command, one per family."""

    OK = 0
    FAILED = 1  # the operation ran and did not succeed (declined, no form)
    USAGE = 2  # LocalError: fix the command line, the file or the call
    REMOTE = 3  # RemoteError: the peer sent something refused
    ENVIRONMENT = 4  # EnvironmentFault: network, browser, disk, timeout
    INTERRUPTED = 130  # stopped by Ctrl-C


class BlindfillError(Exception):
    """Base class of every error blindfill raises on purpose.

    `code` is stable and machine-readable; `hint`, when given, tells the
    reader what to do next. Subclasses set a default code; a raise site may
    give a more precise one (`RemoteProtocolError(..., code="frame_too_large")`).
    """

    code: ClassVar[str] = "blindfill_error"
    exit_status: ClassVar[int] = ExitStatus.FAILED

    def __init__(
        self, message: str, *, code: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            # Shadow the class default for this instance only.
            self.__dict__["code"] = code

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


# --- our side at fault ----------------------------------------------------


class LocalError(BlindfillError):
    """The caller misused blindfill; correcting the call fixes it."""

    code: ClassVar[str] = "local_error"
    exit_status: ClassVar[int] = ExitStatus.USAGE


class UsageError(LocalError):
    """A wrong flag, argument or option value."""

    code: ClassVar[str] = "usage"


class LocalProtocolError(LocalError):
    """An API call that the current protocol state does not allow."""

    code: ClassVar[str] = "local_protocol"


class InvalidInputError(LocalError):
    """A file or value handed to blindfill is malformed (policy, vault, URL)."""

    code: ClassVar[str] = "invalid_input"


class VaultPasswordError(LocalError):
    """The master password or key file does not open the vault."""

    code: ClassVar[str] = "vault_password"


class OriginError(LocalError):
    """An origin cannot be used: opaque, not http(s), or malformed."""

    code: ClassVar[str] = "origin_refused"


# --- the peer at fault ----------------------------------------------------


class RemoteError(BlindfillError):
    """The other side sent something refused. Local state is unchanged."""

    code: ClassVar[str] = "remote_error"
    exit_status: ClassVar[int] = ExitStatus.REMOTE


class RemoteProtocolError(RemoteError):
    """A frame or message that does not parse or breaks the protocol rules.

    Raised before any Diffie-Hellman work whenever the header alone shows the
    problem (version, type, length).
    """

    code: ClassVar[str] = "remote_protocol"


class AuthenticationError(RemoteError):
    """A message failed authentication: tampered, wrong key, wrong epoch."""

    code: ClassVar[str] = "authentication_failed"


class ReplayError(RemoteError):
    """A request id seen before, or a timestamp out of the accepted window."""

    code: ClassVar[str] = "replayed"


class PairingError(RemoteError):
    """Pairing failed: wrong or expired code, or a peer that was not confirmed."""

    code: ClassVar[str] = "pairing_failed"


class UnpairedError(RemoteError):
    """This side is no longer paired: another device replaced it, or never was."""

    code: ClassVar[str] = "unpaired"


class RateLimitedError(RemoteError):
    """The approver refused the request because of its rate limits."""

    code: ClassVar[str] = "rate_limited"


class ChannelBrokenError(RemoteError):
    """A handshake failed part-way; this session object must be discarded."""

    code: ClassVar[str] = "channel_broken"


# --- the environment at fault ---------------------------------------------


class EnvironmentFault(BlindfillError):
    """Something around blindfill failed: network, browser, disk, clock."""

    code: ClassVar[str] = "environment"
    exit_status: ClassVar[int] = ExitStatus.ENVIRONMENT


class StorageError(EnvironmentFault):
    """A state, vault or audit file could not be read or written."""

    code: ClassVar[str] = "storage"


class VaultCorruptError(StorageError):
    """A vault file is damaged or not a vault; the file was left untouched."""

    code: ClassVar[str] = "vault_corrupt"


class ApproverUnreachableError(EnvironmentFault):
    """The approver could not be reached over the transport."""

    code: ClassVar[str] = "approver_unreachable"


class TimeoutFault(EnvironmentFault):
    """An operation did not finish in its time limit."""

    code: ClassVar[str] = "timeout"


class BrowserError(EnvironmentFault):
    """The browser could not be found, launched, attached to or driven."""

    code: ClassVar[str] = "browser"


class DetectionError(EnvironmentFault):
    """The shim could not be injected into, or answer from, a frame."""

    code: ClassVar[str] = "detection_failed"
