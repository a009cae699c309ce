"""Pull a verified OCI artifact by digest into a directory, hashing every blob again.

The validation Pod's fetch step (and anything else that must hand over only
the verified bytes): the manifest by the digest the operator verified, then
each layer by its digest, hashed in the same read that writes it out. A
layer that is one file is written at its path; a tar layer (plain or gzip)
is unpacked, files and directories only (`decisions/oci/unpack.py`). Any
blob that is not its digest's bytes stops the pull, and the destination is
emptied: nothing unverified is handed over.

Credentials come from the environment (USERNAME_VARIABLE and
PASSWORD_VARIABLE, or DOCKERCONFIG_VARIABLE), put there from the version's
Secret for this container alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, cast

from modelregistry import digest
from modelregistry.decisions.oci import auth, unpack
from modelregistry.decisions.oci.auth import RegistryCredentials
from modelregistry.decisions.oci.manifest import Layer, ModelManifest
from modelregistry.decisions.oci.podplan import (
    DOCKERCONFIG_VARIABLE,
    PASSWORD_VARIABLE,
    SETTING,
    USERNAME_VARIABLE,
)
from modelregistry.decisions.oci.reference import OciReference, parse
from modelregistry.errors import CredentialsError
from modelregistry.oci.registry import Repository, new_pool
from modelregistry.oci.store import Bounded, check_blob, layer_label, read_manifest

MANIFEST_FILE: Final = "oci-manifest.json"
CONFIG_FILE: Final = "oci-config.json"
CHUNK_SIZE: Final = 1 << 20


@dataclass(frozen=True)
class Pulled:
    reference: OciReference
    manifest: ModelManifest
    files: int


def credentials_from_environment(
    environ: Mapping[str, str], registry: str, prefix: str = ""
) -> RegistryCredentials | None:
    """The registry credentials this container was given (under `prefix`: a compared
    version's own), or None for anonymous reads."""
    data = {
        auth.USERNAME_KEY: environ.get(prefix + USERNAME_VARIABLE, ""),
        auth.PASSWORD_KEY: environ.get(prefix + PASSWORD_VARIABLE, ""),
        auth.DOCKERCONFIG_KEY: environ.get(prefix + DOCKERCONFIG_VARIABLE, ""),
    }
    if not any(data.values()):
        return None
    return auth.credentials_from(data, registry, "the registry Secret")


def pull_plan(
    plan: Mapping[str, Any], destination: Path, meta: Path | None, prefix: str | None = ""
) -> Pulled:
    """Pull what the fetch plan names (see `decisions/oci/podplan.py`), with the credentials
    under `prefix` (None: anonymous, as for a compared version that names no Secret).

    Raises BlobDigestMismatchError for bytes that are not their digest's,
    another StorageError when the registry cannot be read, CredentialsError,
    or UnpackError for a layer that cannot be laid out.
    """
    reference = parse(str(plan["uri"]), "the fetch plan's uri")
    if plan.get("digest") != reference.digest:
        raise ValueError(f"the plan's digest {plan.get('digest')} is not the URI's")
    oci = plan.get("oci") or {}
    endpoint = oci.get("endpoint")
    if not endpoint:
        raise CredentialsError(
            f"validation Pods may not reach the registry {reference.registry}: the operator's "
            f"{SETTING} does not name it (ask the operator's administrator to add it)"
        )
    credentials = (
        None
        if prefix is None
        else credentials_from_environment(os.environ, reference.registry, prefix)
    )
    repository = Repository(
        new_pool(),
        reference.registry,
        reference.repository,
        credentials,
        plain_http=bool(oci.get("plainHTTP")),
        endpoint=str(endpoint),
    )
    limit = plan.get("unpackLimit")
    return pull(repository, reference, destination, meta, int(limit) if limit else None)


def pull(
    repository: Repository,
    reference: OciReference,
    destination: Path,
    meta: Path | None = None,
    limit: int | None = None,
) -> Pulled:
    """Pull the artifact into `destination` (emptied again if anything fails)."""
    try:
        raw, manifest = read_manifest(repository, reference)
        config = _blob_bytes(repository, manifest, repository.registry)
        budget = unpack.Budget(limit)
        written = 0
        for index, layer in enumerate(manifest.layers):
            written += _layer(repository, index, layer, destination, budget)
    except BaseException:
        _empty(destination)
        raise
    if meta is not None:
        meta.mkdir(parents=True, exist_ok=True)
        (meta / MANIFEST_FILE).write_bytes(raw)
        (meta / CONFIG_FILE).write_bytes(config)
    return Pulled(reference, manifest, written)


def _blob_bytes(repository: Repository, manifest: ModelManifest, registry: str) -> bytes:
    item = manifest.config
    with repository.blob(item.digest) as response:
        body = Bounded(response, item.size).read()
    observed = digest.SHA256_PREFIX + hashlib.sha256(body).hexdigest()
    check_blob(registry, item, "the config", observed, len(body))
    return body


def _layer(
    repository: Repository, index: int, layer: Layer, destination: Path, budget: unpack.Budget
) -> int:
    """Write one layer out; returns how many files it wrote."""
    item, label = layer.descriptor, layer_label(index, layer)
    if layer.compression == "zstd":
        raise unpack.UnpackError(
            f"{label} is compressed with zstd, which validation Pods cannot unpack: push it "
            "uncompressed (as ModelPack recommends for weights) or with gzip"
        )
    with repository.blob(item.digest) as response:
        reader = HashingReader(Bounded(response, item.size))
        if layer.packing == "file":
            assert layer.path is not None  # a file layer has a path (manifest.layer_of)
            budget.take(item.size, label)
            _write(reader, destination, layer.path, 0o644)
            files = 1
        else:
            files = _untar(reader, layer, label, destination, budget)
        reader.drain()
    check_blob(repository.registry, item, label, reader.digest, reader.size)
    return files


def _untar(
    reader: HashingReader, layer: Layer, label: str, destination: Path, budget: unpack.Budget
) -> int:
    files = 0
    stream = cast(IO[bytes], reader)
    try:
        with (
            tarfile.open(fileobj=stream, mode="r|gz")
            if layer.compression == "gzip"
            else tarfile.open(fileobj=stream, mode="r|")
        ) as archive:
            for member in archive:
                kind: unpack.EntryKind = (
                    "file" if member.isreg() else "directory" if member.isdir() else "other"
                )
                found = unpack.entry(label, member.name, kind)
                if found is None:
                    continue
                if found.kind == "directory":
                    (destination / found.path).mkdir(parents=True, exist_ok=True)
                    continue
                budget.take(member.size, f"{label}'s {found.path}")
                source = archive.extractfile(member)
                assert source is not None  # a regular file has contents
                _write(source, destination, found.path, unpack.file_mode(member.mode))
                files += 1
    except (tarfile.TarError, EOFError) as error:
        raise unpack.UnpackError(f"{label} is not a whole tar archive ({error})") from None
    return files


def _write(source: Any, destination: Path, relative: str, mode: int) -> None:
    """Copy `source` to destination/relative; a file another layer wrote is not replaced."""
    target = destination.joinpath(*relative.split("/"))
    resolved = target.parent.resolve()
    if not resolved.is_relative_to(destination.resolve()):
        raise unpack.UnpackError(f"{relative!r} would be written outside the artifact")
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(target, flags, mode)
    except FileExistsError:
        raise unpack.UnpackError(
            f"two layers both hold {relative!r}: each file of the artifact must come from one layer"
        ) from None
    with os.fdopen(descriptor, "wb") as out:
        shutil.copyfileobj(source, out, CHUNK_SIZE)


def _empty(destination: Path) -> None:
    if not destination.is_dir():
        return
    for child in destination.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                child.unlink()


class HashingReader:
    """Hashes every byte read through it: the one read that writes a blob out also checks it."""

    def __init__(self, body: Bounded) -> None:
        self._body = body
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, amt: int | None = None, /) -> bytes:
        chunk = self._body.read(amt)
        self._hash.update(chunk)
        self.size += len(chunk)
        return chunk

    def drain(self) -> None:
        """Read to the end (a tar's padding, gzip's trailer): the digest covers every byte."""
        while self.read(CHUNK_SIZE):
            pass

    @property
    def digest(self) -> str:
        return digest.SHA256_PREFIX + self._hash.hexdigest()
