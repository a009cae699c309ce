"""How fast `modelregistry register` uploads, against `aws s3 cp` of the same bytes.

    .venv/bin/python bench/register_throughput.py [--gib 1] [--repeat 6] [--output FILE.json]

One run, one machine, one S3 server (versitygw on loopback, a versioned
bucket, as `make run` has it) and a local control plane (register creates
its Model and ModelVersion there; no operator runs, so nothing else reads the
bytes). Every repetition uploads the same `--gib` GiB file (random bytes,
warm in the page cache) three ways, each a fresh command as a person runs it:

- `register`: `modelregistry register FILE --model bench --no-git`, which
  reads the file once, hashes it (SHA-256) while sending 16 MiB parts from
  10 threads, and creates the ModelVersion with that digest;
- `aws s3 cp`: the AWS CLI v1 (`awscli` from PyPI, in a cached venv under
  ~/.cache/modelregistry/bench) with its defaults: 8 MiB parts, 10 threads,
  payloads signed (over plain HTTP botocore hashes each part for the
  signature) and a CRC32 per part;
- `aws s3 cp, unsigned`: the same with `payload_signing_enabled = false`:
  payloads unsigned as botocore sends them over HTTPS, and as register sends
  them (the CRC32 per part stays; register sends none).

One untimed round warms every command up (and creates the Model). Then the
order rotates every repetition and each command starts after `sync` on a
quiet machine (CPUs at most 10% busy for a second, or after 30 s).
Reported: each command's wall time and MiB/s, and the ratio of register's
throughput to each baseline's (median and min-max over the repetitions);
register's digest is checked against the file's SHA-256.
Uploaded objects are deleted after each command.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from common import (
    MIB,
    api_client,
    awscli_venv,
    baseline_arguments,
    command_environment,
    print_heading,
    random_artifact,
    rate_spread,
    ratio_spread,
    results_path,
    s3_client,
    timed_command,
    versioned_bucket,
    workdir,
    write_baseline_report,
)
from modelregistry.install import install_crds
from modelregistry.localenv import ControlPlane, S3Server
from modelregistry.localenv.pki import OPERATOR_USER
from registry_throughput import _log, _quiesce

BUCKET: Final = "models"
SIDES: Final = ("register", "aws s3 cp", "aws s3 cp, unsigned")
UNSIGNED_CONFIG: Final = "[default]\ns3 =\n    payload_signing_enabled = false\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    aws = awscli_venv(args.awscli_version, _log)
    output = results_path(args.output, "register-throughput")
    with contextlib.ExitStack() as stack:
        work = stack.enter_context(workdir(args.workdir, "register"))
        source, expected = random_artifact(work, args.gib, _log)
        plane = stack.enter_context(ControlPlane(workdir=work / "controlplane"))
        s3 = stack.enter_context(S3Server(workdir=work / "s3"))
        install_crds(api_client(plane), operator_user=OPERATOR_USER)
        versioned_bucket(s3, BUCKET)
        env = _environment(plane, s3, work)
        # Untimed: the first register creates the Model; every command's files get cached.
        for side in SIDES:
            _upload(side, aws, source, f"warmup/{side.replace(' ', '-')}", env, -1)
            _delete_all(s3)
        runs: list[dict[str, Any]] = []
        for repetition in range(args.repeat):
            shift = repetition % len(SIDES)
            order = SIDES[shift:] + SIDES[:shift]
            run: dict[str, Any] = {"repetition": repetition, "order": list(order)}
            for side in order:
                _quiesce()
                key = f"{side.replace(' ', '-').replace(',', '')}/{repetition}/model.bin"
                result = _upload(side, aws, source, key, env, repetition)
                if side == "register" and result["digest"] != expected:
                    raise RuntimeError(f"register printed {result['digest']}, not {expected}")
                run[side] = result
                _log(
                    f"[{repetition}] {side}: {result['seconds']:.2f}s, {result['mib_s']:.0f} MiB/s"
                )
                _delete_all(s3)
            runs.append(run)
    write_baseline_report(
        "register_throughput", args, output, _summary(runs), runs, _print_markdown, _log
    )
    return 0


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = baseline_arguments(
        __doc__.split("\n\n")[0] if __doc__ else None,
        repeat_help="repetitions (6: each order twice)",
        workdir_help="keep the file, logs and data here",
    )
    return parser.parse_args(argv)


def _environment(plane: ControlPlane, s3: S3Server, work: Path) -> dict[str, str]:
    env = command_environment(plane, s3, work)
    # The unsigned side's config, beside the one the environment names.
    Path(env["AWS_CONFIG_FILE"] + "-unsigned").write_text(UNSIGNED_CONFIG)
    return env


def _upload(
    side: str, aws: Path, source: Path, key: str, env: dict[str, str], repetition: int
) -> dict[str, Any]:
    if side == "register":
        argv = [
            sys.executable,
            "-m",
            "modelregistry",
            "register",
            str(source),
            "--model=bench",
            "--create-model",
            f"--name=bench-{repetition + 1}",
            f"--to=s3://{BUCKET}/{key}",
            "--no-git",
            "-n",
            "default",
            "-o",
            "json",
        ]
    else:
        argv = [str(aws), "s3", "cp", "--no-progress", str(source), f"s3://{BUCKET}/{key}"]
        if side.endswith("unsigned"):
            env = {**env, "AWS_CONFIG_FILE": env["AWS_CONFIG_FILE"] + "-unsigned"}
    timed = timed_command(side, argv, env)
    done, seconds = timed.done, timed.seconds
    size = source.stat().st_size
    result: dict[str, Any] = {"seconds": seconds, "mib_s": size / MIB / seconds}
    if side == "register":
        result["digest"] = json.loads(done.stdout)["digest"]
        # Its own figure: from its start of work to the ModelVersion created.
        if found := re.search(r"in ([0-9.]+)s, ([0-9]+) MiB/s\)", done.stderr):
            result["inner_seconds"] = float(found.group(1))
    return result


def _delete_all(s3: S3Server) -> None:
    client = s3_client(s3)
    listed = client.list_object_versions(Bucket=BUCKET)
    for version in listed.get("Versions", []) + listed.get("DeleteMarkers", []):
        client.delete_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for side in SIDES:
        rates = [r[side]["mib_s"] for r in runs]
        summary[side] = rate_spread(rates)
    inner = [r["register"]["inner_seconds"] for r in runs if "inner_seconds" in r["register"]]
    if inner:
        # Its start (imports, kubeconfig) before it begins to work, from its own figure.
        summary["register start-up seconds"] = statistics.median(
            r["register"]["seconds"] - r["register"]["inner_seconds"]
            for r in runs
            if "inner_seconds" in r["register"]
        )
    for baseline in SIDES[1:]:
        # register's throughput over the baseline's, in the same repetition.
        ratios = [r["register"]["mib_s"] / r[baseline]["mib_s"] for r in runs]
        summary[f"register / {baseline}"] = ratio_spread(ratios)
    return summary


def _print_markdown(report: dict[str, Any]) -> None:
    summary = report["summary"]
    print_heading(report)
    print("| command | MiB/s median | min-max |")
    print("| --- | --- | --- |")
    for side in SIDES:
        s = summary[side]
        print(f"| {side} | {s['median_mib_s']:.0f} | {s['min']:.0f}-{s['max']:.0f} |")
    print("\n| ratio (throughput) | median | min-max |")
    print("| --- | --- | --- |")
    for baseline in SIDES[1:]:
        s = summary[f"register / {baseline}"]
        print(f"| register / {baseline} | {s['median']:.2f}x | {s['min']:.2f}-{s['max']:.2f}x |")
    if "register start-up seconds" in summary:
        print(f"\nregister's start-up (median): {summary['register start-up seconds']:.2f}s")


if __name__ == "__main__":
    sys.exit(main())
