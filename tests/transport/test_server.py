"""HttpApp and serve_http: limits, refusals and cancellation, over real HTTP."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from structlog.testing import capture_logs

from blindfill.errors import EnvironmentFault
from blindfill.transport.server import (
    HttpApp,
    HttpRequest,
    HttpResponse,
    Route,
    is_loopback_host,
    serve_http,
    text_response,
)

from .helpers import raw_exchange, status_of

LIMIT = 1000


class Recorder:
    """Handlers that record what reached them."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.cancelled = asyncio.Event()

    async def echo(self, request: HttpRequest) -> HttpResponse:
        self.bodies.append(request.body)
        return HttpResponse(200, request.body, "application/octet-stream")

    async def hang(self, request: HttpRequest) -> HttpResponse:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return text_response(200, "never")

    async def boom(self, request: HttpRequest) -> HttpResponse:
        raise RuntimeError("secret-internal-detail")

    def app(self) -> HttpApp:
        octet = "application/octet-stream"
        return HttpApp(
            [
                Route("POST", "/echo", self.echo, max_body=LIMIT, content_type=octet),
                Route("POST", "/hang", self.hang, max_body=LIMIT),
                Route("GET", "/boom", self.boom, max_body=0),
            ]
        )


async def test_small_bodies_reach_the_handler() -> None:
    """A body within the limit is read whole and handed over."""
    recorder = Recorder()
    async with serve_http(recorder.app()) as bound, httpx.AsyncClient() as client:
        response = await client.post(
            bound.url + "/echo",
            content=b"x" * LIMIT,
            headers={"content-type": "application/octet-stream"},
        )
    assert response.status_code == 200
    assert recorder.bodies == [b"x" * LIMIT]


async def test_content_length_over_the_limit_is_refused_before_reading() -> None:
    """413 comes back although no body byte was ever sent."""
    recorder = Recorder()
    head = (
        b"POST /echo HTTP/1.1\r\nhost: x\r\n"
        b"content-type: application/octet-stream\r\n"
        b"content-length: 50000000\r\n\r\n"
    )
    async with serve_http(recorder.app()) as bound:
        response = await raw_exchange(bound.port, head)
    assert status_of(response) == 413
    assert b"connection: close" in response.lower()
    assert recorder.bodies == []


async def test_chunked_bodies_are_counted_while_reading() -> None:
    """A chunked body is refused as soon as it passes the limit."""
    recorder = Recorder()
    chunk = b"y" * 600
    request = (
        b"POST /echo HTTP/1.1\r\nhost: x\r\n"
        b"content-type: application/octet-stream\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
        + (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        * 3
    )
    async with serve_http(recorder.app()) as bound:
        response = await raw_exchange(bound.port, request)
    assert status_of(response) == 413
    assert recorder.bodies == []


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("POST", "/echo", {"content-type": "text/plain"}, 415),
        ("POST", "/echo", {}, 415),
        ("GET", "/echo", {}, 405),
        ("POST", "/nowhere", {}, 404),
    ],
)
async def test_wrong_requests_get_clear_statuses(
    method: str, path: str, headers: dict[str, str], status: int
) -> None:
    """Wrong type, method or path: a status and a line of text, no handler."""
    recorder = Recorder()
    async with serve_http(recorder.app()) as bound, httpx.AsyncClient() as client:
        response = await client.request(
            method, bound.url + path, content=b"abc", headers=headers
        )
    assert response.status_code == status
    assert response.text.strip()
    assert recorder.bodies == []


async def test_bad_content_length_is_refused() -> None:
    """A Content-Length that is not a number gets 400 (or h11's own 400)."""
    recorder = Recorder()
    head = (
        b"POST /echo HTTP/1.1\r\nhost: x\r\n"
        b"content-type: application/octet-stream\r\n"
        b"content-length: lots\r\n\r\n"
    )
    async with serve_http(recorder.app()) as bound:
        response = await raw_exchange(bound.port, head)
    assert status_of(response) == 400
    assert recorder.bodies == []


async def test_a_failing_handler_is_a_plain_500(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """An exception becomes 500 and one event naming its type; no traceback."""
    recorder = Recorder()
    with capture_logs() as logs:
        async with serve_http(recorder.app()) as bound, httpx.AsyncClient() as c:
            response = await c.get(bound.url + "/boom")
    assert response.status_code == 500
    assert "secret-internal-detail" not in response.text
    failures = [e for e in logs if e["event"] == "http.handler_failed"]
    assert failures
    assert failures[0]["error"] == "RuntimeError"
    assert "secret-internal-detail" not in repr(logs)
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out


async def test_a_client_that_leaves_cancels_its_handler() -> None:
    """When the client disconnects, the waiting handler is cancelled."""
    recorder = Recorder()
    async with serve_http(recorder.app()) as bound:
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.post(bound.url + "/hang", content=b"a", timeout=0.3)
        async with asyncio.timeout(5):
            await recorder.cancelled.wait()
    assert recorder.cancelled.is_set()


async def test_an_address_in_use_is_an_environment_fault() -> None:
    """Binding a taken port is a clear error, not uvicorn's sys.exit."""
    async with serve_http(HttpApp([])) as bound:
        with pytest.raises(EnvironmentFault) as caught:
            async with serve_http(HttpApp([]), port=bound.port):
                pass
    assert caught.value.code == "address_in_use"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104 (a value under test)
        ("192.168.1.10", False),
        ("::", False),
        ("example.test", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    """Only loopback addresses and `localhost` count as loopback."""
    assert is_loopback_host(host) is loopback


async def test_a_query_with_too_many_fields_is_refused() -> None:
    """More than 16 query fields: 400, not a crash."""
    recorder = Recorder()
    query = "&".join(f"k{i}=v" for i in range(40))
    async with serve_http(recorder.app()) as bound, httpx.AsyncClient() as client:
        response = await client.post(
            f"{bound.url}/echo?{query}",
            content=b"abc",
            headers={"content-type": "application/octet-stream"},
        )
    assert response.status_code == 400
    assert recorder.bodies == []
