"""Web origins: parsing, normalising and showing them to a person.

An origin is a scheme, a host and a port, nothing more. The approver works
with two kinds of input:

* the origin the browser side reports for a frame, already serialised by the
  browser engine (`https://bank.test`, `http://[::1]:8080`, or `null` for an
  opaque origin). `parse_origin` reads these strictly: no path, no user
  information, nothing but `http` or `https`.
* the URLs stored in vault items, as people typed or exported them
  (`https://bank.test/login`, `bank.test`, `androidapp://...`).
  `origin_of_url` reads these leniently: a path is dropped, a missing scheme
  means `https` (never `http`, so nothing is downgraded), and a URL that is
  not a web URL gives `None`.

Both normalise the host the way the browser does: lower case, international
names in their ASCII (punycode) form following UTS 46, IPv4 literals in
dotted-quad form (so `127.1` is `127.0.0.1`), IPv6 literals compressed; and
the port made explicit (443 for https, 80 for http). Two origins are the same
exactly when these three parts are equal.

Opaque origins (`null`, `data:`, `blob:`, `file:`, `about:`, sandboxed
frames) are never parsed into an `Origin`: `parse_origin` refuses them with
`OriginError`, so nothing downstream can match them.

`render_origin` shows an origin to a person. An international host is shown
decoded and raw side by side (`https://bänk.test (raw: xn--bnk-qla.test)`);
a decoded form that hides anything (control, format or bidirectional
characters) is not shown at all, only the raw one with a warning.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

import idna

from blindfill.errors import OriginError

__all__ = [
    "HostKind",
    "Origin",
    "is_opaque",
    "origin_of_url",
    "parse_origin",
    "render_host",
    "render_origin",
]

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_ORIGIN = 2048

# Schemes whose origins are opaque or not network origins at all.
_OPAQUE_SCHEMES = frozenset(
    {"data", "blob", "file", "about", "javascript", "filesystem", "srcdoc"}
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
# Browsers accept underscores and edge hyphens in host labels; so do we.
_LABEL = re.compile(r"^[a-z0-9_-]{1,63}$")


class HostKind(Enum):
    """What kind of host an origin has; only domains have subdomains."""

    DOMAIN = "domain"  # a DNS name, ASCII form
    IPV4 = "ipv4"  # a dotted-quad literal
    IPV6 = "ipv6"  # a bracketed literal, stored without brackets


@dataclass(frozen=True, slots=True)
class Origin:
    """A tuple origin (scheme, host, port), normalised; compare with `==`."""

    scheme: str
    host: str
    port: int
    kind: HostKind = HostKind.DOMAIN

    def serialize(self) -> str:
        """The origin as a browser serialises it: default port omitted."""
        host = f"[{self.host}]" if self.kind is HostKind.IPV6 else self.host
        if DEFAULT_PORTS.get(self.scheme) == self.port:
            return f"{self.scheme}://{host}"
        return f"{self.scheme}://{host}:{self.port}"

    def __str__(self) -> str:
        return self.serialize()


def is_opaque(text: str) -> bool:
    """True for `null` and URLs whose scheme has no network origin."""
    stripped = text.strip().lower()
    if stripped in ("", "null"):
        return True
    match = _SCHEME.match(stripped)
    return match is not None and match.group(1) in _OPAQUE_SCHEMES


def parse_origin(text: str) -> Origin:
    """Parse an origin as the browser side reports it.

    Accepts `scheme://host[:port]` with an optional trailing `/`. Raises
    `OriginError` for opaque origins, schemes other than http and https,
    paths, user information and malformed hosts or ports.
    """
    if len(text) > MAX_ORIGIN:
        raise OriginError("the origin is too long")
    if is_opaque(text):
        raise OriginError(
            f"{_quote(text)} is an opaque origin; nothing can be filled there",
            code="origin_opaque",
        )
    parts = _split(text)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise OriginError(f"{_quote(text)} is a URL, not an origin")
    return _build(parts.scheme, parts.netloc, text)


def origin_of_url(url: str) -> Origin | None:
    """The origin of an item URL, or None if it has no web origin.

    A URL without a scheme is taken as `https://`. Never raises.
    """
    url = url.strip()
    if not url or len(url) > MAX_ORIGIN or is_opaque(url):
        return None
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://", url):
        url = "https://" + url
    try:
        parts = _split(url)
        return _build(parts.scheme, parts.netloc, url)
    except OriginError:
        return None


def render_host(origin: Origin) -> str:
    """The host for a person: decoded and raw when it is international."""
    if origin.kind is not HostKind.DOMAIN or "xn--" not in origin.host:
        return f"[{origin.host}]" if origin.kind is HostKind.IPV6 else origin.host
    try:
        decoded = idna.decode(origin.host)
    except (idna.IDNAError, UnicodeError, ValueError):
        return f"{origin.host} (undecodable international name)"
    if any(_hides_something(char) for char in decoded):
        return f"{origin.host} (international name with hidden characters)"
    return f"{decoded} (raw: {origin.host})"


def render_origin(origin: Origin) -> str:
    """The origin for a person, e.g. `https://bänk.test (raw: xn--bnk-qla.test)`.

    The port is shown whenever it is not the scheme's default.
    """
    host = render_host(origin)
    port = "" if DEFAULT_PORTS.get(origin.scheme) == origin.port else f":{origin.port}"
    if " (" in host:
        name, note = host.split(" (", 1)
        return f"{origin.scheme}://{name}{port} ({note}"
    return f"{origin.scheme}://{host}{port}"


# --- internals ------------------------------------------------------------


def _split(text: str) -> _Parts:
    try:
        parts = urlsplit(text.strip())
    except ValueError as exc:
        raise OriginError(f"{_quote(text)} is not a valid URL") from exc
    return _Parts(
        parts.scheme.lower(), parts.netloc, parts.path, parts.query, parts.fragment
    )


@dataclass(frozen=True, slots=True)
class _Parts:
    scheme: str
    netloc: str
    path: str
    query: str
    fragment: str


def _build(scheme: str, netloc: str, text: str) -> Origin:
    if scheme not in DEFAULT_PORTS:
        raise OriginError(
            f"{_quote(text)} is not an http or https origin",
            code="origin_scheme",
        )
    if "@" in netloc:
        raise OriginError(f"{_quote(text)} carries user information")
    host_text, port = _split_port(netloc, text)
    port = DEFAULT_PORTS[scheme] if port is None else port
    host, kind = _normalise_host(host_text, text)
    return Origin(scheme, host, port, kind)


def _split_port(netloc: str, text: str) -> tuple[str, int | None]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise OriginError(f"{_quote(text)} has an unclosed IPv6 literal")
        host, rest = netloc[: end + 1], netloc[end + 1 :]
    else:
        host, sep, port_text = netloc.partition(":")
        rest = f":{port_text}" if sep else ""
    if not rest:
        return host, None
    if not rest.startswith(":") or not rest[1:].isdigit() or len(rest) > 6:
        raise OriginError(f"{_quote(text)} has an invalid port")
    port = int(rest[1:])
    if not 0 < port < 65536:
        raise OriginError(f"{_quote(text)} has a port out of range")
    return host, port


def _normalise_host(host: str, text: str) -> tuple[str, HostKind]:
    if not host:
        raise OriginError(f"{_quote(text)} has no host")
    if host.startswith("["):
        try:
            address = ipaddress.IPv6Address(host[1:-1])
        except ValueError as exc:
            raise OriginError(f"{_quote(text)} has an invalid IPv6 literal") from exc
        return address.compressed, HostKind.IPV6

    if "%" in host:
        raise OriginError(f"{_quote(text)} has a percent-encoded host")
    trailing_dot = host.endswith(".")
    bare = host[:-1] if trailing_dot else host
    if bare.isascii():
        # Already ASCII (what a browser reports): only case folds. An `xn--`
        # label that does not decode is caught when it is shown.
        ascii_host = bare.lower()
    else:
        try:
            ascii_host = idna.encode(bare, uts46=True, transitional=False).decode()
        except (idna.IDNAError, UnicodeError, ValueError) as exc:
            raise OriginError(f"{_quote(text)} has an invalid host name") from exc

    # The URL standard reads a host whose last label is numeric as IPv4,
    # including short and hex forms (`127.1`, `0x7f.0.0.1`).
    last = ascii_host.rsplit(".", 1)[-1]
    if last.isdigit() or last.startswith("0x"):
        try:
            packed = socket.inet_aton(ascii_host)
        except OSError as exc:
            raise OriginError(f"{_quote(text)} has an invalid IPv4 literal") from exc
        return socket.inet_ntoa(packed), HostKind.IPV4

    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise OriginError(f"{_quote(text)} has an invalid host name")
    return ascii_host + ("." if trailing_dot else ""), HostKind.DOMAIN


def _hides_something(char: str) -> bool:
    # Control, format (bidi overrides, zero-width joiners), separators other
    # than a plain space, unassigned and private-use code points.
    return unicodedata.category(char)[0] in "CZ"


def _quote(text: str) -> str:
    # Origins come from the other side; show them bounded and printable.
    shown = "".join(c if c.isprintable() else "?" for c in text[:80])
    return repr(shown + ("..." if len(text) > 80 else ""))
