"""`modelregistry fetch`: the validation Pod's init container.

Downloads exactly the verified bytes (the pinned versionIds, never "latest")
into a directory, hashes them again, and refuses to hand over bytes whose
digest differs from the verified one: the checks never validate other bytes.
It also writes what the checks may read about the version (its spec, digest
and versionId) next to the artifact. Storage credentials come from the
environment (boto3's chain); the check containers never see them.

The plan comes as JSON in MODELREGISTRY_FETCH_PLAN (built by the operator):
{"uri", "digest", "versionId", "size", "fileCount", "files": [{"path",
"versionId"}], "endpoint", "region", "addressingStyle"}; the spec as JSON in
MODELREGISTRY_SPEC. Every path written is checked to stay under the
destination (no empty, `.` or `..` segment).

For compare checks the plan also holds "against": the versions scored
besides this one, each {"name", ...} like the artifact (its verified record,
or an oci:// pull plan) and fetched into "againstDir"/<name>; and
"datasets": the held-out data sets,
each one object like the artifact, pinned at the versionId and size the
operator read and fetched into "datasetDir"/<hex of its digest>. Each is
re-hashed to its digest before anything is handed over. An input with
"credentials" ({"secret", "prefix"}) is read with the variables under its
prefix (its own Secret's keys), any other with the step's own.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelregistry.checks.report import Report
from modelregistry.digest import check_relative_path, digest_local_path

EXIT_OK, EXIT_CHANGED, EXIT_UNREADABLE, EXIT_USAGE = 0, 3, 4, 2
# A data set or a compared version is not the bytes pinned for it (the artifact is).
EXIT_INPUT_CHANGED = 5
PLAN_VARIABLE = "MODELREGISTRY_FETCH_PLAN"
SPEC_VARIABLE = "MODELREGISTRY_SPEC"


def run_fetch(destination: Path, meta: Path, report_path: Path | None) -> int:
    try:
        plan = json.loads(os.environ[PLAN_VARIABLE])
    except (KeyError, ValueError) as error:
        return _finish(report_path, EXIT_USAGE, f"{PLAN_VARIABLE} is missing or not JSON: {error}")
    if str(plan.get("uri", "")).startswith("oci://"):
        return run_oci_fetch(plan, destination, meta, report_path)
    try:
        artifact = fetch(plan, destination)
    except ArtifactChanged as changed:
        return _finish(
            report_path,
            EXIT_CHANGED,
            f"{changed}: the bytes changed before validation. Nothing was validated.",
        )
    except Exception as error:  # any failure to read is the run's verdict, told in the report
        return _finish(report_path, EXIT_UNREADABLE, f"Could not fetch {plan.get('uri')}: {error}")
    observed = digest_local_path(artifact).digest
    if observed != plan["digest"]:
        return _finish(
            report_path,
            EXIT_CHANGED,
            f"{plan['uri']} hashes to {observed} now, but {plan['digest']} was verified: the "
            "bytes changed before validation. Nothing was validated.",
        )
    try:
        fetched = [observed, *fetch_inputs(plan)]
    except InputChanged as changed:
        return _finish(report_path, EXIT_INPUT_CHANGED, f"{changed} Nothing was validated.")
    except Exception as error:  # as for the artifact: the reason is the run's verdict
        return _finish(report_path, EXIT_UNREADABLE, str(error))
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "spec.json").write_text(os.environ.get(SPEC_VARIABLE, "{}"))
    (meta / "digest").write_text(plan["digest"])
    (meta / "version-id").write_text(plan.get("versionId") or "")
    return _finish(
        report_path, EXIT_OK, f"Fetched {plan['uri']} ({observed}){_also(plan, fetched[1:])}."
    )


class InputChanged(Exception):
    """A data set or a compared version is not the bytes pinned for it."""


def fetch_inputs(plan: dict[str, Any]) -> list[str]:
    """Fetch the compare checks' inputs: each compared version's verified bytes, then each
    data set, into directories of their own; returns their digests, each as verified.

    Raises InputChanged when one is not the bytes pinned for it, ValueError for a name or
    digest that cannot be a directory, anything else when the store cannot be read.
    """
    digests = []
    for item in plan.get("against", []):
        target = Path(plan["againstDir"]) / _one_segment(item["name"])
        digests.append(_fetch_verified(item, target, f"the compared version {item['name']}"))
    for item in plan.get("datasets", []):
        target = Path(plan["datasetDir"]) / _one_segment(item["digest"].removeprefix("sha256:"))
        digests.append(_fetch_verified(item, target, "the held-out data set"))
    return digests


def _fetch_verified(item: dict[str, Any], target: Path, what: str) -> str:
    if str(item.get("uri", "")).startswith("oci://"):
        return _pull_verified(item, target, what)
    from botocore.exceptions import NoCredentialsError

    try:
        fetched = fetch(item, target)
    except ArtifactChanged as changed:
        raise InputChanged(f"{changed} ({what}).") from None
    except NoCredentialsError:
        raise RuntimeError(
            f"Could not fetch {item.get('uri')} ({what}): the fetch step has no S3 credentials "
            f"for it. Name a Secret for it in {_secret_field(item)}, or ask the operator's "
            "administrator to set MODELREGISTRY_VALIDATION_SECRET"
        ) from None
    except Exception as error:
        raise RuntimeError(f"Could not fetch {item.get('uri')} ({what}): {error}") from None
    observed = digest_local_path(fetched).digest
    if observed != item["digest"]:
        raise InputChanged(
            f"{item['uri']} ({what}) hashes to {observed}, but {item['digest']} is pinned for it."
        )
    return observed


def _pull_verified(item: dict[str, Any], target: Path, what: str) -> str:
    """Pull an oci:// input by its pinned manifest digest, every blob hashed again."""
    from modelregistry.decisions.oci.failures import BlobDigestMismatchError
    from modelregistry.oci.pull import pull_plan

    try:
        # A compared version that names no Secret is read anonymously, never with the
        # candidate's registry credentials.
        pull_plan(item, target, None, _prefix(item) or None)
    except BlobDigestMismatchError as changed:
        raise InputChanged(
            f"{item['uri']} ({what}): {changed.blob} is not the pinned bytes: expected "
            f"{changed.expected}, the registry served {changed.observed}."
        ) from None
    except Exception as error:
        raise RuntimeError(f"Could not fetch {item.get('uri')} ({what}): {error}") from None
    return str(item["digest"])


def _secret_field(item: dict[str, Any]) -> str:
    """Where the version names a Secret for this input (an oci:// candidate has no storage)."""
    if "name" in item:
        return f"the spec.artifact.storage.secretRef of ModelVersion {item['name']!r}"
    return "the check's dataset.storage.secretRef"


def _prefix(item: dict[str, Any]) -> str:
    """Where this input's own credentials are in the environment ("": the step's own)."""
    return str((item.get("credentials") or {}).get("prefix") or "")


def _s3_credentials(item: dict[str, Any]) -> dict[str, str]:
    """An input's own S3 keys (its Secret's, under its prefix); {}: boto3's chain."""
    prefix = _prefix(item)
    if not prefix:
        return {}
    keys = {
        "aws_access_key_id": os.environ.get(prefix + "AWS_ACCESS_KEY_ID", ""),
        "aws_secret_access_key": os.environ.get(prefix + "AWS_SECRET_ACCESS_KEY", ""),
    }
    if not all(keys.values()):
        secret = (item.get("credentials") or {}).get("secret")
        raise ValueError(
            f"the Secret {secret!r} named for it has no AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or does not exist in this namespace)"
        )
    token = os.environ.get(prefix + "AWS_SESSION_TOKEN")
    return {**keys, "aws_session_token": token} if token else keys


def _one_segment(name: str) -> Path:
    """A directory name of one segment, or ValueError: nothing lands outside its root."""
    relative = safe_relative(name)
    if len(relative.parts) != 1:
        raise ValueError(f"{name!r} is not a single path segment")
    return relative


def run_oci_fetch(
    plan: dict[str, Any], destination: Path, meta: Path, report_path: Path | None
) -> int:
    """Pull an oci:// artifact by the verified manifest digest, every blob hashed again.

    A blob that is not its digest's bytes stops the pull (the directory is
    emptied): the bytes changed, or the registry serves others.
    """
    from modelregistry.decisions.oci.failures import BlobDigestMismatchError
    from modelregistry.oci.pull import pull_plan

    try:
        pulled = pull_plan(plan, destination, meta)
    except BlobDigestMismatchError as changed:
        return _finish(
            report_path,
            EXIT_CHANGED,
            f"{plan['uri']}: {changed.blob} is not the verified bytes: expected "
            f"{changed.expected}, the registry served {changed.observed}. Nothing was validated.",
        )
    except Exception as error:  # any failure to read is the run's verdict, told in the report
        return _finish(report_path, EXIT_UNREADABLE, f"Could not fetch {plan.get('uri')}: {error}")
    try:
        inputs = fetch_inputs(plan)
    except InputChanged as changed:
        return _finish(report_path, EXIT_INPUT_CHANGED, f"{changed} Nothing was validated.")
    except Exception as error:  # as for the artifact: the reason is the run's verdict
        return _finish(report_path, EXIT_UNREADABLE, str(error))
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "spec.json").write_text(os.environ.get(SPEC_VARIABLE, "{}"))
    (meta / "digest").write_text(plan["digest"])
    (meta / "version-id").write_text("")
    done = f"Fetched {plan['uri']} ({plan['digest']}): {pulled.files} files, every blob re-hashed"
    return _finish(report_path, EXIT_OK, done + _also(plan, inputs) + ".")


def _also(plan: dict[str, Any], digests: list[str]) -> str:
    """The compare inputs fetched besides the artifact, for the report."""
    if not digests:
        return ""
    inputs = [*plan.get("against", []), *plan.get("datasets", [])]
    return "; also " + ", ".join(
        f"{i['uri']} ({digest})" for i, digest in zip(inputs, digests, strict=True)
    )


class ArtifactChanged(Exception):
    """The store no longer holds exactly the verified objects."""


def fetch(plan: dict[str, Any], destination: Path) -> Path:
    """Download the plan's objects under `destination`; returns the artifact's path.

    Only the verified objects are fetched, each at its pinned versionId. A
    prefix whose status could not list every file (more than 1,000) is
    listed, and must hold exactly as many objects as were verified; no byte
    beyond the verified size is written.
    """
    import boto3
    from botocore.config import Config

    bucket, _, key = plan["uri"][len("s3://") :].partition("/")
    kwargs: dict[str, Any] = {
        "config": Config(
            # A read that stalls is retried soon, not after botocore's 60 s.
            connect_timeout=5,
            read_timeout=20,
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": plan.get("addressingStyle") or "auto"},
        )
    }
    if plan.get("endpoint"):
        kwargs["endpoint_url"] = plan["endpoint"]
    if plan.get("region"):
        kwargs["region_name"] = plan["region"]
    kwargs.update(_s3_credentials(plan))
    client = boto3.session.Session().client("s3", **kwargs)
    budget = SizeBudget(plan.get("size"))

    def download(object_key: str, target: Path, version_id: str | None) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if version_id:
            response = client.get_object(Bucket=bucket, Key=object_key, VersionId=version_id)
        else:
            response = client.get_object(Bucket=bucket, Key=object_key)
        with target.open("wb") as out:
            for chunk in response["Body"].iter_chunks(1 << 20):
                budget.take(len(chunk), object_key)
                out.write(chunk)

    if not key.endswith("/"):
        target = destination / safe_relative(Path(key).name)
        download(key, target, plan.get("versionId"))
        return target
    for relative, version_id in prefix_objects(plan, lambda: _listed(client, bucket, key)):
        download(key + relative, destination / safe_relative(relative), version_id)
    return destination


def _listed(client: Any, bucket: str, key: str) -> list[str]:
    paginator = client.get_paginator("list_objects_v2")
    return [
        item["Key"][len(key) :]
        for page in paginator.paginate(Bucket=bucket, Prefix=key)
        for item in page.get("Contents", [])
        if not item["Key"].endswith("/")
    ]


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


def safe_relative(relative: str) -> Path:
    """`relative` as a path that stays under the destination, or ValueError."""
    check_relative_path(relative)
    return Path(*relative.split("/"))


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


def _finish(report_path: Path | None, code: int, message: str) -> int:
    text = Report("fetch", code == EXIT_OK, message=message).encode()
    print(text)
    if report_path is not None and (report_path.parent.exists()):
        try:
            report_path.write_text(text)
        except OSError as error:
            print(f"modelregistry fetch: cannot write the report: {error}", file=sys.stderr)
    return code
