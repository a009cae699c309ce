"""What the benchmarks share: clients of the local servers and the operator's environment,
and the AWS CLI baseline of the throughput benchmarks."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import boto3

import modelregistry
from modelregistry.digest import digest_local_file
from modelregistry.localenv import ControlPlane, S3Server
from modelregistry.localenv.tools import cache_root

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The operator runs from the source the benchmark imports: the working tree by
# default, or whatever PYTHONPATH puts first (e.g. an exported commit).
OPERATOR_SOURCE: Final = Path(modelregistry.__file__).resolve().parents[1]
AWSCLI_VERSION: Final = "1.46.2"
MIB: Final = 1024 * 1024


@contextlib.contextmanager
def workdir(base: Path | None, name: str) -> Iterator[Path]:
    """`<base>/<name>-<time>-<pid>`, kept; without `base`, a temporary directory."""
    if base is not None:
        path = base / f"{name}-{time.strftime('%H%M%S')}-{os.getpid()}"
        path.mkdir(parents=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix=f"{name}-bench-") as tmp:
        yield Path(tmp)


def operator_environment(plane: ControlPlane, s3: S3Server, **settings: str) -> dict[str, str]:
    """`python -m modelregistry run` against these servers, with extra settings."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(OPERATOR_SOURCE), os.environ.get("PYTHONPATH")) if p
        ),
        # The operator's own identity, which the admission policies exempt.
        "KUBECONFIG": str(plane.operator_kubeconfig),
        "MODELREGISTRY_S3_ENDPOINT": s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "AWS_DEFAULT_REGION": s3.region,
        **settings,
    }


def s3_client(s3: S3Server) -> S3Client:
    client: S3Client = boto3.session.Session().client(
        "s3",
        endpoint_url=s3.endpoint_url,
        region_name=s3.region,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
    )
    return client


def versioned_bucket(s3: S3Server, bucket: str) -> S3Client:
    """A client, after creating `bucket` with versioning on."""
    client = s3_client(s3)
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return client


def api_client(plane: ControlPlane) -> Any:
    """A `kubernetes` client of the control plane, as its admin."""
    import kubernetes

    return kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(plane.kubeconfig)
    )


def baseline_arguments(
    description: str | None, *, repeat_help: str, workdir_help: str
) -> argparse.ArgumentParser:
    """The options of a benchmark that runs a command side by side with `aws s3 cp`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--gib", type=float, default=1.0, help="artifact size in GiB (1)")
    parser.add_argument("--repeat", type=int, default=6, help=repeat_help)
    parser.add_argument("--awscli-version", default=AWSCLI_VERSION, help="pip version of awscli")
    parser.add_argument("--workdir", type=Path, help=workdir_help)
    parser.add_argument("--output", type=Path, help="JSON results (default: $TMPDIR/...)")
    return parser


def awscli_venv(version: str, log: Callable[[str], None]) -> Path:
    """The `aws` executable of a cached venv with awscli==version (built once)."""
    venv = cache_root() / "bench" / f"awscli-{version}"
    stamp = venv / ".installed"
    if not stamp.exists():
        log(f"installing awscli=={version} into {venv} (once)")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True, timeout=600)
        subprocess.run([*pip, f"awscli=={version}"], check=True, timeout=1200)
        stamp.touch()
    return venv / "bin" / "aws"


def write_random(path: Path, size: int) -> None:
    block = 64 * MIB
    with path.open("wb") as out:
        for offset in range(0, size, block):
            out.write(os.urandom(min(block, size - offset)))


def results_path(output: Path | None, benchmark: str) -> Path:
    """`output`, or $TMPDIR/<benchmark>-<now>.json."""
    return output or Path(tempfile.gettempdir()) / time.strftime(
        f"{benchmark}-%Y%m%dT%H%M%SZ.json", time.gmtime()
    )


def random_artifact(work: Path, gib: float, log: Callable[[str], None]) -> tuple[Path, str]:
    """`<work>/model.bin`: `gib` GiB of random bytes, and its SHA-256 digest (which reads it
    once more, so it is warm in the page cache)."""
    source = work / "model.bin"
    log(f"writing {gib} GiB of random bytes to {source}")
    write_random(source, int(gib * 1024) * MIB)
    return source, digest_local_file(source).digest


def command_environment(plane: ControlPlane, s3: S3Server, work: Path) -> dict[str, str]:
    """A person's commands against these servers: the CLI as the control plane's admin,
    `aws` with the S3 server's keys and a config file of its own (`<work>/aws-config`)."""
    config = work / "aws-config"
    config.write_text("[default]\n")
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(OPERATOR_SOURCE), os.environ.get("PYTHONPATH")) if p
        ),
        "KUBECONFIG": str(plane.kubeconfig),
        "AWS_ENDPOINT_URL": s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "AWS_DEFAULT_REGION": s3.region,
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


@dataclass(frozen=True)
class Timed:
    done: subprocess.CompletedProcess[str]
    seconds: float
    # The command's own CPU time (user + system, all its threads): the work it does,
    # apart from how much of the machine it got.
    cpu_seconds: float


def timed_command(side: str, argv: list[str], env: dict[str, str]) -> Timed:
    """Runs one side's command to its end; raises with its output if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{side} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Timed(done, seconds, cpu)


def write_baseline_report(
    benchmark: str,
    args: argparse.Namespace,
    output: Path,
    summary: dict[str, Any],
    runs: list[dict[str, Any]],
    print_markdown: Callable[[dict[str, Any]], None],
    log: Callable[[str], None],
) -> None:
    """The JSON results at `output` with the run's options and machine, then the table."""
    report = {
        "benchmark": benchmark,
        "parameters": {"gib": args.gib, "repeat": args.repeat, "awscli": args.awscli_version},
        "machine": {"nproc": os.cpu_count(), "operator_source": str(OPERATOR_SOURCE)},
        "summary": summary,
        "runs": runs,
    }
    output.write_text(json.dumps(report, indent=2) + "\n")
    print_markdown(report)
    log(f"JSON results: {output}")


def rate_spread(rates: list[float]) -> dict[str, float]:
    """One side's MiB/s over the repetitions: median and min-max."""
    return {"median_mib_s": statistics.median(rates), "min": min(rates), "max": max(rates)}


def ratio_spread(ratios: list[float]) -> dict[str, Any]:
    """A ratio of two sides, each taken in the same repetition: median, min-max and each."""
    return {
        "median": statistics.median(ratios),
        "min": min(ratios),
        "max": max(ratios),
        "each": ratios,
    }


def print_heading(report: dict[str, Any]) -> None:
    print(f"\n{report['parameters']['gib']} GiB, {report['parameters']['repeat']} repetitions\n")
