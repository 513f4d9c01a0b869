"""Pairing: from a one-time secret to two pinned static keys and link 0.

The approver creates a `PairingOffer`: a fresh pairing id and static key,
and a one-time secret in two forms, valid for 10 minutes by default:

* a token, `bf1.` and 70 base64url characters (pairing id, 32-byte secret,
  4-byte checksum), for pasting or an environment variable; it keys the
  handshake directly, through HKDF;
* a short code of 8 digits (`1234-5678`) for a person to type. A short
  code must never be a Noise PSK, so it runs through SPAKE2 first: the two
  SPAKE2 messages ride in the payloads of XX messages 1 and 2, and the PSK
  is derived from the SPAKE2 key. An eavesdropper learns nothing, and an
  active attacker gets one guess, after which the offer is used up.

Then a Noise XXpsk3 handshake, browser side as initiator, in two round
trips:

    browser side                              approver
    PAIR_HELLO    e; mode (+ SPAKE2 A)    ->
                                          <-  PAIR_REPLY  e, ee, s, es;
                                              pairing id, name, seed (+ SPAKE2 B)
    PAIR_FINISH   s, se, psk; name, seed  ->
                                              (the human compares the
                                              fingerprint and confirms)
                                          <-  PAIR_RESULT accepted, under the
                                              handshake's transport keys

A wrong secret shows as a failed PAIR_FINISH; the offer is then used up.
Both sides pin each other's static key, and link 0 of the key chain is
derived from both seeds with the handshake hash as salt. In code mode the
browser side does not know the pairing id when it says hello, so that frame
carries the zero pairing id and the approver routes it to its open offer.

Confirming an offer returns the new `ApproverState`, which replaces any
previous pairing: frames of the old one get `UnpairedError` from then on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

from spake2 import SPAKE2_A, SPAKE2_B
from spake2.ed25519_basic import NotOnCurve
from spake2.spake2 import SPAKEError

from blindfill.channel._fill import Clock, notice_error
from blindfill.channel._frames import (
    NO_PAIRING_ID,
    PAIRING_ID_SIZE,
    FrameHeader,
    FrameType,
    decode_frame,
    encode_frame,
)
from blindfill.channel._keys import (
    SYSTEM_ENTROPY,
    Entropy,
    KeyPair,
    PublicKey,
    chain_root,
    code_psk,
    fingerprint,
    token_psk,
)
from blindfill.channel._messages import (
    SEED_SIZE,
    PairFinish,
    PairHello,
    PairingMode,
    PairReply,
    PairResult,
    check_name,
    decode_notice,
)
from blindfill.channel._noise import PAIRING_PROTOCOL, NoiseHandshake
from blindfill.channel._state import MAX_REPLACED, ApproverState, BrowserState
from blindfill.errors import (
    BlindfillError,
    InvalidInputError,
    LocalProtocolError,
    PairingError,
    RemoteProtocolError,
)
from blindfill.sensitive import Secret

__all__ = [
    "PAIRING_TTL_S",
    "BrowserPairing",
    "ConfirmationNeeded",
    "OfferStatus",
    "Paired",
    "PairingOffer",
    "PairingSecret",
    "ReplyReady",
]

PAIRING_TTL_S: Final = 600.0
CODE_DIGITS: Final = 8
TOKEN_SECRET_SIZE: Final = 32
_TOKEN_PREFIX: Final = "bf1."  # noqa: S105 (a format marker)
_CHECKSUM_SIZE: Final = 4
_SPAKE2_ID_BROWSER: Final = b"blindfill/1 browser"
_SPAKE2_ID_APPROVER: Final = b"blindfill/1 approver"
_CODE: Final = re.compile(r"[0-9]{8}")


# --- the pairing secret -----------------------------------------------------


def _checksum(pairing_id: bytes, secret: bytes) -> bytes:
    return hashlib.sha256(b"blindfill/1 token" + pairing_id + secret).digest()[
        :_CHECKSUM_SIZE
    ]


def _format_token(pairing_id: bytes, secret: bytes) -> str:
    raw = pairing_id + secret + _checksum(pairing_id, secret)
    return _TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


@dataclass(frozen=True, slots=True, repr=False)
class PairingSecret:
    """A parsed pairing token or short code, as the browser side holds it.

    `pairing_id` is known for a token, `None` for a code.
    """

    mode: PairingMode
    secret: Secret[bytes]
    pairing_id: bytes | None

    @classmethod
    def parse(cls, text: str | Secret[str]) -> PairingSecret:
        """Read a token (`bf1.` ...) or an 8-digit code (dashes and spaces ok).

        Raises `InvalidInputError` if it is neither, or the token's checksum
        fails (a typo or a truncated paste); the message never echoes it.
        """
        raw_text = text.reveal() if isinstance(text, Secret) else text
        cleaned = raw_text.strip()
        if cleaned.startswith(_TOKEN_PREFIX):
            return cls._parse_token(cleaned[len(_TOKEN_PREFIX) :])
        digits = re.sub(r"[\s-]", "", cleaned)
        if _CODE.fullmatch(digits):
            return cls(
                PairingMode.CODE, Secret(digits.encode("ascii"), kind="code"), None
            )
        raise InvalidInputError(
            "this is neither a pairing token (bf1. ...) nor an 8-digit code",
            code="pairing_secret_malformed",
            hint="copy the token or code the approver shows, exactly",
        )

    @classmethod
    def _parse_token(cls, body: str) -> PairingSecret:
        size = PAIRING_ID_SIZE + TOKEN_SECRET_SIZE + _CHECKSUM_SIZE
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (ValueError, binascii.Error):
            raw = b""
        if len(raw) == size:
            pairing_id = raw[:PAIRING_ID_SIZE]
            secret = raw[PAIRING_ID_SIZE : PAIRING_ID_SIZE + TOKEN_SECRET_SIZE]
            if hmac.compare_digest(
                raw[-_CHECKSUM_SIZE:], _checksum(pairing_id, secret)
            ):
                return cls(PairingMode.TOKEN, Secret(secret, kind="token"), pairing_id)
        raise InvalidInputError(
            "the pairing token is damaged (its checksum does not match)",
            code="pairing_secret_malformed",
            hint="copy the whole token again; it is 74 characters long",
        )

    def __repr__(self) -> str:
        return f"PairingSecret(mode={self.mode.value})"


# --- approver side ----------------------------------------------------------


class OfferStatus(Enum):
    """Where a pairing offer stands."""

    WAITING = "waiting"  # created; no browser side has said hello
    REPLIED = "replied"  # hello answered; waiting for the finish
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # handshake done; ask
    PAIRED = "paired"  # the human confirmed; the state was handed out
    REJECTED = "rejected"  # the human said no
    FAILED = "failed"  # wrong secret or broken handshake; used up
    EXPIRED = "expired"  # its time ran out before the handshake finished


@dataclass(frozen=True, slots=True)
class ReplyReady:
    """`PairingOffer.receive` result: send `frame` back to the browser side."""

    frame: bytes


@dataclass(frozen=True, slots=True)
class ConfirmationNeeded:
    """`PairingOffer.receive` result: show these to the human, then call
    `confirm()` or `reject()` and send the frame they return."""

    agent_name: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Paired:
    """`PairingOffer.confirm` result: persist `state`, then send `frame`."""

    frame: bytes
    state: ApproverState


class PairingOffer:
    """One pairing offer on the approver, used at most once.

    Create it with `create`, show `token` and/or `code` to the human, pass
    every pairing frame to `receive`, and once it says
    `ConfirmationNeeded`, call `confirm` or `reject`.
    """

    def __init__(
        self,
        *,
        pairing_id: bytes,
        token_secret: bytes,
        code: str,
        static_key: KeyPair,
        approver_name: str,
        expires_at: float,
        clock: Clock,
        entropy: Entropy,
    ) -> None:
        check_name(approver_name, "approver name")
        self.pairing_id = pairing_id
        self._token_secret = token_secret
        self._code = code
        self._static_key = static_key
        self.approver_name = approver_name
        self.expires_at = expires_at
        self._clock = clock
        self._entropy = entropy
        self._status = OfferStatus.WAITING
        self._handshake: NoiseHandshake | None = None
        self._seed = b""
        self._agent_name: str | None = None
        self._agent_seed = b""

    @classmethod
    def create(
        cls,
        *,
        approver_name: str,
        clock: Clock,
        ttl: float = PAIRING_TTL_S,
        entropy: Entropy = SYSTEM_ENTROPY,
    ) -> PairingOffer:
        """A new offer with a fresh pairing id, static key and secrets."""
        pairing_id = entropy.random_bytes(PAIRING_ID_SIZE)
        token_secret = entropy.random_bytes(TOKEN_SECRET_SIZE)
        # 64 random bits reduced mod 10**8: the bias is below 2**-36.
        number = int.from_bytes(entropy.random_bytes(8), "big") % 10**CODE_DIGITS
        return cls(
            pairing_id=pairing_id,
            token_secret=token_secret,
            code=f"{number:0{CODE_DIGITS}d}",
            static_key=KeyPair.generate(entropy),
            approver_name=approver_name,
            expires_at=clock() + ttl,
            clock=clock,
            entropy=entropy,
        )

    @property
    def token(self) -> Secret[str]:
        """The full-entropy form, to paste or put in an environment variable."""
        return Secret(_format_token(self.pairing_id, self._token_secret), kind="token")

    @property
    def code(self) -> Secret[str]:
        """The short form a person can type, as `1234-5678`."""
        return Secret(f"{self._code[:4]}-{self._code[4:]}", kind="code")

    @property
    def status(self) -> OfferStatus:
        if self._status in (OfferStatus.WAITING, OfferStatus.REPLIED) and (
            self._clock() > self.expires_at
        ):
            return OfferStatus.EXPIRED
        return self._status

    @property
    def agent_name(self) -> str:
        """The name the agent gave; known from `ConfirmationNeeded` on."""
        if self._agent_name is None:
            raise LocalProtocolError("the agent has not finished the handshake yet")
        return self._agent_name

    @property
    def fingerprint(self) -> str:
        """The pairing fingerprint to show; known from `ConfirmationNeeded` on."""
        handshake = self._finished_handshake()
        return fingerprint(
            self.pairing_id, handshake.remote_static, self._static_key.public
        )

    def receive(self, data: bytes) -> ReplyReady | ConfirmationNeeded:
        """Take one pairing frame from the browser side.

        Returns `ReplyReady` for a hello, `ConfirmationNeeded` for a finish.
        Raises `PairingError` if the offer expired or was used, or the secret
        did not match (the offer is then used up), and `RemoteProtocolError`
        for a malformed frame. Answer a raised `RemoteError` with
        `refusal_frame`.
        """
        status = self.status
        if status is OfferStatus.EXPIRED:
            raise PairingError(
                "this pairing offer expired",
                code="pairing_expired",
                hint="create a new offer on the approver",
            )
        frame = decode_frame(data)
        header = frame.header
        if header.epoch != 0:
            raise RemoteProtocolError(
                "pairing frames have epoch 0", code="unexpected_frame"
            )
        if header.type is FrameType.PAIR_HELLO:
            return self._hello(header, frame.body)
        if header.type is FrameType.PAIR_FINISH:
            return self._finish(header, frame.body)
        raise RemoteProtocolError(
            f"expected a pairing frame, got {header.type.name}", code="unexpected_frame"
        )

    def _hello(self, header: FrameHeader, body: bytes) -> ReplyReady:
        if self._status is not OfferStatus.WAITING:
            raise PairingError(
                "this pairing offer was already used",
                code="pairing_used",
                hint="create a new offer on the approver",
            )
        if header.pairing_id not in (self.pairing_id, NO_PAIRING_ID):
            raise PairingError(
                "hello for another pairing offer", code="pairing_unknown"
            )
        # XX message 1 holds no Diffie-Hellman: read it before deciding.
        handshake = NoiseHandshake(
            PAIRING_PROTOCOL,
            initiator=False,
            prologue=header.prologue(),
            static=self._static_key,
            ephemeral=KeyPair.generate(self._entropy),
        )
        hello = PairHello.decode(handshake.read(body, what="pairing hello"))
        token_mode = header.pairing_id == self.pairing_id
        if token_mode != (hello.mode is PairingMode.TOKEN):
            raise RemoteProtocolError(
                "a token hello names its pairing, a code hello does not",
                code="unexpected_frame",
            )

        # The attempt counts from here: one per offer.
        self._status = OfferStatus.FAILED
        spake2_reply = None
        if hello.mode is PairingMode.TOKEN:
            psk = token_psk(self._token_secret, self.pairing_id)
        else:
            assert hello.spake2 is not None  # the decoder requires it in code mode
            spake = SPAKE2_B(
                self._code.encode("ascii"),
                idA=_SPAKE2_ID_BROWSER,
                idB=_SPAKE2_ID_APPROVER,
                entropy_f=self._entropy.random_bytes,
            )
            spake2_reply = spake.start()
            psk = code_psk(_spake2_finish(spake, hello.spake2), self.pairing_id)
        handshake.set_psk(psk)
        self._seed = self._entropy.random_bytes(SEED_SIZE)
        reply = PairReply(self.pairing_id, self.approver_name, self._seed, spake2_reply)
        out = handshake.write(reply.encode(), what="pairing reply")
        self._handshake = handshake
        self._status = OfferStatus.REPLIED
        return ReplyReady(encode_frame(FrameType.PAIR_REPLY, self.pairing_id, 0, out))

    def _finish(self, header: FrameHeader, body: bytes) -> ConfirmationNeeded:
        if self._status is not OfferStatus.REPLIED or self._handshake is None:
            raise PairingError(
                "this pairing offer is not waiting for a finish", code="pairing_used"
            )
        if header.pairing_id != self.pairing_id:
            raise PairingError(
                "finish for another pairing offer", code="pairing_unknown"
            )
        self._status = OfferStatus.FAILED
        try:
            payload = self._handshake.read(body, what="pairing finish")
        except BlindfillError as exc:
            raise PairingError(
                "the pairing code or token did not match; this offer is used up",
                code="pairing_secret_mismatch",
                hint="create a new offer on the approver and type the code again",
            ) from exc
        finish = PairFinish.decode(payload)
        self._agent_name = finish.agent_name
        self._agent_seed = finish.seed
        self._status = OfferStatus.AWAITING_CONFIRMATION
        return ConfirmationNeeded(finish.agent_name, self.fingerprint)

    def confirm(self, previous: ApproverState | None = None) -> Paired:
        """The human confirmed: build the pairing state and the result frame.

        `previous` is the pairing this one replaces, if any; its pairing id is
        remembered so its device is told it was replaced. Persist the
        returned state before sending the frame.
        """
        handshake = self._finished_handshake()
        if self._status is not OfferStatus.AWAITING_CONFIRMATION:
            raise LocalProtocolError(
                f"cannot confirm an offer that is {self._status.value}",
                code="pairing_not_ready",
            )
        replaced: tuple[bytes, ...] = ()
        if previous is not None:
            replaced = (*previous.replaced_pairings, previous.pairing_id)
            replaced = replaced[-MAX_REPLACED:]
        link = chain_root(
            self._seed, self._agent_seed, handshake.handshake_hash, self.pairing_id
        )
        state = ApproverState(
            pairing_id=self.pairing_id,
            agent_name=self.agent_name,
            approver_name=self.approver_name,
            static_key=self._static_key,
            agent_key=PublicKey(handshake.remote_static),
            epoch=0,
            chain_link=Secret(link, kind="chain_link"),
            replaced_pairings=replaced,
            paired_at_ms=int(self._clock() * 1000),
        )
        frame = self._result(handshake, accepted=True)
        self._status = OfferStatus.PAIRED
        return Paired(frame, state)

    def reject(self) -> bytes:
        """The human said no: the frame telling the browser side so."""
        handshake = self._finished_handshake()
        if self._status is not OfferStatus.AWAITING_CONFIRMATION:
            raise LocalProtocolError(
                f"cannot reject an offer that is {self._status.value}",
                code="pairing_not_ready",
            )
        frame = self._result(handshake, accepted=False)
        self._status = OfferStatus.REJECTED
        return frame

    def _result(self, handshake: NoiseHandshake, *, accepted: bool) -> bytes:
        body = handshake.encrypt(PairResult(accepted).encode(), what="pairing result")
        return encode_frame(FrameType.PAIR_RESULT, self.pairing_id, 0, body)

    def _finished_handshake(self) -> NoiseHandshake:
        if self._handshake is None or not self._handshake.finished:
            raise LocalProtocolError(
                "the pairing handshake has not finished", code="pairing_not_ready"
            )
        return self._handshake

    def __repr__(self) -> str:
        return (
            f"PairingOffer(pairing={self.pairing_id.hex()[:8]}, "
            f"status={self.status.value})"
        )


# --- browser side -----------------------------------------------------------


class BrowserPairingStatus(Enum):
    """Where the browser side's pairing stands."""

    READY = "ready"  # nothing sent yet
    HELLO_SENT = "hello_sent"  # waiting for the reply
    FINISH_SENT = "finish_sent"  # waiting for the human's verdict
    PAIRED = "paired"  # accepted; the state was handed out
    FAILED = "failed"  # refused, rejected or broken; start over


class BrowserPairing:
    """The browser side of one pairing attempt.

    pairing = BrowserPairing(secret, agent_name="build-bot")
    reply = post(pairing.hello())
    result = post(pairing.receive_reply(reply))  # show pairing.fingerprint
    state = pairing.receive_result(result)       # persist it
    """

    def __init__(
        self,
        secret: PairingSecret | str | Secret[str],
        *,
        agent_name: str,
        entropy: Entropy = SYSTEM_ENTROPY,
    ) -> None:
        check_name(agent_name, "agent name")
        if not isinstance(secret, PairingSecret):
            secret = PairingSecret.parse(secret)
        self._secret = secret
        self.agent_name = agent_name
        self._entropy = entropy
        self._static_key = KeyPair.generate(entropy)
        self._status = BrowserPairingStatus.READY
        self._handshake: NoiseHandshake | None = None
        self._spake: SPAKE2_A | None = None
        self._pairing_id = secret.pairing_id or NO_PAIRING_ID
        self._reply: PairReply | None = None
        self._agent_seed = b""

    @property
    def status(self) -> BrowserPairingStatus:
        return self._status

    @property
    def approver_name(self) -> str:
        return self._require_reply().approver_name

    @property
    def fingerprint(self) -> str:
        """The fingerprint the approver shows; known once the reply was read."""
        self._require_reply()
        assert self._handshake is not None  # set together with the reply
        return fingerprint(
            self._pairing_id, self._static_key.public, self._handshake.remote_static
        )

    def hello(self) -> bytes:
        """The first frame: PAIR_HELLO."""
        self._expect(BrowserPairingStatus.READY)
        header = FrameHeader(FrameType.PAIR_HELLO, self._pairing_id, 0)
        secret = self._secret
        psk = None
        if secret.mode is PairingMode.TOKEN:
            psk = token_psk(secret.secret.reveal(), self._pairing_id)
            hello = PairHello(PairingMode.TOKEN)
        else:
            self._spake = SPAKE2_A(
                secret.secret.reveal(),
                idA=_SPAKE2_ID_BROWSER,
                idB=_SPAKE2_ID_APPROVER,
                entropy_f=self._entropy.random_bytes,
            )
            hello = PairHello(PairingMode.CODE, self._spake.start())
        handshake = NoiseHandshake(
            PAIRING_PROTOCOL,
            initiator=True,
            prologue=header.prologue(),
            static=self._static_key,
            ephemeral=KeyPair.generate(self._entropy),
            psk=psk,
        )
        body = handshake.write(hello.encode(), what="pairing hello")
        self._handshake = handshake
        self._status = BrowserPairingStatus.HELLO_SENT
        return encode_frame(header.type, header.pairing_id, 0, body)

    def receive_reply(self, data: bytes) -> bytes:
        """Read PAIR_REPLY and return PAIR_FINISH; `fingerprint` is then set.

        Raises `PairingError` or another `RemoteError` if the approver
        refused or the reply is malformed; this attempt is then over.
        """
        self._expect(BrowserPairingStatus.HELLO_SENT)
        assert self._handshake is not None  # set by hello()
        self._status = BrowserPairingStatus.FAILED
        frame = decode_frame(data)
        header = frame.header
        if header.type is FrameType.NOTICE:
            raise notice_error(decode_notice(frame.body))
        if header.type is not FrameType.PAIR_REPLY or header.epoch != 0:
            raise RemoteProtocolError(
                f"expected a PAIR_REPLY frame, got {header.type.name}",
                code="unexpected_frame",
            )
        mode = self._secret.mode
        reply = PairReply.decode(
            self._handshake.read(frame.body, what="pairing reply"), mode
        )
        if reply.pairing_id != header.pairing_id or (
            mode is PairingMode.TOKEN and reply.pairing_id != self._pairing_id
        ):
            raise PairingError(
                "the reply names another pairing", code="pairing_unknown"
            )
        self._pairing_id = reply.pairing_id
        if mode is PairingMode.CODE:
            assert self._spake is not None
            assert reply.spake2 is not None
            psk = code_psk(_spake2_finish(self._spake, reply.spake2), reply.pairing_id)
            self._handshake.set_psk(psk)
        self._agent_seed = self._entropy.random_bytes(SEED_SIZE)
        finish = PairFinish(self.agent_name, self._agent_seed)
        body = self._handshake.write(finish.encode(), what="pairing finish")
        self._reply = reply
        self._status = BrowserPairingStatus.FINISH_SENT
        return encode_frame(FrameType.PAIR_FINISH, self._pairing_id, 0, body)

    def receive_result(self, data: bytes) -> BrowserState:
        """Read PAIR_RESULT and return the state to persist.

        Raises `PairingError` if the human rejected the pairing or the secret
        was wrong (the approver's notice), `AuthenticationError` if the result
        is forged.
        """
        self._expect(BrowserPairingStatus.FINISH_SENT)
        assert self._handshake is not None
        assert self._reply is not None
        self._status = BrowserPairingStatus.FAILED
        frame = decode_frame(data)
        header = frame.header
        if header.type is FrameType.NOTICE:
            raise notice_error(decode_notice(frame.body))
        if (
            header.type is not FrameType.PAIR_RESULT
            or header.pairing_id != self._pairing_id
            or header.epoch != 0
        ):
            raise RemoteProtocolError(
                f"expected a PAIR_RESULT frame, got {header.type.name}",
                code="unexpected_frame",
            )
        result = PairResult.decode(
            self._handshake.decrypt(frame.body, what="pairing result")
        )
        if not result.accepted:
            raise PairingError(
                "the person at the approver rejected this pairing",
                code="pairing_rejected",
            )
        link = chain_root(
            self._reply.seed,
            self._agent_seed,
            self._handshake.handshake_hash,
            self._pairing_id,
        )
        self._status = BrowserPairingStatus.PAIRED
        return BrowserState(
            pairing_id=self._pairing_id,
            agent_name=self.agent_name,
            approver_name=self._reply.approver_name,
            static_key=self._static_key,
            approver_key=PublicKey(self._handshake.remote_static),
            epoch=0,
            chain_link=Secret(link, kind="chain_link"),
        )

    def _expect(self, status: BrowserPairingStatus) -> None:
        if self._status is not status:
            raise LocalProtocolError(
                f"pairing is {self._status.value}, not {status.value}",
                code="pairing_out_of_order",
            )

    def _require_reply(self) -> PairReply:
        if self._reply is None:
            raise LocalProtocolError("the approver's reply was not read yet")
        return self._reply

    def __repr__(self) -> str:
        return f"BrowserPairing(agent={self.agent_name!r}, status={self._status.value})"


def _spake2_finish(spake: SPAKE2_A | SPAKE2_B, message: bytes) -> bytes:
    """SPAKE2's key, with its exceptions (some are plain asserts) translated."""
    try:
        key = spake.finish(message)
    except (SPAKEError, NotOnCurve, ValueError, AssertionError, TypeError) as exc:
        raise PairingError(
            "the SPAKE2 message of the pairing is invalid", code="pairing_spake2"
        ) from exc
    return bytes(key)
