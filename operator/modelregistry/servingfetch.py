"""`modelregistry fetch URI DEST`: the verified bytes a `modelregistry://` URI names, into DEST.

For a model server's init container (a KServe ClusterStorageContainer, or any
Deployment's), or a person. The URI is resolved through the API as the
caller (decisions/serving.py says which version, and refuses one that is not
Ready and verified); the objects are downloaded at the versionIds the
operator verified, never "latest", and hashed as they are written
(download.py). Bytes whose digest is not the verified one are never handed
over: the command exits 3 naming the file and both digests, and DEST is left
as it was.

The bytes land in a directory of their own first: next to DEST when DEST does
not exist (renamed to DEST at the end), or a hidden one inside DEST when DEST
is an empty directory (an emptyDir mount point cannot be renamed; the files
move up at the end). A DEST that already holds exactly these bytes (an init
container run again on the same volume) is left as it is.

Storage: the endpoint is --endpoint, else the version's
spec.artifact.storage.endpoint, else MODELREGISTRY_S3_ENDPOINT, else boto3's
own (AWS_ENDPOINT_URL); credentials come from boto3's chain (environment, web
identity, instance profile), e.g. the version's Secret mounted with envFrom.
An oci:// version is pulled by its verified manifest digest, every blob
hashed again (`oci/servingpull.py` says where the registry is and which
credentials are used).

Exit status: 0 fetched (or already there), 1 refused or unreadable (the
message says why), 2 usage, 3 the store does not hold the verified bytes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Final

import botocore.exceptions

from modelregistry import errors as registry_errors
from modelregistry.client.errors import Refused, RegistryError
from modelregistry.client.serving import pinned
from modelregistry.client.session import Session
from modelregistry.decisions.serving import Pinned, UriError, parse_uri
from modelregistry.digest import FileDigest, digest_local_file, digest_local_path
from modelregistry.download import (
    ArtifactChanged,
    Transfer,
    artifact_digest,
    download_artifact,
    store_client,
)

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_CHANGED = 0, 1, 2, 3
ENDPOINT_VARIABLE: Final = "MODELREGISTRY_S3_ENDPOINT"
# Written by the kubelet's container runtime; read into the container's status.
TERMINATION_LOG: Final = Path("/dev/termination-log")
_TEMP_MARK: Final = ".modelregistry-fetch-"


class BytesDiffer(Exception):
    """What the store sent is not what was verified; the message names the file."""


def run_fetch_uri(
    text: str,
    destination: Path,
    *,
    endpoint: str | None = None,
    transfer: Transfer | None = None,
    session: Session | None = None,
) -> int:
    """The command: resolve, download, verify, hand over; print what happened."""
    try:
        uri = parse_uri(text)
    except UriError as error:
        return _fail(EXIT_USAGE, str(error))
    began = time.monotonic()
    try:
        found = pinned(session or Session.connect(uri.namespace), uri)
    except Refused as refused:
        return _fail(EXIT_REFUSED, f"refused by the API server: {refused}")
    except RegistryError as error:
        return _fail(EXIT_REFUSED, str(error))
    if found.oci is not None:
        return _fetch_oci(found, destination, began)
    plan = found.plan()
    plan["endpoint"] = endpoint or found.endpoint or os.environ.get(ENDPOINT_VARIABLE) or None
    try:
        landing = Landing(destination)
        if landing.holds(found):
            print(f"modelregistry fetch: {destination} already holds {_what(found)}")
            return EXIT_OK
        with landing as staging:
            _, files = download_artifact(store_client(plan, transfer), plan, staging, transfer)
            check(found, files)
            landing.commit()
    except (UsageError, UriError) as error:
        return _fail(EXIT_USAGE, str(error))
    except (BytesDiffer, ArtifactChanged) as error:
        return _fail(EXIT_CHANGED, f"{error}; nothing was written to {destination}")
    except Exception as error:  # the store or the disk: said for a person, DEST untouched
        return _fail(
            EXIT_REFUSED,
            f"could not fetch {found.artifact_uri} for {uri}: {_explain(error, plan)}; "
            f"nothing was written to {destination}",
        )
    seconds = time.monotonic() - began
    rate = found.size / (1 << 20) / seconds if seconds > 0 else 0.0
    print(
        f"modelregistry fetch: {_what(found)} into {destination} in {seconds:.1f}s "
        f"({rate:.0f} MiB/s)"
    )
    return EXIT_OK


def _fetch_oci(found: Pinned, destination: Path, began: float) -> int:
    """An oci:// version: pulled by digest into the landing, each blob hashed as it lands.

    A DEST that already holds files is compared once the pull is done: the
    files a tar layer holds are known only once it is unpacked.
    """
    # Only for oci:// versions: the OCI modules import the API types (pydantic), which
    # an init container fetching from S3 need not load at every start.
    from modelregistry.decisions.oci.failures import BlobDigestMismatchError
    from modelregistry.decisions.oci.unpack import UnpackError
    from modelregistry.oci.servingpull import pull_version

    try:
        landing = Landing(destination)
        occupied = landing.occupied()
        with landing as staging:
            pulled = pull_version(found, staging)
            if occupied:
                if _tree(staging) != _tree(destination, skip=staging.name):
                    raise UsageError(
                        f"{destination} holds other files: fetch into a new or empty directory"
                    )
                print(f"modelregistry fetch: {destination} already holds {_what(found)}")
                return EXIT_OK
            landing.commit()
    except UnpackError as error:
        return _fail(
            EXIT_REFUSED,
            f"could not lay out {found.artifact_uri} for {found.uri}: {error}; nothing was "
            f"written to {destination}",
        )
    except (UsageError, ValueError) as error:  # ValueError: MODELREGISTRY_REGISTRIES
        return _fail(EXIT_USAGE, str(error))
    except BlobDigestMismatchError as error:
        return _fail(
            EXIT_CHANGED,
            f"{error.blob} is not the bytes its digest names: expected {error.expected}, the "
            f"registry served {error.observed} ({found.uri}: {found.name}, {found.artifact_uri}); "
            f"nothing was written to {destination}",
        )
    except Exception as error:  # the registry, the credentials or the disk: said for a person
        return _fail(
            EXIT_REFUSED,
            f"could not fetch {found.artifact_uri} for {found.uri}: {_explain_oci(error, found)}; "
            f"nothing was written to {destination}",
        )
    seconds = time.monotonic() - began
    rate = found.size / (1 << 20) / seconds if seconds > 0 else 0.0
    count = f"{pulled.files} file" + ("s" if pulled.files != 1 else "")
    print(
        f"modelregistry fetch: {_what(found)} into {destination} ({count}) in {seconds:.1f}s "
        f"({rate:.0f} MiB/s)"
    )
    return EXIT_OK


def _tree(root: Path, skip: str | None = None) -> dict[str, str]:
    """Each file under `root` (but `skip`, at the top) by its path: its digest."""
    return {
        path.relative_to(root).as_posix(): digest_local_file(path).digest
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.relative_to(root).parts[0] != skip
    }


def _explain_oci(error: Exception, found: Pinned) -> str:
    from modelregistry.decisions.oci.podplan import (
        DOCKERCONFIG_VARIABLE,
        PASSWORD_VARIABLE,
        USERNAME_VARIABLE,
    )

    assert found.oci is not None
    registry = found.oci.registry
    secret = f" (e.g. from Secret {found.oci.secret!r})" if found.oci.secret else ""
    give = (
        f"give this Pod the registry's credentials{secret}: {USERNAME_VARIABLE} and "
        f"{PASSWORD_VARIABLE}, or {DOCKERCONFIG_VARIABLE}, or a docker config with an entry "
        f"for {registry}"
    )
    if isinstance(error, registry_errors.CredentialsRejectedError):
        return f"{error}: fix the credentials ({give.removeprefix('give this Pod ')})"
    if isinstance(error, registry_errors.AccessDeniedError):
        return f"{error}: {give}"
    if isinstance(error, registry_errors.ArtifactNotFoundError):
        return (
            f"the registry no longer holds the verified bytes ({error}): they were deleted, or "
            f"this is not the registry they were verified in (MODELREGISTRY_REGISTRIES)"
        )
    if isinstance(error, registry_errors.StorageUnreachableError):
        return (
            f"{error}. Where this machine reaches {registry} under another address, say so: "
            f"MODELREGISTRY_REGISTRIES={registry}=HOST:PORT"
        )
    return str(error) or type(error).__name__


def check(found: Pinned, files: list[FileDigest]) -> None:
    """Raise BytesDiffer unless the downloaded files are the verified bytes."""
    where = f"{found.uri}: {found.name}, {found.artifact_uri}"
    if not found.is_prefix and found.version_id:
        where += f" at versionId {found.version_id}"
    recorded = {f.path: f.digest for f in found.files}
    for file in files:
        expected = recorded.get(file.path)
        if expected is not None and expected != file.digest:
            raise BytesDiffer(
                f"{file.path} hashes to {file.digest}, but {expected} was verified ({where})"
            )
    observed = artifact_digest(found.plan(), files).digest
    if observed != found.digest:
        what = f"{files[0].path} hashes" if not found.is_prefix else f"the {len(files)} files hash"
        raise BytesDiffer(f"{what} to {observed}, but {found.digest} was verified ({where})")


class UsageError(Exception):
    """DEST cannot take the artifact; the message says what to change."""


class Landing:
    """Where the bytes land before they are handed over, and the handing over."""

    def __init__(self, destination: Path) -> None:
        self.destination = destination
        if destination.exists() and not destination.is_dir():
            raise UsageError(f"{destination} is a file: name a directory (new, or empty)")
        self._inside = destination.is_dir()
        parent = destination if self._inside else destination.parent
        self._prefix = _TEMP_MARK if self._inside else f".{destination.name}{_TEMP_MARK}"
        self._parent = parent
        self._staging = parent / f"{self._prefix}{uuid.uuid4().hex[:12]}"
        self._committed = False

    def occupied(self) -> bool:
        """Whether DEST is a directory holding files already (a run's leftovers removed)."""
        self._clear_leftovers()
        return self._inside and any(self.destination.iterdir())

    def holds(self, found: Pinned) -> bool:
        """Whether DEST holds exactly these bytes already; UsageError if it holds others."""
        self._clear_leftovers()
        if not self._inside or not any(self.destination.iterdir()):
            return False
        if not found.is_prefix:
            name = found.artifact_uri.rsplit("/", 1)[-1]
            present = [p.name for p in self.destination.iterdir()]
            same = present == [name] and (
                digest_local_file(self.destination / name).digest == found.digest
            )
        else:
            same = digest_local_path(self.destination).digest == found.digest
        if not same:
            raise UsageError(
                f"{self.destination} holds other files: fetch into a new or empty directory"
            )
        return True

    def _clear_leftovers(self) -> None:
        """A run killed half-way left its staging directory: it was ours, remove it."""
        if self._parent.is_dir():
            for stale in self._parent.glob(f"{self._prefix}*"):
                shutil.rmtree(stale, ignore_errors=True)

    def __enter__(self) -> Path:
        self._parent.mkdir(parents=True, exist_ok=True)
        self._staging.mkdir()
        return self._staging

    def commit(self) -> None:
        if self._inside:
            for entry in self._staging.iterdir():
                entry.rename(self.destination / entry.name)
            self._staging.rmdir()
        else:
            self._staging.rename(self.destination)
        self._committed = True

    def __exit__(self, *exc: object) -> None:
        if not self._committed:
            shutil.rmtree(self._staging, ignore_errors=True)


def _what(found: Pinned) -> str:
    unit = "layer" if found.oci is not None else "file"
    count = f"{found.file_count} {unit}" + ("s" if found.file_count != 1 else "")
    return (
        f"{found.uri} = {found.uri.model} version {found.version} ({found.name}, "
        f"{found.stage}), {found.digest}, {count}, {found.size} bytes"
    )


def _explain(error: Exception, plan: dict[str, Any]) -> str:
    if isinstance(error, botocore.exceptions.ClientError):
        code = str(error.response.get("Error", {}).get("Code"))
        if code in ("NoSuchVersion", "NoSuchKey", "404", "NotFound"):
            return (
                f"the store no longer holds the verified object ({code}): it was deleted, or "
                "this is not the store it was verified in (--endpoint)"
            )
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return (
                f"the store refused ({code}): give this Pod credentials that may read it "
                "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, e.g. envFrom the version's "
                "Secret)"
            )
        return f"the store answered {code}: {error}"
    if isinstance(error, botocore.exceptions.EndpointConnectionError):
        return f"cannot reach the store at {plan.get('endpoint') or 'the default endpoint'}"
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return "no storage credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    return str(error) or type(error).__name__


def _fail(code: int, message: str) -> int:
    text = f"modelregistry fetch: {message}"
    print(text, file=sys.stderr)
    if TERMINATION_LOG.is_file():  # only inside a container, where the kubelet made it
        with contextlib.suppress(OSError):
            TERMINATION_LOG.write_text(text[:4096])
    return code
