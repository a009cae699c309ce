"""What `modelregistry search` costs over a large catalog: wall time and the API requests it makes.

    .venv/bin/python bench/catalog_search.py --versions 10000 --models 100 --repeat 5

Starts the local control plane (the CRDs and admission policies; no operator: a search only
reads) and fills one namespace with `--models` Models and `--versions` ModelVersions spread
evenly over them, each version as the operator leaves it: metrics, a dataset, a commit, its
Model's previous number as its parent, and a status with its number, a verified digest,
three conditions and, for the newest two of each Model, Production and Staging (written as
the operator, whom the admission policies let write status). Creating them takes a minute
or two from `--threads` client threads; it is not measured.

Then, `--repeat` times, each query below runs as a person runs it, a process
(`python -m modelregistry search ARGS -o name --explain`), in an order that rotates per
repetition, side by side with the baseline: `kubectl get modelversions -o json`, which reads
every version in kubectl's pages of 500 and filters nothing. Per query: wall time (median,
min to max over repetitions), its ratio to the baseline's median, and what `--explain`
reports: requests, objects received, bytes and versions matched (the same every repetition).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import kubernetes

from common import OPERATOR_SOURCE, api_client, workdir
from modelregistry import cli
from modelregistry.install import install_crds
from modelregistry.localenv import ControlPlane
from modelregistry.localenv.pki import OPERATOR_USER
from modelregistry.localenv.tools import find_tool

GROUP, VERSION = "modelregistry.io", "v1alpha1"
NAMESPACE = "catalog"
BASELINE = "kubectl get modelversions -o json"
# kubectl -v=6 logs one line per response; these are its LISTs of versions.
KUBECTL_LIST = re.compile(r"^.*/modelversions\?.*200 OK.*$", re.M)
SUMMARY = re.compile(
    r"search: (\d+) requests, (\d+) objects received, ([\d.]+) KiB; (\d+) versions matched"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=10000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=8, help="client threads that create")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        work = stack.enter_context(workdir(args.workdir, "catalog"))
        plane = stack.enter_context(ControlPlane(workdir=work / "controlplane"))
        api = api_client(plane)
        install_crds(api, operator_user=OPERATOR_USER)
        began = time.perf_counter()
        _fill(
            api,
            kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=str(plane.operator_kubeconfig)
            ),
            args,
        )
        print(
            f"created {args.models} Models and {args.versions} versions in "
            f"{time.perf_counter() - began:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        kubeconfig = work / "kubeconfig"
        kubeconfig.write_text(plane.kubeconfig.read_text())
        env = _environment(kubeconfig)
        report = _measure(env, args)
    report = {"versions": args.versions, "models": args.models, "repeat": args.repeat, **report}
    text = json.dumps(report, indent=2)
    if args.output is not None:
        args.output.write_text(text + "\n")
    print(text)
    print(_table(report), file=sys.stderr)
    return 0


def _environment(kubeconfig: Path) -> dict[str, str]:
    kubectl = find_tool("kubectl")
    subprocess.run(
        [
            str(kubectl),
            "--kubeconfig",
            str(kubeconfig),
            "config",
            "set-context",
            "--current",
            f"--namespace={NAMESPACE}",
        ],
        check=True,
        capture_output=True,
    )
    return {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "PATH": os.pathsep.join([str(kubectl.parent), os.environ["PATH"]]),
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(OPERATOR_SOURCE), os.environ.get("PYTHONPATH")) if p
        ),
    }


# ------------------------------------------------------------------ the catalog


def _fill(admin: Any, operator: Any, args: argparse.Namespace) -> None:
    kubernetes.client.CoreV1Api(admin).create_namespace(
        cast(Any, {"metadata": {"name": NAMESPACE}})
    )
    custom = kubernetes.client.CustomObjectsApi(admin)
    as_operator = kubernetes.client.CustomObjectsApi(operator)
    for m in range(args.models):
        custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "models", _model(m))
    per_model = -(-args.versions // args.models)

    def create(index: int) -> None:
        model, number = index % args.models, index // args.models + 1
        body = _version(model, number)
        created = custom.create_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, "modelversions", body
        )
        as_operator.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            NAMESPACE,
            "modelversions",
            body["metadata"]["name"],
            {"status": _status(cast(dict[str, Any], created), number, per_model)},
        )

    with ThreadPoolExecutor(args.threads) as pool:
        for _ in pool.map(create, range(args.versions)):
            pass


def _model(m: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Model",
        "metadata": {"name": f"m-{m:04d}"},
        "spec": {
            "description": f"Model {m} of the benchmark's catalog.",
            "owner": f"team-{m % 10}",
            "task": "classification",
            "tags": ["tabular", "pii"] if m % 4 == 0 else ["tabular"],
        },
    }


def _fraction(*key: object) -> float:
    """A number in [0, 1) fixed by `key`: the same catalog every run."""
    digest = hashlib.sha256(repr(key).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def _version(model: int, number: int) -> dict[str, Any]:
    name = f"m-{model:04d}-{number}"
    lineage: dict[str, Any] = {
        "datasets": [
            {"name": "events", "version": f"2024-{number % 12 + 1:02d}", "role": "training"},
            {"name": "holdout", "version": "v1", "role": "test"},
        ],
        "code": {
            "repository": f"https://git.example.com/ml/m-{model:04d}.git",
            "commit": hashlib.sha256(name.encode()).hexdigest()[:40],
        },
        "trainingRun": {"id": f"run-{model}-{number}", "system": "mlflow"},
    }
    if number > 1:
        lineage["parents"] = [{"model": f"m-{model:04d}", "version": number - 1}]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelVersion",
        "metadata": {"name": name},
        "spec": {
            "modelRef": {"name": f"m-{model:04d}"},
            "version": number,
            "artifact": {"uri": f"s3://models/m-{model:04d}/{number}/model.bin"},
            "metrics": {
                "auc": round(0.8 + 0.2 * _fraction(name, "auc"), 4),
                "f1": round(0.5 + 0.4 * _fraction(name, "f1"), 4),
                "recall": round(0.5 + 0.4 * _fraction(name, "recall"), 4),
            },
            "lineage": lineage,
        },
    }


def _status(created: dict[str, Any], number: int, newest: int) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    generation = created["metadata"]["generation"]
    stage = {newest: "Production", newest - 1: "Staging"}.get(number)
    conditions = [
        {
            "type": kind,
            "status": "True",
            "reason": reason,
            "message": message,
            "lastTransitionTime": now,
            "observedGeneration": generation,
        }
        for kind, reason, message in (
            ("Ready", "Verified", "The artifact is verified and the version usable."),
            ("ArtifactVerified", "DigestMatches", "The artifact's bytes hash to the digest."),
            ("StageGranted", "Granted", f"Stage {stage or 'None'} is granted."),
        )
    ]
    return {
        "observedGeneration": generation,
        "version": number,
        **({"stage": stage} if stage else {}),
        "artifact": {
            "uri": created["spec"]["artifact"]["uri"],
            "digest": "sha256:" + hashlib.sha256(created["metadata"]["name"].encode()).hexdigest(),
            "size": 1048576,
            "fileCount": 1,
            "verifiedAt": now,
        },
        "conditions": conditions,
    }


# ------------------------------------------------------------------ the measurement


def _queries(args: argparse.Namespace) -> list[tuple[str, tuple[str, ...]]]:
    """(name, arguments): which part the API server selects is in docs/catalog.md."""
    newest = -(-args.versions // args.models)
    return [
        ("everything", ()),
        ("one Model, a metric", ("--model", f"m-{args.models // 2:04d}", "--where", "auc>=0.9")),
        ("stage granted", ("--stage", "Production")),
        ("owner and tag", ("--owner", "team-4", "--tag", "pii")),
        ("metric and dataset", ("--where", "auc>=0.9", "--dataset", "events@2024-06")),
        ("commit prefix", ("--commit", "abcd")),
        ("created since", ("--since", "1h", "--where", "f1<0.6")),
        ("descends from", ("--descends-from", f"m-0001-{max(1, newest - 10)}")),
    ]


def _measure(env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    sides = [("baseline", BASELINE, ()), *((n, "search", a) for n, a in _queries(args))]
    seconds: dict[str, list[float]] = {name: [] for name, _, _ in sides}
    in_process: dict[str, list[float]] = {name: [] for name, _, _ in sides}
    # The searches run in this process: kubernetes read KUBECONFIG when it was imported.
    kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = env["KUBECONFIG"]
    explained: dict[str, dict[str, float]] = {}
    for repetition in range(args.repeat):
        shift = repetition % len(sides)
        for name, kind, arguments in sides[shift:] + sides[:shift]:
            if kind == BASELINE:
                # -v=6 logs each request kubectl makes, on stderr.
                took, stderr = _run(["kubectl", "get", "modelversions", "-o", "json", "-v=6"], env)
                explained[name] = {"requests": len(KUBECTL_LIST.findall(stderr))}
            else:
                command = ["search", *arguments, "-o", "name", "--explain"]
                took, stderr = _run([sys.executable, "-m", "modelregistry", *command], env)
                explained[name] = _summary(stderr)
                in_process[name].append(_in_process(command))
            seconds[name].append(took)
        print(
            f"[{repetition}] " + json.dumps({k: round(v[-1], 3) for k, v in seconds.items()}),
            file=sys.stderr,
            flush=True,
        )
    baseline = statistics.median(seconds["baseline"])
    results = {
        name: {
            "arguments": list(arguments) if kind != BASELINE else BASELINE.split(),
            "seconds": _spread(seconds[name]),
            "ratio_to_baseline": round(statistics.median(seconds[name]) / baseline, 2),
            **({"in_process_seconds": _spread(in_process[name])} if in_process[name] else {}),
            **explained.get(name, {}),
        }
        for name, kind, arguments in sides
    }
    return {"queries": results}


def _in_process(arguments: list[str]) -> float:
    """The same search by the CLI's code in this process: no interpreter start, no imports."""
    sink = io.StringIO()
    began = time.perf_counter()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        status = cli.main(arguments)
    took = time.perf_counter() - began
    if status != 0:
        raise RuntimeError(f"search {' '.join(arguments)}: exit {status}: {sink.getvalue()}")
    return took


def _run(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    began = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: exit {done.returncode}: {done.stderr}")
    return took, done.stderr


def _summary(stderr: str) -> dict[str, float]:
    found = SUMMARY.search(stderr)
    if found is None:
        raise RuntimeError(f"--explain said no summary: {stderr}")
    requests, objects, kib, matched = found.groups()
    return {
        "requests": int(requests),
        "objects_received": int(objects),
        "mib_received": round(float(kib) / 1024, 1),
        "matched": int(matched),
    }


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def _seconds(spread: dict[str, float] | None) -> str:
    if spread is None:
        return ""
    return f"{spread['median']:.2f} s ({spread['min']:.2f}-{spread['max']:.2f})"


def _table(report: dict[str, Any]) -> str:
    rows = [
        "| query | arguments | process wall time, median (min-max) | ratio to baseline | "
        "in-process | requests | objects received | MiB | matched |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, result in report["queries"].items():
        s = result["seconds"]
        rows.append(
            f"| {name} | `{' '.join(result['arguments'])}` | {s['median']:.2f} s "
            f"({s['min']:.2f}-{s['max']:.2f}) | {result['ratio_to_baseline']} | "
            f"{_seconds(result.get('in_process_seconds'))} | "
            f"{result.get('requests', '')} | {result.get('objects_received', '')} | "
            f"{result.get('mib_received', '')} | {result.get('matched', '')} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
