"""The operator's verification of an OCI artifact: the manifest by digest, then every blob.

The manifest is fetched by the digest the URI names and hashed before a
byte of it is believed; then the config and each layer are streamed and
hashed (one read each, never more bytes than the manifest says), several
layers at a time. Any blob whose bytes do not hash to the digest that names
it fails the whole artifact, naming the blob and both digests. The calls
block; `verifier.py` runs them in threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Final, cast

import urllib3
from urllib3.exceptions import HTTPError

from modelregistry import digest
from modelregistry.decisions.oci import manifest as manifests
from modelregistry.decisions.oci.auth import RegistryCredentials
from modelregistry.decisions.oci.failures import BlobDigestMismatchError
from modelregistry.decisions.oci.manifest import Descriptor, Layer, ManifestError, ModelManifest
from modelregistry.decisions.oci.record import OciArtifactDigest, hashed
from modelregistry.decisions.oci.reference import OciReference
from modelregistry.decisions.oci.unpack import GzipSize, UnpackError
from modelregistry.errors import InvalidArtifactError, StorageUnreachableError
from modelregistry.oci.registry import Repository, new_pool
from modelregistry.storage import ReadProgress, read_ahead

CHUNK_SIZE: Final = 4 << 20
# Blobs no larger than this are read in the calling thread: a reader thread would not pay.
_SMALL: Final = CHUNK_SIZE
_MAX_REPOSITORIES: Final = 32

RepositoryKey = tuple[str, str, RegistryCredentials | None, bool, str | None]


class OciStore:
    """Verifies OCI artifacts, reusing one connection pool and one client per repository."""

    def __init__(
        self,
        *,
        blob_workers: int = 4,
        chunk_size: int = CHUNK_SIZE,
        pool: urllib3.PoolManager | None = None,
    ) -> None:
        self._blob_workers = blob_workers
        self._chunk_size = chunk_size
        self._pool = pool or new_pool()
        self._repositories: OrderedDict[RepositoryKey, Repository] = OrderedDict()
        self._lock = threading.Lock()

    def repository(
        self,
        reference: OciReference,
        credentials: RegistryCredentials | None,
        *,
        plain_http: bool = False,
        endpoint: str | None = None,
    ) -> Repository:
        """The client of the reference's repository (kept: it holds the bearer token)."""
        key = (reference.registry, reference.repository, credentials, plain_http, endpoint)
        with self._lock:
            found = self._repositories.get(key)
            if found is None:
                found = Repository(
                    self._pool,
                    reference.registry,
                    reference.repository,
                    credentials,
                    plain_http=plain_http,
                    endpoint=endpoint,
                )
                self._repositories[key] = found
                if len(self._repositories) > _MAX_REPOSITORIES:
                    self._repositories.popitem(last=False)
            else:
                self._repositories.move_to_end(key)
            return found

    def hash_artifact(
        self,
        reference: OciReference,
        credentials: RegistryCredentials | None,
        progress: ReadProgress | None = None,
        *,
        plain_http: bool = False,
        endpoint: str | None = None,
    ) -> OciArtifactDigest:
        """Verify the manifest and every blob; raise a StorageError subclass."""
        progress = progress or ReadProgress()
        repository = self.repository(
            reference, credentials, plain_http=plain_http, endpoint=endpoint
        )
        _, manifest = read_manifest(repository, reference)
        self.hash_blob(repository, manifest.config, "the config", progress)
        # A blob listed twice is read once.
        unique: dict[str, tuple[Layer, str]] = {}
        for i, layer in enumerate(manifest.layers):
            unique.setdefault(layer.descriptor.digest, (layer, layer_label(i, layer)))
        with ThreadPoolExecutor(max_workers=self._blob_workers) as pool:
            futures = {
                blob: pool.submit(
                    self.hash_blob,
                    repository,
                    layer.descriptor,
                    label,
                    progress,
                    inflate=layer.compression == "gzip",
                )
                for blob, (layer, label) in unique.items()
            }
            done, pending = wait(futures.values(), return_when=FIRST_EXCEPTION)
            failed = [f for f in futures.values() if f in done and f.exception() is not None]
            if failed:
                for future in pending:
                    future.cancel()
                raise cast(BaseException, failed[0].exception())
            inflated = {blob: future.result() for blob, future in futures.items()}
        files = tuple(
            digest.FileDigest(
                path=layer.path or layer.descriptor.digest,
                hexdigest=layer.descriptor.digest.removeprefix(digest.SHA256_PREFIX),
                size=layer.descriptor.size,
            )
            for layer in manifest.layers
        )
        unpacked = sum(
            inflated[layer.descriptor.digest] or layer.descriptor.size for layer in manifest.layers
        )
        return hashed(reference, manifest, files, unpacked)

    def hash_blob(
        self,
        repository: Repository,
        item: Descriptor,
        label: str,
        progress: ReadProgress,
        *,
        inflate: bool = False,
    ) -> int | None:
        """Stream the blob and hash it: exactly `item.size` bytes that hash to `item.digest`.

        With `inflate` (a gzip layer), the same read also counts the bytes it
        inflates to, returned: what it takes once unpacked.
        """
        progress.expect(item.size)
        gzip = _Inflating(label) if inflate else None
        with repository.blob(item.digest) as response:
            body = Bounded(response, item.size)
            if item.size <= _SMALL:
                chunks: Iterator[bytes] = _chunks(body, self._chunk_size)
                hexdigest, size = digest.hash_chunks(_counted(chunks, progress, gzip))
            else:
                with contextlib.closing(read_ahead(body, self._chunk_size)) as ahead:
                    hexdigest, size = digest.hash_chunks(_counted(ahead, progress, gzip))
        check_blob(repository.registry, item, label, digest.SHA256_PREFIX + hexdigest, size)
        return gzip.finish() if gzip is not None else None


class _Inflating:
    """A GzipSize that keeps its first error until the blob's digest has been checked."""

    def __init__(self, label: str) -> None:
        self._size = GzipSize(label)
        self._error: UnpackError | None = None

    def feed(self, chunk: bytes) -> None:
        if self._error is None:
            try:
                self._size.feed(chunk)
            except UnpackError as error:
                self._error = error

    def finish(self) -> int:
        try:
            if self._error is not None:
                raise self._error
            return self._size.finish()
        except UnpackError as error:
            raise InvalidArtifactError(str(error)) from None


def read_manifest(repository: Repository, reference: OciReference) -> tuple[bytes, ModelManifest]:
    """The manifest the reference names, once its bytes hashed to that digest: raw and read."""
    raw, content_type = repository.manifest(reference.digest, manifests.MAX_MANIFEST_BYTES)
    observed = digest.SHA256_PREFIX + hashlib.sha256(raw).hexdigest()
    if observed != reference.digest:
        raise BlobDigestMismatchError(
            f"{reference.registry} served a manifest for {reference.digest} whose bytes hash to "
            f"{observed}",
            blob="the manifest",
            expected=reference.digest,
            observed=observed,
        )
    try:
        return raw, manifests.parse(raw, content_type)
    except ManifestError as error:
        raise InvalidArtifactError(f"{reference.uri}: {error}") from None


def check_blob(registry: str, item: Descriptor, label: str, observed: str, size: int) -> None:
    """Raise BlobDigestMismatchError unless `size` bytes hashing to `observed` are the blob."""
    if size != item.size:
        raise BlobDigestMismatchError(
            f"{registry} served {'more' if size > item.size else size} bytes for {label} "
            f"({item.digest}), which the manifest says is {item.size} bytes",
            blob=label,
            expected=item.digest,
            observed=observed if size < item.size else "more bytes than its size",
        )
    if observed != item.digest:
        raise BlobDigestMismatchError(
            f"{registry} served bytes for {label} that hash to {observed}, not {item.digest}",
            blob=label,
            expected=item.digest,
            observed=observed,
        )


def layer_label(index: int, layer: manifests.Layer) -> str:
    """How messages name a layer: its index, and its path or media type."""
    return f"layer {index} ({layer.path or layer.descriptor.media_type})"


class Bounded:
    """A body read to at most one byte past `size`: a registry cannot make it read on forever."""

    def __init__(self, body: urllib3.BaseHTTPResponse, size: int) -> None:
        self._body = body
        self._left = size + 1

    def read(self, amt: int | None = None, /) -> bytes:
        if self._left <= 0:
            return b""
        wanted = self._left if amt is None or amt < 0 else min(amt, self._left)
        try:
            chunk = self._body.read(wanted)
        except HTTPError as error:
            raise StorageUnreachableError(
                f"the connection broke while reading a blob: {error}"
            ) from error
        self._left -= len(chunk)
        return chunk


def _chunks(body: Bounded, chunk_size: int) -> Iterator[bytes]:
    while chunk := body.read(chunk_size):
        yield chunk


def _counted(
    chunks: Iterable[bytes], progress: ReadProgress, gzip: _Inflating | None = None
) -> Iterator[bytes]:
    for chunk in chunks:
        progress.advance(len(chunk))
        if gzip is not None:
            gzip.feed(chunk)
        yield chunk
