"""Small loopback servers for transport tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def raw_server(behaviour: str) -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 that misbehaves; yields its port.

    `silent` reads the request and never answers; `hangup` reads it and
    closes the connection without a response.
    """
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        writers.append(writer)
        with contextlib.suppress(ConnectionError):
            await reader.readuntil(b"\r\n\r\n")
            if behaviour == "hangup":
                writer.close()
                return
            await asyncio.Event().wait()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def raw_exchange(port: int, data: bytes, *, read_for: float = 5.0) -> bytes:
    """Send `data` on a fresh connection; return what came back in time."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        chunks = []
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(read_for):
                while True:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                        break
        return b"".join(chunks)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP/1.1 response."""
    return int(response.split(b" ", 2)[1])
