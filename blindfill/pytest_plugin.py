"""pytest plugin: sign in to your own login pages from end-to-end tests.

Registered through the `pytest11` entry point, so installing blindfill
makes these fixtures available to every test suite. Loading it only adds
fixtures and options: it registers no hooks that change collection or
running, configures no logging and starts nothing until a test asks for a
fixture.

Fixtures (override any of them in a `conftest.py`):

=========================  ==================================================
`blindfill_credentials`    the vault items, as `Credential`s. By default
                           one per prefix named in the ini option
                           `blindfill_credentials_env`, read from the
                           environment (see `Credential.from_env`); none if
                           the option is not set.
`blindfill_agent_name`     the paired agent's name ("pytest").
`blindfill_policy`         policy text; by default one rule granting the
                           agent the exact origins of the credentials'
                           URLs. Return None to decline everything.
`blindfill_approver`       (async) an `Embedded`: the approver over a
                           throwaway vault, paired with a browser side.
`blindfill`                the paired `Blindfill`, ready for `sign_in`.
`blindfill_browser`        (async) the system Chromium, headless unless
                           `--blindfill-headed`.
`blindfill_page`           (async) a page in a fresh browser context.
=========================  ==================================================

The async fixtures need an async test runner. With pytest-asyncio
installed they are pytest-asyncio fixtures (strict or auto mode);
otherwise plain async fixtures, as anyio's pytest plugin runs them.

Everything the approver writes (the vault, its state, the audit log) lives
in a temporary directory removed when the fixture ends; the vault's master
password is random and never stored.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

from blindfill.errors import UsageError
from blindfill.sensitive import Secret

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

    from blindfill.agent.client import Blindfill
    from blindfill.approver.items import Item
    from blindfill.embedded import Embedded

__all__ = ["Credential", "default_policy"]

CREDENTIALS_INI = "blindfill_credentials_env"
DEFAULT_AGENT_NAME = "pytest"

_F = TypeVar("_F", bound=Callable[..., Any])


def _async_fixture(function: _F) -> _F:
    """A fixture for an async generator, with the runner that is there."""
    try:  # pytest-asyncio's own decorator works in its strict and auto modes
        from pytest_asyncio import fixture
    except ImportError:  # anyio (or another runner) takes plain async fixtures
        return cast(_F, pytest.fixture(function))
    return cast(_F, fixture(function))


@dataclass(frozen=True, slots=True)
class Credential:
    """One sign-in the test approver holds: a vault item made from test data.

    `password` and `totp_seed` may be given as plain strings; they are kept
    as `Secret`s, so printing a credential shows no value. `urls` are the
    pages the credential belongs to (their exact origins match, or every
    subdomain too with `match_subdomains`). `totp_seed` is base32 or an
    `otpauth://totp/` URI.
    """

    title: str
    username: str
    password: Secret[str] | str = field(repr=False)
    urls: Sequence[str] = ()
    totp_seed: Secret[str] | str | None = field(default=None, repr=False)
    match_subdomains: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.password, str):
            secret = Secret(self.password, kind="password")
            object.__setattr__(self, "password", secret)
        if isinstance(self.totp_seed, str):
            seed = Secret(self.totp_seed, kind="totp_seed")
            object.__setattr__(self, "totp_seed", seed)
        object.__setattr__(self, "urls", tuple(self.urls))
        if not self.urls:
            raise UsageError(
                f"the credential {self.title!r} has no URL",
                hint="give the login page's URL, so the approver can match it",
            )

    @classmethod
    def from_env(
        cls,
        prefix: str,
        *,
        title: str | None = None,
        urls: Sequence[str] = (),
        skip_if_missing: bool = False,
    ) -> Credential:
        """A credential from `<PREFIX>_USERNAME`, `<PREFIX>_PASSWORD`,
        `<PREFIX>_URLS` (space-separated; or pass `urls`) and, if set,
        `<PREFIX>_TOTP_SEED`.

        A missing variable raises `UsageError` naming it, or skips the test
        with `skip_if_missing` (for forks whose CI has no secrets).
        """
        wanted = ["USERNAME", "PASSWORD"] + ([] if urls else ["URLS"])
        missing = [f"{prefix}_{name}" for name in wanted if not _env(prefix, name)]
        if missing:
            message = "blindfill credential variables not set: " + ", ".join(missing)
            if skip_if_missing:
                pytest.skip(message)
            raise UsageError(message, code="credentials_missing")
        return cls(
            title=title or prefix,
            username=_env(prefix, "USERNAME"),
            password=Secret(_env(prefix, "PASSWORD"), kind="password"),
            urls=tuple(urls) or tuple(_env(prefix, "URLS").split()),
            totp_seed=_env(prefix, "TOTP_SEED") or None,
        )

    def to_item(self, number: int) -> Item:
        """The vault item for this credential; `number` makes its id."""
        from blindfill.approver.items import Item, parse_totp

        password = self.password
        seed = self.totp_seed
        assert isinstance(password, Secret)
        assert seed is None or isinstance(seed, Secret)
        return Item(
            id=f"pytest-{number}",
            title=self.title,
            username=self.username,
            password=password,
            urls=tuple(self.urls),
            totp=parse_totp(seed.reveal()) if seed is not None else None,
            match_subdomains=self.match_subdomains,
        )


def _env(prefix: str, name: str) -> str:
    return os.environ.get(f"{prefix}_{name}", "").strip()


def default_policy(agent_name: str, credentials: Iterable[Credential]) -> str | None:
    """Policy text granting `agent_name` the exact origins of the
    credentials' URLs (username, password and one-time code), or None when
    no URL has a web origin."""
    from blindfill.approver.origins import origin_of_url
    from blindfill.embedded import policy_for

    origins: dict[str, None] = {}
    for credential in credentials:
        for url in credential.urls:
            origin = origin_of_url(url)
            if origin is not None:
                origins[origin.serialize()] = None
    if not origins:
        return None
    return policy_for(agent_name, list(origins), rule_name="pytest")


# --- hooks ------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add `--blindfill-headed` and the `blindfill_credentials_env` ini key."""
    group = parser.getgroup("blindfill", "blindfill sign-in fixtures")
    group.addoption(
        "--blindfill-headed",
        action="store_true",
        default=False,
        help="show the browser window of the blindfill_browser fixture",
    )
    parser.addini(
        CREDENTIALS_INI,
        type="args",
        default=[],
        help=(
            "environment variable prefixes to make blindfill credentials "
            "from (PREFIX_USERNAME, PREFIX_PASSWORD, PREFIX_URLS, "
            "PREFIX_TOTP_SEED)"
        ),
    )


# --- fixtures ---------------------------------------------------------------


@pytest.fixture
def blindfill_credentials(request: pytest.FixtureRequest) -> Sequence[Credential]:
    """The credentials the test approver holds (override to set your own)."""
    prefixes: list[str] = request.config.getini(CREDENTIALS_INI)
    return [Credential.from_env(prefix) for prefix in prefixes]


@pytest.fixture
def blindfill_agent_name() -> str:
    """The name the browser side is paired under."""
    return DEFAULT_AGENT_NAME


@pytest.fixture
def blindfill_policy(
    blindfill_agent_name: str, blindfill_credentials: Sequence[Credential]
) -> str | None:
    """The approver's policy text; None declines every request."""
    return default_policy(blindfill_agent_name, blindfill_credentials)


@_async_fixture
async def blindfill_approver(
    blindfill_credentials: Sequence[Credential],
    blindfill_policy: str | None,
    blindfill_agent_name: str,
) -> AsyncIterator[Embedded]:
    """An approver over a throwaway vault and a browser side paired with it."""
    from blindfill.embedded import embedded

    items = [c.to_item(n) for n, c in enumerate(blindfill_credentials, start=1)]
    with tempfile.TemporaryDirectory(prefix="blindfill-pytest-") as tmp:
        async with embedded(
            items,
            workdir=Path(tmp) / "approver",
            policy=blindfill_policy,
            agent_name=blindfill_agent_name,
        ) as running:
            yield running


@pytest.fixture
def blindfill(blindfill_approver: Embedded) -> Blindfill:
    """The browser side paired with `blindfill_approver`."""
    return blindfill_approver.blindfill


@_async_fixture
async def blindfill_browser(request: pytest.FixtureRequest) -> AsyncIterator[Browser]:
    """The system Chromium (or Playwright's), for one test."""
    from blindfill.agent.client import launch_browser

    headed = bool(request.config.getoption("--blindfill-headed"))
    async with launch_browser(headless=not headed) as browser:
        yield browser


@_async_fixture
async def blindfill_page(blindfill_browser: Browser) -> AsyncIterator[Page]:
    """A blank page in a browser context of its own."""
    context = await blindfill_browser.new_context()
    try:
        yield await context.new_page()
    finally:
        await context.close()
