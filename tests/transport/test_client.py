"""ApproverTransport: every failure becomes one of the project's errors."""

from __future__ import annotations

import socket

import pytest
from structlog.testing import capture_logs

from blindfill.errors import (
    ApproverUnreachableError,
    RateLimitedError,
    RemoteProtocolError,
    TimeoutFault,
    UsageError,
)
from blindfill.transport import ApproverTransport, check_approver_url
from blindfill.transport.protocol import FILL_PATH, FRAME_CONTENT_TYPE, PAIR_PATH
from blindfill.transport.server import (
    HttpApp,
    HttpRequest,
    HttpResponse,
    Route,
    serve_http,
    text_response,
)

from .helpers import raw_server

FRAME = b"\x01\x10" + bytes(range(200))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answering(response: HttpResponse) -> HttpApp:
    async def handler(request: HttpRequest) -> HttpResponse:
        return response

    return HttpApp(
        [
            Route("POST", FILL_PATH, handler, max_body=70_000),
            Route("POST", PAIR_PATH, handler, max_body=70_000),
        ]
    )


async def test_closed_port_is_unreachable() -> None:
    """Nothing listening: ApproverUnreachableError, with a hint."""
    async with ApproverTransport(f"http://127.0.0.1:{_free_port()}") as transport:
        with pytest.raises(ApproverUnreachableError) as caught:
            await transport.post_fill(FRAME, answer_timeout=2)
    assert caught.value.code == "approver_unreachable"
    assert caught.value.hint


async def test_silent_server_times_out() -> None:
    """A server that never answers: TimeoutFault saying nothing was filled."""
    async with (
        raw_server("silent") as port,
        ApproverTransport(f"http://127.0.0.1:{port}") as transport,
    ):
        with pytest.raises(TimeoutFault) as caught:
            await transport.post_fill(FRAME, answer_timeout=0.3)
    assert "nothing was filled" in str(caught.value)


async def test_hangup_is_a_lost_connection() -> None:
    """A connection closed without an answer: ApproverUnreachableError."""
    async with (
        raw_server("hangup") as port,
        ApproverTransport(f"http://127.0.0.1:{port}") as transport,
    ):
        with pytest.raises(ApproverUnreachableError) as caught:
            await transport.post_pairing(FRAME, answer_timeout=2)
    assert caught.value.code == "approver_connection_lost"


@pytest.mark.parametrize(
    ("response", "error", "code"),
    [
        (text_response(429, "busy"), RateLimitedError, "approver_busy"),
        (
            text_response(503, "closing"),
            ApproverUnreachableError,
            "approver_unavailable",
        ),
        (text_response(500, "oops"), RemoteProtocolError, "http_status"),
        (
            HttpResponse(200, b"", FRAME_CONTENT_TYPE),
            RemoteProtocolError,
            "http_status",
        ),
    ],
)
async def test_answers_without_a_frame_become_errors(
    response: HttpResponse, error: type[Exception], code: str
) -> None:
    """A status without a frame body maps to a clear error by its status."""
    async with (
        serve_http(_answering(response)) as bound,
        ApproverTransport(bound.url) as transport,
    ):
        with pytest.raises(error) as caught:
            await transport.post_fill(FRAME, answer_timeout=5)
    assert getattr(caught.value, "code", None) == code


async def test_not_an_approver() -> None:
    """A server without the endpoint (404) is not an approver."""
    async with serve_http(HttpApp([])) as bound, ApproverTransport(bound.url) as t:
        with pytest.raises(ApproverUnreachableError) as caught:
            await t.post_fill(FRAME, answer_timeout=5)
    assert caught.value.code == "not_an_approver"


async def test_refusal_frames_are_handed_back_whatever_the_status() -> None:
    """A frame in a 403 answer is returned: only the channel may judge it."""
    notice = b"\x01\x20" + bytes(24) + b"\x00\x01\x02"
    response = HttpResponse(403, notice, FRAME_CONTENT_TYPE)
    async with (
        serve_http(_answering(response)) as bound,
        ApproverTransport(bound.url) as transport,
    ):
        assert await transport.post_fill(FRAME, answer_timeout=5) == notice


async def test_oversized_answers_are_refused() -> None:
    """An answer bigger than a frame is refused while reading it."""
    response = HttpResponse(200, bytes(66_000), FRAME_CONTENT_TYPE)
    async with (
        serve_http(_answering(response)) as bound,
        ApproverTransport(bound.url) as transport,
    ):
        with pytest.raises(RemoteProtocolError) as caught:
            await transport.post_fill(FRAME, answer_timeout=5)
    assert caught.value.code == "frame_too_large"


async def test_logs_carry_no_payload() -> None:
    """Debug logs name the endpoint and sizes, never the bytes."""
    marker = b"PAYLOAD-MARKER-" * 10
    response = HttpResponse(200, marker, FRAME_CONTENT_TYPE)
    async with (
        serve_http(_answering(response)) as bound,
        ApproverTransport(bound.url) as transport,
    ):
        with capture_logs() as logs:
            await transport.post_fill(marker, answer_timeout=5)
    assert logs, "the transport logs each exchange"
    text = repr(logs)
    assert "PAYLOAD-MARKER" not in text
    assert marker.hex()[:40] not in text


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1:7355",
        "127.0.0.1:7355",
        "http://",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:7355/?x=1",
        "http://user:pw@127.0.0.1:7355",
    ],
)
def test_bad_urls_are_usage_errors(url: str) -> None:
    """A URL that cannot name an approver is refused before any I/O."""
    with pytest.raises(UsageError):
        check_approver_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://user:hunter2@127.0.0.1:99999",
        "ftp://user:hunter2@127.0.0.1:7355",
        "http://user:hunter2@[::1:7355",
        "http://user:hunter2@127.0.0.1:7355",
    ],
    ids=["bad-port", "bad-scheme", "bad-ipv6", "user-info"],
)
def test_refused_urls_never_repeat_a_password(url: str) -> None:
    """A password in a refused URL's user info stays out of the message."""
    with pytest.raises(UsageError) as caught:
        check_approver_url(url)
    assert "hunter2" not in str(caught.value) + repr(caught.value)


def test_good_urls_lose_their_trailing_slash() -> None:
    """A trailing slash does not double the endpoint's slash."""
    assert check_approver_url("http://127.0.0.1:7355/") == "http://127.0.0.1:7355"
    assert check_approver_url("https://[::1]:8443/bf") == "https://[::1]:8443/bf"
