"""The shim's isolated world: page scripts cannot reach or bend it."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

from blindfill.agent.browser import CHROMIUM_ARGS, find_chromium
from blindfill.agent.forms import FieldRole, FormKind, best_form
from blindfill.agent.session import ShimSession
from blindfill.agent.shim import BINDING_NAME, HANDLE_KEY, shim_path, shim_source
from blindfill.sensitive import Secret
from tests.agent.conftest import Site

pytestmark = pytest.mark.browser

PASSWORD = "tamper-test-pass-41"


async def test_security_case_14_prototype_overrides(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """Security case 14: overridden DOM prototypes neither blind nor steer the shim."""
    await page.goto(site.add_file("prototype_tamper.html"))
    form = best_form(await shim.detect())
    assert form is not None
    assert form.kind is FormKind.LOGIN
    outcome = await shim.fill(
        form,
        {FieldRole.USERNAME: Secret("bob"), FieldRole.PASSWORD: Secret(PASSWORD)},
    )
    assert outcome.ok
    assert set(outcome.kept) == {FieldRole.USERNAME, FieldRole.PASSWORD}
    # The page's value setter never saw the values, and none of its traps ran.
    assert await page.evaluate("window.stolen") == []
    assert await page.evaluate("window.calls") == 0


async def test_security_case_14_binding_and_handle_unreachable(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """Security case 14: page code finds neither the binding nor the shim's handle."""
    await page.goto(site.add("<form><input name=user><input type=password></form>"))
    assert await shim.detect()
    found = await page.evaluate(
        """([binding, handle]) => ({
            binding: typeof window[binding],
            handle: typeof window[handle],
            names: Object.getOwnPropertyNames(window)
                .filter(n => /blindfill/i.test(n)),
            symbols: Object.getOwnPropertySymbols(window).map(String),
        })""",
        [BINDING_NAME, HANDLE_KEY],
    )
    assert found == {
        "binding": "undefined",
        "handle": "undefined",
        "names": [],
        "symbols": [],
    }


def test_shim_file_shape() -> None:
    """shim.js is one strict-mode function scope with lines under 100 columns."""
    source = shim_source()
    body = [line for line in source.splitlines() if line and not line.startswith("//")]
    assert body[0] == "(() => {"
    assert body[1].strip() == "'use strict';"
    assert body[-1] == "})();"
    assert max(len(line) for line in source.splitlines()) < 100
    # Nothing declared at the top level: every statement is inside the arrow.
    assert not re.search(r"^(?:var|let|const|function|class) ", source, re.M)
    assert shim_path().name == "shim.js"


def test_manifest_loads_the_same_file() -> None:
    """The debug extension's manifest runs shim.js in an isolated world."""
    import json

    manifest_path = (
        Path(__file__).resolve().parents[2] / "extension_shim" / "manifest.json"
    )
    manifest = json.loads(manifest_path.read_text())
    assert manifest["manifest_version"] == 3
    script = manifest["content_scripts"][0]
    assert script["js"] == ["shim.js"]
    assert script["world"] == "ISOLATED"
    assert script["all_frames"] is True


async def test_attach_over_cdp_to_a_browser_blindfill_did_not_launch(
    site: Site, tmp_path: Path
) -> None:
    """connect_over_cdp: a separately started Chromium gets the shim in every frame."""
    executable = find_chromium()
    if executable is None:
        pytest.skip("no system Chromium to start separately")
    args = [
        str(executable),
        "--headless=new",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        f"--user-data-dir={tmp_path / 'profile'}",
        *CHROMIUM_ARGS,
        "about:blank",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")
    log_path = tmp_path / "chromium.log"
    with log_path.open("w") as log_file:
        process = await asyncio.create_subprocess_exec(
            *args, stderr=log_file, stdout=subprocess.DEVNULL
        )
    try:
        endpoint = await _devtools_endpoint(process, log_path)
        child = site.add(
            "<h1>Sign in</h1><form><input name=username><input type=password>"
            "<button>Sign in</button></form>",
            host="localhost",
        )
        top = site.add(f"<iframe src='{child}' width=600 height=300></iframe>")
        async with async_playwright() as playwright:
            browser = await playwright.chromium.connect_over_cdp(endpoint)
            context = browser.contexts[0]
            page = context.pages[0] if context.pages else await context.new_page()
            shim = await ShimSession.attach(context)
            await page.goto(top)
            form = best_form(await shim.detect())
            assert form is not None
            assert form.origin == site.origin("localhost")
            outcome = await shim.fill(form, {FieldRole.USERNAME: Secret("carol")})
            assert outcome.ok
            await shim.close()
            await browser.close()
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


async def _devtools_endpoint(
    process: asyncio.subprocess.Process, log_path: Path
) -> str:
    """Wait until Chromium's log names its DevTools port (at most 20 s)."""
    for _ in range(200):
        found = re.search(
            r"DevTools listening on ws://([\d.]+:\d+)/",
            await asyncio.to_thread(log_path.read_text, errors="replace"),
        )
        if found:
            return f"http://{found.group(1)}"
        if process.returncode is not None:
            break
        await asyncio.sleep(0.1)
    raise AssertionError("Chromium did not open a DevTools port")
