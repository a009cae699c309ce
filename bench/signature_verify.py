"""Signature verification of a 1 GiB model: the operator's path against model-signing's CLI.

Writes a model directory of random bytes (`--shards` weight files and two
small JSON files, `--size-mib` in all), signs it with model-signing's own CLI
(`model_signing sign key`, an ECDSA P-256 key; the bundle `model.sig` lands
inside the directory, as that CLI writes it by default), uploads the directory
with the bundle to a real versitygw on loopback, and then times, interleaved
in one run so that a noisy machine affects every case alike:

  (a) `model_signing verify key DIR --signature DIR/model.sig --public_key K`:
      the baseline, model-signing's CLI on the local files (wall time,
      including the process's start);
  (a') the same verification through model-signing's library, in this
       process: the baseline without the CLI's start;
  (b) the operator's path: `ArtifactStore.hash_artifact` over the prefix in
      the store (the read that verifies the digest), the bundle read from the
      store, and `decisions.signature.decide` (the signature over the DSSE
      payload, and the statement against the files just hashed): one read of
      the bytes, as the operator does it;
  (c) the same decision on the local files (`digest.digest_local_path` and
      the bundle read from disk): the operator's code on the disk model-signing
      reads;
  (d) the decision alone on files already hashed: what signing adds to a
      verification the operator does anyway.

Every case must say the signature verifies (and (b)-(d) must find the digest
the local files have); otherwise the run exits with status 1. Ratios are the
baseline's wall time over the case's, paired per repetition: above 1 is
faster than model-signing's CLI.

    PYTHONPATH=operator .venv/bin/python bench/signature_verify.py \\
        [--size-mib 1024] [--shards 4] [--repeat 5] [--json] [--tmpdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import model_signing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from common import versioned_bucket
from modelregistry import digest, storage
from modelregistry.api.modelversion import ModelVersionSpec, ModelVersionStatus
from modelregistry.decisions import signature, verification
from modelregistry.decisions.passdata import VersionView
from modelregistry.decisions.signature import Fetched, Observed, Trust
from modelregistry.localenv.s3server import S3Server

MIB: Final = 1 << 20
MB: Final = 1_000_000
BUCKET: Final = "bench"
PREFIX: Final = "signed/model/"
BUNDLE: Final = "model.sig"
WRITE_CHUNK: Final = 16 * MIB
CLI: Final = [sys.executable, "-m", "model_signing"]


def ms_config(module: str) -> Any:
    """A configuration of model-signing's `signing`, `verifying` or `hashing` (untyped there)."""
    return getattr(model_signing, module).Config()


@dataclass(frozen=True)
class Sample:
    case: str
    repetition: int
    wall_seconds: float
    ok: bool


@dataclass(frozen=True)
class Case:
    name: str
    label: str
    run: Callable[[], bool]  # True: the signature verified (and the bytes were right)


@dataclass(frozen=True)
class Summary:
    case: str
    label: str
    median_wall_seconds: float
    min_wall_seconds: float
    max_wall_seconds: float
    median_mb_per_second: float
    median_ratio_to_cli: float  # (a)'s wall / this case's, paired per repetition
    min_ratio_to_cli: float
    max_ratio_to_cli: float


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="signature-bench-", dir=args.tmpdir) as tmp:
        root = Path(tmp)
        _log(f"writing a {args.size_mib} MiB model in {args.shards} shards under {root}")
        model = _write_model(root / "model", size, args.shards)
        private, public = _key_pair(root)
        _log("signing it with model-signing's CLI (sign key)")
        subprocess.run(
            [*CLI, "sign", "key", str(model), "--private_key", str(private)],
            cwd=model,
            check=True,
            capture_output=True,
        )
        with S3Server(root / "s3") as server:
            _log(f"uploading to versitygw at {server.endpoint_url}")
            _upload(server, model)
            cases = _cases(server, model, public)
            _log("warm-up run of every case (not counted)")
            warm_up = [_measure(c, -1) for c in cases]
            samples = []
            for repetition in range(args.repeat):
                for case in cases:
                    sample = _measure(case, repetition)
                    _log(f"  rep {repetition} {case.name:16} {sample.wall_seconds:8.3f} s")
                    samples.append(sample)
    summaries = _summarize(cases, samples, size)
    machine = _machine()
    if args.json:
        report = {
            "size_bytes": size,
            "shards": args.shards,
            "repetitions": args.repeat,
            "machine": machine,
            "summaries": [asdict(s) for s in summaries],
            "samples": [asdict(s) for s in samples],
        }
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        _print_markdown(summaries, machine, size, args)
    failed = [s for s in [*warm_up, *samples] if not s.ok]
    for sample in failed:
        print(f"NOT VERIFIED: {sample.case} repetition {sample.repetition}", file=sys.stderr)
    return 1 if failed else 0


def _cases(server: S3Server, model: Path, public: Path) -> list[Case]:
    store = storage.ArtifactStore()
    endpoint = storage.Endpoint(url=server.endpoint_url, region=server.region)
    credentials = storage.Credentials(server.access_key, server.secret_key)
    local = digest.digest_local_path(model)
    artifact_uri, bundle_uri = f"s3://{BUCKET}/{PREFIX}", f"s3://{BUCKET}/{PREFIX}{BUNDLE}"
    view = _view(artifact_uri, bundle_uri)
    trust = Trust(public.read_bytes(), "the bench's key")
    bundle_path = model / BUNDLE

    def decided(hashed: digest.ArtifactDigest, raw: bytes, version_id: str | None) -> bool:
        record = verification.verified_record(artifact_uri, hashed, view.now)
        step = signature.decide(
            view, Observed(Fetched(raw, version_id), trust, record, hashed.files)
        )
        return step.conditions[0].status == "True"

    def operator_store() -> bool:
        hashed = store.hash_artifact(storage.S3Location(BUCKET, PREFIX), endpoint, credentials)
        raw, version_id = store.read_object(
            storage.S3Location(BUCKET, PREFIX + BUNDLE), endpoint, credentials, 16 * MIB
        )
        return hashed.digest == local.digest and decided(hashed, raw, version_id)

    def operator_local() -> bool:
        hashed = digest.digest_local_path(model)
        return hashed.digest == local.digest and decided(hashed, bundle_path.read_bytes(), None)

    def check_only() -> bool:
        return decided(local, bundle_path.read_bytes(), None)

    def cli() -> bool:
        command = [*CLI, "verify", "key", str(model), "--signature", str(bundle_path)]
        done = subprocess.run([*command, "--public_key", str(public)], capture_output=True)
        return done.returncode == 0

    def library() -> bool:
        ms_config("verifying").use_elliptic_key_verifier(public_key=public).set_hashing_config(
            ms_config("hashing").set_ignored_paths(paths=[bundle_path])
        ).verify(model, bundle_path)
        return True  # it raises when the signature does not verify

    return [
        Case("model-signing-cli", "(a) model_signing verify key (CLI)", cli),
        Case("model-signing-lib", "(a') model-signing's library, in process", library),
        Case(
            "operator-store",
            "(b) operator: hash the prefix in S3 + bundle + decide",
            operator_store,
        ),
        Case("operator-local", "(c) operator's code on the local files", operator_local),
        Case("check-only", "(d) the signature decision alone, files hashed", check_only),
    ]


def _view(artifact_uri: str, bundle_uri: str) -> VersionView:
    spec = ModelVersionSpec.model_validate(
        {
            "modelRef": {"name": "bench"},
            "artifact": {
                "uri": artifact_uri,
                "signature": {
                    "uri": bundle_uri,
                    "publicKey": {"name": "signing-key", "key": "key.pub"},
                },
            },
        }
    )
    return VersionView(spec, ModelVersionStatus(), 1, datetime.now(UTC), "bench", "bench-1")


def _measure(case: Case, repetition: int) -> Sample:
    start = time.perf_counter()
    ok = case.run()
    return Sample(case.name, repetition, time.perf_counter() - start, ok)


def _summarize(cases: Sequence[Case], samples: Sequence[Sample], size: int) -> list[Summary]:
    by_case = {c.name: [s for s in samples if s.case == c.name] for c in cases}
    baseline = {s.repetition: s.wall_seconds for s in by_case[cases[0].name]}
    summaries = []
    for case in cases:
        runs = by_case[case.name]
        walls = [s.wall_seconds for s in runs]
        ratios = [baseline[s.repetition] / s.wall_seconds for s in runs]
        summaries.append(
            Summary(
                case=case.name,
                label=case.label,
                median_wall_seconds=statistics.median(walls),
                min_wall_seconds=min(walls),
                max_wall_seconds=max(walls),
                median_mb_per_second=statistics.median(size / w / MB for w in walls),
                median_ratio_to_cli=statistics.median(ratios),
                min_ratio_to_cli=min(ratios),
                max_ratio_to_cli=max(ratios),
            )
        )
    return summaries


def _write_model(directory: Path, size: int, shards: int) -> Path:
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps({"architecture": "bench", "shards": shards}))
    (directory / "tokenizer.json").write_text(json.dumps({"vocab": list(range(1000))}))
    part = size // shards
    for index in range(shards):
        with (directory / f"model-{index + 1:05d}-of-{shards:05d}.safetensors").open("wb") as out:
            remaining = part
            while remaining:
                chunk = os.urandom(min(WRITE_CHUNK, remaining))
                out.write(chunk)
                remaining -= len(chunk)
    return directory


def _key_pair(root: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = root / "signing.key", root / "signing.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def _upload(server: S3Server, model: Path) -> None:
    client = versioned_bucket(server, BUCKET)
    for path in sorted(model.iterdir()):
        client.upload_file(str(path), BUCKET, PREFIX + path.name)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=1024, help="model size (default 1024)")
    parser.add_argument("--shards", type=int, default=4, help="weight files (default 4)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    parser.add_argument("--tmpdir", type=Path, default=None, help="where to put the files")
    args = parser.parse_args(argv)
    if args.shards < 1 or args.size_mib < args.shards or args.repeat < 1:
        parser.error("--shards and --repeat must be at least 1, --size-mib at least --shards")
    return args


def _machine() -> dict[str, str]:
    cpu_model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    return {
        "nproc": str(os.cpu_count()),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "model_signing": model_signing.__version__,
    }


def _print_markdown(
    summaries: Sequence[Summary], machine: dict[str, str], size: int, args: argparse.Namespace
) -> None:
    print(
        f"{size // MIB} MiB in {args.shards} weight files and 2 JSON files, median (min-max) of "
        f"{args.repeat} interleaved repetitions; {machine['nproc']} CPUs ({machine['cpu_model']}), "
        f"Python {machine['python']}, model-signing {machine['model_signing']}\n"
    )
    print("| case | wall s | MB/s | model-signing CLI wall / case wall |")
    print("|---|---:|---:|---:|")
    for s in summaries:
        print(
            f"| {s.label} | {s.median_wall_seconds:.3f} ({s.min_wall_seconds:.3f}-"
            f"{s.max_wall_seconds:.3f}) | {s.median_mb_per_second:.0f} "
            f"| {s.median_ratio_to_cli:.2f} ({s.min_ratio_to_cli:.2f}-{s.max_ratio_to_cli:.2f}) |"
        )
    print(
        "\nMB = 10^6 bytes. Ratio above 1: faster than model-signing's CLI on the same files, "
        "paired per repetition."
    )


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
