"""How long a huge artifact takes to become Ready: hashed, or by the store's checksum.

    .venv/bin/python bench/huge_artifact.py --gib 10 --shards 4 --repeat 3

Starts the local control plane, the S3 server and the operator (from the
source this script imports), uploads one artifact of `--gib` GiB as
`--shards` files under a prefix, the layout of sharded LLM weights, with
`modelregistry upload` (one PUT per file, each with its ChecksumSHA256), then
registers it again and again under two Models:

- `hashed`: no policy, so the operator reads and hashes every byte;
- `trusted`: `policy.verification.acceptStoreChecksum: true`, so a first
  verification is one HeadObject per file, and the bytes are hashed on the
  operator's next periodic pass (every 2 s here; 60 s by default).

Reported per repetition, in alternating order: create → Ready for each, and
for `trusted` also Ready → hashed (the periodic pass's full hash); then, in
the same repetition, `openssl dgst -sha256` over the files the S3 server
stores (the local copy is deleted after the upload, so both read the same
bytes through the same page cache), the floor for hashing them, and the
ratio of `hashed` to it. The next
registration waits until the full hash before it is done, so no two hashes
share the cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from common import api_client, operator_environment, versioned_bucket, workdir
from modelregistry.install import install_crds
from modelregistry.localenv import ControlPlane, S3Server
from modelregistry.localenv.pki import OPERATOR_USER
from modelregistry.upload import upload_artifact
from registry_throughput import Child

GROUP = "modelregistry.io"
VERSION = "v1alpha1"
NAMESPACE = "default"
BUCKET = "models"
BLOCK = 64 * 1024 * 1024


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    with contextlib.ExitStack() as stack:
        work = stack.enter_context(workdir(args.workdir, "huge"))
        source = work / "llm"
        _log(f"writing {args.gib} GiB in {args.shards} files under {source}")
        _write_shards(source, args.gib, args.shards)
        plane = stack.enter_context(ControlPlane(workdir=work / "controlplane"))
        s3 = stack.enter_context(S3Server(workdir=work / "s3"))
        api = api_client(plane)
        install_crds(api, operator_user=OPERATOR_USER)
        os.environ.update(
            AWS_ENDPOINT_URL=s3.endpoint_url,
            AWS_ACCESS_KEY_ID=s3.access_key,
            AWS_SECRET_ACCESS_KEY=s3.secret_key,
            AWS_DEFAULT_REGION=s3.region,
        )
        versioned_bucket(s3, BUCKET)
        started = time.perf_counter()
        uploaded = upload_artifact(source, f"s3://{BUCKET}/llm/")
        upload = time.perf_counter() - started
        _log(f"modelregistry upload: {upload:.1f}s, {uploaded.digest}")
        # From here on the only copy is the S3 server's, which openssl reads too:
        # both sides then find the same bytes in the same page cache, or not.
        shutil.rmtree(source)
        stored = s3.workdir / "data" / BUCKET / "llm"
        operator = Child(
            [sys.executable, "-m", "modelregistry", "run"],
            operator_environment(plane, s3, MODELREGISTRY_CHECK_INTERVAL="2"),
            work / "operator.log",
        )
        stack.callback(operator.stop)
        objects = _Objects(api)
        objects.create("models", {"kind": "Model", "metadata": {"name": "hashed"}, "spec": {}})
        objects.create(
            "models",
            {
                "kind": "Model",
                "metadata": {"name": "trusted"},
                "spec": {"policy": {"verification": {"acceptStoreChecksum": True}}},
            },
        )
        runs: list[dict[str, float]] = []
        for r in range(args.repeat):
            run: dict[str, float] = {}
            for model in ("hashed", "trusted") if r % 2 == 0 else ("trusted", "hashed"):
                name = f"{model}-{r}"
                ready, hashed = objects.register(name, model, uploaded.digest, args.timeout)
                run[f"{model}_ready_s"] = ready
                if model == "trusted":
                    run["trusted_hashed_after_ready_s"] = hashed - ready
                operator.check()
            run["openssl_s"] = _openssl_seconds(stored)
            run["hashed_over_openssl"] = run["hashed_ready_s"] / run["openssl_s"]
            _log(f"[{r}] {json.dumps({k: round(v, 3) for k, v in run.items()})}")
            runs.append(run)
        report = {
            "gib": args.gib,
            "shards": args.shards,
            "upload_s": upload,
            "runs": runs,
            "summary": {
                key: _spread([run[key] for run in runs])
                for key in (
                    "hashed_ready_s",
                    "trusted_ready_s",
                    "trusted_hashed_after_ready_s",
                    "openssl_s",
                    "hashed_over_openssl",
                )
            },
        }
        print(json.dumps(report, indent=2))
        if args.output:
            args.output.write_text(json.dumps(report, indent=2))
    return 0


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=10, help="artifact size in GiB (default 10)")
    parser.add_argument("--shards", type=int, default=4, help="files it is split into")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per registration")
    parser.add_argument("--output", type=Path, help="JSON result file")
    parser.add_argument("--workdir", type=Path, help="keep data and logs here")
    return parser.parse_args(argv)


def _log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def _write_shards(root: Path, gib: float, shards: int) -> None:
    """Files of pseudo-random bytes (SHA-256 runs at the same speed on any bytes)."""
    root.mkdir(parents=True)
    block = os.urandom(BLOCK)
    per_shard = int(gib * 1024**3) // shards
    for i in range(shards):
        with (root / f"model-{i + 1:05d}-of-{shards:05d}.safetensors").open("wb") as out:
            left = per_shard
            while left > 0:
                out.write(block[: min(left, BLOCK)])
                left -= BLOCK
    (root / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')


def _openssl_seconds(root: Path) -> float:
    files = sorted(str(p) for p in root.rglob("*") if p.is_file())
    started = time.perf_counter()
    subprocess.run(["openssl", "dgst", "-sha256", *files], check=True, capture_output=True)
    return time.perf_counter() - started


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


class _Objects:
    def __init__(self, api: Any) -> None:
        import kubernetes

        self._api = kubernetes.client.CustomObjectsApi(api)

    def create(self, plural: str, body: dict[str, Any]) -> None:
        body = {"apiVersion": f"{GROUP}/{VERSION}", **body}
        self._api.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, plural, body)

    def register(self, name: str, model: str, digest: str, timeout: float) -> tuple[float, float]:
        """Seconds from create to Ready, and to ArtifactVerified=True with reason Verified."""
        spec = {
            "modelRef": {"name": model},
            "artifact": {"uri": f"s3://{BUCKET}/llm/", "digest": digest},
        }
        started = time.perf_counter()
        self.create(
            "modelversions", {"kind": "ModelVersion", "metadata": {"name": name}, "spec": spec}
        )
        ready: float | None = None
        deadline = started + timeout
        while time.perf_counter() < deadline:
            body = cast(
                "dict[str, Any]",
                self._api.get_namespaced_custom_object(
                    GROUP, VERSION, NAMESPACE, "modelversions", name
                ),
            )
            found = {c["type"]: c for c in body.get("status", {}).get("conditions", [])}
            now = time.perf_counter() - started
            if ready is None and found.get("Ready", {}).get("status") == "True":
                ready = now
            verified = found.get("ArtifactVerified", {})
            if ready is not None and verified.get("reason") == "Verified":
                return ready, now
            if found.get("Stalled", {}).get("status") == "True":
                raise RuntimeError(f"{name} stalled: {found['Stalled'].get('message')}")
            time.sleep(0.02 if ready is None else 0.2)
        raise TimeoutError(f"{name} not Ready and hashed within {timeout:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
