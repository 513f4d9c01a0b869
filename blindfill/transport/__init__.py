"""The edges that move frames: HTTP client and server.

Nothing here reads a frame's content. `protocol` fixes the paths, statuses
and limits both ends share; `client.ApproverTransport` is the browser side's
HTTP client (httpx, its exceptions translated at one seam); `server` holds
the small plain ASGI application and the uvicorn runner that
`blindfill.approver.service` builds the approver's endpoints on.
"""

from __future__ import annotations

from blindfill.transport.client import ApproverTransport, check_approver_url
from blindfill.transport.protocol import DEFAULT_PORT, MAX_FRAME_SIZE

__all__ = [
    "DEFAULT_PORT",
    "MAX_FRAME_SIZE",
    "ApproverTransport",
    "check_approver_url",
]
