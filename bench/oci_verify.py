"""Verifying an OCI artifact against `oras pull` + `openssl dgst -sha256` of the same bytes.

Starts a real registry (distribution v3, `localenv.ociregistry.OciRegistry`)
on loopback, pushes a ModelPack artifact of random bytes (SHARDS weight
layers, ~SIZE MiB in all), then runs, interleaved in one process so that a
noisy machine affects every case alike:

  (a) the baseline: oras-py's `OrasClient.pull` of the artifact into a fresh
      directory, then `openssl dgst -sha256` over the pulled files (wall time
      of both, process start included);
  (b) `OciStore.hash_artifact`: the operator's verification (the manifest by
      digest, then every blob streamed and hashed; nothing written);
  (c) `oci.pull.pull`: the validation Pod's fetch step (the manifest and every
      blob by digest, hashed while written out).

Every digest is checked against one computed locally: the manifest digest
for (b) and (c), each layer's SHA-256 for (a)'s openssl output; a mismatch
exits with status 1. Reports medians with the spread (min-max) over the
repetitions, and each case's ratio to the baseline's median.

    PYTHONPATH=operator python bench/oci_verify.py [--size-mib 1024] [--shards 4]
        [--repeat 5] [--json] [--tmpdir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import oras.client
import oras.oci

from modelregistry.decisions.oci.reference import OciReference
from modelregistry.localenv.ociregistry import OciRegistry
from modelregistry.oci.pull import pull
from modelregistry.oci.registry import Repository, new_pool
from modelregistry.oci.store import OciStore

MIB: Final = 1 << 20
WRITE_CHUNK: Final = 16 * MIB
REPOSITORY: Final = "bench/model"
MANIFEST_TYPE: Final = "application/vnd.oci.image.manifest.v1+json"
ARTIFACT_TYPE: Final = "application/vnd.cncf.model.manifest.v1+json"
CONFIG_TYPE: Final = "application/vnd.cncf.model.config.v1+json"
WEIGHT_TYPE: Final = "application/vnd.cncf.model.weight.v1.raw"
TITLE: Final = "org.opencontainers.image.title"


def write_shards(directory: Path, size: int, shards: int) -> dict[str, str]:
    """SHARDS files of random bytes, SIZE bytes in all; file name -> sha256:<hex>."""
    digests = {}
    each = size // shards
    for i in range(shards):
        path = directory / f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        hashed = hashlib.sha256()
        with path.open("wb") as out:
            left = each
            while left:
                chunk = os.urandom(min(WRITE_CHUNK, left))
                hashed.update(chunk)
                out.write(chunk)
                left -= len(chunk)
        digests[path.name] = "sha256:" + hashed.hexdigest()
    return digests


def push(host: str, files: list[Path], workdir: Path) -> str:
    """Push a ModelPack manifest of these files (one raw layer each); its digest."""
    client = oras.client.OrasClient(hostname=host, insecure=True)
    target = f"{host}/{REPOSITORY}:bench"
    config = workdir / "config.json"
    config.write_text(json.dumps({"descriptor": {"name": "bench"}, "config": {"format": "st"}}))
    layers = []
    for path in [*files, config]:
        layer: dict[str, Any] = dict(
            oras.oci.NewLayer(str(path), media_type=CONFIG_TYPE if path == config else WEIGHT_TYPE)
        )
        layer["annotations"] = {TITLE: path.name}
        response = client.upload_blob(str(path), target, layer)
        assert response.status_code in (200, 201, 202), response.text
        layers.append(layer)
    *weights, config_layer = layers
    config_layer.pop("annotations")
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": config_layer,
        "layers": weights,
    }
    response = client.upload_manifest(manifest, client.get_container(target))
    assert response.status_code in (200, 201), response.text
    return str(response.headers["Docker-Content-Digest"])


def baseline(host: str, digest: str, out: Path, expected: dict[str, str]) -> None:
    """oras-py pull by digest, then openssl over what it wrote; the digests checked."""
    client = oras.client.OrasClient(hostname=host, insecure=True)
    client.pull(target=f"{host}/{REPOSITORY}@{digest}", outdir=str(out))
    names = sorted(expected)
    result = subprocess.run(
        ["openssl", "dgst", "-sha256", "-r", *names],
        cwd=out,
        check=True,
        capture_output=True,
        text=True,
    )
    seen = {}
    for line in result.stdout.splitlines():
        hexdigest, name = line.split(" ", 1)
        seen[name.lstrip("*")] = "sha256:" + hexdigest
    if seen != expected:
        sys.exit(f"openssl after oras pull: {seen} != {expected}")


def verify(reference: OciReference, digest: str) -> None:
    found = OciStore().hash_artifact(reference, None, plain_http=True)
    if found.digest != digest:
        sys.exit(f"hash_artifact: {found.digest} != {digest}")


def pull_by_digest(reference: OciReference, out: Path, expected: dict[str, str]) -> None:
    repository = Repository(
        new_pool(), reference.registry, reference.repository, None, plain_http=True
    )
    pulled = pull(repository, reference, out)
    if pulled.files != len(expected):
        sys.exit(f"pull wrote {pulled.files} files, not {len(expected)}")


def timed(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tmpdir", type=Path, default=None)
    args = parser.parse_args()
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="oci-bench-", dir=args.tmpdir) as tmp:
        work = Path(tmp)
        source = fresh(work / "source")
        expected = write_shards(source, size, args.shards)
        with OciRegistry(work / "registry") as registry:
            digest = push(registry.host, sorted(source.iterdir()), work)
            reference = OciReference(registry.host, REPOSITORY, digest)
            cases: dict[str, Callable[[], None]] = {
                "oras pull + openssl dgst": lambda: baseline(
                    registry.host, digest, fresh(work / "oras"), expected
                ),
                "OciStore.hash_artifact (operator)": lambda: verify(reference, digest),
                "oci.pull (validation fetch)": lambda: pull_by_digest(
                    reference, fresh(work / "pull"), expected
                ),
            }
            times: dict[str, list[float]] = {name: [] for name in cases}
            for run in cases.values():  # a warm-up of each, not counted
                run()
            for _ in range(args.repeat):
                for name, run in cases.items():
                    times[name].append(timed(run))
    base = statistics.median(times["oras pull + openssl dgst"])
    rows = [
        {
            "case": name,
            "median_s": statistics.median(seconds),
            "min_s": min(seconds),
            "max_s": max(seconds),
            "mib_per_s": args.size_mib / statistics.median(seconds),
            "speed_vs_baseline": base / statistics.median(seconds),
        }
        for name, seconds in times.items()
    ]
    header = {
        "size_mib": args.size_mib,
        "shards": args.shards,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "oras_py": _version("oras"),
    }
    if args.json:
        print(json.dumps({**header, "cases": rows, "seconds": times}, indent=2))
        return 0
    print(", ".join(f"{k}={v}" for k, v in header.items()))
    print(f"{'case':36} {'median s':>9} {'min-max s':>13} {'MiB/s':>7} {'x baseline':>10}")
    for row in rows:
        spread = f"{row['min_s']:.2f}-{row['max_s']:.2f}"
        print(
            f"{row['case']:36} {row['median_s']:9.2f} {spread:>13} {row['mib_per_s']:7.0f} "
            f"{row['speed_vs_baseline']:10.2f}"
        )
    return 0


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    sys.exit(main())
