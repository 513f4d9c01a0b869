"""How the channel's frames ride on HTTP: paths, statuses, limits.

Both ends import this module, so the client and the server cannot disagree.
The mapping is deliberately thin: one frame in a POST body, one frame in the
response body, both `application/octet-stream`. Everything that matters for
security happens inside the frames; HTTP only says, in its status, roughly
what happened, for scripts and logs:

    status  body          meaning
    200     frame         message 2 of a fill, or the next pairing frame
    400     NOTICE frame  the frame does not parse (truncated, garbage,
                          wrong version or type); refused before any
                          Diffie-Hellman work
    403     NOTICE frame  refused: authentication, replay, unknown or
                          replaced pairing, wrong pairing secret
    404     text          no such endpoint (not a blindfill approver?)
    405     text          wrong method
    413     NOTICE frame  body larger than one frame; refused before reading
                          it all
    415     text          not `application/octet-stream`
    429     text          too many fills of this pairing already waiting
    503     text          the approver is shutting down, or serves pairing
                          only

The status is not authenticated (nothing outside the frames is); the browser
side acts on the frame, and on the status only when there is no frame.
"""

from __future__ import annotations

from typing import Final

from blindfill.channel import HEADER_SIZE, MAX_BODY_SIZE

__all__ = [
    "ADMIN_ANSWER_PATH",
    "ADMIN_OFFER_PATH",
    "ADMIN_STATUS_PATH",
    "DEFAULT_PORT",
    "FILL_PATH",
    "FRAME_CONTENT_TYPE",
    "HEALTH_PATH",
    "MAX_ADMIN_BODY",
    "MAX_FRAME_SIZE",
    "PAIR_PATH",
    "SERVICE_NAME",
]

FRAME_CONTENT_TYPE: Final = "application/octet-stream"
# A whole frame: the header and the largest Noise message.
MAX_FRAME_SIZE: Final = HEADER_SIZE + MAX_BODY_SIZE
MAX_ADMIN_BODY: Final = 4096

DEFAULT_PORT: Final = 7355
SERVICE_NAME: Final = "blindfill-approver"

FILL_PATH: Final = "/v1/fill"
PAIR_PATH: Final = "/v1/pair"
HEALTH_PATH: Final = "/v1/health"
ADMIN_OFFER_PATH: Final = "/v1/admin/pairing/offer"
ADMIN_STATUS_PATH: Final = "/v1/admin/pairing/status"
ADMIN_ANSWER_PATH: Final = "/v1/admin/pairing/answer"
