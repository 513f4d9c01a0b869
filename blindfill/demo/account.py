"""The throwaway account that the demo site accepts.

The demo never ships a fixed password: every run makes a fresh account with
`random_account()`, puts it in a throwaway vault and in the site, and forgets
it when the run ends. The password and the TOTP seed live in `Secret`s from
the moment they are made, so printing an account shows only its username.
"""

from __future__ import annotations

import base64
import re
import secrets
import string
import time
from dataclasses import dataclass

from blindfill.errors import InvalidInputError
from blindfill.sensitive import Secret
from blindfill.totp import decode_seed, totp

__all__ = ["DemoAccount", "random_account"]

# Usernames are echoed into pages and logs, so keep them plain.
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
MAX_PASSWORD_CHARS = 128

# Punctuation that must survive form encoding (`&`, `=`, `+`, `%`) on purpose.
_PUNCTUATION = "!#%&*+-=?@^_~"
_PASSWORD_ALPHABET = string.ascii_letters + string.digits + _PUNCTUATION


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """A username, a password and a TOTP seed (base32) for the demo site.

    Raises `InvalidInputError` on construction when the username is not a
    plain 1-64 character name, the password is empty or longer than 128
    characters, or the seed is not base32. No message quotes a secret.
    """

    username: str
    password: Secret[str]
    totp_seed: Secret[str]

    def __post_init__(self) -> None:
        if not _USERNAME.fullmatch(self.username):
            raise InvalidInputError(
                "a demo username must be 1-64 letters, digits or ._@+-",
                hint="start it with a letter or digit",
            )
        if not 0 < len(self.password) <= MAX_PASSWORD_CHARS:
            raise InvalidInputError(
                f"a demo password must be 1-{MAX_PASSWORD_CHARS} characters"
            )
        decode_seed(self.totp_seed.reveal())  # raises without quoting it

    def one_time_code(self, at: float | None = None) -> Secret[str]:
        """The six-digit TOTP code at Unix time `at` (default: now)."""
        when = time.time() if at is None else at
        key = decode_seed(self.totp_seed.reveal())
        return Secret(totp(key, when), kind="one_time_code")


def random_account() -> DemoAccount:
    """A fresh account: `demo-` plus 8 random characters, a 20-character
    password with letters, digits and form-encoding punctuation, and a
    160-bit TOTP seed. Uses `secrets`, so nothing repeats across runs."""
    username = "demo-" + "".join(
        secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8)
    )
    return DemoAccount(
        username=username,
        password=Secret(_random_password(20), kind="password"),
        totp_seed=Secret(_random_seed(), kind="totp_seed"),
    )


def _random_password(length: int) -> str:
    # Draw until every class is present, so each run exercises the encoding
    # of letters, digits and punctuation alike.
    while True:
        chars = [secrets.choice(_PASSWORD_ALPHABET) for _ in range(length)]
        if (
            any(c in string.ascii_lowercase for c in chars)
            and any(c in string.ascii_uppercase for c in chars)
            and any(c in string.digits for c in chars)
            and any(c in _PUNCTUATION for c in chars)
        ):
            return "".join(chars)


def _random_seed() -> str:
    # 20 bytes is the key length RFC 4226 recommends for HMAC-SHA1.
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")
