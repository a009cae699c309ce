"""Download verified bytes: each object at its pinned versionId, hashed as it is written.

Shared by both modes of `modelregistry fetch` (the validation Pod's init
container, and `modelregistry://` URIs for serving). One read: every chunk is
hashed from the buffer that is written, so no file is read back to check it.

- An object of known size larger than one part comes as ranged GETs of
  `part_size` bytes, `concurrency` at a time, each written at its offset and
  hashed in order; at most `concurrency + 2` parts are held in memory. Each
  part must come back whole, from an object of exactly the verified size.
- Any other object comes as one streamed GET, in 1 MiB chunks.

No byte beyond the verified size is written (`SizeBudget`), and no path
outside the destination (`safe_relative`). A prefix's objects are the pinned
files; it is listed only when its status could not pin them all, and must
then hold exactly as many objects as were verified.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from modelregistry.digest import (
    ArtifactDigest,
    FileDigest,
    check_relative_path,
    prefix_artifact,
    single_object,
)

MIB: Final = 1 << 20
CHUNK_SIZE: Final = MIB  # of a streamed GET
_CONTENT_RANGE: Final = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


class ArtifactChanged(Exception):
    """The store no longer holds exactly the verified objects."""


@dataclass(frozen=True)
class Transfer:
    """How objects come down: the size of a ranged GET, and how many run at once."""

    part_size: int = 8 * MIB
    concurrency: int = 8

    def __post_init__(self) -> None:
        if self.part_size < 1 or self.concurrency < 1:
            raise ValueError("part size and concurrency must be at least 1")


class SizeBudget:
    """Refuses bytes beyond the verified size: the store cannot fill the Pod's disk."""

    def __init__(self, size: int | None) -> None:
        self._left = size

    def take(self, count: int, key: str) -> None:
        if self._left is None:
            return
        self._left -= count
        if self._left < 0:
            raise ArtifactChanged(f"{key} holds more bytes than were verified")


def safe_relative(relative: str) -> Path:
    """`relative` as a path that stays under the destination, or ValueError."""
    check_relative_path(relative)
    return Path(*relative.split("/"))


def prefix_objects(
    plan: dict[str, Any], list_keys: Callable[[], list[str]]
) -> list[tuple[str, str | None]]:
    """(relative path, versionId) of each object of a prefix to fetch.

    Every pinned file, at its versionId; the store is listed only when status
    could not pin them all, and then must hold exactly `fileCount` objects.
    """
    pinned = {f["path"]: f.get("versionId") for f in plan.get("files", [])}
    expected = plan.get("fileCount", len(pinned))
    if len(pinned) >= expected:
        return sorted(pinned.items())
    listed = set(list_keys()) | set(pinned)
    if len(listed) != expected:
        raise ArtifactChanged(
            f"{plan['uri']} holds {len(listed)} objects now, but {expected} were verified"
        )
    return sorted((path, pinned.get(path)) for path in listed)


def store_client(plan: dict[str, Any], transfer: Transfer | None = None) -> Any:
    """An S3 client for the plan's endpoint, region and addressing style; credentials
    from boto3's chain (environment, web identity, instance profile)."""
    import boto3
    from botocore.config import Config

    kwargs: dict[str, Any] = {
        "config": Config(
            # A read that stalls is retried soon, not after botocore's 60 s.
            connect_timeout=5,
            read_timeout=20,
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": plan.get("addressingStyle") or "auto"},
            max_pool_connections=max(10, (transfer or Transfer()).concurrency),
            # Every byte is hashed (SHA-256) as it is written: a CRC of it too would
            # cost CPU for nothing.
            response_checksum_validation="when_required",
        )
    }
    if plan.get("endpoint"):
        kwargs["endpoint_url"] = plan["endpoint"]
    if plan.get("region"):
        kwargs["region_name"] = plan["region"]
    return boto3.session.Session().client("s3", **kwargs)


def download_artifact(
    client: Any, plan: dict[str, Any], destination: Path, transfer: Transfer | None = None
) -> tuple[Path, list[FileDigest]]:
    """Download the plan's objects under `destination`: the artifact's path, and each
    file as hashed while written (relative path, SHA-256, size, versionId)."""
    transfer = transfer or Transfer()
    bucket, _, key = plan["uri"][len("s3://") :].partition("/")
    budget = SizeBudget(plan.get("size"))
    if not key.endswith("/"):
        name = Path(key).name
        target = destination / safe_relative(name)
        one = _Object(client, bucket, key, plan.get("versionId"), plan.get("size"))
        return target, [one.download(target, name, budget, transfer)]
    sizes = {f["path"]: f.get("size") for f in plan.get("files", [])}
    files = []
    for relative, version_id in prefix_objects(plan, lambda: _listed(client, bucket, key)):
        target = destination / safe_relative(relative)
        each = _Object(client, bucket, key + relative, version_id, sizes.get(relative))
        files.append(each.download(target, relative, budget, transfer))
    return destination, files


def artifact_digest(plan: dict[str, Any], files: list[FileDigest]) -> ArtifactDigest:
    """The digest of what was downloaded, as `digest.py` defines it for the plan's URI."""
    return prefix_artifact(files) if plan["uri"].endswith("/") else single_object(files[0])


def _listed(client: Any, bucket: str, key: str) -> list[str]:
    paginator = client.get_paginator("list_objects_v2")
    return [
        item["Key"][len(key) :]
        for page in paginator.paginate(Bucket=bucket, Prefix=key)
        for item in page.get("Contents", [])
        if not item["Key"].endswith("/")
    ]


@dataclass(frozen=True)
class _Object:
    client: Any
    bucket: str
    key: str
    version_id: str | None
    size: int | None  # as verified, where status recorded it

    def download(
        self, target: Path, relative: str, budget: SizeBudget, transfer: Transfer
    ) -> FileDigest:
        import hashlib

        target.parent.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        if self.size is not None and self.size > transfer.part_size:
            self._ranged(target, hasher, budget, transfer, self.size)
            written = self.size
        else:
            written = self._streamed(target, hasher, budget)
        return FileDigest(relative, hasher.hexdigest(), written, self.version_id)

    def _request(self) -> dict[str, str]:
        asked = {"Bucket": self.bucket, "Key": self.key}
        if self.version_id:
            asked["VersionId"] = self.version_id
        return asked

    def _streamed(self, target: Path, hasher: Any, budget: SizeBudget) -> int:
        response = self.client.get_object(**self._request())
        written = 0
        with target.open("wb") as out:
            for chunk in response["Body"].iter_chunks(CHUNK_SIZE):
                budget.take(len(chunk), self.key)
                hasher.update(chunk)
                out.write(chunk)
                written += len(chunk)
        return written

    def _ranged(
        self, target: Path, hasher: Any, budget: SizeBudget, transfer: Transfer, size: int
    ) -> None:
        """Parts fetched in parallel and written at their offsets, hashed in order here."""
        parts = iter(
            (start, min(start + transfer.part_size, size) - 1)
            for start in range(0, size, transfer.part_size)
        )
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            with ThreadPoolExecutor(transfer.concurrency, thread_name_prefix="part") as pool:
                pending: deque[Future[bytes]] = deque()

                def more() -> None:
                    if (part := next(parts, None)) is not None:
                        pending.append(pool.submit(self._part, fd, size, *part))

                for _ in range(transfer.concurrency + 2):
                    more()
                try:
                    while pending:
                        data = pending.popleft().result()
                        budget.take(len(data), self.key)
                        hasher.update(data)
                        more()
                finally:
                    for left in pending:  # after a failure: nothing more is asked
                        left.cancel()
        finally:
            os.close(fd)

    def _part(self, fd: int, size: int, start: int, end: int) -> bytes:
        response = self.client.get_object(**self._request(), Range=f"bytes={start}-{end}")
        found = _CONTENT_RANGE.match(str(response.get("ContentRange") or ""))
        if found is None:
            raise ArtifactChanged(
                f"{self.key}: the store answered a ranged GET without a Content-Range"
            )
        if int(found.group(3)) != size:
            raise ArtifactChanged(
                f"{self.key} holds {found.group(3)} bytes now, but {size} were verified"
            )
        data: bytes = response["Body"].read()
        if (int(found.group(1)), int(found.group(2))) != (start, end) or len(data) != (
            end - start + 1
        ):
            raise ArtifactChanged(
                f"{self.key}: the store sent {len(data)} bytes for bytes {start}-{end}"
            )
        view = memoryview(data)
        offset = start
        while view:  # a regular file takes it all at once, but pwrite may write less
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written
        return data
