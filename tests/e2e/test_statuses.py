"""Every way a sign-in can end, each with a real approver and Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import BrowserContext

from blindfill import Blindfill, SignInStatus
from blindfill.approver.decisions import EngineConfig
from blindfill.approver.service_testing import pair_in_process
from blindfill.approver.testing import ScriptedPrompt
from blindfill.demo import DemoSite
from blindfill.embedded import Embedded, embedded, policy_for
from tests.e2e.conftest import AGENT, session_cookie

pytestmark = pytest.mark.browser


async def test_submit_false_fills_and_sends_nothing(
    demo_site: DemoSite, setup: Embedded, context: BrowserContext
) -> None:
    """With submit=False the fields hold the values and the form stays put."""
    page = await context.new_page()
    await page.goto(demo_site.url("plain"))

    result = await setup.blindfill.sign_in(page, reason="look only", submit=False)

    assert result.status is SignInStatus.FILLED
    assert set(result.fields_filled) == {"username", "password"}
    assert not result.submitted
    assert await page.input_value("#username") == demo_site.account.username
    assert page.url == demo_site.url("plain")
    session = await session_cookie(context)
    assert demo_site.signed_in("plain", session=session) is None


async def test_no_login_form(
    demo_site: DemoSite, setup: Embedded, context: BrowserContext
) -> None:
    """A page without a login form ends at once, asking nobody."""
    page = await context.new_page()
    await page.goto(demo_site.base_url + "/")

    result = await setup.blindfill.sign_in(page, reason="x", form_wait=0.5)

    assert result.status is SignInStatus.NO_LOGIN_FORM
    assert result.steps == ()
    assert not setup.audit_path.exists()


async def test_declined_when_no_rule_or_person_grants(
    tmp_path: Path, demo_site: DemoSite, context: BrowserContext
) -> None:
    """Without a policy and without a person, the approver declines."""
    async with embedded(
        [demo_site.vault_item()], workdir=tmp_path / "e", agent_name=AGENT
    ) as setup:
        page = await context.new_page()
        await page.goto(demo_site.url("plain"))
        result = await setup.blindfill.sign_in(page, reason="please")
    assert result.status is SignInStatus.DECLINED
    assert result.fields_filled == ()
    assert await page.input_value("#password") == ""


async def test_rate_limited_after_too_many_requests(
    tmp_path: Path, demo_site: DemoSite, context: BrowserContext
) -> None:
    """Past the per-origin limit the approver says so, distinctly."""
    async with embedded(
        [demo_site.vault_item()],
        workdir=tmp_path / "e",
        policy=policy_for(AGENT, [demo_site.base_url]),
        agent_name=AGENT,
        config=EngineConfig(max_per_origin=1),
    ) as setup:
        page = await context.new_page()
        await page.goto(demo_site.url("plain"))
        first = await setup.blindfill.sign_in(page, reason="x", submit=False)
        second = await setup.blindfill.sign_in(page, reason="x", submit=False)
    assert first.status is SignInStatus.FILLED
    assert second.status is SignInStatus.RATE_LIMITED


async def test_unpaired_after_another_browser_side_pairs(
    tmp_path: Path, demo_site: DemoSite, setup: Embedded, context: BrowserContext
) -> None:
    """Pairing a new browser side replaces this one, which is told so."""
    await pair_in_process(setup.approver, tmp_path / "newcomer.json")
    page = await context.new_page()
    await page.goto(demo_site.url("plain"))

    result = await setup.blindfill.sign_in(page, reason="x")

    assert result.status is SignInStatus.UNPAIRED
    assert await page.input_value("#password") == ""


async def test_timeout_and_slow_notice_when_nobody_answers(
    tmp_path: Path, demo_site: DemoSite, context: BrowserContext
) -> None:
    """An approver that never answers: a slow notice, then a timeout."""
    slow: list[str] = []
    async with embedded(
        [demo_site.vault_item()],
        workdir=tmp_path / "e",
        prompt=ScriptedPrompt(),  # an empty script never answers
        agent_name=AGENT,
    ) as setup:
        impatient = Blindfill.connect(
            setup.approver.url,
            state_path=setup.blindfill.link.state_path,
            on_slow=lambda: slow.append("slow"),
            slow_after=0.2,
            response_timeout=1.0,
        )
        async with impatient:
            page = await context.new_page()
            await page.goto(demo_site.url("plain"))
            result = await impatient.sign_in(page, reason="x")
    assert result.status is SignInStatus.TIMEOUT
    assert slow == ["slow"]
    assert await page.input_value("#password") == ""


async def test_approver_unreachable(
    tmp_path: Path, demo_site: DemoSite, setup: Embedded, context: BrowserContext
) -> None:
    """No approver listening: a clear status, nothing filled."""
    async with Blindfill.connect(
        "http://127.0.0.1:9", state_path=setup.blindfill.link.state_path
    ) as lost:
        page = await context.new_page()
        await page.goto(demo_site.url("plain"))
        result = await lost.sign_in(page, reason="x")
    assert result.status is SignInStatus.APPROVER_UNREACHABLE
    assert await page.input_value("#password") == ""
