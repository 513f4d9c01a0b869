"""Small web servers on 127.0.0.1 for end-to-end tests.

`LoopbackSite` serves registered pages over HTTP, or HTTPS with a
self-signed certificate made on the spot, and records every POST it gets,
so a test can tell whether a credential was sent, and to whom.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["LoopbackSite", "Posted", "self_signed_certificate"]

_HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Posted:
    """A POST the site received: its path and form fields."""

    path: str
    form: dict[str, list[str]]


class LoopbackSite:
    """An HTTP(S) server on 127.0.0.1; 404 for anything not registered.

    A POST to any path is recorded in `posted` and answered with a short
    "received" page.
    """

    def __init__(self, *, tls_dir: Path | None = None) -> None:
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.posted: list[Posted] = []
        routes, posted = self.routes, self.posted

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = routes.get(urlsplit(self.path).path)
                if found is None:
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                self._send(*found)

            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length", "0")), 65536)
                body = self.rfile.read(length).decode("utf-8", "replace")
                posted.append(Posted(urlsplit(self.path).path, parse_qs(body)))
                self._send(b"<!doctype html><p>received</p>", _HTML)

            def _send(self, body: bytes, content_type: str) -> None:
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls_dir is not None:
            cert, key = self_signed_certificate(tls_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.server.socket = context.wrap_socket(
                self.server.socket, server_side=True
            )
            self.scheme = "https"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def origin(self) -> str:
        return self.origin_for("127.0.0.1")

    def origin_for(self, host: str) -> str:
        """The origin this server has under `host` (`localhost` is another)."""
        return f"{self.scheme}://{host}:{self.port}"

    def add(self, path: str, html: str) -> str:
        """Serve `html` at `path`; return the page's URL."""
        return self.add_raw(path, html.encode(), _HTML)

    def add_raw(self, path: str, body: bytes, content_type: str) -> str:
        """Serve `body` as is at `path`; return its URL."""
        self.routes[path] = (body, content_type)
        return self.origin + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1 and its key; return paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path
