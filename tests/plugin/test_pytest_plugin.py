"""The pytest plugin, as a user's suite meets it: through `pytester`.

Each test writes a small test suite and runs it in a fresh pytest process
(the plugin is loaded through its `pytest11` entry point, as it is for
anyone who installs blindfill).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from blindfill.demo import DemoSite
from blindfill.errors import UsageError
from blindfill.pytest_plugin import Credential, default_policy
from blindfill.sensitive import Secret

pytest_plugins = ["pytester"]

USER_SUITE = """
import pytest

from blindfill import SignInStatus
from blindfill.approver.audit import read_records
from blindfill.demo import DemoSite
from blindfill.pytest_plugin import Credential


@pytest.fixture(scope="module")
def site():
    with DemoSite() as site:
        yield site


@pytest.fixture
def blindfill_credentials(site):
    return [
        Credential(
            title="Staging",
            username=site.account.username,
            password=site.account.password,
            urls=[site.base_url + "/"],
            totp_seed=site.account.totp_seed,
        )
    ]


@pytest.mark.asyncio
async def test_signs_in(site, blindfill, blindfill_page):
    await blindfill_page.goto(site.url("totp"))
    result = await blindfill.sign_in(blindfill_page, reason="nightly check")
    assert result.status is SignInStatus.SIGNED_IN
    assert site.signed_in("totp") == site.account.username


@pytest.mark.asyncio
async def test_audit_names_the_item(site, blindfill_approver, blindfill_page):
    await blindfill_page.goto(site.url("plain"))
    await blindfill_approver.blindfill.sign_in(blindfill_page, reason="nightly")
    entries = read_records(blindfill_approver.audit_path)
    assert [e.record["item"]["title"] for e in entries] == ["Staging"]


class TestWithoutPolicy:
    @pytest.fixture
    def blindfill_policy(self):
        return None

    @pytest.mark.asyncio
    async def test_is_declined(self, site, blindfill, blindfill_page):
        await blindfill_page.goto(site.url("plain"))
        result = await blindfill.sign_in(blindfill_page, reason="nightly check")
        assert result.status is SignInStatus.DECLINED
"""


@pytest.fixture
def strict_ini(pytester: pytest.Pytester) -> pytest.Pytester:
    """A user project in pytest-asyncio's default strict mode."""
    pytester.makeini(
        "[pytest]\nasyncio_mode = strict\n"
        "asyncio_default_fixture_loop_scope = function\n"
    )
    return pytester


@pytest.mark.browser
@pytest.mark.slow
def test_user_suite_signs_in_with_overridden_credentials(
    strict_ini: pytest.Pytester,
) -> None:
    """A user's test overrides the credentials and signs in; a policy of
    None makes the same request declined."""
    strict_ini.makepyfile(test_login=USER_SUITE)

    result = strict_ini.runpytest_subprocess("-W", "error", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=3)


@pytest.fixture
def served_site() -> Iterator[DemoSite]:
    with DemoSite() as site:
        yield site


@pytest.mark.browser
def test_credentials_come_from_the_environment(
    pytester: pytest.Pytester,
    served_site: DemoSite,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ini option names a prefix; the credential is read from
    PREFIX_USERNAME, PREFIX_PASSWORD, PREFIX_URLS and PREFIX_TOTP_SEED."""
    account = served_site.account
    monkeypatch.setenv("STAGING_USERNAME", account.username)
    monkeypatch.setenv("STAGING_PASSWORD", account.password.reveal())
    monkeypatch.setenv("STAGING_URLS", served_site.base_url + "/")
    monkeypatch.setenv("STAGING_TOTP_SEED", account.totp_seed.reveal())
    monkeypatch.setenv("STAGING_LOGIN_PAGE", served_site.url("totp"))
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "blindfill_credentials_env = STAGING\n"
    )
    pytester.makepyfile(
        test_env="""
import os

async def test_signs_in(blindfill, blindfill_page):
    await blindfill_page.goto(os.environ["STAGING_LOGIN_PAGE"])
    result = await blindfill.sign_in(blindfill_page, reason="from env")
    assert result.status.value == "signed_in", result
"""
    )

    result = pytester.runpytest_subprocess("-W", "error", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
    assert served_site.signed_in("totp") == account.username


@pytest.mark.browser
def test_anyio_runs_the_fixtures(pytester: pytest.Pytester) -> None:
    """With anyio's runner (and pytest-asyncio disabled) the same fixtures
    sign in."""
    pytester.makepyfile(
        test_anyio="""
import pytest

from blindfill.demo import DemoSite
from blindfill.pytest_plugin import Credential


@pytest.fixture
def anyio_backend():
    return "asyncio"  # Playwright's async API runs on asyncio


@pytest.fixture(scope="module")
def site():
    with DemoSite() as site:
        yield site


@pytest.fixture
def blindfill_credentials(site):
    account = site.account
    return [Credential("Demo", account.username, account.password, [site.base_url])]


@pytest.mark.anyio
async def test_signs_in(site, blindfill, blindfill_page):
    await blindfill_page.goto(site.url("two_step"))
    result = await blindfill.sign_in(blindfill_page, reason="anyio")
    assert result.status.value == "signed_in", result
"""
    )

    result = pytester.runpytest_subprocess(
        "-W", "error", "-p", "no:cacheprovider", "-p", "no:asyncio"
    )

    result.assert_outcomes(passed=1)


def test_missing_variables_are_named_at_setup(pytester: pytest.Pytester) -> None:
    """An unset variable fails the test's setup with its name, no browser."""
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "blindfill_credentials_env = NOPE\n"
    )
    pytester.makepyfile(
        test_missing="""
async def test_needs_credentials(blindfill):
    raise AssertionError("not reached")
"""
    )

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*blindfill credential variables not set: NOPE_USERNAME, NOPE_PASSWORD*"]
    )


def test_projects_that_do_not_use_it_are_untouched(pytester: pytest.Pytester) -> None:
    """A suite without blindfill fixtures runs as before, warnings as errors,
    and `--help` shows the plugin's option and ini key."""
    pytester.makepyfile(
        test_plain="""
import logging

import structlog


def test_nothing_configured():
    assert not structlog.is_configured()
    # pytest's own capture handlers only.
    modules = {type(h).__module__ for h in logging.getLogger().handlers}
    assert modules <= {"_pytest.logging"}, modules
"""
    )

    # Without pytest-asyncio too, which warns about its own settings.
    result = pytester.runpytest_subprocess(
        "-W", "error", "-p", "no:cacheprovider", "-p", "no:asyncio"
    )
    result.assert_outcomes(passed=1)

    shown = pytester.runpytest_subprocess("--help")
    shown.stdout.fnmatch_lines(["*--blindfill-headed*", "*blindfill_credentials_env*"])


def test_fixtures_are_listed(pytester: pytest.Pytester) -> None:
    """`pytest --fixtures` lists every blindfill fixture."""
    result = pytester.runpytest_subprocess("--fixtures")
    for name in (
        "blindfill_credentials",
        "blindfill_agent_name",
        "blindfill_policy",
        "blindfill_approver",
        "blindfill ",
        "blindfill_browser",
        "blindfill_page",
    ):
        result.stdout.fnmatch_lines([f"{name}*"])


# --- the helpers, in process --------------------------------------------------


def test_credential_repr_shows_no_value() -> None:
    """Plain-string secrets are wrapped; repr and str show neither."""
    credential = Credential(
        title="Staging",
        username="ci-bot",
        password="correct horse battery staple",
        urls=["https://staging.example.test/login"],
        totp_seed="JBSWY3DPEHPK3PXP",
    )

    assert isinstance(credential.password, Secret)
    assert isinstance(credential.totp_seed, Secret)
    for text in (repr(credential), str(credential)):
        assert "correct horse" not in text
        assert "JBSWY3DPEHPK3PXP" not in text
    item = credential.to_item(1)
    assert item.totp is not None
    assert item.password.reveal() == "correct horse battery staple"


def test_credential_without_url_is_refused() -> None:
    """A credential no page could match is a usage error."""
    with pytest.raises(UsageError, match="has no URL"):
        Credential(title="x", username="u", password="p")


def test_from_env_can_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    """With skip_if_missing, unset variables skip the test instead."""
    monkeypatch.delenv("ABSENT_USERNAME", raising=False)
    with pytest.raises(pytest.skip.Exception, match="ABSENT_USERNAME"):
        Credential.from_env("ABSENT", skip_if_missing=True)


def test_default_policy_grants_exact_origins() -> None:
    """The default rule names each URL's origin once, and nothing else."""
    credentials = [
        Credential("a", "u", "p", urls=["https://a.example.test/login"]),
        Credential(
            "b", "u", "p", urls=["https://a.example.test/", "http://127.0.0.1:8080/x"]
        ),
    ]

    policy = default_policy("bot", credentials)

    assert policy is not None
    assert 'agent = "bot"' in policy
    assert 'origins = ["https://a.example.test", "http://127.0.0.1:8080"]' in policy
    assert default_policy("bot", []) is None
