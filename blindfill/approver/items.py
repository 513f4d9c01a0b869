"""Vault items: what a vault holds and what the approver hands out.

An `Item` is one sign-in: a title, a username, a password, the URLs it
belongs to, an optional TOTP seed and whether subdomains of those URLs match
too. Every secret sits in a `Secret`, so printing or logging an item shows
only metadata. Items have a stable `id` (a random UUID for the built-in
vault, the entry UUID for KeePass), which policy rules and audit records
name.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from blindfill.errors import InvalidInputError
from blindfill.sensitive import Secret
from blindfill.totp import decode_seed, totp

__all__ = ["Item", "TotpSpec", "new_item_id", "parse_totp"]

# Limits that keep a hostile import file from making an item unwieldy.
MAX_TITLE = 200
MAX_USERNAME = 500
MAX_URLS = 50
MAX_URL = 2048

_ALGORITHMS = ("SHA1", "SHA256", "SHA512")
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True, slots=True)
class TotpSpec:
    """A TOTP seed (base32, as authenticator apps show it) and its settings.

    The seed never leaves the approver: `code_at` computes the code there.
    Construction checks the seed decodes and the settings are in range, and
    raises `InvalidInputError` (never echoing the seed) otherwise.
    """

    seed: Secret[str]
    digits: int = 6
    period: int = 30
    algorithm: str = "SHA1"

    def __post_init__(self) -> None:
        decode_seed(self.seed.reveal())
        if not 6 <= self.digits <= 8:
            raise InvalidInputError("TOTP digits must be 6, 7 or 8")
        if not 1 <= self.period <= 3600:
            raise InvalidInputError("the TOTP period must be 1 to 3600 seconds")
        if self.algorithm not in _ALGORITHMS:
            raise InvalidInputError(
                f"unsupported TOTP algorithm {self.algorithm!r}",
                hint="use SHA1, SHA256 or SHA512",
            )

    def code_at(self, when: float) -> Secret[str]:
        """The one-time code for Unix time `when`."""
        key = decode_seed(self.seed.reveal())
        code = totp(
            key,
            when,
            digits=self.digits,
            period=self.period,
            algorithm=self.algorithm,
        )
        return Secret(code, kind="one_time_code")


def parse_totp(text: str) -> TotpSpec:
    """Read a TOTP seed given as base32 or as an `otpauth://totp/` URI.

    Raises `InvalidInputError` for HOTP or other URI kinds, bad parameters or
    a seed that is not base32; the message never contains the seed.
    """
    text = text.strip()
    if not text.lower().startswith("otpauth:"):
        return TotpSpec(Secret(text, kind="totp_seed"))

    parts = urlsplit(text)
    if parts.netloc.lower() != "totp":
        raise InvalidInputError(
            "only time-based (otpauth://totp/) one-time codes are supported"
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    seeds = query.get("secret", [])
    if len(seeds) != 1 or not seeds[0]:
        raise InvalidInputError("the otpauth URI has no single secret parameter")
    try:
        digits = int(query.get("digits", ["6"])[0])
        period = int(query.get("period", ["30"])[0])
    except ValueError:
        raise InvalidInputError(
            "the otpauth URI has a non-numeric digits or period"
        ) from None
    algorithm = unquote(query.get("algorithm", ["SHA1"])[0]).upper()
    return TotpSpec(
        Secret(seeds[0], kind="totp_seed"),
        digits=digits,
        period=period,
        algorithm=algorithm,
    )


def new_item_id() -> str:
    """A fresh, random item id (32 hex digits)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Item:
    """One sign-in held by a vault.

    `urls` are kept as given (they may include paths, or be app URLs that
    never match a web origin); matching parses them. `match_subdomains`
    widens matching to the item's registrable domain (see `matching`).
    Raises `InvalidInputError` when a field is out of bounds.
    """

    id: str
    title: str
    username: str
    password: Secret[str]
    urls: tuple[str, ...] = ()
    totp: TotpSpec | None = None
    match_subdomains: bool = False
    # Free metadata from the source (KeePass group path, import line); shown
    # to the person, never used to decide.
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise InvalidInputError(
                "an item id must be 1 to 64 letters, digits or ._:-"
            )
        if len(self.title) > MAX_TITLE:
            raise InvalidInputError(f"an item title is over {MAX_TITLE} characters")
        if len(self.username) > MAX_USERNAME:
            raise InvalidInputError(
                f"an item username is over {MAX_USERNAME} characters"
            )
        if len(self.urls) > MAX_URLS:
            raise InvalidInputError(f"an item has more than {MAX_URLS} URLs")
        if any(len(url) > MAX_URL for url in self.urls):
            raise InvalidInputError(f"an item URL is over {MAX_URL} characters")

    @property
    def has_totp(self) -> bool:
        return self.totp is not None
