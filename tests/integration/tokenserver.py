"""A Docker token service for the tests' registry: the Bearer half of registry auth.

The registry (distribution v3, `auth: token`) answers 401 with
`Bearer realm=<this server>,service=...,scope=repository:NAME:pull` and
accepts the JWTs this server signs (ES256), which it verifies against the
JWKS file this server writes: the real registry checks every token's
signature, issuer, audience, lifetime and granted actions. A client with the
right username and password gets what it asks for, and pull and push; an
anonymous one gets `pull` where `anonymous_pull` says so, and nothing
otherwise.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.integration.loopbackserver import LoopbackServer

SERVICE = "modelregistry-test-registry"
ISSUER = "modelregistry-test-token-service"
KEY_ID = "modelregistry-test-key"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer(LoopbackServer):
    def __init__(
        self, workdir: Path, users: dict[str, str], *, anonymous_pull: bool = False
    ) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._users = users
        self.anonymous_pull = anonymous_pull
        self.requests: list[tuple[str | None, list[str]]] = []  # (user, scopes)
        numbers = self._key.public_key().public_numbers()
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")),
            "kid": KEY_ID,
            "alg": "ES256",
            "use": "sig",
        }
        self.jwks = workdir / "jwks.json"
        self.jwks.write_text(json.dumps({"keys": [jwk]}))
        super().__init__()

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    def registry_auth(self) -> dict[str, str]:
        """The registry's `auth.token` configuration."""
        return {
            "realm": self.realm,
            "service": SERVICE,
            "issuer": ISSUER,
            "jwks": str(self.jwks),
        }

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(request.path).query)
        scopes = query.get("scope", [])
        user = None
        header = request.headers.get("Authorization") or ""
        if header.startswith("Basic "):
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if self._users.get(name) != password:
                self._answer(request, 401, {"details": "wrong username or password"})
                return
            user = name
        self.requests.append((user, scopes))
        access: list[dict[str, object]] = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            wanted = actions.split(",")
            # A user gets pull and push at once: oras-py keeps its first token for a
            # whole push, whose first request asks for pull alone.
            granted = (
                sorted({*wanted, "pull", "push"})
                if user
                else (["pull"] if self.anonymous_pull and "pull" in wanted else [])
            )
            access.append({"type": kind, "name": name, "actions": granted})
        self._answer(request, 200, {"token": self._token(user, access), "expires_in": 300})

    def _token(self, user: str | None, access: list[dict[str, object]]) -> str:
        now = int(time.time())
        header = {"alg": "ES256", "typ": "JWT", "kid": KEY_ID}
        claims = {
            "iss": ISSUER,
            "sub": user or "",
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 5,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        der = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
