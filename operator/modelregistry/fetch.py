"""`modelregistry fetch`: the validation Pod's init container.

Downloads exactly the verified bytes (the pinned versionIds, never "latest")
into a directory, hashes them again, and refuses to hand over bytes whose
digest differs from the verified one: the checks never validate other bytes.
It also writes what the checks may read about the version (its spec, digest
and versionId) next to the artifact. Storage credentials come from the
environment (boto3's chain); the check containers never see them.

The plan comes as JSON in MODELREGISTRY_FETCH_PLAN (built by the operator):
{"uri", "digest", "versionId", "files": [{"path", "versionId"}], "endpoint",
"region", "addressingStyle"}; the spec as JSON in MODELREGISTRY_SPEC.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from modelregistry.checks.report import Report
from modelregistry.digest import digest_local_path

EXIT_OK, EXIT_CHANGED, EXIT_UNREADABLE, EXIT_USAGE = 0, 3, 4, 2
PLAN_VARIABLE = "MODELREGISTRY_FETCH_PLAN"
SPEC_VARIABLE = "MODELREGISTRY_SPEC"


def run_fetch(destination: Path, meta: Path, report_path: Path | None) -> int:
    try:
        plan = json.loads(os.environ[PLAN_VARIABLE])
    except (KeyError, ValueError) as error:
        return _finish(report_path, EXIT_USAGE, f"{PLAN_VARIABLE} is missing or not JSON: {error}")
    try:
        artifact = fetch(plan, destination)
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
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "spec.json").write_text(os.environ.get(SPEC_VARIABLE, "{}"))
    (meta / "digest").write_text(plan["digest"])
    (meta / "version-id").write_text(plan.get("versionId") or "")
    return _finish(report_path, EXIT_OK, f"Fetched {plan['uri']} ({observed}).")


def fetch(plan: dict[str, Any], destination: Path) -> Path:
    """Download the plan's objects under `destination`; returns the artifact's path."""
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
    client = boto3.session.Session().client("s3", **kwargs)

    def download(object_key: str, target: Path, version_id: str | None) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        extra = {"VersionId": version_id} if version_id else None
        client.download_file(bucket, object_key, str(target), ExtraArgs=extra)

    if not key.endswith("/"):
        target = destination / Path(key).name
        download(key, target, plan.get("versionId"))
        return target
    pinned = {f["path"]: f.get("versionId") for f in plan.get("files", [])}
    paginator = client.get_paginator("list_objects_v2")
    listed = [
        item["Key"][len(key) :]
        for page in paginator.paginate(Bucket=bucket, Prefix=key)
        for item in page.get("Contents", [])
        if not item["Key"].endswith("/")
    ]
    # Files pinned at verification come at their versionId; a prefix with more
    # files than status lists takes the rest as they are, and the digest decides.
    for relative in sorted(set(listed) | set(pinned)):
        download(key + relative, destination / relative, pinned.get(relative))
    return destination


def _finish(report_path: Path | None, code: int, message: str) -> int:
    text = Report("fetch", code == EXIT_OK, message=message).encode()
    print(text)
    if report_path is not None and (report_path.parent.exists()):
        try:
            report_path.write_text(text)
        except OSError as error:
            print(f"modelregistry fetch: cannot write the report: {error}", file=sys.stderr)
    return code
