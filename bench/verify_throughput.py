"""How close does artifact verification get to the machine's SHA-256 limit?

Starts a real versitygw on loopback (`localenv.s3server.S3Server`), uploads a
file of random bytes as one object and the same number of bytes as a prefix
of 16 objects, then runs, interleaved in one process so that a noisy machine
affects every case alike:

  (r) hashlib over one 4 MiB buffer in memory, repeated: a reference, the
      SHA-256 ceiling of one core with no I/O at all;
  (a) `openssl dgst -sha256` on the local file: the baseline, what one core
      hashes with nothing else to do (wall time, including process start);
  (b) `ArtifactStore.hash_artifact` on the single object;
  (a') `openssl dgst -sha256` on the 16 local files, one after another in one
       process: the baseline for the prefix;
  (c) `ArtifactStore.hash_artifact` on the 16-object prefix.

Every digest is checked against one computed locally (hashlib for the file,
`digest.digest_local_path` for the directory); a mismatch exits with status 1.
Besides wall time it records CPU seconds of the measured client (this process,
or the openssl child) and of the versitygw process, to show where time goes.

    PYTHONPATH=operator python bench/verify_throughput.py [--size-mib 1024] [--repeat 3]
        [--json] [--chunk-kib N] [--tmpdir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import botocore
from boto3.s3.transfer import TransferConfig

from common import versioned_bucket
from modelregistry import digest, storage
from modelregistry.localenv.s3server import S3Server

MIB: Final = 1 << 20
MB: Final = 1_000_000
BUCKET: Final = "bench"
SINGLE_KEY: Final = "single/model.bin"
PREFIX_KEY: Final = "prefix/"
PREFIX_FILES: Final = 16
WRITE_CHUNK: Final = 16 * MIB
MEMORY_BUFFER: Final = 4 * MIB
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    """One timed run of one case."""

    case: str
    repetition: int
    wall_seconds: float
    client_cpu_seconds: float
    server_cpu_seconds: float
    digest_ok: bool


@dataclass(frozen=True)
class Case:
    name: str
    label: str
    baseline: str | None  # the case this one is compared with
    run: Callable[[], str]  # returns the digest it computed
    expected: str
    in_process: bool  # True: CPU of this process; False: CPU of child processes


@dataclass(frozen=True)
class Summary:
    case: str
    label: str
    median_wall_seconds: float
    median_mb_per_second: float
    median_ratio_to_baseline: float | None
    baseline: str | None
    median_ratio_to_memory: float  # against (r), hashlib with no I/O
    median_client_cpu_seconds: float
    median_server_cpu_seconds: float
    median_cpu_per_wall: float  # (client + server CPU) / wall: > 1 means both cores worked


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="verify-bench-", dir=args.tmpdir) as tmp:
        root = Path(tmp)
        _log(f"writing {args.size_mib} MiB of random bytes under {root}")
        single_file, prefix_dir = _write_local_files(root / "local", size)
        with S3Server(root / "s3") as server:
            server_pid = _server_pid(server.endpoint_url)
            _log(f"versitygw pid {server_pid} at {server.endpoint_url}; uploading")
            prefix_files = sorted(prefix_dir.iterdir())
            _upload(server, single_file, prefix_files)
            store = (
                storage.ArtifactStore(chunk_size=args.chunk_kib * 1024)
                if args.chunk_kib
                else storage.ArtifactStore()
            )
            cases = _cases(server, store, size, single_file, prefix_dir)
            _log("warm-up run of every case (not counted)")
            warm_up = [_measure(case, -1, server_pid) for case in cases]
            samples = _run(cases, args.repeat, server_pid, size)

    summaries = _summarize(cases, samples, size)
    machine = _machine()
    if args.json:
        report = {
            "size_bytes": size,
            "repetitions": args.repeat,
            "chunk_kib": args.chunk_kib,
            "machine": machine,
            "summaries": [asdict(s) for s in summaries],
            "samples": [asdict(s) for s in samples],
        }
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        _print_markdown(summaries, machine, size, args.repeat)
    failed = [s for s in [*warm_up, *samples] if not s.digest_ok]
    for sample in failed:
        print(f"DIGEST MISMATCH: {sample.case} repetition {sample.repetition}", file=sys.stderr)
    return 1 if failed else 0


def _cases(
    server: S3Server, store: storage.ArtifactStore, size: int, single_file: Path, prefix_dir: Path
) -> list[Case]:
    expected_single = "sha256:" + _sha256_file(single_file)
    expected_prefix = digest.digest_local_path(prefix_dir).digest
    prefix_files = sorted(prefix_dir.iterdir())
    endpoint = storage.Endpoint(url=server.endpoint_url, region=server.region)
    credentials = storage.Credentials(server.access_key, server.secret_key)

    def verify(key: str) -> str:
        location = storage.S3Location(BUCKET, key)
        return store.hash_artifact(location, endpoint, credentials).digest

    in_memory = _hashlib_in_memory(size)
    return [
        Case(
            "hashlib-memory", "(r) hashlib, in memory, no I/O", None, in_memory, in_memory(), True
        ),
        Case(
            "openssl-file",
            "(a) openssl dgst, local file",
            None,
            lambda: _openssl([single_file])[0],
            expected_single,
            in_process=False,
        ),
        Case(
            "store-object",
            "(b) hash_artifact, single object",
            "openssl-file",
            lambda: verify(SINGLE_KEY),
            expected_single,
            in_process=True,
        ),
        Case(
            "openssl-files",
            f"(a') openssl dgst, {PREFIX_FILES} local files in sequence",
            None,
            lambda: _prefix_digest_from_openssl(prefix_files),
            expected_prefix,
            in_process=False,
        ),
        Case(
            "store-prefix",
            f"(c) hash_artifact, {PREFIX_FILES}-object prefix",
            "openssl-files",
            lambda: verify(PREFIX_KEY),
            expected_prefix,
            in_process=True,
        ),
    ]


def _run(cases: Sequence[Case], repeat: int, server_pid: int, size: int) -> list[Sample]:
    """Every case once per repetition, in turn, so noise spreads over all of them."""
    samples = []
    for repetition in range(repeat):
        for case in cases:
            sample = _measure(case, repetition, server_pid)
            _log(
                f"  rep {repetition} {case.name:14} {sample.wall_seconds:7.3f} s "
                f"{size / sample.wall_seconds / MB:7.0f} MB/s "
                f"cpu client {sample.client_cpu_seconds:6.2f} s "
                f"server {sample.server_cpu_seconds:6.2f} s"
            )
            samples.append(sample)
    return samples


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=1024, help="bytes to hash (default 1024)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    parser.add_argument(
        "--chunk-kib", type=int, default=None, help="ArtifactStore chunk_size (default: its own)"
    )
    parser.add_argument("--tmpdir", type=Path, default=None, help="where to put the files")
    args = parser.parse_args(argv)
    if args.size_mib < PREFIX_FILES or args.repeat < 1:
        parser.error(f"--size-mib must be at least {PREFIX_FILES} and --repeat at least 1")
    return args


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _write_local_files(directory: Path, size: int) -> tuple[Path, Path]:
    """One file of `size` random bytes, and the same bytes cut into 16 files."""
    prefix_dir = directory / "prefix"
    prefix_dir.mkdir(parents=True)
    single = directory / "model.bin"
    part_size = size // PREFIX_FILES
    with single.open("wb") as out:
        for index in range(PREFIX_FILES):
            with (prefix_dir / f"part-{index:02d}.bin").open("wb") as part:
                remaining = part_size
                while remaining:
                    chunk = os.urandom(min(WRITE_CHUNK, remaining))
                    out.write(chunk)
                    part.write(chunk)
                    remaining -= len(chunk)
    return single, prefix_dir


def _sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(WRITE_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def _server_pid(endpoint_url: str) -> int:
    """The versitygw process serving `endpoint_url` (S3Server has no pid accessor)."""
    port = urlsplit(endpoint_url).port
    found = subprocess.run(
        ["pgrep", "-f", f"versitygw .*--port 127\\.0\\.0\\.1:{port} "],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    # Only our own child: another run may have a server on another port.
    ours = [int(pid) for pid in found if _parent_pid(int(pid)) == os.getpid()]
    if len(ours) != 1:
        raise SystemExit(f"cannot find the versitygw process for port {port}: {found}")
    return ours[0]


def _proc_stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; the rest follows the last ')'.
    return text[text.rindex(")") + 2 :].split()


def _parent_pid(pid: int) -> int:
    return int(_proc_stat_fields(pid)[1])


def _process_cpu_seconds(pid: int) -> float:
    fields = _proc_stat_fields(pid)
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _upload(server: S3Server, single_file: Path, prefix_files: Sequence[Path]) -> None:
    client = versioned_bucket(server, BUCKET)
    # Multipart uploads give multipart ETags; the digest does not use ETags.
    transfer = TransferConfig(multipart_chunksize=64 * MIB, max_concurrency=4)
    client.upload_file(str(single_file), BUCKET, SINGLE_KEY, Config=transfer)
    for path in prefix_files:
        client.upload_file(str(path), BUCKET, PREFIX_KEY + path.name, Config=transfer)


def _openssl(paths: Sequence[Path]) -> list[str]:
    """`openssl dgst -sha256` over `paths` in one process: 'sha256:<hex>' per path."""
    output = subprocess.run(
        ["openssl", "dgst", "-sha256", "-r", *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # -r prints coreutils style: "<hex> *<path>".
    return ["sha256:" + line.split()[0] for line in output.splitlines()]


def _prefix_digest_from_openssl(paths: Sequence[Path]) -> str:
    hexdigests = [d.removeprefix("sha256:") for d in _openssl(paths)]
    files = [
        digest.FileDigest(path=p.name, hexdigest=h, size=p.stat().st_size)
        for p, h in zip(paths, hexdigests, strict=True)
    ]
    return digest.prefix_artifact(files).digest


def _hashlib_in_memory(size: int) -> Callable[[], str]:
    """Hash `size` bytes from one buffer: SHA-256 speed without any I/O."""
    view = memoryview(os.urandom(MEMORY_BUFFER))

    def run() -> str:
        hasher = hashlib.sha256()
        for _ in range(size // MEMORY_BUFFER):
            hasher.update(view)
        hasher.update(view[: size % MEMORY_BUFFER])
        return "sha256:" + hasher.hexdigest()

    return run


def _measure(case: Case, repetition: int, server_pid: int) -> Sample:
    server_before = _process_cpu_seconds(server_pid)
    client_before = time.process_time() if case.in_process else _children_cpu_seconds()
    start = time.perf_counter()
    computed = case.run()
    wall = time.perf_counter() - start
    client_after = time.process_time() if case.in_process else _children_cpu_seconds()
    server_after = _process_cpu_seconds(server_pid)
    return Sample(
        case=case.name,
        repetition=repetition,
        wall_seconds=wall,
        client_cpu_seconds=client_after - client_before,
        server_cpu_seconds=server_after - server_before,
        digest_ok=computed == case.expected,
    )


def _summarize(cases: Sequence[Case], samples: Sequence[Sample], size: int) -> list[Summary]:
    by_case = {c.name: [s for s in samples if s.case == c.name] for c in cases}

    def median_ratio(reference: str, runs: Sequence[Sample]) -> float:
        # Each run is paired with the reference run of the same repetition.
        wall = {s.repetition: s.wall_seconds for s in by_case[reference]}
        return statistics.median(wall[s.repetition] / s.wall_seconds for s in runs)

    summaries = []
    for case in cases:
        runs = by_case[case.name]
        ratio = median_ratio(case.baseline, runs) if case.baseline is not None else None
        summaries.append(
            Summary(
                case=case.name,
                label=case.label,
                median_wall_seconds=statistics.median(s.wall_seconds for s in runs),
                median_mb_per_second=statistics.median(size / s.wall_seconds / MB for s in runs),
                median_ratio_to_baseline=ratio,
                baseline=case.baseline,
                median_ratio_to_memory=median_ratio("hashlib-memory", runs),
                median_client_cpu_seconds=statistics.median(s.client_cpu_seconds for s in runs),
                median_server_cpu_seconds=statistics.median(s.server_cpu_seconds for s in runs),
                median_cpu_per_wall=statistics.median(
                    (s.client_cpu_seconds + s.server_cpu_seconds) / s.wall_seconds for s in runs
                ),
            )
        )
    return summaries


def _machine() -> dict[str, str]:
    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    openssl = subprocess.run(
        ["openssl", "version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "nproc": str(os.cpu_count()),
        "cpu_model": cpu_model,
        "openssl": openssl,
        "python": platform.python_version(),
        "botocore": botocore.__version__,
    }


def _print_markdown(
    summaries: Sequence[Summary], machine: dict[str, str], size: int, repeat: int
) -> None:
    print(
        f"{size // MIB} MiB, median of {repeat} interleaved repetitions; "
        f"{machine['nproc']} CPUs ({machine['cpu_model']}), {machine['openssl']}, "
        f"Python {machine['python']}, botocore {machine['botocore']}\n"
    )
    print(
        "| case | wall s | MB/s | ratio to baseline | ratio to (r) | client CPU s "
        "| server CPU s | CPU s / wall s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for s in summaries:
        ratio = f"{s.median_ratio_to_baseline:.2f}" if s.median_ratio_to_baseline else "—"
        print(
            f"| {s.label} | {s.median_wall_seconds:.3f} | {s.median_mb_per_second:.0f} "
            f"| {ratio} | {s.median_ratio_to_memory:.2f} | {s.median_client_cpu_seconds:.2f} "
            f"| {s.median_server_cpu_seconds:.2f} "
            f"| {s.median_cpu_per_wall:.2f} |"
        )
    print(
        "\nMB = 10^6 bytes. Ratio = baseline wall / case wall, paired per repetition: "
        "(b) against (a), (c) against (a'); ratio to (r) likewise against in-memory hashlib. "
        "Client CPU is the openssl child for (a)/(a'), this Python process for (r)/(b)/(c); "
        "server CPU is versitygw (utime+stime)."
    )


if __name__ == "__main__":
    sys.exit(main())
