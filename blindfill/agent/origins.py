"""Which frames may receive a credential, judged from what the browser reports.

A frame qualifies only when its URL is http or https and the security origin
that CDP reports for it is the same tuple (scheme, host, port) as that URL.
That refuses, in one rule, every frame whose origin is opaque or inherited:
sandboxed frames, `srcdoc`, `about:blank`, `data:` and `blob:` documents.
A frame chain qualifies only when every frame in it does, and when no
`http:` frame sits inside an `https:` one (mixed content).
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = [
    "chain_refusal",
    "frame_refusal",
    "origin_of_url",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of_url(url: str) -> str | None:
    """The serialised origin of an http(s) URL, None for anything else.

    The port appears only when it is not the scheme's default, as browsers
    serialise origins (`https://a.test`, `http://127.0.0.1:8080`).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def frame_refusal(url: str, security_origin: str | None) -> str | None:
    """Why a frame may not receive a credential, or None when it may.

    `security_origin` is CDP's `securityOrigin` for the frame (`://` or
    `null` when opaque).
    """
    url_origin = origin_of_url(url)
    if url_origin is None:
        scheme = url.split(":", 1)[0].lower() if ":" in url else url
        return f"frame URL scheme {scheme!r} is not http or https"
    if not security_origin or security_origin in {"null", "://"}:
        return "frame has an opaque origin (sandboxed or generated document)"
    reported = origin_of_url(security_origin)
    if reported is None or reported != url_origin:
        return "frame security origin does not match its URL"
    return None


def chain_refusal(chain: list[tuple[str, str | None]]) -> str | None:
    """Why a frame chain (top first, as (url, security origin)) is refused.

    Returns None when every frame qualifies and no http frame is nested in
    an https frame.
    """
    if not chain:
        return "empty frame chain"
    saw_https = False
    for depth, (url, origin) in enumerate(chain):
        reason = frame_refusal(url, origin)
        if reason is not None:
            where = "the form's frame" if depth == len(chain) - 1 else "an ancestor"
            return f"{where}: {reason}"
        scheme = url.split(":", 1)[0].lower()
        if scheme == "https":
            saw_https = True
        elif saw_https:
            return "an http frame inside an https page (mixed content)"
    return None
