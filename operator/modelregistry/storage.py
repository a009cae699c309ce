"""Streaming verification of artifacts in S3-compatible object storage.

Objects are read in chunks and hashed as they arrive, never held whole in
memory. The calls here block; the async layer (`verifier.py`) runs them in
threads with bounded concurrency.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol, cast
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
from botocore.config import Config

from modelregistry import digest
from modelregistry.errors import (
    AccessDeniedError,
    ArtifactNotFoundError,
    CredentialsRejectedError,
    InvalidArtifactError,
    InvalidEndpointError,
    StorageError,
    StorageUnreachableError,
)

if TYPE_CHECKING:
    from botocore.config import _S3Dict
    from mypy_boto3_s3 import S3Client

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "NotFound", "404", "NoSuchVersion"})
# The store does not know the access key: AWS answers 403 InvalidAccessKeyId,
# versitygw 404 XAdminUserNotFound. Checked before the not-found codes.
_UNKNOWN_KEY_CODES = frozenset(
    {"InvalidAccessKeyId", "XAdminUserNotFound", "InvalidClientTokenId", "XMinioInvalidAccessKeyId"}
)
_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "403",
        "Forbidden",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "AllAccessDisabled",
    }
)
# Bytes per read of an object; larger than digest.CHUNK_SIZE (local files).
# Over HTTP, 4 MiB reads cost less client CPU per byte than 1 MiB reads (0.73
# vs 0.87 s per GiB), which makes a prefix, where both cores are busy, ~14%
# faster to verify (docs/benchmarks.md).
_OBJECT_CHUNK_SIZE: Final = 4 << 20
# How many chunks the reading thread may get ahead of hashing (see _read_ahead).
# An object being hashed holds at most this many chunks in memory, plus the
# one being read and the one being hashed: 16 MiB with the default chunk size.
_READ_AHEAD_CHUNKS: Final = 2
# Clients kept for reuse (one per endpoint and credentials); the least
# recently used goes first, so rotated credentials do not pile up.
_MAX_CLIENTS: Final = 32


@dataclass(frozen=True)
class S3Location:
    """A parsed s3:// URI. A key ending in '/' names a prefix."""

    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        """Split an s3:// URI; raise InvalidArtifactError for one no store reads literally."""
        if not uri.startswith("s3://"):
            raise InvalidArtifactError(f"{uri!r} is not an s3://bucket/key URI")
        bucket, _, key = uri[len("s3://") :].partition("/")
        if not bucket or not key:
            raise InvalidArtifactError(f"{uri!r} is not an s3://bucket/key URI")
        if problem := key_problem(key):
            raise InvalidArtifactError(f"{uri!r}: {problem}")
        return cls(bucket=bucket, key=key)

    @property
    def is_prefix(self) -> bool:
        return self.key.endswith("/")

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def key_problem(key: str) -> str | None:
    """Why an object key would not name what it says on every store, or None.

    Stores and proxies resolve `.` and `..` segments and collapse empty ones,
    so `tmp/../good/model.bin` may serve `good/model.bin`: the version would be
    pinned under a name that says something else.
    """
    segments = key.split("/")
    if key.endswith("/"):
        segments = segments[:-1]  # a prefix ends in one '/'
    if any(s in (".", "..") for s in segments):
        return "'.' and '..' segments are not allowed in the key"
    if any(s == "" for s in segments):
        return "empty segments ('//', or a key starting with '/') are not allowed in the key"
    if any(ord(c) < 0x20 or c in "\\\x7f" for c in key):
        return "control characters and backslashes are not allowed in the key"
    return None


def endpoint_problem(url: str) -> str | None:
    """Why an endpoint URL cannot be used, or None (checked before any client is built)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port out of range
    except ValueError as error:
        return f"{url!r} is not a usable URL ({error})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http(s)://host[:port] URL"
    if port == 0:
        return f"{url!r} names port 0"
    return None


@dataclass(frozen=True)
class Credentials:
    """Static S3 credentials. The secret parts never appear in repr or logs."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach the store; None means boto3's default."""

    url: str | None = None
    region: str | None = None
    addressing_style: str | None = None


class ReadProgress:
    """How far a hash has got: bytes it must read (as sizes become known), bytes read.

    Written by the hashing threads, read by the event loop: it lets a pass tell
    a long read from one merely waiting its turn.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._expected = 0
        self._read = 0
        self._started: float | None = None

    def expect(self, size: int) -> None:
        """An object of `size` bytes is about to be read."""
        with self._lock:
            if self._started is None:
                self._started = self._clock()
            self._expected += size

    def advance(self, size: int) -> None:
        with self._lock:
            self._read += size

    def seen(self) -> tuple[int, int, float]:
        """Bytes expected, bytes read, seconds since the first read started (0 before)."""
        with self._lock:
            started = self._started
            elapsed = 0.0 if started is None else self._clock() - started
            return self._expected, self._read, elapsed


class ArtifactStore:
    """Hashes artifacts in S3, reusing one client per endpoint and credentials."""

    def __init__(self, *, file_workers: int = 4, chunk_size: int = _OBJECT_CHUNK_SIZE) -> None:
        self._file_workers = file_workers
        self._chunk_size = chunk_size
        self._clients: OrderedDict[tuple[Endpoint, Credentials | None], S3Client] = OrderedDict()
        self._lock = threading.Lock()

    def hash_artifact(
        self,
        location: S3Location,
        endpoint: Endpoint,
        credentials: Credentials | None,
        progress: ReadProgress | None = None,
    ) -> digest.ArtifactDigest:
        """Stream and hash the artifact at `location`; raise a StorageError subclass.

        `progress` learns each object's size as its read starts.
        """
        client = self._client_for(endpoint, credentials)
        progress = progress or ReadProgress()
        with _translated_errors(location):
            if not location.is_prefix:
                return digest.single_object(
                    self._hash_object(client, location.bucket, location.key, location.key, progress)
                )
            relatives = self._prefix_files(client, location)
            with ThreadPoolExecutor(max_workers=self._file_workers) as pool:
                futures = [
                    pool.submit(
                        self._hash_object,
                        client,
                        location.bucket,
                        location.key + rel,
                        rel,
                        progress,
                    )
                    for rel in relatives
                ]
                # The first file that fails decides the outcome: the rest are not read.
                done, pending = wait(futures, return_when=FIRST_EXCEPTION)
                failed = [f for f in futures if f in done and f.exception() is not None]
                if failed:
                    for future in pending:
                        future.cancel()
                    raise cast(BaseException, failed[0].exception())
                files = [future.result() for future in futures]
            return digest.prefix_artifact(files)

    def stored_checksum(
        self, location: S3Location, endpoint: Endpoint, credentials: Credentials | None
    ) -> digest.ArtifactDigest | None:
        """The artifact's digest from the store's full-object SHA-256 checksums, reading no bytes.

        One HeadObject per object. None when any object has no such checksum
        (uploaded without one, or in parts); raises a StorageError subclass.
        """
        client = self._client_for(endpoint, credentials)
        with _translated_errors(location):
            if not location.is_prefix:
                file = self._object_checksum(client, location.bucket, location.key, location.key)
                return None if file is None else digest.single_object(file)
            files = []
            for rel in self._prefix_files(client, location):
                file = self._object_checksum(client, location.bucket, location.key + rel, rel)
                if file is None:
                    return None
                files.append(file)
            return digest.prefix_artifact(files)

    def read_object(
        self,
        location: S3Location,
        endpoint: Endpoint,
        credentials: Credentials | None,
        limit: int,
    ) -> tuple[bytes, str | None]:
        """The bytes of one small object (a signature bundle) and its versionId.

        More than `limit` bytes is refused (InvalidArtifactError), read no
        further than the chunk that passes it; other failures raise a
        StorageError subclass.
        """
        client = self._client_for(endpoint, credentials)
        with _translated_errors(location):
            response = client.get_object(Bucket=location.bucket, Key=location.key)
            body = response["Body"]
            read = bytearray()
            try:
                for chunk in body.iter_chunks(min(limit + 1, self._chunk_size)):
                    read += chunk
                    if len(read) > limit:
                        break
            finally:
                body.close()
        raw = bytes(read)
        if len(raw) > limit:
            raise InvalidArtifactError(f"{location.uri}: more than {limit} bytes")
        found = response.get("VersionId")
        return raw, found if found and found != "null" else None

    def _client_for(self, endpoint: Endpoint, credentials: Credentials | None) -> S3Client:
        if endpoint.url and (problem := endpoint_problem(endpoint.url)):
            raise InvalidEndpointError(problem)
        try:
            return self._client(endpoint, credentials)
        except ValueError as error:  # botocore refuses the endpoint or region while building
            raise InvalidEndpointError(f"{endpoint.url!r}: {error}") from error

    def _prefix_files(self, client: S3Client, location: S3Location) -> list[str]:
        """The paths, relative to the prefix, of the objects under it."""
        keys = list(self._list_prefix(client, location))
        if not keys:
            raise ArtifactNotFoundError(f"no objects under {location.uri}")
        try:
            return [digest.check_relative_path(k[len(location.key) :]) for k in keys]
        except digest.InvalidArtifactPathError as error:
            raise InvalidArtifactError(f"{location.uri}: {error}") from error

    def _object_checksum(
        self, client: S3Client, bucket: str, key: str, relative: str
    ) -> digest.FileDigest | None:
        with _translated_errors(S3Location(bucket, key)):
            head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        hexdigest = digest.sha256_from_store_checksum(
            head.get("ChecksumSHA256"), head.get("ChecksumType")
        )
        if hexdigest is None:
            return None
        version_id = head.get("VersionId")
        return digest.FileDigest(
            path=relative,
            hexdigest=hexdigest,
            size=head.get("ContentLength", 0),
            version_id=version_id if version_id and version_id != "null" else None,
            by_store_checksum=True,
        )

    def _hash_object(
        self, client: S3Client, bucket: str, key: str, relative: str, progress: ReadProgress
    ) -> digest.FileDigest:
        with _translated_errors(S3Location(bucket, key)):
            response = client.get_object(Bucket=bucket, Key=key)
            body = response["Body"]
            try:
                length = response.get("ContentLength")
                progress.expect(length or 0)
                if length is not None and length <= self._chunk_size:
                    # One read: a thread to overlap reads with hashing would not pay.
                    chunks = body.iter_chunks(self._chunk_size)
                    hexdigest, size = digest.hash_chunks(_counted(chunks, progress))
                else:
                    # closing() stops the reading thread before the body is closed.
                    with contextlib.closing(read_ahead(body, self._chunk_size)) as ahead:
                        hexdigest, size = digest.hash_chunks(_counted(ahead, progress))
            finally:
                body.close()
        version_id = response.get("VersionId")
        return digest.FileDigest(
            path=relative,
            hexdigest=hexdigest,
            size=size,
            # "null" is what S3 reports for objects written before versioning.
            version_id=version_id if version_id and version_id != "null" else None,
        )

    def _list_prefix(self, client: S3Client, location: S3Location) -> Iterator[str]:
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=location.bucket, Prefix=location.key):
            for item in page.get("Contents", []):
                key = item["Key"]
                if not key.endswith("/"):  # skip "folder" marker objects
                    yield key

    def _client(self, endpoint: Endpoint, credentials: Credentials | None) -> S3Client:
        cache_key = (endpoint, credentials)
        with self._lock:
            client = self._clients.get(cache_key)
            if client is None:
                client = _make_client(endpoint, credentials)
                self._clients[cache_key] = client
                if len(self._clients) > _MAX_CLIENTS:
                    self._clients.popitem(last=False)
            else:
                self._clients.move_to_end(cache_key)
            return client


def _counted(chunks: Iterator[bytes], progress: ReadProgress) -> Iterator[bytes]:
    for chunk in chunks:
        progress.advance(len(chunk))
        yield chunk


class Readable(Protocol):
    """A response body: botocore's StreamingBody, urllib3's response."""

    def read(self, amt: int | None = ..., /) -> bytes: ...


def read_ahead(body: Readable, chunk_size: int) -> Generator[bytes, None, None]:
    """Yield the chunks of `body`, read by a helper thread while the caller hashes them.

    Read in one thread, receiving and hashing alternate, and the object
    arrives noticeably slower than one core can hash it. Socket reads release
    the GIL, and so does hashlib for large buffers, so with a reader thread
    the two overlap on two cores (docs/benchmarks.md has the numbers). One
    GET on one connection, as before: the bytes are those of one version, and
    botocore still checks them against Content-Length. The bounded queue keeps
    memory at a few chunks.
    """
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=_READ_AHEAD_CHUNKS)
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set() and (chunk := body.read(chunk_size)):
                chunks.put(chunk)
        except BaseException as error:  # raised again in the hashing thread
            chunks.put(error)
        else:
            chunks.put(None)

    reader = threading.Thread(target=read, name="artifact-read-ahead", daemon=True)
    reader.start()
    try:
        while (item := chunks.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # Normally the reader is done by now. If hashing stopped early, let it
        # finish its current read, draining the queue so that put() cannot block.
        stop.set()
        while reader.is_alive():
            with contextlib.suppress(queue.Empty):
                chunks.get(timeout=0.05)
        reader.join()


def _make_client(endpoint: Endpoint, credentials: Credentials | None) -> S3Client:
    config = Config(
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
        s3=cast("_S3Dict", {"addressing_style": endpoint.addressing_style or "auto"}),
        max_pool_connections=32,
        # Every byte read is hashed (SHA-256) here: the store's CRC of it would be
        # computed again for nothing. Asked for explicitly (ChecksumMode), it is read.
        response_checksum_validation="when_required",
    )
    kwargs: dict[str, Any] = {"config": config}
    if endpoint.url:
        kwargs["endpoint_url"] = endpoint.url
    if endpoint.region:
        kwargs["region_name"] = endpoint.region
    if credentials is not None:
        kwargs["aws_access_key_id"] = credentials.access_key_id
        kwargs["aws_secret_access_key"] = credentials.secret_access_key
        kwargs["aws_session_token"] = credentials.session_token
    # A Session per client: boto3's default session is not thread-safe.
    client: S3Client = boto3.session.Session().client("s3", **kwargs)
    return client


_CONNECTION_ERRORS = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectTimeoutError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ResponseStreamingError,
    botocore.exceptions.IncompleteReadError,
)


@contextmanager
def _translated_errors(location: S3Location) -> Iterator[None]:
    """Map botocore's exceptions to the operator's StorageError tree."""
    uri = location.uri
    try:
        yield
    except botocore.exceptions.ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _UNKNOWN_KEY_CODES:
            raise CredentialsRejectedError(
                f"{uri}: the store does not know the access key ({code})"
            ) from error
        if code in _NOT_FOUND_CODES or status == 404:
            raise ArtifactNotFoundError(f"{uri}: not found ({code or status})") from error
        if code in _DENIED_CODES or status == 403:
            raise AccessDeniedError(f"{uri}: access denied ({code or status})") from error
        raise StorageError(f"{uri}: {code or status}: {error}") from error
    except _CONNECTION_ERRORS as error:
        raise StorageUnreachableError(f"{uri}: {error}") from error
    except botocore.exceptions.NoCredentialsError as error:
        raise AccessDeniedError(f"{uri}: no credentials were found") from error
    except botocore.exceptions.BotoCoreError as error:
        raise StorageError(f"{uri}: {error}") from error
