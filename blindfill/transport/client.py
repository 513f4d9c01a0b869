"""The browser side's HTTP client: post a frame, get a frame back.

`ApproverTransport` moves bytes and nothing else: it does not parse frames
or know about keys. Every httpx exception is translated in one place,
`_translated`, raised `from` the original, so none of httpx's types leaves
this module:

    httpx                                   blindfill
    ConnectError, ConnectTimeout,           ApproverUnreachableError
    network errors, a connection closed
    without an answer
    ReadTimeout, WriteTimeout, PoolTimeout  TimeoutFault
    InvalidURL, UnsupportedProtocol         UsageError

A response that carries a frame (`application/octet-stream`, whatever its
status) is handed back as bytes: the channel decides what it means, because
only the frame is authenticated. A response without a frame becomes an
error from its status (see `blindfill.transport.protocol`). Response bodies
are read with the same bound as requests. Logs name the endpoint, the
status and sizes, never a byte of a payload.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from blindfill.errors import (
    ApproverUnreachableError,
    BlindfillError,
    RateLimitedError,
    RemoteProtocolError,
    TimeoutFault,
    UsageError,
)
from blindfill.log import get_logger
from blindfill.transport.protocol import (
    FILL_PATH,
    FRAME_CONTENT_TYPE,
    MAX_FRAME_SIZE,
    PAIR_PATH,
)

__all__ = [
    "CONNECT_TIMEOUT_S",
    "ApproverTransport",
    "check_approver_url",
    "translated_httpx_errors",
]

CONNECT_TIMEOUT_S: Final = 5.0
_WRITE_TIMEOUT_S: Final = 10.0


def _log() -> Any:
    return get_logger("blindfill.transport")


def check_approver_url(url: str) -> str:
    """`url` without a trailing slash, if it is an http(s) URL with a host.

    Raises `UsageError` otherwise. A path is kept (a reverse proxy may
    serve the approver under one); a query or fragment is refused. A
    refused URL is repeated in the message only when it holds no `@`: user
    info may carry a password.
    """
    shown = "the approver URL" if "@" in url else repr(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(
            f"{shown} is not a valid approver URL",
            hint="give it as http://127.0.0.1:7355",
        ) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"{shown} is not an http(s) URL with a host",
            hint="give it as http://127.0.0.1:7355",
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise UsageError(
            "the approver URL must not carry a query, fragment or user name",
            hint="give it as http://127.0.0.1:7355",
        )
    del port  # only checked for being a number
    return url.rstrip("/")


@contextlib.contextmanager
def translated_httpx_errors(url: str, *, timeout: float) -> Iterator[None]:
    """Re-raise httpx exceptions from the block as blindfill errors.

    The one seam between httpx and the rest of blindfill; the admin client
    of `blindfill approver pair` uses it too.
    """
    try:
        yield
    except httpx.ConnectTimeout as exc:
        raise ApproverUnreachableError(
            f"the approver at {url} did not accept a connection within "
            f"{CONNECT_TIMEOUT_S:.0f} s",
            hint="check the URL and that `blindfill approver serve` runs there",
        ) from exc
    except httpx.TimeoutException as exc:
        raise TimeoutFault(
            f"the approver at {url} did not answer within {timeout:.0f} s; "
            "nothing was filled",
            hint="the next request retries without pairing again",
        ) from exc
    except httpx.ConnectError as exc:
        raise ApproverUnreachableError(
            f"cannot connect to the approver at {url}",
            hint="check the URL and that `blindfill approver serve` runs there",
        ) from exc
    except httpx.RemoteProtocolError as exc:
        raise ApproverUnreachableError(
            f"the approver at {url} closed the connection without answering",
            code="approver_connection_lost",
            hint="it may have stopped; the next request retries without pairing",
        ) from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise UsageError(
            f"{url!r} is not a usable approver URL",
            hint="give it as http://127.0.0.1:7355",
        ) from exc
    except httpx.HTTPError as exc:
        raise ApproverUnreachableError(
            f"talking to the approver at {url} failed ({type(exc).__name__})",
            hint="check the network and that the approver still runs",
        ) from exc


class ApproverTransport:
    """Posts frames to one approver over HTTP. Use one per approver URL.

    `client` may be given to share a connection pool or to route through a
    test transport; otherwise the transport creates (and `aclose` closes)
    its own.
    """

    def __init__(self, base_url: str, *, client: httpx.AsyncClient | None = None):
        self.base_url = check_approver_url(base_url)
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            follow_redirects=False, trust_env=False
        )

    def __repr__(self) -> str:
        return f"ApproverTransport(base_url={self.base_url!r})"

    async def post_fill(self, frame: bytes, *, answer_timeout: float) -> bytes:
        """Send message 1 of a fill; return the frame that answers it.

        Waits up to `answer_timeout` seconds for the answer (a person may be
        deciding). Raises `TimeoutFault`, `ApproverUnreachableError`,
        `RateLimitedError` (429) or `RemoteProtocolError` (an answer
        without a frame, or an oversized one).
        """
        return await self._post(FILL_PATH, frame, answer_timeout=answer_timeout)

    async def post_pairing(self, frame: bytes, *, answer_timeout: float) -> bytes:
        """Send a pairing frame; return the approver's answer frame.

        The answer to the last pairing frame waits for the person at the
        approver to confirm, so `answer_timeout` should allow for that.
        """
        return await self._post(PAIR_PATH, frame, answer_timeout=answer_timeout)

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def __aenter__(self) -> ApproverTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _post(self, path: str, frame: bytes, *, answer_timeout: float) -> bytes:
        url = self.base_url + path
        limits = httpx.Timeout(
            connect=CONNECT_TIMEOUT_S,
            read=answer_timeout,
            write=_WRITE_TIMEOUT_S,
            pool=CONNECT_TIMEOUT_S,
        )
        with translated_httpx_errors(self.base_url, timeout=answer_timeout):
            async with self._client.stream(
                "POST",
                url,
                content=frame,
                headers={"content-type": FRAME_CONTENT_TYPE},
                timeout=limits,
            ) as response:
                body = await _read_bounded(response)
        _log().debug(
            "transport.answered",
            path=path,
            status_code=response.status_code,
            sent=len(frame),
            received=len(body),
        )
        return _frame_or_error(response, body, self.base_url)


async def _read_bounded(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_FRAME_SIZE:
            raise RemoteProtocolError(
                f"the approver's answer is over {MAX_FRAME_SIZE} bytes",
                code="frame_too_large",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _frame_or_error(response: httpx.Response, body: bytes, url: str) -> bytes:
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    if content_type == FRAME_CONTENT_TYPE and body:
        return body

    status = response.status_code
    error: BlindfillError
    if status == 404:
        error = ApproverUnreachableError(
            f"{url} answered 404: it is not a blindfill approver",
            code="not_an_approver",
            hint="check the URL printed by `blindfill approver serve`",
        )
    elif status == 429:
        error = RateLimitedError(
            "the approver already has requests of this pairing waiting",
            code="approver_busy",
            hint="wait for the earlier request to be answered",
        )
    elif status == 503:
        error = ApproverUnreachableError(
            "the approver is shutting down, or is only serving pairing",
            code="approver_unavailable",
            hint="start `blindfill approver serve` and try again",
        )
    else:
        error = RemoteProtocolError(
            f"the approver answered HTTP {status} without a frame",
            code="http_status",
        )
    raise error
