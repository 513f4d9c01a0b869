"""`blindfill sign-in`: a real Chromium, the demo site and an approver.

The approver runs in the test's event loop; the command runs in a
subprocess (or, where a module variable must be changed, in a thread) and
talks to it over HTTP on 127.0.0.1, as it would to a real approver.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from blindfill.agent.browser import CHROMIUM_ARGS, find_chromium
from blindfill.approver.prompt import Prompt, PromptQuestion, UnlockQuestion
from blindfill.cli import main
from blindfill.commands import signin as signin_command
from blindfill.demo import DemoAccount, DemoSite
from blindfill.embedded import Embedded, embedded
from blindfill.errors import ExitStatus
from blindfill.sensitive import Secret
from tests.cli.conftest import AGENT, Ran, run_blindfill, secrets_of, state_path


def _assert_no_secret(account: DemoAccount, *texts: str) -> None:
    for text in texts:
        for secret in secrets_of(account):
            assert secret not in text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _argv(url: str, approver_url: str, tmp_path: Path, *extra: str) -> list[str]:
    """`sign-in URL` with the tests' reason, `extra` flags, the approver at
    `approver_url` and the pairing the `approver` fixture saved."""
    return [
        "sign-in",
        url,
        "--reason",
        "cli test",
        *extra,
        "--approver",
        approver_url,
        "--state",
        str(state_path(tmp_path)),
    ]


async def _sign_in(url: str, approver_url: str, tmp_path: Path, *extra: str) -> Ran:
    """Run `blindfill` with `_argv(...)` in a subprocess."""
    return await run_blindfill(*_argv(url, approver_url, tmp_path, *extra))


@pytest.mark.browser
async def test_signs_in_and_prints_the_outcome(
    tmp_path: Path, demo_site: DemoSite, approver: Embedded
) -> None:
    """A granted sign-in exits 0 and shows status, origin and fields only."""
    ran = await _sign_in(demo_site.url("plain"), approver.approver.url, tmp_path)

    assert ran.status == ExitStatus.OK, ran.err
    assert "status         signed_in" in ran.out
    assert f"origin         {demo_site.base_url}" in ran.out
    assert "1. login (" in ran.out
    assert demo_site.signed_in("plain") == demo_site.account.username
    assert "Traceback" not in ran.err
    _assert_no_secret(demo_site.account, ran.out, ran.err)


@pytest.mark.browser
async def test_json_output_lists_every_step(
    tmp_path: Path, demo_site: DemoSite, approver: Embedded
) -> None:
    """--json prints one object with the status, steps and exit status."""
    ran = await _sign_in(
        demo_site.url("totp"), approver.approver.url, tmp_path, "--json"
    )

    assert ran.status == ExitStatus.OK, ran.err
    record = json.loads(ran.out)
    assert record["status"] == "signed_in"
    assert record["exit_status"] == 0
    assert [step["kind"] for step in record["steps"]] == ["login", "one_time_code"]
    assert set(record["fields_filled"]) == {"username", "password", "one_time_code"}
    code = demo_site.account.one_time_code().reveal()
    assert code not in ran.out
    _assert_no_secret(demo_site.account, ran.out, ran.err)


@pytest.mark.browser
async def test_no_submit_fills_and_masks_the_screenshot(
    tmp_path: Path, demo_site: DemoSite, approver: Embedded
) -> None:
    """--no-submit stops after filling; the screenshot paints inputs over."""
    shot = tmp_path / "after.png"
    ran = await _sign_in(
        demo_site.url("plain"),
        approver.approver.url,
        tmp_path,
        "--no-submit",
        "--screenshot",
        str(shot),
    )

    assert ran.status == ExitStatus.OK, ran.err
    assert "status         filled" in ran.out
    assert "submitted      no" in ran.out
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert shot.stat().st_mode & 0o777 == 0o600


@pytest.mark.browser
async def test_declined_without_a_rule_exits_1(
    tmp_path: Path, demo_site: DemoSite
) -> None:
    """No policy rule and no person: declined, exit 1, a hint on stderr."""
    async with embedded(
        [demo_site.vault_item()], workdir=tmp_path / "embedded", agent_name=AGENT
    ) as running:
        ran = await _sign_in(demo_site.url("plain"), running.approver.url, tmp_path)

    assert ran.status == ExitStatus.FAILED
    assert "status         declined" in ran.out
    assert "fields filled  -" in ran.out
    assert "blindfill: declined:" in ran.err
    assert "Traceback" not in ran.err
    _assert_no_secret(demo_site.account, ran.out, ran.err)


@pytest.mark.browser
async def test_unreachable_approver_exits_4(
    tmp_path: Path, demo_site: DemoSite
) -> None:
    """A paired side whose approver is gone: approver_unreachable, exit 4."""
    async with embedded([demo_site.vault_item()], workdir=tmp_path / "embedded"):
        pass  # pair, then stop the approver

    ran = await _sign_in(
        demo_site.url("plain"), f"http://127.0.0.1:{_free_port()}", tmp_path
    )

    assert ran.status == ExitStatus.ENVIRONMENT
    assert "status         approver_unreachable" in ran.out
    assert "could not reach the approver" in ran.err
    assert "Traceback" not in ran.err


@pytest.mark.browser
async def test_page_without_a_form_exits_1(
    tmp_path: Path, demo_site: DemoSite, approver: Embedded
) -> None:
    """The demo index has no login form: no_login_form, exit 1."""
    ran = await _sign_in(demo_site.base_url + "/", approver.approver.url, tmp_path)

    assert ran.status == ExitStatus.FAILED
    assert "status         no_login_form" in ran.out


@pytest.mark.browser
async def test_unreachable_page_is_a_clear_error(
    tmp_path: Path, approver: Embedded
) -> None:
    """A page nothing answers for: one error line, exit 4, no traceback."""
    url = f"http://127.0.0.1:{_free_port()}/login"
    ran = await _sign_in(url, approver.approver.url, tmp_path)

    assert ran.status == ExitStatus.ENVIRONMENT
    assert ran.out == ""
    assert f"[load_failed]: could not load {url}" in ran.err
    assert "ERR_CONNECTION_REFUSED" in ran.err
    assert "Traceback" not in ran.err


class _SlowDecliner(Prompt):
    """A person who takes `delay` seconds to say no."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def ask(self, question: PromptQuestion) -> str | None:
        await asyncio.sleep(self.delay)
        return None

    async def ask_unlock(self, question: UnlockQuestion) -> Secret[str] | None:
        return None

    async def tell(self, message: str) -> None:
        return None


@pytest.mark.browser
async def test_slow_approval_is_announced(
    tmp_path: Path,
    demo_site: DemoSite,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An approval slower than the threshold is announced once on stderr."""
    monkeypatch.setattr(signin_command, "slow_after_s", 0.3)
    async with embedded(
        [demo_site.vault_item()],
        workdir=tmp_path / "embedded",
        prompt=_SlowDecliner(1.5),
        agent_name=AGENT,
    ) as running:
        argv = _argv(demo_site.url("plain"), running.approver.url, tmp_path)
        status = await asyncio.to_thread(main, argv)

    captured = capsys.readouterr()
    assert status == ExitStatus.FAILED
    assert captured.err.count(signin_command.SLOW_NOTICE) == 1
    assert "status         declined" in captured.out


@pytest.fixture
def cdp_port(tmp_path: Path) -> Iterator[int]:
    """A headless Chromium that this test did not launch through
    Playwright, listening for CDP on 127.0.0.1."""
    executable = find_chromium()
    if executable is None:
        pytest.skip("no system Chromium to attach to")
    port = _free_port()
    args = [
        str(executable),
        "--headless=new",
        f"--remote-debugging-port={port}",
        f"--user-data-dir={tmp_path / 'profile'}",
        *CHROMIUM_ARGS,
    ]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    proc = subprocess.Popen(
        [*args, "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for_devtools(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _wait_for_devtools(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/json/version", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("Chromium did not open its DevTools port")


def _host_name_on_loopback() -> str:
    """This machine's name, if it resolves to a loopback address (so the
    test reaches nothing outside 127.0.0.0/8)."""
    name = socket.gethostname()
    try:
        address = socket.gethostbyname(name)
    except OSError:
        pytest.skip("this machine's name does not resolve")
    if not address.startswith("127.") or name == "localhost":
        pytest.skip("this machine's name does not resolve to loopback")
    return name


@pytest.mark.browser
async def test_attaches_over_cdp_by_host_name(
    tmp_path: Path, demo_site: DemoSite, approver: Embedded, cdp_port: int
) -> None:
    """--cdp with a host name (which DevTools itself would refuse) signs the
    running browser's first page in and leaves the browser running."""
    endpoint = f"http://{_host_name_on_loopback()}:{cdp_port}"
    ran = await _sign_in(
        demo_site.url("shadow_root"), approver.approver.url, tmp_path, "--cdp", endpoint
    )

    assert ran.status == ExitStatus.OK, ran.err
    assert "status         signed_in" in ran.out
    assert demo_site.signed_in("shadow_root") == demo_site.account.username
    async with httpx.AsyncClient() as client:
        pages = (await client.get(f"http://127.0.0.1:{cdp_port}/json/list")).json()
    assert [page["url"] for page in pages if page["type"] == "page"] == [
        demo_site.base_url + "/shadow-root/"
    ]


@pytest.mark.browser
async def test_nothing_listening_over_cdp_is_a_clear_error(
    tmp_path: Path, approver: Embedded
) -> None:
    """--cdp to a port nothing listens on: one error line, exit 4."""
    ran = await _sign_in(
        "http://127.0.0.1:9/",
        approver.approver.url,
        tmp_path,
        "--cdp",
        f"http://127.0.0.1:{_free_port()}",
    )

    assert ran.status == ExitStatus.ENVIRONMENT
    assert "[cdp_unreachable]" in ran.err
    assert "Traceback" not in ran.err
