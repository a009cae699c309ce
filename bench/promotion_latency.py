"""How long an approved promotion takes to be granted: the approval's own write, then the grant.

    .venv/bin/python bench/promotion_latency.py --versions 100 --repeat 3

Starts the local control plane (with the admission policies), the S3 server
and the operator (from the source this script imports), and one Model whose
policy asks for an approval of Production and replaces the holder
(`productionHandover: replace`). It registers `--versions` versions that ask
for Production and waits until each is Ready and waits for its approval.
Then, one version after the other, an approver (impersonated, holding the
`modelregistry-approver` role) approves it with `modelregistry approve`'s
code, and a watch timestamps the moment the version's status says
Production. Reported per repetition: the approval's own write (the API
server's round trip, its admission policy included) and approval-written →
Production observed, as median, min to max and p90 over the versions. Each
promotion also archives the previous holder (fenced first), so the figure
includes a hand-over of the Production lock.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import kubernetes
import urllib3

from common import api_client, operator_environment, versioned_bucket, workdir
from modelregistry import client
from modelregistry.install import install_crds
from modelregistry.localenv import ControlPlane, S3Server
from modelregistry.localenv.pki import OPERATOR_USER
from registry_throughput import Child

GROUP, VERSION = "modelregistry.io", "v1alpha1"
NAMESPACE = "default"
APPROVER = "approver"
BUCKET = "models"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args(argv)
    runs = [_run(args, r) for r in range(args.repeat)]
    summary = {
        key: _spread([run[key]["p50_ms"] for run in runs])
        for key in ("approval_write", "approved_to_production")
    }
    print(json.dumps({"versions": args.versions, "runs": runs, "summary": summary}, indent=2))
    return 0


def _run(args: argparse.Namespace, repetition: int) -> dict[str, dict[str, float]]:
    with contextlib.ExitStack() as stack:
        work = stack.enter_context(workdir(args.workdir, f"promotion-{repetition}"))
        plane = stack.enter_context(ControlPlane(workdir=work / "controlplane"))
        s3 = stack.enter_context(S3Server(workdir=work / "s3"))
        api = api_client(plane)
        install_crds(api, operator_user=OPERATOR_USER)
        store = versioned_bucket(s3, BUCKET)
        operator = Child(
            [sys.executable, "-m", "modelregistry", "run"],
            operator_environment(plane, s3),
            work / "operator.log",
        )
        stack.callback(operator.stop)
        custom = kubernetes.client.CustomObjectsApi(api)
        _grant_approver(api)
        custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            NAMESPACE,
            "models",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Model",
                "metadata": {"name": "bench"},
                "spec": {
                    "policy": {
                        "approval": {"requiredFor": ["Production"]},
                        "productionHandover": "replace",
                    }
                },
            },
        )
        names = [f"bench-{i:04d}" for i in range(args.versions)]
        for name in names:
            store.put_object(Bucket=BUCKET, Key=f"{name}.bin", Body=name.encode())
            custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                NAMESPACE,
                "modelversions",
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "ModelVersion",
                    "metadata": {"name": name},
                    "spec": {
                        "modelRef": {"name": "bench"},
                        "artifact": {"uri": f"s3://{BUCKET}/{name}.bin"},
                        "stage": "Production",
                    },
                },
            )
        _wait(
            lambda: all(_reason(custom, n) == "ApprovalRequired" for n in names),
            args.timeout * 5,
            "every version to wait for its approval",
            operator,
        )
        watch = _ProductionWatch(custom)
        approver = client.Session(_impersonating(api, APPROVER), NAMESPACE)
        writes, grants = [], []
        for name in names:
            began = time.perf_counter()
            client.approve(approver, name, "Production")
            written = time.perf_counter()
            writes.append(written - began)
            granted = watch.wait(name, args.timeout)
            grants.append(granted - written)
            operator.check()
        watch.stop()
        result = {
            "approval_write": _stats(writes),
            "approved_to_production": _stats(grants),
        }
        print(f"[{repetition}] {json.dumps(result)}", file=sys.stderr, flush=True)
        return result


def _impersonating(api: Any, user: str) -> Any:
    approver = kubernetes.client.ApiClient(api.configuration)
    approver.set_default_header("Impersonate-User", user)  # type: ignore[no-untyped-call]
    return approver


def _grant_approver(api: Any) -> None:
    kubernetes.client.RbacAuthorizationV1Api(api).create_namespaced_role_binding(
        NAMESPACE,
        cast(
            Any,
            {
                "metadata": {"name": "bench-approver"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "modelregistry-approver",
                },
                "subjects": [
                    {"kind": "User", "name": APPROVER, "apiGroup": "rbac.authorization.k8s.io"}
                ],
            },
        ),
    )


def _reason(custom: Any, name: str) -> str | None:
    body = custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "modelversions", name)
    for condition in (body.get("status") or {}).get("conditions", []):
        if condition["type"] == "StageGranted":
            return cast(str, condition["reason"])
    return None


class _ProductionWatch:
    """When (perf_counter) each version was first seen saying Production."""

    def __init__(self, custom: Any) -> None:
        self._custom = custom
        self._seen: dict[str, float] = {}
        self._changed = threading.Condition()
        self._watch = kubernetes.watch.Watch()  # type: ignore[no-untyped-call]
        listing = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "modelversions")
        self._version = listing["metadata"]["resourceVersion"]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for event in self._watch.stream(  # type: ignore[no-untyped-call]
                self._custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                NAMESPACE,
                "modelversions",
                resource_version=self._version,
            ):
                item = event["object"]
                if (item.get("status") or {}).get("stage") == "Production":
                    with self._changed:
                        self._seen.setdefault(item["metadata"]["name"], time.perf_counter())
                        self._changed.notify_all()
        except urllib3.exceptions.HTTPError:
            # The control plane stopping ends the stream mid-chunk; a wait still pending
            # times out and says so.
            return

    def wait(self, name: str, timeout: float) -> float:
        with self._changed:
            if not self._changed.wait_for(lambda: name in self._seen, timeout):
                raise TimeoutError(f"{name} was not granted Production within {timeout:.0f}s")
            return self._seen[name]

    def stop(self) -> None:
        self._watch.stop()  # type: ignore[no-untyped-call]


def _wait(predicate: Any, timeout: float, what: str, operator: Child) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        operator.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}:\n{operator.tail()}")
        time.sleep(0.5)


def _stats(seconds: Sequence[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "min_ms": round(ms[0], 1),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 1),
        "max_ms": round(ms[-1], 1),
    }


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


if __name__ == "__main__":
    sys.exit(main())
