"""Calling the demo's ASGI application in memory, without a socket."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from blindfill.demo import SESSION_COOKIE, DemoApp

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.decode() == name:
                return value.decode()
        return None

    @property
    def text(self) -> str:
        return self.body.decode()

    @property
    def session(self) -> str | None:
        """The session token this reply sets, if it sets one."""
        cookie = self.header("set-cookie")
        if cookie is None:
            return None
        return cookie.split(";")[0].removeprefix(f"{SESSION_COOKIE}=")


async def call(
    app: DemoApp,
    method: str,
    path: str,
    *,
    headers: Sequence[tuple[str, str]] = (),
    chunks: Sequence[bytes] = (b"",),
    session: str | None = None,
) -> Reply:
    """Send one request through `app`; the body arrives in `chunks`."""
    raw_headers = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers]
    if session is not None:
        raw_headers.append((b"cookie", f"{SESSION_COOKIE}={session}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": raw_headers,
    }
    pending: list[Mapping[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[Mapping[str, Any]] = []

    async def receive() -> Mapping[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start, body = sent
    assert start["type"] == "http.response.start"
    assert body["type"] == "http.response.body"
    return Reply(start["status"], list(start["headers"]), body["body"])


async def post_form(
    app: DemoApp, path: str, body: bytes | str, *, session: str | None = None
) -> Reply:
    """POST a urlencoded body, declaring its length as a browser does."""
    data = body.encode() if isinstance(body, str) else body
    headers = [("content-type", FORM), ("content-length", str(len(data)))]
    return await call(
        app, "POST", path, headers=headers, chunks=[data], session=session
    )
