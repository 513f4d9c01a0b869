"""Filling: values reach framework-controlled inputs, and only where they belong."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page
from structlog.testing import capture_logs

import blindfill.demo
from blindfill.agent.forms import (
    DetectedForm,
    FieldRole,
    FillStatus,
    FormKind,
    SubmitMethod,
    best_form,
)
from blindfill.agent.session import ShimSession
from blindfill.errors import DetectionError, LocalProtocolError
from blindfill.log import configure_logging
from blindfill.sensitive import Secret
from tests.agent.conftest import Site

pytestmark = pytest.mark.browser

USER = "alice@example.test"
PASSWORD = "correct horse battery staple 7"  # a test value, never a real one

# A faithful model of React's input value tracking: React redefines `value` on
# the input element itself, records every value set through it, and on an
# `input` event ignores the change when the field's real value equals the
# recorded one. A fill that assigns `.value` through the page's own wrapper is
# therefore lost; only the prototype's native setter gets through.
TRACKED = """<!doctype html><h1>Sign in</h1>
<form id=f onsubmit="event.preventDefault(); window.submitted = {...state};">
  <input id=u name=username autocomplete=username>
  <input id=p type=password name=password>
  <button id=go type=submit>Sign in</button>
</form>
<script>
window.state = {username: '', password: '', changes: 0};
const native = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value');
for (const input of document.querySelectorAll('#u, #p')) {
  let tracked = native.get.call(input);
  Object.defineProperty(input, 'value', {
    configurable: true,
    get() { return native.get.call(this); },
    set(v) { tracked = String(v); native.set.call(this, v); },
  });
  input.addEventListener('input', () => {
    const now = native.get.call(input);
    if (now === tracked) return;  // React: "value did not change", no onChange
    tracked = now;
    state[input.name] = now;
    state.changes += 1;
    input.value = state[input.name];  // controlled re-render writes state back
  });
}
</script>"""


async def login_form(
    page: Page, shim: ShimSession, site: Site, html: str
) -> DetectedForm:
    await page.goto(site.add(html))
    form = best_form(await shim.detect())
    assert form is not None
    return form


def secrets(user: str = USER, password: str = PASSWORD) -> dict[FieldRole, Secret[str]]:
    return {
        FieldRole.USERNAME: Secret(user, kind="username"),
        FieldRole.PASSWORD: Secret(password, kind="password"),
    }


async def test_tracked_inputs_take_the_value(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """Values set with the native setter pass React-style value tracking."""
    form = await login_form(page, shim, site, TRACKED)
    outcome = await shim.fill(form, secrets())
    assert outcome.ok
    assert (
        set(outcome.filled)
        == set(outcome.kept)
        == {FieldRole.USERNAME, FieldRole.PASSWORD}
    )
    state = await page.evaluate("({...window.state})")
    assert state == {"username": USER, "password": PASSWORD, "changes": 2}


async def test_the_tracking_model_rejects_naive_fills(page: Page, site: Site) -> None:
    """Control: assigning .value in the page's world is ignored by the model."""
    await page.goto(site.add(TRACKED))
    await page.evaluate(
        "() => { const u = document.getElementById('u'); u.value = 'x';"
        " u.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    assert await page.evaluate("window.state.changes") == 0


def react_files() -> tuple[bytes, bytes]:
    """React 18.3.1 and ReactDOM production UMD builds, unchanged from the npm
    registry, as the demo site ships them (see docs/decisions.md)."""
    static = Path(blindfill.demo.__file__).parent / "static"
    return (
        (static / "react.production.min.js").read_bytes(),
        (static / "react-dom.production.min.js").read_bytes(),
    )


async def test_real_react_controlled_inputs(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """React 18 itself sees filled values in its state and submits them."""
    files = react_files()
    site.add_raw("/react.js", files[0], "text/javascript")
    site.add_raw("/react-dom.js", files[1], "text/javascript")
    html = """<!doctype html><div id=root></div>
<script src=/react.js></script><script src=/react-dom.js></script>
<script>
const e = React.createElement;
function Login() {
  const [user, setUser] = React.useState('');
  const [pw, setPw] = React.useState('');
  const submit = (ev) => { ev.preventDefault(); window.submitted = {user, pw}; };
  return e('form', {onSubmit: submit},
    e('h1', null, 'Sign in'),
    e('input', {name: 'username', autoComplete: 'username', value: user,
                onChange: (ev) => setUser(ev.target.value)}),
    e('input', {type: 'password', name: 'password', value: pw,
                onChange: (ev) => setPw(ev.target.value)}),
    e('button', {type: 'submit'}, 'Sign in'));
}
ReactDOM.createRoot(document.getElementById('root')).render(e(Login));
</script>"""
    await page.goto(site.add(html))
    form = best_form(await shim.wait_for_forms(5))
    assert form is not None
    assert (await shim.fill(form, secrets())).ok
    assert await shim.submit(form) is SubmitMethod.BUTTON
    await page.wait_for_function("window.submitted !== undefined")
    assert await page.evaluate("window.submitted") == {"user": USER, "pw": PASSWORD}


async def test_only_named_fields_are_filled(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """A fill naming the username leaves the password field empty."""
    form = await login_form(page, shim, site, TRACKED)
    outcome = await shim.fill(form, {FieldRole.USERNAME: Secret(USER)})
    assert outcome.filled == (FieldRole.USERNAME,)
    values = await page.evaluate(
        "[u.value, p.value, document.querySelectorAll('input').length]"
    )
    assert values == [USER, "", 2]


async def test_role_the_form_lacks_is_refused(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """Asking to fill a role the form has no field for raises before anything is set."""
    form = await login_form(
        page,
        shim,
        site,
        "<h1>Sign in</h1><form><input name=username autocomplete=username>"
        "<button>Next</button></form>",
    )
    assert form.kind is FormKind.USERNAME_STEP
    with pytest.raises(LocalProtocolError) as raised:
        await shim.fill(form, secrets())
    assert raised.value.code == "role_not_in_form"
    assert await page.evaluate("document.querySelector('input').value") == ""


@pytest.mark.parametrize(
    ("attribute", "status"),
    [
        ("readonly", FillStatus.FIELD_LOCKED),
        ("disabled", FillStatus.FIELD_LOCKED),
        ("maxlength=8", FillStatus.VALUE_TOO_LONG),
    ],
)
async def test_locked_or_short_fields_stop_the_whole_fill(
    page: Page, shim: ShimSession, site: Site, attribute: str, status: FillStatus
) -> None:
    """readonly, disabled and a too-small maxlength refuse; no field is touched."""
    form = await login_form(page, shim, site, TRACKED)
    await page.evaluate(
        "a => { const [k, v] = a.split('='); p.setAttribute(k, v || ''); }", attribute
    )
    outcome = await shim.fill(form, secrets())
    assert outcome.status is status
    assert outcome.failed_role is FieldRole.PASSWORD
    assert await page.evaluate("[u.value, p.value]") == ["", ""]


async def test_navigation_between_detect_and_fill(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """A reload or navigation after detection discards the fill."""
    url = site.add(TRACKED)
    await page.goto(url)
    form = best_form(await shim.detect())
    assert form is not None
    await page.reload()
    outcome = await shim.fill(form, secrets())
    assert outcome.status is FillStatus.DOCUMENT_CHANGED
    assert await page.evaluate("[u.value, p.value]") == ["", ""]
    with pytest.raises(DetectionError):
        await shim.submit(form)


async def test_form_action_reads_the_real_attributes(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """form_action: resolved URL, formaction wins, an input named action is ignored."""
    form = await login_form(
        page,
        shim,
        site,
        "<h1>Sign in</h1><form action='/session' method=post>"
        "<input name=action value=x><input name=username>"
        "<input type=password name=pw><button>Sign in</button></form>",
    )
    action = await shim.form_action(form)
    assert action.url == site.origin() + "/session"
    assert action.origin == site.origin()
    assert action.method == "post"
    assert not action.via_button
    await page.evaluate(
        "u => document.querySelector('button').setAttribute('formaction', u)",
        "https://elsewhere.test/steal",
    )
    action = await shim.form_action(form)
    assert action.url == "https://elsewhere.test/steal"
    assert action.origin == "https://elsewhere.test"
    assert action.via_button


async def test_submit_without_button_and_clear(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """Without a button a <form> is submitted directly; clear empties the fields."""
    form = await login_form(
        page,
        shim,
        site,
        "<h1>Log in</h1><form onsubmit='event.preventDefault(); window.sent = 1'>"
        "<input name=username><input type=password name=pw></form>",
    )
    assert (await shim.fill(form, secrets())).ok
    assert await shim.clear(form) == 2
    values = "[...document.querySelectorAll('input')].map(i => i.value)"
    assert await page.evaluate(values) == ["", ""]
    assert (await shim.fill(form, secrets())).ok
    assert await shim.submit(form) is SubmitMethod.REQUEST_SUBMIT
    await page.wait_for_function("window.sent === 1")


async def test_submit_fields_outside_form_with_enter(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """Fields outside a <form> with no button get a real Enter key in the last one."""
    form = await login_form(
        page,
        shim,
        site,
        "<div><h1>Log in</h1><input name=username><input type=password name=pw"
        " onkeydown=\"if (event.key === 'Enter' && event.isTrusted) window.sent = 1\">"
        "</div>",
    )
    assert (await shim.fill(form, secrets())).ok
    assert await shim.submit(form) is SubmitMethod.ENTER
    await page.wait_for_function("window.sent === 1")


async def test_values_never_reach_logs_or_reprs(
    page: Page, shim: ShimSession, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    """No filled value appears in log events, rendered logs, reprs or output."""
    rendered = io.StringIO()
    configure_logging(level="debug", stream=rendered)
    try:
        form = await login_form(page, shim, site, TRACKED)
        with capture_logs() as logs:
            outcome = await shim.fill(form, secrets())
            await shim.submit(form)
        outcome_again = await shim.fill(form, secrets())  # rendered this time
    finally:
        configure_logging(level="warning", stream=sys.__stderr__)
    assert outcome.ok
    assert outcome_again.status is not None
    assert any(event["event"] == "fill.completed" for event in logs)
    assert "fill." in rendered.getvalue()
    captured = capsys.readouterr()
    seen = json.dumps(logs, default=repr) + repr(outcome) + repr(form)
    seen += rendered.getvalue() + captured.out + captured.err
    assert USER not in seen
    assert PASSWORD not in seen


async def test_masked_text_box_takes_a_password(
    page: Page, shim: ShimSession, site: Site
) -> None:
    """A text box masked with -webkit-text-security is a password field."""
    form = await login_form(
        page,
        shim,
        site,
        "<h1>Sign in</h1><form><input name=user autocomplete=username>"
        "<input name=secret style='-webkit-text-security: disc'>"
        "<button>Sign in</button></form>",
    )
    assert form.roles == (FieldRole.USERNAME, FieldRole.PASSWORD)
    assert (await shim.fill(form, secrets())).ok
    assert (
        await page.evaluate("document.getElementsByName('secret')[0].value") == PASSWORD
    )


async def test_malformed_shim_answers_are_detection_errors(
    page: Page, shim: ShimSession, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shim answer of the wrong shape skips the frame in detect and is a
    DetectionError from fill and submit, never another exception."""
    form = await login_form(page, shim, site, TRACKED)
    garbled: dict[str, dict[str, Any]] = {
        "describe": {"forms": [{"kind": "login", "id": "f", "fields": [{}]}]},
        "fill": {"status": "ok", "filled": [{"role": "nickname"}]},
        "submit": {"status": "ok", "method": "teleport"},
    }

    async def answer(
        self: ShimSession, node: object, request: dict[str, Any], **_: object
    ) -> dict[str, Any]:
        return garbled[request["type"]]

    monkeypatch.setattr(ShimSession, "_call", answer)
    assert await shim.detect() == []
    with pytest.raises(DetectionError) as raised:
        await shim.fill(form, secrets())
    assert raised.value.code == "shim_bad_answer"
    with pytest.raises(DetectionError) as raised:
        await shim.submit(form)
    assert raised.value.code == "shim_bad_answer"
