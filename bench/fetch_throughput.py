"""How fast `modelregistry fetch URI DEST` serves a verified artifact, against `aws s3 cp`.

    .venv/bin/python bench/fetch_throughput.py [--gib 1] [--repeat 6] [--output FILE.json]

One run, one machine, one S3 server (versitygw on loopback, a versioned
bucket) and a local control plane. A `--gib` GiB object (random bytes) is
uploaded once and registered as version 1 of Model `bench`, whose alias
`champion` points at it; the operator runs until it has verified the bytes and
resolved the alias, and is stopped, so nothing else reads or hashes while the
sides run. Every repetition then downloads the same object to local disk two
ways, each a fresh command as a person (or an init container) runs it:

- `fetch`: `modelregistry fetch modelregistry://default/bench@champion DEST`:
  resolves the alias through the API server, downloads the pinned versionId as
  8 MiB ranged GETs from 8 threads, hashes (SHA-256) every byte as it is
  written, checks the digest and moves the file into DEST;
- `aws s3 cp`: the AWS CLI v1 (`awscli` from PyPI, in a cached venv under
  ~/.cache/modelregistry/bench) with its defaults (8 MiB ranged GETs, 10 threads), no hashing.

The order alternates every repetition and each command starts after `sync` on
a quiet machine; its output is deleted afterwards. Reported: each command's
wall time and MiB/s, and the ratio of fetch's throughput to aws s3 cp's in the
same repetition (median and min-max), and each command's CPU time (user and
system, all its threads); fetch's file is checked against the
source's SHA-256 once, after the timed runs of each repetition.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, cast

from common import (
    MIB,
    api_client,
    awscli_venv,
    baseline_arguments,
    command_environment,
    operator_environment,
    print_heading,
    random_artifact,
    rate_spread,
    ratio_spread,
    results_path,
    timed_command,
    versioned_bucket,
    workdir,
    write_baseline_report,
)
from modelregistry.digest import digest_local_file
from modelregistry.install import install_crds
from modelregistry.localenv import ControlPlane, S3Server
from modelregistry.localenv.pki import OPERATOR_USER
from registry_throughput import Child, _log, _quiesce

BUCKET: Final = "models"
KEY: Final = "bench/1/model.bin"
SIDES: Final = ("fetch", "aws s3 cp")
URI: Final = "modelregistry://default/bench@champion"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    aws = awscli_venv(args.awscli_version, _log)
    output = results_path(args.output, "fetch-throughput")
    with contextlib.ExitStack() as stack:
        work = stack.enter_context(workdir(args.workdir, "fetch"))
        source, expected = random_artifact(work, args.gib, _log)
        plane = stack.enter_context(ControlPlane(workdir=work / "controlplane"))
        s3 = stack.enter_context(S3Server(workdir=work / "s3"))
        api = api_client(plane)
        install_crds(api, operator_user=OPERATOR_USER)
        versioned_bucket(s3, BUCKET).upload_file(str(source), BUCKET, KEY)
        source.unlink()  # from here on, the only copy is the S3 server's
        _register(api, plane, s3, work, expected, stack)
        env = {**command_environment(plane, s3, work), "MODELREGISTRY_S3_ENDPOINT": s3.endpoint_url}
        out = work / "out"
        # Untimed: every command's files get cached, the server's too.
        for side in SIDES:
            _download(side, aws, out, env)
            shutil.rmtree(out)
        runs: list[dict[str, Any]] = []
        for repetition in range(args.repeat):
            order = SIDES if repetition % 2 == 0 else SIDES[::-1]
            run: dict[str, Any] = {"repetition": repetition, "order": list(order)}
            for side in order:
                _quiesce()
                run[side] = _download(side, aws, out, env)
                if side == "fetch":
                    found = digest_local_file(out / "model.bin").digest
                    if found != expected:
                        raise RuntimeError(f"fetch wrote {found}, not {expected}")
                shutil.rmtree(out)
                _log(
                    f"[{repetition}] {side}: {run[side]['seconds']:.2f}s, "
                    f"{run[side]['mib_s']:.0f} MiB/s, {run[side]['cpu_seconds']:.2f} CPU-s"
                )
            runs.append(run)
    write_baseline_report(
        "fetch_throughput",
        args,
        output,
        _summary(runs, int(args.gib * 1024) * MIB),
        runs,
        _print_markdown,
        _log,
    )
    return 0


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = baseline_arguments(
        __doc__.split("\n\n")[0] if __doc__ else None,
        repeat_help="repetitions (6: each order 3x)",
        workdir_help="keep the logs and data here",
    )
    return parser.parse_args(argv)


def _register(
    api: Any,
    plane: ControlPlane,
    s3: S3Server,
    work: Path,
    digest: str,
    stack: contextlib.ExitStack,
) -> None:
    """Version 1 of Model `bench`, verified by the operator, and `champion` resolved to it;
    then the operator stops, so it reads nothing while the sides run."""
    import kubernetes

    custom = kubernetes.client.CustomObjectsApi(api)
    group = ("modelregistry.io", "v1alpha1", "default")
    custom.create_namespaced_custom_object(
        *group,
        "models",
        {
            "apiVersion": "modelregistry.io/v1alpha1",
            "kind": "Model",
            "metadata": {"name": "bench"},
            "spec": {"aliases": {"champion": 1}},
        },
    )
    custom.create_namespaced_custom_object(
        *group,
        "modelversions",
        {
            "apiVersion": "modelregistry.io/v1alpha1",
            "kind": "ModelVersion",
            "metadata": {"name": "bench-1"},
            "spec": {
                "modelRef": {"name": "bench"},
                "version": 1,
                "artifact": {"uri": f"s3://{BUCKET}/{KEY}", "digest": digest},
            },
        },
    )
    operator = Child(
        [sys.executable, "-m", "modelregistry", "run"],
        operator_environment(plane, s3),
        work / "operator.log",
    )
    stack.callback(operator.stop)
    _log("the operator verifies the artifact and resolves bench@champion")
    deadline = time.monotonic() + 600
    while True:
        operator.check()
        model = cast(dict[str, Any], custom.get_namespaced_custom_object(*group, "models", "bench"))
        if ((model.get("status") or {}).get("resolved") or {}).get("champion"):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench@champion did not resolve:\n{operator.tail()}")
        time.sleep(0.5)
    operator.stop()


def _download(side: str, aws: Path, out: Path, env: dict[str, str]) -> dict[str, Any]:
    if side == "fetch":
        argv = [sys.executable, "-m", "modelregistry", "fetch", URI, str(out)]
    else:
        argv = [
            str(aws),
            "s3",
            "cp",
            "--no-progress",
            f"s3://{BUCKET}/{KEY}",
            str(out / "model.bin"),
        ]
    timed = timed_command(side, argv, env)
    size = (out / "model.bin").stat().st_size
    return {
        "seconds": timed.seconds,
        "mib_s": size / MIB / timed.seconds,
        "cpu_seconds": timed.cpu_seconds,
    }


def _summary(runs: list[dict[str, Any]], size: int) -> dict[str, Any]:
    summary: dict[str, Any] = {"bytes": size}
    for side in SIDES:
        rates = [r[side]["mib_s"] for r in runs]
        cpu = [r[side]["cpu_seconds"] for r in runs]
        summary[side] = {
            **rate_spread(rates),
            "median_cpu_seconds": statistics.median(cpu),
            "cpu_min": min(cpu),
            "cpu_max": max(cpu),
        }
    ratios = [r["fetch"]["mib_s"] / r["aws s3 cp"]["mib_s"] for r in runs]
    summary["fetch / aws s3 cp"] = ratio_spread(ratios)
    return summary


def _print_markdown(report: dict[str, Any]) -> None:
    summary = report["summary"]
    print_heading(report)
    print("| command | MiB/s median | min-max | CPU seconds median | min-max |")
    print("| --- | --- | --- | --- | --- |")
    for side in SIDES:
        s = summary[side]
        print(
            f"| {side} | {s['median_mib_s']:.0f} | {s['min']:.0f}-{s['max']:.0f} "
            f"| {s['median_cpu_seconds']:.2f} | {s['cpu_min']:.2f}-{s['cpu_max']:.2f} |"
        )
    s = summary["fetch / aws s3 cp"]
    print(
        f"\nfetch / aws s3 cp (throughput, same repetition): median {s['median']:.2f}x, "
        f"{s['min']:.2f}-{s['max']:.2f}x"
    )


if __name__ == "__main__":
    sys.exit(main())
