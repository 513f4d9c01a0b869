"""Serving the demo site on 127.0.0.1: lifecycle and HTTP over a socket."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import pytest

from blindfill.demo import MAX_BODY_BYTES, DemoSite, Step
from blindfill.errors import EnvironmentFault, LocalProtocolError, UsageError


def test_base_url_is_loopback_with_a_free_port(site: DemoSite) -> None:
    """The site listens on 127.0.0.1 on a port chosen by the system."""
    parts = urlsplit(site.base_url)

    assert parts.scheme == "http"
    assert parts.hostname == "127.0.0.1"
    assert parts.port is not None
    assert parts.port > 0
    assert site.url("two_step") == site.base_url + "/two-step/"


def test_page_list_names_each_flow_and_its_steps(site: DemoSite) -> None:
    """The six pages are listed with the steps each takes, in order."""
    steps = {page.name: page.steps for page in site.pages}

    assert steps == {
        "plain": (Step.LOGIN,),
        "two_step": (Step.USERNAME_STEP, Step.PASSWORD_STEP),
        "iframe": (Step.LOGIN,),
        "shadow_root": (Step.LOGIN,),
        "react": (Step.LOGIN,),
        "totp": (Step.LOGIN, Step.ONE_TIME_CODE),
    }
    assert steps["totp"] == ("login", "one_time_code")
    with pytest.raises(UsageError):
        site.page("nonexistent")


def test_every_page_and_static_file_loads(site: DemoSite) -> None:
    """Every page's first step and every file it loads answer 200."""
    with httpx.Client(base_url=site.base_url) as client:
        for page in site.pages:
            assert client.get(page.path).status_code == 200
        for name in (
            "demo.css",
            "favicon.svg",
            "shadow-login.js",
            "react-login.js",
            "react.production.min.js",
            "react-dom.production.min.js",
            "LICENSE-react.txt",
        ):
            reply = client.get(f"/static/{name}")
            assert reply.status_code == 200, name
            assert reply.content


def test_oversized_post_is_refused_with_400(site: DemoSite) -> None:
    """A POST body over the limit is refused with 400, whether its length
    is declared or it arrives chunked."""
    big = b"username=a&password=" + b"p" * MAX_BODY_BYTES
    headers = {"content-type": "application/x-www-form-urlencoded"}

    def chunked() -> object:
        yield big[:100]
        yield big[100:]

    with httpx.Client(base_url=site.base_url) as client:
        declared = client.post("/plain/", content=big, headers=headers)
        streamed = client.post("/plain/", content=chunked(), headers=headers)  # type: ignore[arg-type]

    assert declared.status_code == 400
    assert "too large" in declared.text
    assert streamed.status_code == 400


def test_malformed_post_is_refused_with_400(site: DemoSite) -> None:
    """A POST that is not a well-formed form with the expected fields is
    refused with 400."""
    with httpx.Client(base_url=site.base_url) as client:
        as_json = client.post("/plain/", json={"username": "a", "password": "b"})
        extra = client.post(
            "/plain/", data={"username": "a", "password": "b", "x": "1"}
        )
        bad_escape = client.post(
            "/plain/",
            content=b"username=%ZZ&password=%",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )

    assert as_json.status_code == 400
    assert extra.status_code == 400
    # `%ZZ` stays literal under form decoding rules, a lone `%` too: both are
    # merely wrong credentials, not malformed.
    assert bad_escape.status_code == 401


def test_garbage_http_is_refused_with_400_and_the_site_keeps_serving(
    site: DemoSite,
) -> None:
    """Bytes that are not HTTP get a 400 from the server, and the next
    request is served normally."""
    parts = urlsplit(site.base_url)
    assert parts.hostname is not None
    assert parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(b"\x00\x01 not http at all\r\n\r\n")
        answer = sock.recv(1024)

    assert answer.startswith(b"HTTP/1.1 400")
    assert httpx.get(site.base_url + "/").status_code == 200


def test_lifecycle_errors_are_clear() -> None:
    """`base_url` before start or after stop, and a second start, raise
    LocalProtocolError; stopping twice is harmless."""
    site = DemoSite()
    with pytest.raises(LocalProtocolError):
        _ = site.base_url

    site.start()
    try:
        with pytest.raises(LocalProtocolError):
            site.start()
        assert site.running
    finally:
        site.stop()
    site.stop()

    assert not site.running
    with pytest.raises(LocalProtocolError):
        _ = site.base_url


def test_busy_port_is_an_environment_fault(site: DemoSite) -> None:
    """Asking for a port already in use fails with code port_unavailable."""
    port = urlsplit(site.base_url).port
    assert port is not None

    with pytest.raises(EnvironmentFault) as caught:
        DemoSite(port=port).start()

    assert caught.value.code == "port_unavailable"


def test_stop_closes_idle_keep_alive_connections() -> None:
    """A client holding a keep-alive connection does not keep the site from
    stopping, and stopping leaves no warning behind."""
    with DemoSite() as site, httpx.Client(base_url=site.base_url) as client:
        assert client.get("/").status_code == 200
        site.stop()
        with pytest.raises(httpx.TransportError):
            client.get("/")


async def test_async_context_manager_serves_and_stops() -> None:
    """`async with DemoSite()` serves while inside and stops on exit."""
    async with DemoSite() as site, httpx.AsyncClient() as client:
        reply = await client.get(site.url("plain"))
        url = site.base_url

    assert reply.status_code == 200
    assert 'autocomplete="current-password"' in reply.text
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.TransportError):
            await client.get(url + "/")


def test_account_can_be_given(site: DemoSite) -> None:
    """A site made with a given account accepts exactly that account."""
    with DemoSite(site.account) as other, httpx.Client() as client:
        ok = client.post(
            other.url("plain"),
            data={
                "username": site.account.username,
                "password": site.account.password.reveal(),
            },
        )

    assert ok.status_code == 200
    assert f"Signed in as <strong>{site.account.username}" in ok.text


def test_repr_shows_url_and_username_only(site: DemoSite) -> None:
    """The site's repr names where it runs and the username, no secret."""
    text = repr(site)

    assert site.base_url in text
    assert site.account.username in text
    assert site.account.password.reveal() not in text
