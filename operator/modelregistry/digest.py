"""Artifact digests: SHA-256 of one object, or a manifest digest of a prefix.

The format (also in docs/digest.md) is shared by the operator, which hashes
objects in S3, and the CLI, which hashes local files, so a user can compute
`spec.artifact.digest` before applying a ModelVersion.

- One object: ``sha256:`` + hex SHA-256 of its bytes.
- A prefix (directory): every file is hashed; the *manifest* is one line per
  file, ``<hex>  <relative path>\\n`` (two spaces, as `sha256sum` prints),
  sorted by the UTF-8 bytes of the path; the digest is ``sha256:`` + hex
  SHA-256 of the manifest. Relative paths use ``/`` and never start with
  ``./``. Paths that contain a newline or a backslash are refused, so the
  manifest is exactly what ``sha256sum`` prints for the same files.

This module is pure: it hashes what it is given and imports no client.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

SHA256_PREFIX = "sha256:"
# Large reads keep per-call overhead low; hashlib releases the GIL while it
# hashes a buffer this size, so several threads hash in parallel.
CHUNK_SIZE = 1 << 20


class InvalidArtifactPathError(ValueError):
    """A file name that the manifest format cannot represent."""


@dataclass(frozen=True)
class FileDigest:
    """One hashed file (or object) of an artifact."""

    path: str
    hexdigest: str
    size: int
    version_id: str | None = None
    # The store's own checksum, not bytes this process hashed.
    by_store_checksum: bool = False

    @property
    def digest(self) -> str:
        return SHA256_PREFIX + self.hexdigest


@dataclass(frozen=True)
class ArtifactDigest:
    """The digest of a whole artifact and the files it covers."""

    digest: str
    size: int
    files: tuple[FileDigest, ...]
    is_prefix: bool

    @property
    def version_id(self) -> str | None:
        """versionId of a single-object artifact."""
        return None if self.is_prefix else self.files[0].version_id

    @property
    def by_store_checksum(self) -> bool:
        """Whether the digest rests on the store's checksums rather than on hashed bytes."""
        return any(f.by_store_checksum for f in self.files)


def sha256_from_store_checksum(checksum: object, checksum_type: object) -> str | None:
    """The hex SHA-256 of a whole object from S3's `ChecksumSHA256`, or None.

    Only a full-object checksum covers the object's bytes. A multipart upload's
    is COMPOSITE: a checksum of the parts' checksums, written `<base64>-<parts>`.
    Stores that predate `ChecksumType` send none; their SHA-256 checksum of a
    single-part upload has no part count.
    """
    if not isinstance(checksum, str) or checksum_type not in (None, "FULL_OBJECT"):
        return None
    try:
        raw = base64.b64decode(checksum, validate=True)
    except (binascii.Error, ValueError):
        return None  # a part count suffix, or not base64 at all
    return raw.hex() if len(raw) == hashlib.sha256().digest_size else None


def hash_chunks(chunks: Iterable[bytes | bytearray | memoryview]) -> tuple[str, int]:
    """Hex SHA-256 and byte count of a stream of chunks."""
    hasher = hashlib.sha256()
    size = 0
    for chunk in chunks:
        hasher.update(chunk)
        size += len(chunk)
    return hasher.hexdigest(), size


def read_chunks(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    while chunk := stream.read(chunk_size):
        yield chunk


def check_relative_path(path: str) -> str:
    """Return `path` if the manifest can hold it, else raise.

    Every `/`-separated segment must be a name: not empty (`a//b`, a trailing
    `/`), not `.` and not `..`, so the path names one file under the artifact's
    root wherever it is written out, and never the same file as another path.
    """
    if not path or path.startswith("/") or path.startswith("./"):
        raise InvalidArtifactPathError(f"{path!r}: paths must be relative, without './'")
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        raise InvalidArtifactPathError(
            f"{path!r}: every path segment must be a name (no empty segment, '.' or '..')"
        )
    try:
        path.encode()
    except UnicodeEncodeError:
        raise InvalidArtifactPathError(f"{path!r}: file names must be valid UTF-8") from None
    if "\n" in path or "\\" in path:
        raise InvalidArtifactPathError(
            f"{path!r}: file names with a newline or backslash cannot be in a manifest"
        )
    return path


def manifest(files: Iterable[FileDigest]) -> bytes:
    """The manifest text of a prefix artifact (see the module docstring)."""
    ordered = sorted(files, key=lambda f: f.path.encode())
    return b"".join(f"{f.hexdigest}  {check_relative_path(f.path)}\n".encode() for f in ordered)


def single_object(file: FileDigest) -> ArtifactDigest:
    return ArtifactDigest(digest=file.digest, size=file.size, files=(file,), is_prefix=False)


def prefix_artifact(files: Iterable[FileDigest]) -> ArtifactDigest:
    ordered = tuple(sorted(files, key=lambda f: f.path.encode()))
    if not ordered:
        raise ValueError("a prefix artifact needs at least one file")
    return ArtifactDigest(
        digest=SHA256_PREFIX + hashlib.sha256(manifest(ordered)).hexdigest(),
        size=sum(f.size for f in ordered),
        files=ordered,
        is_prefix=True,
    )


def digest_local_file(path: Path, relative: str | None = None) -> FileDigest:
    with path.open("rb") as stream:
        hexdigest, size = hash_chunks(read_chunks(stream))
    return FileDigest(path=relative or path.name, hexdigest=hexdigest, size=size)


def digest_local_path(path: Path, *, workers: int | None = None) -> ArtifactDigest:
    """Digest a local file, or a directory as a prefix artifact would be.

    A directory's files are hashed in parallel threads (hashlib releases the
    GIL), the way the operator hashes the objects under a prefix.
    """
    if path.is_file():
        return single_object(digest_local_file(path))
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or directory")
    relatives = [check_relative_path(p) for p in _walk_files(path)]
    if not relatives:
        raise ValueError(f"{path}: the directory holds no files")
    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
        files = list(pool.map(lambda rel: digest_local_file(path / rel, rel), relatives))
    return prefix_artifact(files)


def _walk_files(root: Path) -> Iterator[str]:
    for directory, _dirs, names in os.walk(root):
        for name in names:
            full = Path(directory) / name
            # Regular files only, as `find -type f` lists them: no symlinks.
            if full.is_file() and not full.is_symlink():
                yield full.relative_to(root).as_posix()
