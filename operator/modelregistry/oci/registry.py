"""A blocking client of one repository of an OCI registry (the distribution spec's pull API).

Manifests and blobs are fetched by digest only. Authentication follows the
registry's `WWW-Authenticate` challenge: Basic (the Secret's username and
password), or Bearer (a token from the challenge's realm, asked for with
those credentials, or anonymously without). Redirects (registries send blob
reads to their storage) are followed; the Authorization header is dropped
when a redirect leaves the registry's host, as urllib3 does by default.
Bodies are read raw (no content decoding), so the bytes hashed are the bytes
the digest names.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Final
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import HTTPError, MaxRetryError, SSLError
from urllib3.util.retry import Retry

from modelregistry.decisions.oci import auth
from modelregistry.decisions.oci.auth import RegistryCredentials
from modelregistry.decisions.oci.manifest import ACCEPT
from modelregistry.errors import (
    AccessDeniedError,
    ArtifactNotFoundError,
    CredentialsRejectedError,
    StorageError,
    StorageUnreachableError,
)

_TIMEOUT: Final = urllib3.Timeout(connect=5, read=60)
# Connections that fail are tried again; a registry's error answers are not.
_RETRIES: Final = Retry(total=6, connect=3, read=2, redirect=5, status=0, other=0)
_TOKEN_ANSWER_LIMIT: Final = 1 << 20
_ERROR_ANSWER_LIMIT: Final = 16 << 10


def new_pool() -> urllib3.PoolManager:
    """The connection pool every repository client of a process shares."""
    return urllib3.PoolManager(num_pools=32, maxsize=8, timeout=_TIMEOUT, retries=_RETRIES)


class Repository:
    """One repository of a registry, read with one set of credentials (or none)."""

    def __init__(
        self,
        pool: urllib3.PoolManager,
        registry: str,
        repository: str,
        credentials: RegistryCredentials | None,
        *,
        plain_http: bool = False,
        endpoint: str | None = None,
    ) -> None:
        """`endpoint` (host[:port]) reaches `registry` another way (a mirror, a forward)."""
        self.registry = registry
        self.repository = repository
        self._pool = pool
        self._credentials = credentials
        self._plain_http = plain_http
        self._base = f"{'http' if plain_http else 'https'}://{endpoint or registry}"
        self._authorization: str | None = None
        self._lock = threading.Lock()

    def manifest(self, digest: str, limit: int) -> tuple[bytes, str | None]:
        """The manifest's bytes (at most `limit`, else StorageError) and its Content-Type."""
        url = f"{self._base}/v2/{self.repository}/manifests/{digest}"
        with self._get(url, {"Accept": ", ".join(ACCEPT)}, f"manifest {digest}") as response:
            body = _read_at_most(response, limit + 1)
            if len(body) > limit:
                raise StorageError(
                    f"{self.registry} serves a manifest of more than {limit} bytes for {digest}"
                )
            return body, response.headers.get("Content-Type")

    @contextlib.contextmanager
    def blob(self, digest: str) -> Iterator[urllib3.BaseHTTPResponse]:
        """The blob's response, its body not yet read; redirects followed."""
        url = f"{self._base}/v2/{self.repository}/blobs/{digest}"
        with self._get(url, {}, f"blob {digest}") as response:
            yield response

    @contextlib.contextmanager
    def _get(
        self, url: str, headers: dict[str, str], what: str
    ) -> Iterator[urllib3.BaseHTTPResponse]:
        response = self._authorized(url, headers, what)
        try:
            if response.status != 200:
                raise self._error(response, what)
            yield response
        finally:
            _release(response)

    def _authorized(self, url: str, headers: dict[str, str], what: str) -> urllib3.BaseHTTPResponse:
        """The response to a GET, after answering the registry's challenge once if it asks."""
        with self._lock:
            authorization = self._authorization
        response = self._open(url, headers, authorization)
        if response.status != 401:
            return response
        challenge = response.headers.get("WWW-Authenticate", "")
        _drain(response)
        authorization = self._answer(auth.parse_challenges(challenge), challenge)
        with self._lock:
            self._authorization = authorization
        response = self._open(url, headers, authorization)
        if response.status == 401:
            _drain(response)
            raise self._refused(what)
        return response

    def _open(
        self, url: str, headers: dict[str, str], authorization: str | None
    ) -> urllib3.BaseHTTPResponse:
        sent = dict(headers)
        if authorization:
            sent["Authorization"] = authorization
        try:
            return self._pool.request(
                "GET", url, headers=sent, preload_content=False, decode_content=False
            )
        except HTTPError as error:
            raise self._unreachable(error) from error

    def _unreachable(self, error: HTTPError) -> StorageUnreachableError:
        cause = error.reason if isinstance(error, MaxRetryError) else error
        if isinstance(cause, SSLError):
            hint = (
                "" if self._plain_http else " (a registry that speaks plain HTTP needs plainHTTP)"
            )
            return StorageUnreachableError(f"TLS with {self.registry} failed{hint}: {cause}")
        return StorageUnreachableError(f"cannot reach {self.registry}: {cause or error}")

    def _answer(self, challenges: list[auth.Challenge], header: str) -> str:
        """The Authorization header that answers the registry's challenge."""
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        if bearer is not None:
            return "Bearer " + self._token(bearer)
        if any(c.scheme == "basic" for c in challenges):
            if self._credentials is None:
                raise AccessDeniedError(
                    f"{self.registry} asks for a username and password (Basic) and none were given"
                )
            return self._credentials.basic()
        raise AccessDeniedError(
            f"{self.registry} answered 401 with a challenge the operator does not know: "
            f"{header[:200]!r}"
        )

    def _token(self, challenge: auth.Challenge) -> str:
        url = auth.token_url(challenge, self.repository)
        if url is None:
            raise AccessDeniedError(
                f"{self.registry} asks for a bearer token but names no http(s) realm to get it from"
            )
        headers = {}
        if self._credentials is not None:
            if urlsplit(url).scheme != "https" and not self._plain_http:
                raise AccessDeniedError(
                    f"{self.registry}'s token service {url.split('?')[0]} is plain HTTP: the "
                    "credentials are not sent in the clear"
                )
            headers["Authorization"] = self._credentials.basic()
        try:
            response = self._pool.request("GET", url, headers=headers, preload_content=False)
        except HTTPError as error:
            raise self._unreachable(error) from error
        try:
            body = _read_at_most(response, _TOKEN_ANSWER_LIMIT)
            status = response.status
        finally:
            _release(response)
        if status in (401, 403):
            raise self._refused(f"a pull token for {self.repository}")
        if status != 200:
            raise StorageError(
                f"{self.registry}'s token service answered HTTP {status}: {_excerpt(body)}"
            )
        try:
            token = auth.token_of(json.loads(body))
        except ValueError:
            token = None
        if token is None:
            raise StorageError(f"{self.registry}'s token service answered no token")
        return token

    def _refused(self, what: str) -> StorageError:
        if self._credentials is None:
            return AccessDeniedError(
                f"{self.registry} refuses anonymous access to {what} in {self.repository}"
            )
        return CredentialsRejectedError(
            f"{self.registry} refuses the credentials of {self._credentials.username!r} for "
            f"{what} in {self.repository}"
        )

    def _error(self, response: urllib3.BaseHTTPResponse, what: str) -> StorageError:
        body = _read_at_most(response, _ERROR_ANSWER_LIMIT)
        detail = _registry_errors(body) or f"HTTP {response.status}"
        if response.status == 404:
            return ArtifactNotFoundError(
                f"{self.registry} has no {what} in {self.repository} ({detail})"
            )
        if response.status == 403:
            return AccessDeniedError(
                f"{self.registry} denies access to {what} in {self.repository} ({detail})"
            )
        return StorageError(f"{self.registry} answered {what} with {detail}")


def _read_at_most(response: urllib3.BaseHTTPResponse, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit and (chunk := response.read(min(1 << 16, limit - size))):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _drain(response: urllib3.BaseHTTPResponse) -> None:
    with contextlib.suppress(HTTPError):
        _read_at_most(response, _ERROR_ANSWER_LIMIT)
    _release(response)


def _release(response: urllib3.BaseHTTPResponse) -> None:
    """Give the connection back; one whose body was not read to the end is closed first."""
    if not response.closed:
        response.close()
    response.release_conn()


def _registry_errors(body: bytes) -> str | None:
    """`CODE: message` of the distribution spec's error answer, where it is one."""
    try:
        errors = json.loads(body).get("errors")
    except (ValueError, AttributeError):
        return None
    if not isinstance(errors, list):
        return None
    found = [f"{e.get('code')}: {e.get('message')}" for e in errors[:3] if isinstance(e, dict)]
    return "; ".join(found) or None


def _excerpt(body: bytes) -> str:
    return repr(body[:200].decode("utf-8", "replace"))
