"""The throwaway demo account."""

from __future__ import annotations

import string

import pytest

from blindfill.demo import DemoAccount, random_account
from blindfill.errors import InvalidInputError
from blindfill.sensitive import Secret
from blindfill.totp import decode_seed, verify_totp


def test_random_accounts_never_repeat() -> None:
    """Every call makes a new username, password and seed."""
    accounts = [random_account() for _ in range(20)]

    assert len({a.username for a in accounts}) == 20
    assert len({a.password.reveal() for a in accounts}) == 20
    assert len({a.totp_seed.reveal() for a in accounts}) == 20


def test_random_password_mixes_every_character_class() -> None:
    """The password has lower and upper case, digits and punctuation that
    form encoding must escape, so every run exercises the encoding."""
    for _ in range(20):
        password = random_account().password.reveal()
        assert len(password) == 20
        assert any(c in string.ascii_lowercase for c in password)
        assert any(c in string.ascii_uppercase for c in password)
        assert any(c in string.digits for c in password)
        assert any(c in string.punctuation for c in password)


def test_account_repr_shows_only_the_username() -> None:
    """Printing an account shows its username and hides both secrets."""
    account = random_account()

    text = repr(account) + str(account) + f"{account}"

    assert account.username in text
    assert account.password.reveal() not in text
    assert account.totp_seed.reveal() not in text


def test_one_time_code_is_the_seeds_totp() -> None:
    """`one_time_code(at)` is the RFC 6238 code of the seed at that time."""
    account = random_account()
    key = decode_seed(account.totp_seed.reveal())

    code = account.one_time_code(1_800_000_000)

    assert code.kind == "one_time_code"
    assert len(code.reveal()) == 6
    assert verify_totp(key, code.reveal(), 1_800_000_000, window=0)


@pytest.mark.parametrize(
    ("username", "password", "seed"),
    [
        ("", "pw", "JBSWY3DPEHPK3PXP"),
        ("has space", "pw", "JBSWY3DPEHPK3PXP"),
        ("<script>", "pw", "JBSWY3DPEHPK3PXP"),
        ("a" * 65, "pw", "JBSWY3DPEHPK3PXP"),
        ("alice", "", "JBSWY3DPEHPK3PXP"),
        ("alice", "p" * 129, "JBSWY3DPEHPK3PXP"),
        ("alice", "pw", "not base32 at all!"),
    ],
)
def test_invalid_accounts_are_refused_without_quoting_secrets(
    username: str, password: str, seed: str
) -> None:
    """A bad username, password length or seed raises InvalidInputError,
    and the message quotes neither the password nor the seed."""
    with pytest.raises(InvalidInputError) as caught:
        DemoAccount(
            username=username,
            password=Secret(password, kind="password"),
            totp_seed=Secret(seed, kind="totp_seed"),
        )

    message = str(caught.value)
    assert not password or password not in message
    assert seed not in message
