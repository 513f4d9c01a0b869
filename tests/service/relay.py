"""A hostile relay between the browser side and the approver, on loopback.

It forwards each POST to the approver and, depending on `mode`, passes the
answer on, holds it back for good (a dropped message 2), or flips one byte
of it (a tampered message 2). Every request and answer body is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

from blindfill.transport.protocol import FILL_PATH, FRAME_CONTENT_TYPE, PAIR_PATH
from blindfill.transport.server import (
    BoundServer,
    HttpApp,
    HttpRequest,
    HttpResponse,
    Route,
    serve_http,
)

PASS = "pass"
DROP = "drop"
TAMPER = "tamper"


@dataclass
class Relay:
    target: str
    mode: str = PASS
    tamper_at: int = -1
    requests: list[bytes] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)
    forwarded: asyncio.Event = field(default_factory=asyncio.Event)

    async def forward(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request.body)
        async with httpx.AsyncClient(trust_env=False) as client:
            answer = await client.post(
                self.target + request.path,
                content=request.body,
                headers={"content-type": FRAME_CONTENT_TYPE},
                timeout=120,
            )
        body = answer.content
        self.answers.append(body)
        self.forwarded.set()
        if self.mode == DROP:
            await asyncio.Event().wait()  # message 2 never arrives
        if self.mode == TAMPER:
            flipped = bytearray(body)
            flipped[self.tamper_at] ^= 0x01
            body = bytes(flipped)
        return HttpResponse(answer.status_code, body, FRAME_CONTENT_TYPE)

    def app(self) -> HttpApp:
        return HttpApp(
            [
                Route("POST", FILL_PATH, self.forward, max_body=70_000),
                Route("POST", PAIR_PATH, self.forward, max_body=70_000),
            ]
        )


@contextlib.asynccontextmanager
async def run_relay(target: str, mode: str = PASS) -> AsyncIterator[tuple[Relay, str]]:
    """A relay to `target`; yields it and its URL."""
    relay = Relay(target, mode)
    async with serve_http(relay.app()) as bound:
        yield relay, _url(bound)


def _url(bound: BoundServer) -> str:
    return bound.url
