"""A hostile registry in front of a real one: it serves other bytes for a digest.

A loopback HTTP server that passes every request on to the real registry
(distribution) and its answer back, except where told to lie: a blob whose
bytes it alters (same length, one byte flipped), a manifest it replaces, or
blob reads it redirects to another server. A registry must serve a digest's
bytes or nothing; this one shows what the client does when it does not.
"""

from __future__ import annotations

import contextlib
import http.client
from http.server import BaseHTTPRequestHandler

from tests.integration.loopbackserver import LoopbackServer


class HostileRegistry(LoopbackServer):
    methods = ("GET", "HEAD")

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self.altered_blobs: set[str] = set()
        self.replaced_manifests: dict[str, bytes] = {}
        self.redirect_blobs_to: str | None = None  # http://host:port, which serves /blobs/DIGEST
        self.seen_authorization: list[str | None] = []
        super().__init__()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        self.seen_authorization.append(request.headers.get("Authorization"))
        digest = request.path.rsplit("/", 1)[-1]
        if "/manifests/" in request.path and digest in self.replaced_manifests:
            body = self.replaced_manifests[digest]
            self._answer(
                request, 200, {"Content-Type": _MANIFEST, "Docker-Content-Digest": digest}, body
            )
            return
        if "/blobs/" in request.path and self.redirect_blobs_to is not None:
            location = f"{self.redirect_blobs_to}/blobs/{digest}"
            self._answer(request, 307, {"Location": location}, b"")
            return
        status, headers, body = self._forward(request)
        if "/blobs/" in request.path and digest in self.altered_blobs and status == 200 and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        self._answer(request, status, headers, body)

    def _forward(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(*self._upstream, timeout=30)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            connection.request(request.command, request.path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            kept = {
                k: v
                for k, v in response.getheaders()
                if k.lower() not in ("content-length", "transfer-encoding", "connection")
            }
            return response.status, kept, body
        finally:
            with contextlib.suppress(OSError):
                connection.close()

    @staticmethod
    def _answer(
        request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        request.send_response(status)
        for key, value in headers.items():
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)


_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class BlobServer(LoopbackServer):
    """Serves `/blobs/DIGEST` from a dict, and notes the Authorization header of each request."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self.blobs = blobs
        self.seen_authorization: list[str | None] = []
        super().__init__()

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        self.seen_authorization.append(request.headers.get("Authorization"))
        body = self.blobs.get(request.path.rsplit("/", 1)[-1])
        status = 200 if body is not None else 404
        HostileRegistry._answer(request, status, {}, body or b"")
