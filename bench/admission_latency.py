"""What the required-metadata admission policy adds to a ModelVersion's create (`kubectl apply`).

    .venv/bin/python bench/admission_latency.py --versions 200 --repeat 5 --models 1 100

Starts the local control plane (as bench/promotion_latency.py does) with the CRDs and the
admission policies, and no operator (admission is the API server's alone). For each count of
`--models`, two namespaces hold that many Models, the first of which requires six paths of
its versions (`policy.requiredMetadata`): one namespace the policy's binding matches, one it
does not (the binding is narrowed to namespaces labelled for it). Each repetition creates
`--versions` complete versions in each, alternating one by one, so both see the same
machine; each create is timed from the request to the API server's answer (the
policy evaluated once per Model labelled modelregistry.io/required-metadata, which
every Model that requires something carries: the first, and one more per repetition).
Reported per repetition: p50, p90 and max of each, and how long after a new Model's create
the policy first refuses a version by it (the API server's watch of Models); then over
repetitions the median and spread (min to max) of each.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import kubernetes

from common import api_client, workdir
from modelregistry import admission
from modelregistry.install import install_crds
from modelregistry.localenv import ControlPlane
from modelregistry.localenv.pki import OPERATOR_USER

GROUP, VERSION = "modelregistry.io", "v1alpha1"
LABEL = "bench.modelregistry.io/policy"
REQUIRED = [
    "lineage.datasets[].version",
    "metrics.f1",
    "featureRetrieval",
    "signature",
    "modelCard.intendedUse",
    "hyperparameters.algorithm",
]
COMPLETE: dict[str, Any] = {
    "lineage": {"datasets": [{"name": "orders", "version": "2026-11"}]},
    "metrics": {"f1": 0.81, "auc": 0.9},
    "featureRetrieval": {"featureService": "churn_v2"},
    "signature": {"inputs": [{"name": "tenure", "dtype": "float64"}]},
    "modelCard": {"intendedUse": "weekly churn triage"},
    "hyperparameters": {"algorithm": "xgboost"},
}
SIDES = ("with", "without")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=200, help="creates per side, per run")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--models", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--warmup", type=int, default=20, help="creates per side, not counted")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        work = stack.enter_context(workdir(args.workdir, "admission"))
        plane = stack.enter_context(ControlPlane(workdir=work / "controlplane"))
        api = api_client(plane)
        install_crds(api, operator_user=OPERATOR_USER)
        _narrow_binding(api)
        custom = kubernetes.client.CustomObjectsApi(api)
        results = {str(count): _measure(api, custom, count, args) for count in args.models}
    report = {"versions": args.versions, "repeat": args.repeat, "models": results}
    text = json.dumps(report, indent=2)
    if args.output is not None:
        args.output.write_text(text + "\n")
    print(text)
    return 0


def _narrow_binding(api: Any) -> None:
    """The shipped binding, matching only namespaces labelled for it."""
    policies = kubernetes.client.AdmissionregistrationV1Api(api)
    name = admission.REQUIRED_METADATA
    binding = policies.read_validating_admission_policy_binding(name)
    body = api.sanitize_for_serialization(binding)
    body["spec"]["matchResources"] = {"namespaceSelector": {"matchLabels": {LABEL: "on"}}}
    policies.replace_validating_admission_policy_binding(name, body)


def _measure(api: Any, custom: Any, models: int, args: argparse.Namespace) -> dict[str, Any]:
    namespaces = {side: f"{side}-{models}" for side in SIDES}
    core = kubernetes.client.CoreV1Api(api)
    for side, namespace in namespaces.items():
        labels = {LABEL: "on"} if side == "with" else {}
        core.create_namespace(cast(Any, {"metadata": {"name": namespace, "labels": labels}}))
        for i in range(models):
            policy = {"requiredMetadata": REQUIRED} if i == 0 else {}
            _create(custom, namespace, "models", _model(f"m-{i:04d}", policy))
    _wait_until_refused(custom, namespaces["with"], "m-0000")
    for i in range(args.warmup):
        for namespace in namespaces.values():
            _create(custom, namespace, "modelversions", _version(f"warm-{i:04d}"))
    runs: list[dict[str, Any]] = []
    for repetition in range(args.repeat):
        seen = _until_the_policy_sees(custom, namespaces["with"], f"late-{repetition}")
        seconds: dict[str, list[float]] = {side: [] for side in SIDES}
        for i in range(args.versions):
            # Alternate which side goes first, so neither always follows the other.
            order = SIDES if i % 2 == 0 else SIDES[::-1]
            for side in order:
                name = f"r{repetition}-{i:05d}"
                began = time.perf_counter()
                _create(custom, namespaces[side], "modelversions", _version(name))
                seconds[side].append(time.perf_counter() - began)
        run = {side: _stats(seconds[side]) for side in SIDES}
        added = round(run["with"]["p50_ms"] - run["without"]["p50_ms"], 2)
        print(
            f"[{models} models, {repetition}] {json.dumps(run)} added p50 {added} ms",
            file=sys.stderr,
            flush=True,
        )
        runs.append({**run, "added_p50_ms": added, "policy_sees_model_ms": seen})
    return {
        "runs": runs,
        "summary": {
            "with_p50_ms": _spread([r["with"]["p50_ms"] for r in runs]),
            "without_p50_ms": _spread([r["without"]["p50_ms"] for r in runs]),
            "added_p50_ms": _spread([r["added_p50_ms"] for r in runs]),
            "policy_sees_model_ms": _spread([r["policy_sees_model_ms"] for r in runs]),
        },
    }


def _until_the_policy_sees(custom: Any, namespace: str, model: str) -> float:
    """Milliseconds from a Model's create to the first version the policy refuses by it."""
    began = time.perf_counter()
    _create(custom, namespace, "models", _model(model, {"requiredMetadata": REQUIRED}))
    _wait_until_refused(custom, namespace, model, interval=0.002)
    return round((time.perf_counter() - began) * 1000, 1)


def _wait_until_refused(
    custom: Any, namespace: str, model: str, timeout: float = 30, interval: float = 0.2
) -> None:
    """Until the API server's policy sees `model` (its own watch of Models feeds it)."""
    deadline = time.monotonic() + timeout
    bare = _version("probe")
    bare["spec"] = {"modelRef": {"name": model}, "artifact": {"uri": "s3://models/x.bin"}}
    while True:
        try:
            custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, "modelversions", bare, dry_run="All"
            )
        except kubernetes.client.exceptions.ApiException as error:
            if error.status == 403 and admission.REQUIRED_METADATA in str(error.body):
                return
            raise
        if time.monotonic() > deadline:
            raise TimeoutError("the policy never refused an incomplete version")
        time.sleep(interval)


def _model(name: str, policy: dict[str, Any]) -> dict[str, Any]:
    spec = {"policy": policy} if policy else {}
    metadata: dict[str, Any] = {"name": name}
    if policy.get("requiredMetadata"):
        # What makes it one of the policy's parameters (the API server requires it).
        metadata["labels"] = {admission.REQUIRED_METADATA_LABEL: "true"}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Model",
        "metadata": metadata,
        "spec": spec,
    }


def _version(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelVersion",
        "metadata": {"name": name},
        "spec": {
            "modelRef": {"name": "m-0000"},
            "artifact": {"uri": f"s3://models/{name}.bin"},
            **COMPLETE,
        },
    }


def _create(custom: Any, namespace: str, plural: str, body: dict[str, Any]) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)


def _stats(seconds: Sequence[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 2),
        "max_ms": round(ms[-1], 2),
    }


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


if __name__ == "__main__":
    sys.exit(main())
