"""A small plain ASGI application and the uvicorn server that runs it.

`HttpApp` routes requests by exact path and method to async handlers that
take an `HttpRequest` (with the whole body already read) and return an
`HttpResponse`. It owns the rules every endpoint shares, so no handler can
forget them:

* the body is bounded per route: a `Content-Length` over the limit is
  refused with 413 before a single body byte is read, and the bytes are
  counted while reading, so a chunked body cannot go over either;
* a route may insist on a content type (415 otherwise);
* a handler runs in its own task, and when the client goes away before the
  answer (an `http.disconnect`), that task is cancelled, so a request
  nobody waits for anymore stops waiting for a person too;
* an exception escaping a handler becomes a plain 500 and one log event
  naming its type, never a traceback or a payload.

`serve_http` binds the socket itself (so port 0 yields a known port before
the first request, and "address in use" is a clear error) and runs
uvicorn's server in the current event loop without uvicorn's own signal
handling; the caller decides what a signal means.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs

import uvicorn

from blindfill.errors import EnvironmentFault, UsageError
from blindfill.log import get_logger

__all__ = [
    "BoundServer",
    "HttpApp",
    "HttpRequest",
    "HttpResponse",
    "Route",
    "is_loopback_host",
    "serve_http",
    "text_response",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_TEXT: Final = "text/plain; charset=utf-8"
_GRACEFUL_SHUTDOWN_S: Final = 10.0
_MAX_CONNECTIONS: Final = 64


def _log() -> Any:
    return get_logger("blindfill.transport")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request, its body read in full and within its route's limit.

    Header names are lower case; `client_host` is the peer's address.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    client_host: str | None
    body: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What a handler answers. `close` asks to end the connection after it."""

    status: int
    body: bytes = field(default=b"", repr=False)
    content_type: str = _TEXT
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False


def text_response(status: int, text: str, **kwargs: Any) -> HttpResponse:
    """A plain-text response of one line."""
    return HttpResponse(status, (text + "\n").encode("utf-8"), _TEXT, **kwargs)


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]
# Builds the answer to a body refused for its size (413), per route.
TooLarge = Callable[[], HttpResponse]


@dataclass(frozen=True, slots=True)
class Route:
    """An endpoint: exact `path` and `method`, body limit, content type."""

    method: str
    path: str
    handler: Handler
    max_body: int
    content_type: str | None = None
    too_large: TooLarge | None = None


class HttpApp:
    """An ASGI application over a fixed table of `Route`s."""

    def __init__(self, routes: list[Route]) -> None:
        self._routes: dict[str, dict[str, Route]] = {}
        for route in routes:
            self._routes.setdefault(route.path, {})[route.method] = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            # serve_http turns lifespan off; websockets are not spoken here
            # and uvicorn closes them.
            return
        try:
            response = await self._dispatch(scope, receive)
        except _ClientGone:
            return  # nobody to answer
        except Exception as exc:  # a bug here must not print a traceback
            _log().error(
                "http.dispatch_failed", path=scope.get("path"), error=type(exc).__name__
            )
            response = text_response(500, "internal error; see the log", close=True)
        if response is not None:
            await _send(send, response)

    async def _dispatch(self, scope: Scope, receive: Receive) -> HttpResponse | None:
        by_method = self._routes.get(scope["path"])
        if by_method is None:
            return text_response(404, "no such endpoint")
        route = by_method.get(scope["method"])
        if route is None:
            allowed = ", ".join(sorted(by_method))
            return text_response(
                405, f"use {allowed} here", headers=(("allow", allowed),)
            )

        headers = _headers(scope)
        refusal = _check_headers(scope, headers, route)
        if refusal is not None:
            return refusal
        try:
            query = _query(scope)
        except ValueError:
            return text_response(400, "malformed query string", close=True)
        body = await _read_body(receive, route.max_body)
        if body is None:
            return _too_large(route)
        request = HttpRequest(
            method=scope["method"],
            path=scope["path"],
            headers=headers,
            query=query,
            client_host=(scope.get("client") or (None,))[0],
            body=body,
        )
        return await _run_handler(route, request, receive)


def _check_headers(
    scope: Scope, headers: Mapping[str, str], route: Route
) -> HttpResponse | None:
    """The refusal for a request whose headers already break the route's rules."""
    if route.content_type is not None:
        given = headers.get("content-type", "").split(";")[0].strip().lower()
        if given != route.content_type:
            return text_response(
                415, f"send the body as {route.content_type}", close=True
            )
    lengths = [v for k, v in scope["headers"] if k.lower() == b"content-length"]
    if len(lengths) > 1:
        return text_response(400, "more than one Content-Length", close=True)
    if lengths:
        try:
            length = int(lengths[0])
        except ValueError:
            return text_response(400, "Content-Length is not a number", close=True)
        if length > route.max_body:
            _log().info(
                "http.body_refused",
                path=route.path,
                length=length,
                limit=route.max_body,
            )
            return _too_large(route)
    return None


def _too_large(route: Route) -> HttpResponse:
    if route.too_large is not None:
        response = route.too_large()
    else:
        response = text_response(413, f"the body is limited to {route.max_body} bytes")
    # The rest of the body is never read, so the connection cannot be reused.
    return HttpResponse(
        response.status,
        response.body,
        response.content_type,
        response.headers,
        close=True,
    )


class _ClientGone(Exception):
    """The client disconnected before its body was read."""


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The body, or None as soon as it goes over `limit` bytes.

    Raises `_ClientGone` if the client disconnects first.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _run_handler(
    route: Route, request: HttpRequest, receive: Receive
) -> HttpResponse | None:
    """Run the handler; cancel it if the client disconnects first.

    Returns None when the client went away (there is nobody to answer).
    """
    handler: asyncio.Future[HttpResponse] = asyncio.ensure_future(
        route.handler(request)
    )
    watcher = asyncio.ensure_future(_wait_disconnect(receive))
    both: set[asyncio.Future[Any]] = {handler, watcher}
    try:
        await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        handler.cancel()  # the server itself is being torn down
        raise
    finally:
        watcher.cancel()
    if not handler.done():
        handler.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await handler
        _log().info("http.client_gone", path=route.path)
        return None
    if handler.cancelled():
        return text_response(503, "the request was withdrawn")
    exc = handler.exception()
    if exc is not None:
        _log().error("http.handler_failed", path=route.path, error=type(exc).__name__)
        return text_response(500, "internal error; see the approver's log")
    return handler.result()


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _send(send: Send, response: HttpResponse) -> None:
    headers = [
        (b"content-type", response.content_type.encode("latin-1")),
        (b"content-length", str(len(response.body)).encode("ascii")),
        (b"cache-control", b"no-store"),
    ]
    headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    if response.close:
        headers.append((b"connection", b"close"))
    await send(
        {"type": "http.response.start", "status": response.status, "headers": headers}
    )
    await send({"type": "http.response.body", "body": response.body})


def _headers(scope: Scope) -> dict[str, str]:
    return {
        k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
    }


def _query(scope: Scope) -> dict[str, str]:
    """The query's fields (last value wins); ValueError past 16 fields."""
    raw = scope.get("query_string", b"").decode("latin-1")
    return {k: v[-1] for k, v in parse_qs(raw, max_num_fields=16).items()}


# --- running it -------------------------------------------------------------


def is_loopback_host(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class BoundServer:
    """A running server: where it listens."""

    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class _Server(uvicorn.Server):
    """uvicorn's server without its signal handlers: the caller owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise UsageError(f"cannot listen on {host!r}: {exc.strerror}") from exc
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        in_use = exc.errno == errno.EADDRINUSE
        raise EnvironmentFault(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            code="address_in_use" if in_use else "listen_failed",
            hint="choose another --port, or 0 to pick a free one",
        ) from exc
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def serve_http(
    app: Callable[[Scope, Receive, Send], Awaitable[None]],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncIterator[BoundServer]:
    """Serve `app` on `host:port` in this event loop while the block runs.

    Port 0 picks a free port; the yielded `BoundServer` says which. On
    leaving the block the server stops accepting, lets running requests
    finish (at most 10 s) and closes. Raises `EnvironmentFault` if the
    address cannot be bound and `UsageError` if the host does not resolve.
    """
    sock = _bind(host, port)
    bound = BoundServer(host, sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        http="h11",
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        limit_concurrency=_MAX_CONNECTIONS,
        timeout_graceful_shutdown=int(_GRACEFUL_SHUTDOWN_S),
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise EnvironmentFault("the HTTP server stopped while starting")
            await asyncio.sleep(0.01)
        yield bound
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()
