"""Pairing state: what each side must keep between fills, as immutable values.

`BrowserState` and `ApproverState` are frozen; every step of the protocol
returns a new one and the caller persists it (see `blindfill.pairing_state`).
Both serialise to JSON bytes with binary fields in base64, and load back with
every field checked; a damaged file is an `InvalidInputError`, never a
half-loaded state. Their reprs show the pairing id, names and epoch, never a
key, link or token.

The approver keeps, besides the current link, the `NextLink` it derived when
it last answered a fill: the browser side may not have received that answer,
so the current link stays usable for a retry until the browser side proves it
holds the next one by using it. The retry is only accepted with the same
retry token (see `_fill`), which a copy of the browser-side state taken
before that fill does not hold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from blindfill.channel._frames import MAX_EPOCH, PAIRING_ID_SIZE
from blindfill.channel._keys import KEY_SIZE, KeyPair, PublicKey, fingerprint
from blindfill.channel._messages import (
    MAX_NAME_CHARS,
    MAX_TIMESTAMP_MS,
    REQUEST_ID_CHARS,
    RETRY_TOKEN_SIZE,
    check_name,
)
from blindfill.channel._wire import ObjectReader, b64, dump_object, load_object
from blindfill.errors import InvalidInputError
from blindfill.sensitive import Secret

__all__ = ["ApproverState", "BrowserState", "NextLink", "ReplayWindow"]

_BROWSER_FORMAT: Final = "blindfill.browser-pairing"
_APPROVER_FORMAT: Final = "blindfill.approver-pairing"
_FORMAT_VERSION: Final = 1
# Request ids remembered per epoch. Timestamps must strictly increase, so an
# id that fell out of this window is refused by its timestamp anyway.
MAX_REMEMBERED_IDS: Final = 32
# Pairing ids of replaced pairings, remembered to tell "replaced" apart from
# "never known" when an old device calls.
MAX_REPLACED: Final = 16


def _malformed(message: str) -> InvalidInputError:
    return InvalidInputError(
        message,
        code="state_malformed",
        hint="the pairing state file is damaged; pair again to replace it",
    )


@dataclass(frozen=True, slots=True, repr=False)
class BrowserState:
    """The browser side's pairing: its keys, the approver's, and the chain.

    `chain_link` is link `epoch` of the key chain. `retry_token` is fixed by
    the first fill attempt of the epoch and cleared when the chain advances.
    """

    pairing_id: bytes
    agent_name: str
    approver_name: str
    static_key: KeyPair
    approver_key: PublicKey
    epoch: int
    chain_link: Secret[bytes]
    retry_token: Secret[bytes] | None = None

    def __post_init__(self) -> None:
        _check_common(self.pairing_id, self.epoch, self.chain_link)
        if self.retry_token is not None and len(self.retry_token) != RETRY_TOKEN_SIZE:
            raise _malformed("a retry token is 16 bytes")

    def with_retry_token(self, token: Secret[bytes]) -> BrowserState:
        """This state once the first attempt of the epoch fixed its token."""
        return replace(self, retry_token=token)

    def advanced(self, link: Secret[bytes]) -> BrowserState:
        """The state after a fill: the next link, a new epoch, no token."""
        return replace(self, epoch=self.epoch + 1, chain_link=link, retry_token=None)

    @property
    def fingerprint(self) -> str:
        """The pairing fingerprint, the same string the approver showed."""
        return fingerprint(
            self.pairing_id, self.static_key.public, self.approver_key.raw
        )

    def to_bytes(self) -> bytes:
        """Serialise for the state file (holds private keys: keep it 0600)."""
        return dump_object(
            {
                "format": _BROWSER_FORMAT,
                "version": _FORMAT_VERSION,
                "pairing_id": b64(self.pairing_id),
                "agent_name": self.agent_name,
                "approver_name": self.approver_name,
                "static_private": b64(self.static_key.private_bytes().reveal()),
                "approver_public": b64(self.approver_key.raw),
                "epoch": self.epoch,
                "chain_link": b64(self.chain_link.reveal()),
                "retry_token": (
                    None if self.retry_token is None else b64(self.retry_token.reveal())
                ),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> BrowserState:
        """Load a serialised state; raises `InvalidInputError` if damaged."""
        reader = _open(data, _BROWSER_FORMAT, "browser pairing state")
        state = cls(
            pairing_id=reader.blob("pairing_id", size=PAIRING_ID_SIZE),
            agent_name=_name(reader, "agent_name"),
            approver_name=_name(reader, "approver_name"),
            static_key=KeyPair.from_private_bytes(
                reader.blob("static_private", size=KEY_SIZE)
            ),
            approver_key=PublicKey(reader.blob("approver_public", size=KEY_SIZE)),
            epoch=reader.integer("epoch", minimum=0, maximum=MAX_EPOCH),
            chain_link=_link(reader, "chain_link"),
            retry_token=_optional_token(reader, "retry_token"),
        )
        reader.finish()
        return state

    def __repr__(self) -> str:
        return (
            f"BrowserState(pairing={self.pairing_id.hex()[:8]}, "
            f"agent={self.agent_name!r}, approver={self.approver_name!r}, "
            f"epoch={self.epoch})"
        )


@dataclass(frozen=True, slots=True, repr=False)
class NextLink:
    """The link the approver derived when it answered a fill in this epoch.

    `retry_token` and `timestamp_ms` identify that answered request: a retry
    in the same epoch must carry the same token and a later timestamp.
    """

    chain_link: Secret[bytes]
    retry_token: Secret[bytes]
    timestamp_ms: int

    def __repr__(self) -> str:
        return f"NextLink(timestamp_ms={self.timestamp_ms})"


@dataclass(frozen=True, slots=True)
class ReplayWindow:
    """Replay protection inside one epoch: last timestamp and recent ids."""

    epoch: int
    last_timestamp_ms: int
    request_ids: tuple[str, ...] = ()

    def seen(self, request_id: str) -> bool:
        return request_id in self.request_ids

    def after(self, request_id: str, timestamp_ms: int) -> ReplayWindow:
        """The window once this request was accepted."""
        ids = (*self.request_ids, request_id)[-MAX_REMEMBERED_IDS:]
        return ReplayWindow(self.epoch, timestamp_ms, ids)


@dataclass(frozen=True, slots=True, repr=False)
class ApproverState:
    """The approver's pairing with one browser side.

    `epoch` and `chain_link` are the current link; `next_link`, when set, is
    link `epoch + 1`, kept until the browser side uses it. `windows` holds
    the replay windows of the current and the next epoch.
    """

    pairing_id: bytes
    agent_name: str
    approver_name: str
    static_key: KeyPair
    agent_key: PublicKey
    epoch: int
    chain_link: Secret[bytes]
    next_link: NextLink | None = None
    windows: tuple[ReplayWindow, ...] = ()
    replaced_pairings: tuple[bytes, ...] = ()
    paired_at_ms: int = 0

    def __post_init__(self) -> None:
        _check_common(self.pairing_id, self.epoch, self.chain_link)
        replaced, windows = self.replaced_pairings, self.windows
        if replaced and any(len(p) != PAIRING_ID_SIZE for p in replaced):
            raise _malformed("replaced pairing ids are 16 bytes")
        if len(windows) > 1 and len({w.epoch for w in windows}) != len(windows):
            raise _malformed("two replay windows for one epoch")

    @property
    def fingerprint(self) -> str:
        """The pairing fingerprint, as shown when the pairing was confirmed."""
        return fingerprint(self.pairing_id, self.agent_key.raw, self.static_key.public)

    def window(self, epoch: int) -> ReplayWindow | None:
        for window in self.windows:
            if window.epoch == epoch:
                return window
        return None

    def with_window(self, window: ReplayWindow) -> ApproverState:
        """This state with `window` replacing the one of its epoch."""
        others = tuple(w for w in self.windows if w.epoch != window.epoch)
        return replace(self, windows=(*others, window))

    def answered(
        self, *, epoch: int, chain_link: Secret[bytes], next_link: NextLink
    ) -> ApproverState:
        """The state after answering a request made under `chain_link`.

        That link becomes current (deleting the older one when it was the
        next link) and `next_link` is kept for the browser side's next fill;
        replay windows of older epochs are dropped.
        """
        windows = tuple(w for w in self.windows if w.epoch >= epoch)
        return replace(
            self,
            epoch=epoch,
            chain_link=chain_link,
            next_link=next_link,
            windows=windows,
        )

    def to_bytes(self) -> bytes:
        """Serialise for the state file (holds private keys: keep it 0600)."""
        nxt = self.next_link
        return dump_object(
            {
                "format": _APPROVER_FORMAT,
                "version": _FORMAT_VERSION,
                "pairing_id": b64(self.pairing_id),
                "agent_name": self.agent_name,
                "approver_name": self.approver_name,
                "static_private": b64(self.static_key.private_bytes().reveal()),
                "agent_public": b64(self.agent_key.raw),
                "epoch": self.epoch,
                "chain_link": b64(self.chain_link.reveal()),
                "next_link": None
                if nxt is None
                else {
                    "chain_link": b64(nxt.chain_link.reveal()),
                    "retry_token": b64(nxt.retry_token.reveal()),
                    "timestamp_ms": nxt.timestamp_ms,
                },
                "windows": [
                    {
                        "epoch": w.epoch,
                        "last_timestamp_ms": w.last_timestamp_ms,
                        "request_ids": list(w.request_ids),
                    }
                    for w in self.windows
                ],
                "replaced_pairings": [b64(p) for p in self.replaced_pairings],
                "paired_at_ms": self.paired_at_ms,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> ApproverState:
        """Load a serialised state; raises `InvalidInputError` if damaged."""
        reader = _open(data, _APPROVER_FORMAT, "approver pairing state")
        fields = {
            "pairing_id": reader.blob("pairing_id", size=PAIRING_ID_SIZE),
            "agent_name": _name(reader, "agent_name"),
            "approver_name": _name(reader, "approver_name"),
            "static_key": KeyPair.from_private_bytes(
                reader.blob("static_private", size=KEY_SIZE)
            ),
            "agent_key": PublicKey(reader.blob("agent_public", size=KEY_SIZE)),
            "epoch": reader.integer("epoch", minimum=0, maximum=MAX_EPOCH),
            "chain_link": _link(reader, "chain_link"),
        }
        next_link = None
        if not reader.is_null("next_link"):
            nxt = reader.object("next_link", what="next link")
            next_link = NextLink(
                chain_link=_link(nxt, "chain_link"),
                retry_token=Secret(
                    nxt.blob("retry_token", size=RETRY_TOKEN_SIZE), kind="retry_token"
                ),
                timestamp_ms=nxt.integer(
                    "timestamp_ms", minimum=0, maximum=MAX_TIMESTAMP_MS
                ),
            )
            nxt.finish()
        windows = []
        for item in reader.objects("windows", max_items=2, what="replay window"):
            ids = item.text_list(
                "request_ids", max_items=MAX_REMEMBERED_IDS, max_chars=REQUEST_ID_CHARS
            )
            windows.append(
                ReplayWindow(
                    epoch=item.integer("epoch", minimum=0, maximum=MAX_EPOCH),
                    last_timestamp_ms=item.integer(
                        "last_timestamp_ms", minimum=0, maximum=MAX_TIMESTAMP_MS
                    ),
                    request_ids=tuple(ids),
                )
            )
            item.finish()
        replaced = reader.text_list(
            "replaced_pairings", max_items=MAX_REPLACED, max_chars=24
        )
        paired_at = reader.integer("paired_at_ms", minimum=0, maximum=MAX_TIMESTAMP_MS)
        reader.finish()
        return cls(
            **fields,  # type: ignore[arg-type]
            next_link=next_link,
            windows=tuple(windows),
            replaced_pairings=tuple(_pairing_id(p) for p in replaced),
            paired_at_ms=paired_at,
        )

    def __repr__(self) -> str:
        return (
            f"ApproverState(pairing={self.pairing_id.hex()[:8]}, "
            f"agent={self.agent_name!r}, epoch={self.epoch}, "
            f"next_pending={self.next_link is not None})"
        )


def _check_common(pairing_id: bytes, epoch: int, link: Secret[bytes]) -> None:
    if len(pairing_id) != PAIRING_ID_SIZE:
        raise _malformed("a pairing id is 16 bytes")
    if not 0 <= epoch <= MAX_EPOCH:
        raise _malformed("the epoch is out of range")
    if len(link) != KEY_SIZE:
        raise _malformed("a chain link is 32 bytes")


def _open(data: bytes, expected: str, what: str) -> ObjectReader:
    reader = load_object(data, what=what, fail=_malformed)
    kind = reader.text("format", max_chars=64)
    version = reader.integer("version", minimum=0, maximum=2**31)
    if kind != expected:
        raise _malformed(f"this file is not a {what}")
    if version != _FORMAT_VERSION:
        raise _malformed(f"{what} has format version {version}; expected 1")
    return reader


def _name(reader: ObjectReader, key: str) -> str:
    name = reader.text(key, max_chars=MAX_NAME_CHARS)
    try:
        check_name(name, key)
    except InvalidInputError as exc:
        raise _malformed(exc.message) from exc
    return name


def _link(reader: ObjectReader, key: str) -> Secret[bytes]:
    return Secret(reader.blob(key, size=KEY_SIZE), kind="chain_link")


def _optional_token(reader: ObjectReader, key: str) -> Secret[bytes] | None:
    if reader.is_null(key):
        return None
    return Secret(reader.blob(key, size=RETRY_TOKEN_SIZE), kind="retry_token")


def _pairing_id(text: str) -> bytes:
    reader = ObjectReader({"id": text}, what="replaced pairing id", fail=_malformed)
    return reader.blob("id", size=PAIRING_ID_SIZE)
