"""Upload a file or directory to S3 in parallel parts, hashing it on the way: one read.

One thread reads the files in order and feeds each file's SHA-256 as it goes;
a pool of threads sends what it read. So every byte is read from disk once,
hashed once, and sent once, and the digest is the one `digest.py` defines:
the file's SHA-256, or for a directory the manifest digest of every file's.

- A file of at most `part_size` bytes goes up in one PUT with its SHA-256 as
  `ChecksumSHA256`: the store checks the bytes against it and keeps it (a
  Model with `policy.verification.acceptStoreChecksum` may accept it).
- A larger file goes up as a multipart upload, parts sent in parallel. S3
  keeps no SHA-256 of a whole multipart object, so the operator hashes it.

Payloads are sent unsigned, as botocore already does over HTTPS: what the
store receives is checked by the ChecksumSHA256 of a single PUT, and every
byte by the digest the operator verifies, so signing the payload as well
would hash each byte a second time.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import math
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import boto3
import botocore.exceptions
from botocore.config import Config

from modelregistry.client.errors import RegistryError
from modelregistry.digest import (
    ArtifactDigest,
    FileDigest,
    _walk_files,
    check_relative_path,
    prefix_artifact,
    single_object,
)
from modelregistry.storage import S3Location

if TYPE_CHECKING:
    from hashlib import _Hash

MIB = 1024 * 1024
DEFAULT_PART_SIZE = 16 * MIB
DEFAULT_CONCURRENCY = 10
MAX_PARTS = 10_000  # S3's limit per multipart upload
MIN_PART_SIZE = 5 * MIB  # S3's floor for every part but the last

_STORE_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
# Bytes sent, reported as each PUT or part completes (from the pool's threads).
Progress = Callable[[int], None]


class UploadError(RegistryError):
    """The store refused or failed an upload; the message says what to change."""


@dataclass(frozen=True)
class TransferSettings:
    """How the bytes go up: part size (also the largest single PUT) and parallel requests."""

    part_size: int = DEFAULT_PART_SIZE
    concurrency: int = DEFAULT_CONCURRENCY

    def __post_init__(self) -> None:
        if self.part_size < MIN_PART_SIZE:
            raise ValueError(f"part size must be at least {MIN_PART_SIZE // MIB} MiB (S3's floor)")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")

    def part_size_for(self, size: int) -> int:
        """The part size for a file of `size` bytes: larger when it would need too many parts."""
        needed = math.ceil(size / MAX_PARTS)
        return max(self.part_size, math.ceil(needed / MIB) * MIB)


@dataclass(frozen=True)
class LocalFile:
    """One file to upload: where it is, its path in the artifact, and its object key."""

    path: Path
    relative: str
    key: str
    size: int


def plan(path: Path, location: S3Location) -> list[LocalFile]:
    """The files of `path` and their keys under `location`; refuse a mismatched URI."""
    if path.is_file():
        if location.is_prefix:
            raise UploadError(
                f"{path} is a file but {location.uri} ends in '/' (a prefix): name the object "
                f"key, e.g. {location.uri}{path.name}"
            )
        return [LocalFile(path, path.name, location.key, path.stat().st_size)]
    if not path.is_dir():
        raise UploadError(f"{path}: no such file or directory")
    if not location.is_prefix:
        raise UploadError(
            f"{path} is a directory, so its artifact is a prefix: end the URI in '/' "
            f"({location.uri}/)"
        )
    relatives = sorted(check_relative_path(r) for r in _walk_files(path))
    if not relatives:
        raise UploadError(f"{path}: the directory holds no files")
    return [LocalFile(path / r, r, location.key + r, (path / r).stat().st_size) for r in relatives]


def s3_client(concurrency: int = DEFAULT_CONCURRENCY) -> Any:
    """An S3 client from boto3's usual settings (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...)."""
    config = Config(
        max_pool_connections=concurrency + 2,
        retries={"mode": "standard"},
        s3={"payload_signing_enabled": False},
        # Checksums only where this module sends them (a single PUT's SHA-256).
        request_checksum_calculation="when_required",
    )
    return boto3.session.Session().client("s3", config=config)


def ensure_free(client: Any, location: S3Location) -> None:
    """Refuse a destination that holds objects already.

    A prefix artifact is every object under the prefix, so a stray object
    would change its digest; an overwritten key would change the bytes of a
    version verified before.
    """
    try:
        if location.is_prefix:
            listed = client.list_objects_v2(Bucket=location.bucket, Prefix=location.key, MaxKeys=1)
            taken = listed.get("KeyCount", 0) > 0
        else:
            try:
                client.head_object(Bucket=location.bucket, Key=location.key)
                taken = True
            except botocore.exceptions.ClientError as error:
                if _code(error) not in ("404", "NoSuchKey", "NotFound"):
                    raise
                taken = False
    except _STORE_ERRORS as error:
        raise UploadError(_explain(error, location.uri)) from None
    if taken:
        what = "objects under this prefix" if location.is_prefix else "an object at this key"
        raise UploadError(
            f"{location.uri} holds {what} already, which would change what a version "
            f"registered there holds: choose a new destination (--to)"
        )


def upload(
    client: Any,
    files: Sequence[LocalFile],
    location: S3Location,
    *,
    settings: TransferSettings = TransferSettings(),
    progress: Progress | None = None,
) -> ArtifactDigest:
    """Upload `files` (from `plan`) and return the digest of what was sent."""
    digests = _Upload(client, location, settings, progress).run(files)
    return prefix_artifact(digests) if location.is_prefix else single_object(digests[0])


class _Upload:
    """The reader (the calling thread) and the senders (a pool) of one upload."""

    def __init__(
        self,
        client: Any,
        location: S3Location,
        settings: TransferSettings,
        progress: Progress | None,
    ) -> None:
        self.client = client
        self.location = location
        self.settings = settings
        self.progress = progress
        # Whole files read for one PUT and not yet sent: at most concurrency + 1.
        self.slots = threading.BoundedSemaphore(settings.concurrency + 1)
        self.failed = threading.Event()
        self.pending: list[Future[Any]] = []
        self.multipart: list[_Multipart] = []

    def run(self, files: Sequence[LocalFile]) -> list[FileDigest]:
        pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="upload")
        try:
            digests = [self._file(pool, f) for f in files if not self.failed.is_set()]
            for future in self.pending:
                future.result()
            completions = [pool.submit(m.complete) for m in self.multipart]
            for future in completions:
                future.result()
        except BaseException as error:
            self.failed.set()
            pool.shutdown(wait=True, cancel_futures=True)
            for started in self.multipart:
                started.abort()
            if isinstance(error, _STORE_ERRORS):
                raise UploadError(_explain(error, self.location.uri)) from None
            raise
        pool.shutdown(wait=True)
        return digests

    def _file(self, pool: ThreadPoolExecutor, file: LocalFile) -> FileDigest:
        hasher = hashlib.sha256()
        with file.path.open("rb", buffering=0) as stream:
            if file.size <= self.settings.part_size:
                data = _read(stream, file.size) + stream.read()  # the file may have grown
                hasher.update(data)
                checksum = base64.b64encode(hasher.digest()).decode()
                self._send(pool, self._put, file.key, data, checksum)
                size = len(data)
            else:
                size = self._parts(pool, file, stream, hasher)
        return FileDigest(path=file.relative, hexdigest=hasher.hexdigest(), size=size)

    def _parts(
        self, pool: ThreadPoolExecutor, file: LocalFile, stream: BinaryIO, hasher: _Hash
    ) -> int:
        started = self.client.create_multipart_upload(Bucket=self.location.bucket, Key=file.key)
        upload = _Multipart(self.client, self.location.bucket, file.key, started["UploadId"])
        self.multipart.append(upload)
        part_size = self.settings.part_size_for(file.size)
        # Parts are read into buffers used again once sent: no new memory (and no page
        # faults) per part, and never more than concurrency + 1 parts held.
        buffers: queue.SimpleQueue[bytearray | None] = queue.SimpleQueue()
        for _ in range(self.settings.concurrency + 1):
            buffers.put(None)
        size = 0
        while not self.failed.is_set():
            buffer = buffers.get() or bytearray(part_size)
            count = _read_into(stream, buffer)
            if count == 0 and upload.count:
                break
            body = buffer if count == part_size else buffer[:count]
            hasher.update(body)
            size += count
            future = pool.submit(self._sending, upload.send, upload.next_number(), body)
            future.add_done_callback(_returning(buffers, buffer))
            self.pending.append(future)
            if count < part_size:
                break
        return size

    def _send(self, pool: ThreadPoolExecutor, send: Callable[..., None], *args: Any) -> None:
        self.slots.acquire()
        try:
            future = pool.submit(self._sending, send, *args)
        except BaseException:
            self.slots.release()
            raise
        future.add_done_callback(lambda _: self.slots.release())
        self.pending.append(future)

    def _sending(self, send: Callable[..., None], *args: Any) -> None:
        try:
            if self.failed.is_set():
                return
            send(*args)
            if self.progress is not None:
                self.progress(_size_of(args))
        except BaseException:
            self.failed.set()
            raise

    def _put(self, key: str, data: bytes, checksum: str) -> None:
        # The store checks the bytes against their SHA-256 and keeps it (ChecksumSHA256).
        self.client.put_object(
            Bucket=self.location.bucket, Key=key, Body=data, ChecksumSHA256=checksum
        )


class _Multipart:
    """One multipart upload: its parts as they complete, then complete or abort."""

    def __init__(self, client: Any, bucket: str, key: str, upload_id: str) -> None:
        self.client = client
        self.bucket = bucket
        self.key = key
        self.upload_id = upload_id
        self.count = 0
        self.parts: dict[int, str] = {}
        self.lock = threading.Lock()

    def next_number(self) -> int:
        self.count += 1
        return self.count

    def send(self, number: int, data: bytes | bytearray) -> None:
        sent = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=data
        )
        with self.lock:
            self.parts[number] = sent["ETag"]

    def complete(self) -> None:
        parts = [{"PartNumber": n, "ETag": self.parts[n]} for n in sorted(self.parts)]
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": parts},
        )

    def abort(self) -> None:
        """Best effort: the store would keep the parts (and bill them) otherwise."""
        with contextlib.suppress(*_STORE_ERRORS):
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
            )


def _read(stream: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes; fewer only at the end of the file."""
    chunks = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _returning(
    buffers: queue.SimpleQueue[bytearray | None], buffer: bytearray
) -> Callable[[Future[Any]], None]:
    """Give the buffer back once its part is sent (or failed)."""
    return lambda _: buffers.put(buffer)


def _read_into(stream: BinaryIO, buffer: bytearray) -> int:
    """Fill `buffer` from the file; fewer bytes only at its end."""
    view = memoryview(buffer)
    filled = 0
    while filled < len(buffer):
        count = stream.readinto(view[filled:])  # type: ignore[attr-defined]
        if not count:
            break
        filled += count
    return filled


def _size_of(args: tuple[Any, ...]) -> int:
    return next(len(a) for a in args if isinstance(a, bytes | bytearray))


def _code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _explain(error: Exception, uri: str) -> str:
    """What went wrong with the store, and what to change."""
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return (
            f"no S3 credentials to upload to {uri}: set AWS_ACCESS_KEY_ID and "
            f"AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
        )
    if isinstance(error, botocore.exceptions.EndpointConnectionError):
        return f"cannot reach the S3 endpoint for {uri} ({error}): check AWS_ENDPOINT_URL"
    if isinstance(error, botocore.exceptions.ClientError):
        code = _code(error)
        message = error.response.get("Error", {}).get("Message") or str(error)
        bucket = S3Location.parse(uri).bucket
        if code == "NoSuchBucket":
            return f"bucket {bucket!r} does not exist: create it, or choose another with --to"
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return (
                f"the store refused access to {uri} ({code}: {message}): check the credentials "
                f"(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and their rights on bucket {bucket!r}"
            )
        return f"uploading to {uri} failed: {code}: {message}"
    return f"uploading to {uri} failed: {error}"
