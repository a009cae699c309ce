"""How fast are versions registered: MLflow's model registry against the operator.

In one run on one machine, interleaved per repetition so that both sides see
the same machine state (MLflow first in even repetitions, the registry first
in odd ones; each side starts after `sync` once the CPUs are quiet):

  (a) MLflow's tracking server (pip-installed into a throw-away venv under
      ~/.cache/modelregistry/bench, sqlite backend, 2 workers) creating N
      versions of one registered model through its REST API from 16 client
      threads, and a smaller sample created one by one;
  (b) the operator (`python -m modelregistry run`, default settings) on a local
      control plane (etcd + kube-apiserver, `localenv.ControlPlane`) with a
      real S3 server (versitygw): N auto-numbered ModelVersions (no
      spec.version) of one Model, or spread over --models Models, created
      from 16 client threads, timed from the first create sent until every
      one is Ready (Ready=True for the current generation); and a smaller
      sample created one by one, each waiting for Ready before the next.

Every version points at the same tiny object in a versioned bucket, with its
digest: this measures registration, not hashing (`verify_throughput.py` does
that). One watch on ModelVersions (and one on Models), opened before the first
create, records per object when its create was sent, when Ready was first seen
and how many MODIFIED events (status writes) it had until Ready and in total
(until the watches have been quiet for --settle-seconds, and in the idle
window). The API server's own create
latency (the POST's round trip) is measured on the same connections as the
baseline for apply -> Ready. The operator's API requests are the delta of the
API server's `apiserver_request_total` over the concurrent phase, minus the
benchmark's own creates. Its CPU is utime+stime from /proc, its memory VmRSS
(and VmHWM) holding all versions, and idle CPU is measured over --idle-seconds
after everything is Ready (the default, 60 s, is the operator's periodic
check interval, so one periodic pass over all versions falls into it).

Clients are plain `http.client` connections, one persistent connection per
thread, so the benchmark client is not the bottleneck (its CPU is reported).

    .venv/bin/python bench/registry_throughput.py [--n 300] [--models 1] [--repeat 3]
        [--sequential 50] [--threads 16] [--skip-mlflow] [--output FILE.json]

The operator runs from the source this script imports: the working tree, or an
exported commit put first on PYTHONPATH (`git archive <commit> operator`, with
the commit in a COMMIT file next to operator/), which the report names.

Every process it starts (MLflow server, control plane, S3 server, operator) is
stopped on exit, on failure and on Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import http.client
import itertools
import json
import os
import platform
import re
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final

from common import OPERATOR_SOURCE, api_client, operator_environment, versioned_bucket, workdir
from modelregistry.install import install_crds
from modelregistry.localenv import ControlPlane, S3Server
from modelregistry.localenv.pki import OPERATOR_USER
from modelregistry.localenv.tools import cache_root

REPO: Final = Path(__file__).resolve().parents[1]
GROUP: Final = "modelregistry.io"
VERSION: Final = "v1alpha1"
NAMESPACE: Final = "bench"
WARMUP_NAMESPACE: Final = "bench-warmup"
BUCKET: Final = "models"
ARTIFACT_KEY: Final = "bench/model.bin"
ARTIFACT_URI: Final = f"s3://{BUCKET}/{ARTIFACT_KEY}"
MLFLOW_VERSION: Final = "3.17.2"
MLFLOW_WORKERS: Final = 2
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG: Final = 1
Json = dict[str, Any]


# A side starts once the machine is at most this busy over a second (or after QUIET_TIMEOUT s).
QUIET_BUSY: Final = 0.10
QUIET_TIMEOUT: Final = 30.0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    output = args.output or Path(tempfile.gettempdir()) / time.strftime(
        "registry-throughput-%Y%m%dT%H%M%SZ.json", time.gmtime()
    )
    mlflow_bin = None if args.skip_mlflow else _mlflow_venv(args.mlflow_version)
    runs: list[Json] = []
    failed = False
    try:
        for repetition in range(args.repeat):
            run: Json = {"repetition": repetition}
            sides = ["mlflow", "registry"]
            if args.version_limit is not None:
                sides.append("limited")
            if repetition % 2:  # neither side always runs in the other's wake
                sides.reverse()
            for side in sides:
                if side == "mlflow" and mlflow_bin is not None:
                    _quiesce()
                    _log(f"[{repetition}] MLflow {args.mlflow_version}: N={args.n}")
                    run["mlflow"] = asdict(_mlflow_run(mlflow_bin, args))
                    _log(f"[{repetition}] MLflow: {_brief(run['mlflow'])}")
                    failed = failed or run["mlflow"]["errors"] > 0
                elif side == "registry" and not args.skip_registry:
                    _quiesce()
                    _log(f"[{repetition}] registry: N={args.n} over {args.models} Model(s)")
                    run["registry"] = asdict(_registry_run(args))
                    _log(f"[{repetition}] registry: {_brief(run['registry'])}")
                    failed = failed or not run["registry"]["complete"]
                elif side == "limited":
                    _quiesce()
                    _log(f"[{repetition}] registry, versionLimit {args.version_limit}: N={args.n}")
                    run["limited"] = asdict(_registry_run(args, args.version_limit))
                    _log(f"[{repetition}] limited: {_brief(run['limited'])}")
                    failed = failed or not run["limited"]["complete"]
            runs.append(run)
    except KeyboardInterrupt:
        _log("interrupted; every process started has been stopped")
        return 130
    summary = _summarize(runs)
    report = {
        "benchmark": "registry_throughput",
        "parameters": {
            "n": args.n,
            "models": args.models,
            "repeat": args.repeat,
            "sequential": args.sequential,
            "threads": args.threads,
            "idle_seconds": args.idle_seconds,
            "settle_seconds": args.settle_seconds,
            "mlflow_version": None if args.skip_mlflow else args.mlflow_version,
            "version_limit": args.version_limit,
        },
        "machine": _machine(args),
        "summary": summary,
        "runs": runs,
    }
    output.write_text(json.dumps(report, indent=2) + "\n")
    _print_markdown(report)
    _log(f"JSON results: {output}")
    return 1 if failed else 0


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=300, help="versions per side (default 300)")
    parser.add_argument(
        "--models", type=int, default=1, help="Models the N versions are spread over (default 1)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument(
        "--sequential",
        type=int,
        default=50,
        help="versions created one by one per side, for unloaded latency (default 50)",
    )
    parser.add_argument("--threads", type=int, default=16, help="client threads (default 16)")
    parser.add_argument("--skip-mlflow", action="store_true", help="only the registry side")
    parser.add_argument("--skip-registry", action="store_true", help="only the MLflow side")
    parser.add_argument("--mlflow-version", default=MLFLOW_VERSION, help="pip version of mlflow")
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=5.0,
        help="after the last Ready, wait until no watch event for this long before counting "
        "writes, API calls and CPU (default 5)",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=60.0,
        help="idle window for the operator's idle CPU (default 60, its check interval)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds to wait for all Ready (default max(600, N))",
    )
    parser.add_argument(
        "--version-limit",
        type=int,
        default=None,
        help="also run the registry side with every Model's policy.versionLimit at this, side "
        "by side with the run without (the online-learning case: most versions get archived)",
    )
    parser.add_argument("--output", type=Path, default=None, help="JSON result file")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep logs and data here (default: temporary)"
    )
    args = parser.parse_args(argv)
    if args.n < 1 or args.models < 1 or args.models > args.n or args.repeat < 1:
        parser.error("need --n >= --models >= 1 and --repeat >= 1")
    if args.skip_mlflow and args.skip_registry:
        parser.error("--skip-mlflow and --skip-registry leave nothing to measure")
    if args.threads < 1 or args.sequential < 0:
        parser.error("need --threads >= 1 and --sequential >= 0")
    if args.timeout is None:
        args.timeout = max(600.0, float(args.n))
    return args


def _busy_fraction(seconds: float) -> float:
    """Share of all CPUs' time spent busy over the next `seconds` (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle

    total_before, idle_before = sample()
    time.sleep(seconds)
    total_after, idle_after = sample()
    total = total_after - total_before
    return 1.0 - (idle_after - idle_before) / total if total else 0.0


def _quiesce(timeout: float = QUIET_TIMEOUT) -> None:
    """Start a side on a quiet machine: the last side's dirty pages written out (etcd's
    and sqlite's writes would otherwise be flushed under the next side's fsyncs), and
    the CPUs mostly idle for a second."""
    os.sync()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _busy_fraction(1.0) > QUIET_BUSY:
        pass


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _log(message: str) -> None:
    print(time.strftime("%H:%M:%S ", time.gmtime()) + message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- statistics


def _percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def _ms(values: Sequence[float], q: float) -> float | None:
    found = _percentile(values, q)
    return None if found is None else found * 1000


# ---------------------------------------------------------------- processes


def _proc_stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; the rest follows the last ')'.
    return text[text.rindex(")") + 2 :].split()


def _descendants(root: int) -> list[int]:
    """`root` and every live process below it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents.setdefault(int(_proc_stat_fields(int(entry.name))[1]), []).append(
                int(entry.name)
            )
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def _cpu_seconds(pid: int, *, tree: bool = True) -> float:
    """utime+stime of `pid` (and its live descendants)."""
    total = 0.0
    for each in _descendants(pid) if tree else [pid]:
        with contextlib.suppress(OSError, IndexError):
            fields = _proc_stat_fields(each)
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def _memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of one process, in KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def _child_pid(name: str) -> int | None:
    """Our own direct child process whose command name is `name` (e.g. kube-apiserver)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = (entry / "stat").read_text()
            comm = text[text.index("(") + 1 : text.rindex(")")]
            if comm == name[:15] and int(_proc_stat_fields(int(entry.name))[1]) == os.getpid():
                return int(entry.name)
    return None


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when this benchmark dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Child:
    """A child process in its own process group, stopped with the whole group."""

    def __init__(self, argv: Sequence[str | Path], env: dict[str, str], log: Path) -> None:
        self.log_path = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                [str(a) for a in argv],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        """True while it runs; raises with its log's tail once it has exited."""
        self.check()
        return True

    def check(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(
                f"{self.popen.args!r} exited with {self.popen.returncode}:\n{self.tail()}"
            )

    def tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 15.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        # Workers may outlive their parent; the group goes in any case.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


# ---------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class Endpoint:
    """One HTTP(S) server; `connect()` gives a new persistent connection."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None

    def connect(self, timeout: float | None = 60) -> http.client.HTTPConnection:
        if self.tls is not None:
            return http.client.HTTPSConnection(
                self.host, self.port, context=self.tls, timeout=timeout
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


class Session:
    """One persistent connection: reconnects once on a dropped keep-alive connection."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._connection = endpoint.connect()

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        for attempt in range(2):
            try:
                self._connection.request(method, path, body=body, headers=headers)
                response = self._connection.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                self._connection.close()
                self._connection = self._endpoint.connect()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body: Json | None = None) -> Json:
        status, data = self.request(
            method, path, None if body is None else json.dumps(body).encode()
        )
        if status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {data[:500]!r}")
        result: Json = json.loads(data) if data else {}
        return result

    def close(self) -> None:
        self._connection.close()


@dataclass
class Created:
    """One create request, as the client saw it."""

    key: str
    sent: float = 0.0  # perf_counter when the successful attempt was sent
    latency: float = 0.0  # its round trip
    status: int = 0
    error: str | None = None


def _create_all(
    endpoint: Endpoint,
    requests: Sequence[tuple[str, str, bytes]],
    threads: int,
    on_sent: Callable[[str, float], None] | None = None,
) -> tuple[list[Created], float, float]:
    """POST every (key, path, body) from `threads` threads, one connection each.

    Returns the results, the time the first request was sent and the time the
    last response arrived (perf_counter).
    """
    results = [Created(key) for key, _, _ in requests]
    cursor = iter(range(len(requests)))
    lock = threading.Lock()
    ready = threading.Barrier(threads + 1)

    def worker() -> None:
        session = Session(endpoint)
        try:
            ready.wait()
            while True:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                key, path, body = requests[index]
                result = results[index]
                for _ in range(3):
                    start = time.perf_counter()
                    if on_sent is not None:
                        on_sent(key, start)
                    try:
                        status, data = session.request("POST", path, body)
                    except (OSError, http.client.HTTPException) as error:
                        result.error = repr(error)
                        continue
                    result.sent, result.latency = start, time.perf_counter() - start
                    result.status = status
                    result.error = None if status < 300 else data[:300].decode(errors="replace")
                    if status != 429 and status < 500:
                        break
        finally:
            session.close()

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in workers:
        thread.start()
    ready.wait()
    began = time.perf_counter()
    for thread in workers:
        thread.join()
    ended = max((r.sent + r.latency for r in results if r.sent), default=began)
    return results, began, ended


# ---------------------------------------------------------------- MLflow


def _mlflow_venv(version: str) -> Path:
    """The `mlflow` executable of a cached venv with mlflow==version (built once)."""
    venv = cache_root() / "bench" / f"mlflow-{version}"
    stamp = venv / ".installed"
    if not stamp.exists():
        _log(f"installing mlflow=={version} into {venv} (once)")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True, timeout=600)
        subprocess.run([*pip, f"mlflow=={version}"], check=True, timeout=1800)
        stamp.touch()
    return venv / "bin" / "mlflow"


@dataclass
class MlflowResult:
    n: int
    threads: int
    wall_seconds: float
    rate: float  # versions/s, first request sent -> last response
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    errors: int
    highest_version: int  # the registered model's latest version number, should be n
    sequential_n: int
    sequential_rate: float | None
    sequential_p50_ms: float | None
    sequential_p95_ms: float | None
    server_cpu_seconds: float  # every server process, concurrent phase
    client_cpu_seconds: float  # this benchmark process, concurrent phase
    error_samples: list[str] = field(default_factory=list)


MLFLOW_API: Final = "/api/2.0/mlflow"


def _mlflow_run(mlflow: Path, args: argparse.Namespace) -> MlflowResult:
    with workdir(args.workdir, "mlflow") as work:
        port = _free_port()
        env = {
            **os.environ,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "PYTHONUNBUFFERED": "1",
        }
        server = Child(
            [
                mlflow,
                "server",
                "--backend-store-uri",
                f"sqlite:///{work / 'mlflow.db'}",
                "--default-artifact-root",
                (work / "artifacts").as_uri(),
                "--workers",
                str(MLFLOW_WORKERS),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env,
            work / "mlflow-server.log",
        )
        try:
            endpoint = Endpoint("127.0.0.1", port)
            _wait(lambda: server.running() and _http_ok(endpoint, "/health"), 180, "MLflow /health")
            return _mlflow_measure(endpoint, server, args)
        except Exception:
            _log(f"MLflow server log tail:\n{server.tail()}")
            raise
        finally:
            server.stop()


def _mlflow_measure(endpoint: Endpoint, server: Child, args: argparse.Namespace) -> MlflowResult:
    session = Session(endpoint)

    def versions(model: str, count: int) -> list[tuple[str, str, bytes]]:
        body = json.dumps({"name": model, "source": ARTIFACT_URI}).encode()
        return [(str(i), f"{MLFLOW_API}/model-versions/create", body) for i in range(count)]

    for model in ("warmup", "sequential", "bench"):
        session.json("POST", f"{MLFLOW_API}/registered-models/create", {"name": model})
    # Warm-up (not counted): both workers answer a few creates.
    _create_all(endpoint, versions("warmup", 4 * args.threads), args.threads)

    sequential: list[float] = []
    began = time.perf_counter()
    for _, path, body in versions("sequential", args.sequential):
        start = time.perf_counter()
        status, data = session.request("POST", path, body)
        if status >= 300:
            raise RuntimeError(f"MLflow create: HTTP {status}: {data[:300]!r}")
        sequential.append(time.perf_counter() - start)
    sequential_wall = time.perf_counter() - began

    cpu_before, client_before = _cpu_seconds(server.pid), time.process_time()
    results, first, last = _create_all(endpoint, versions("bench", args.n), args.threads)
    cpu_after, client_after = _cpu_seconds(server.pid), time.process_time()
    latest = session.json("GET", f"{MLFLOW_API}/registered-models/get?name=bench")
    highest = max(
        (int(v["version"]) for v in latest["registered_model"].get("latest_versions", [])),
        default=0,
    )
    session.close()
    ok = [r for r in results if r.status == 200]
    errors = [r for r in results if r.status != 200]
    wall = last - first
    return MlflowResult(
        n=args.n,
        threads=args.threads,
        wall_seconds=wall,
        rate=len(ok) / wall if wall > 0 else 0.0,
        latency_p50_ms=_ms([r.latency for r in ok], 50),
        latency_p95_ms=_ms([r.latency for r in ok], 95),
        errors=len(errors),
        highest_version=highest,
        sequential_n=args.sequential,
        sequential_rate=args.sequential / sequential_wall if sequential else None,
        sequential_p50_ms=_ms(sequential, 50),
        sequential_p95_ms=_ms(sequential, 95),
        server_cpu_seconds=cpu_after - cpu_before,
        client_cpu_seconds=client_after - client_before,
        error_samples=sorted({f"{r.status}: {r.error}" for r in errors})[:5],
    )


def _http_ok(endpoint: Endpoint, path: str) -> bool:
    connection = endpoint.connect(timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


# ---------------------------------------------------------------- registry


@dataclass
class Tracked:
    """One ModelVersion as the watch saw it."""

    sent: float | None = None
    added: float | None = None
    ready: float | None = None
    writes_to_ready: int = 0  # MODIFIED events up to and including the one that is Ready
    writes: int = 0  # all MODIFIED events
    version: int | None = None  # status.version when it became Ready
    model: str | None = None
    write_times: list[float] = field(default_factory=list)  # of the MODIFIED events


class Tracker:
    """What the ModelVersion and Model watches saw, per object; thread-safe."""

    def __init__(self) -> None:
        self.versions: dict[str, Tracked] = {}
        self.model_writes: Counter[str] = Counter()
        self.ready_count = 0
        self.events = 0
        self.last_event = time.perf_counter()  # of either watch
        self.changed = threading.Condition()

    def sent(self, name: str, at: float) -> None:
        with self.changed:
            self.versions.setdefault(name, Tracked()).sent = at

    def on_version(self, kind: str, body: Json, at: float) -> None:
        name = body["metadata"]["name"]
        with self.changed:
            self.events += 1
            self.last_event = at
            record = self.versions.setdefault(name, Tracked())
            if kind == "ADDED":
                record.added = record.added or at
            elif kind == "MODIFIED":
                record.writes += 1
                record.write_times.append(at)
                if record.ready is None:
                    record.writes_to_ready += 1
            if record.ready is None and kind != "DELETED" and _is_ready(body):
                record.ready = at
                record.version = (body.get("status") or {}).get("version")
                record.model = (body.get("spec") or {}).get("modelRef", {}).get("name")
                self.ready_count += 1
                self.changed.notify_all()

    def on_model(self, kind: str, body: Json, at: float) -> None:
        with self.changed:
            self.last_event = at
            if kind == "MODIFIED":
                self.model_writes[body["metadata"]["name"]] += 1

    def wait_ready(self, names: Sequence[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout

        def done() -> bool:
            return all(
                (r := self.versions.get(n)) is not None and r.ready is not None for n in names
            )

        with self.changed:
            while not done():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(min(remaining, 1.0))
        return True

    def wait_count(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.ready_count < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(min(remaining, 1.0))
        return True

    def wait_quiet(self, quiet: float, timeout: float) -> float:
        """Wait until neither watch has seen an event for `quiet` seconds; the last one's time."""
        deadline = time.monotonic() + timeout
        while True:
            with self.changed:
                last = self.last_event
            remaining = last + quiet - time.perf_counter()
            if remaining <= 0 or time.monotonic() > deadline:
                return last
            time.sleep(min(remaining, 1.0))

    def snapshot(self) -> tuple[int, int]:
        """(ModelVersion MODIFIED events, Model MODIFIED events) so far."""
        with self.changed:
            return (
                sum(r.writes for r in self.versions.values()),
                sum(self.model_writes.values()),
            )


def _is_ready(body: Json) -> bool:
    status = body.get("status") or {}
    generation = body["metadata"].get("generation")
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            observed = condition.get("observedGeneration", status.get("observedGeneration"))
            return bool(observed == generation)
    return False


class Watch(threading.Thread):
    """One watch stream, read line by line; reopened from the last resourceVersion."""

    def __init__(
        self, endpoint: Endpoint, path: str, on_event: Callable[[str, Json, float], None]
    ) -> None:
        super().__init__(daemon=True, name=f"watch {path}")
        self._endpoint = endpoint
        self._path = path
        self._on_event = on_event
        self._open = threading.Event()
        self._stopping = threading.Event()
        self._connection: http.client.HTTPConnection | None = None
        self.error: str | None = None
        session = Session(endpoint)
        try:
            listing = session.json("GET", f"{path}?limit=1")
        finally:
            session.close()
        self._resource_version: str = listing["metadata"]["resourceVersion"]

    def start_and_wait(self, timeout: float = 30) -> None:
        """Start; return once the API server has accepted the watch."""
        self.start()
        if not self._open.wait(timeout):
            raise TimeoutError(f"watch {self._path} did not open: {self.error}")

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._stream()
            except (OSError, http.client.HTTPException, ValueError) as error:
                if self._stopping.is_set():
                    return
                self.error = repr(error)
                time.sleep(0.5)

    def _stream(self) -> None:
        query = urllib.parse.urlencode(
            {
                "watch": "1",
                "resourceVersion": self._resource_version,
                "allowWatchBookmarks": "true",
                "timeoutSeconds": "3600",
            }
        )
        connection = self._connection = self._endpoint.connect(timeout=None)
        try:
            connection.request("GET", f"{self._path}?{query}")
            response = connection.getresponse()
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}: {response.read()[:300]!r}")
            self._open.set()
            while line := response.readline():
                at = time.perf_counter()
                event = json.loads(line)
                kind, body = event["type"], event["object"]
                if kind == "ERROR":  # e.g. 410 Gone: the stream cannot be resumed
                    self.error = json.dumps(body)[:300]
                    self._stopping.set()
                    return
                self._resource_version = body["metadata"]["resourceVersion"]
                if kind != "BOOKMARK":
                    self._on_event(kind, body, at)
        finally:
            connection.close()

    def stop(self) -> None:
        self._stopping.set()
        if self._connection is not None and self._connection.sock is not None:
            with contextlib.suppress(OSError):
                self._connection.sock.shutdown(socket.SHUT_RDWR)
        self.join(timeout=5)


@dataclass
class RegistryResult:
    n: int
    models: int
    threads: int
    complete: bool  # every version Ready within the timeout
    not_ready: int
    numbering_ok: bool  # each Model's versions are numbered 1..k, no gaps or duplicates
    wall_seconds: float  # first create sent -> last version Ready
    rate: float  # versions/s over that wall time
    quiet_after_ready_seconds: float  # last Ready -> last write by the operator
    create_wall_seconds: float  # first create sent -> last create answered
    create_rate: float  # what the API server alone accepted, versions/s
    create_p50_ms: float | None  # the API server's own create latency, under the same load
    create_p95_ms: float | None
    ready_p50_ms: float | None  # create sent -> Ready seen, concurrent phase
    ready_p95_ms: float | None
    create_errors: int
    sequential_n: int
    sequential_rate: float | None  # one by one, each waiting for Ready
    sequential_create_p50_ms: float | None
    sequential_ready_p50_ms: float | None
    sequential_ready_p95_ms: float | None
    sequential_overhead_p50_ms: float | None  # ready p50 - create p50, one by one
    # p50 of each step, one by one: create sent -> ADDED, ADDED -> write 1, ... -> Ready
    sequential_steps_p50_ms: list[float]
    writes_to_ready_per_version: float  # MODIFIED events until Ready, mean
    writes_to_ready_max: int
    writes_per_version: float  # all MODIFIED events until quiet and in the idle window, mean
    model_writes: int  # Model MODIFIED events from the first create until quiet
    idle_writes: int  # ModelVersion + Model MODIFIED events during the idle window
    api_calls_per_version: float | None  # the operator's requests (apiserver_request_total)
    api_calls: dict[str, int]  # by "VERB resource[/subresource]"
    operator_cpu_seconds: float  # first create until quiet
    operator_cpu_ms_per_version: float
    operator_rss_mb_start: float  # after warm-up, before the benchmark's versions
    operator_rss_mb: float  # holding all versions, after the idle window
    operator_hwm_mb: float  # peak RSS
    idle_seconds: float
    idle_cpu_percent: float  # of one core, during the idle window
    apiserver_cpu_seconds: float | None  # first create until quiet
    etcd_cpu_seconds: float | None
    client_cpu_seconds: float  # this benchmark process
    controller_manager_cpu_seconds: float | None  # same window; shares the cores
    s3_server_cpu_seconds: float | None
    watch_events: int
    watch_error: str | None


def _registry_run(args: argparse.Namespace, version_limit: int | None = None) -> RegistryResult:
    with contextlib.ExitStack() as stack:
        work = stack.enter_context(workdir(args.workdir, "registry"))
        plane = stack.enter_context(ControlPlane(workdir=work / "controlplane"))
        s3 = stack.enter_context(S3Server(workdir=work / "s3"))
        install_crds(api_client(plane), operator_user=OPERATOR_USER)
        digest = _upload_artifact(s3)
        pki = plane.pki
        tls = ssl.create_default_context(cafile=str(pki.ca_cert))
        tls.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
        api = Endpoint("127.0.0.1", urllib.parse.urlsplit(plane.server).port or 443, tls)
        operator = Child(
            [sys.executable, "-m", "modelregistry", "run"],
            operator_environment(plane, s3),
            work / "operator.log",
        )
        stack.callback(operator.stop)
        try:
            return _registry_measure(api, operator, digest, args, version_limit)
        except Exception:
            _log(f"operator log tail:\n{operator.tail()}")
            raise


def _upload_artifact(s3: S3Server) -> str:
    client = versioned_bucket(s3, BUCKET)
    data = os.urandom(1024)
    client.put_object(Bucket=BUCKET, Key=ARTIFACT_KEY, Body=data)
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _path(plural: str, namespace: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{plural}"


def _model_body(name: str, version_limit: int | None = None) -> bytes:
    spec: Json = {"description": "registry throughput benchmark"}
    if version_limit is not None:
        spec["policy"] = {"versionLimit": version_limit}
    return json.dumps(
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Model",
            "metadata": {"name": name},
            "spec": spec,
        }
    ).encode()


def _version_body(name: str, model: str, digest: str) -> bytes:
    return json.dumps(
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ModelVersion",
            "metadata": {"name": name},
            "spec": {
                "modelRef": {"name": model},
                "artifact": {"uri": ARTIFACT_URI, "digest": digest},
            },
        }
    ).encode()


def _create(session: Session, path: str, body: bytes) -> float:
    """POST one object; its round trip in seconds."""
    start = time.perf_counter()
    status, data = session.request("POST", path, body)
    if status != 201:
        raise RuntimeError(f"POST {path}: HTTP {status}: {data[:300]!r}")
    return time.perf_counter() - start


def _registry_measure(
    api: Endpoint,
    operator: Child,
    digest: str,
    args: argparse.Namespace,
    version_limit: int | None = None,
) -> RegistryResult:
    session = Session(api)
    for namespace in (WARMUP_NAMESPACE, NAMESPACE):
        session.json("POST", "/api/v1/namespaces", {"metadata": {"name": namespace}})
    models = [f"model-{i:03d}" for i in range(args.models)]
    for name in ["sequential", *models]:
        _create(session, _path("models", NAMESPACE), _model_body(name, version_limit))

    # The operator is up once a first version is Ready: it watches and verifies.
    warmup = Tracker()
    watches = [
        Watch(api, _path("modelversions", WARMUP_NAMESPACE), warmup.on_version),
        Watch(api, _path("modelversions", NAMESPACE), (tracker := Tracker()).on_version),
        Watch(api, _path("models", NAMESPACE), tracker.on_model),
    ]
    try:
        for watch in watches:
            watch.start_and_wait()
        _create(session, _path("models", WARMUP_NAMESPACE), _model_body("warmup"))
        warm_names = [f"warmup-{i}" for i in range(5)]
        for name in warm_names:
            body = _version_body(name, "warmup", digest)
            _create(session, _path("modelversions", WARMUP_NAMESPACE), body)
        if not warmup.wait_ready(warm_names, 180):
            operator.check()
            raise TimeoutError("the operator did not make the warm-up versions Ready in 180 s")
        time.sleep(2)  # the operator's work on the Models created above is done
        rss_start = _memory_kib(operator.pid)["VmRSS"] / 1024

        sequential = _registry_sequential(session, tracker, digest, args)
        concurrent = _registry_concurrent(api, session, operator, tracker, digest, args)
        errors = [w.error for w in watches if w.error]
        return RegistryResult(
            **concurrent,
            **sequential,
            operator_rss_mb_start=rss_start,
            watch_error="; ".join(errors) or None,
        )
    finally:
        session.close()
        for watch in watches:
            watch.stop()


def _registry_sequential(
    session: Session, tracker: Tracker, digest: str, args: argparse.Namespace
) -> dict[str, Any]:
    creates: list[float] = []
    readies: list[float] = []
    # Where one version's time goes: create sent -> ADDED seen -> each write until Ready.
    steps: list[list[float]] = []
    began = time.perf_counter()
    for i in range(args.sequential):
        name = f"sequential-{i:05d}"
        tracker.sent(name, time.perf_counter())
        start = time.perf_counter()
        creates.append(
            _create(
                session,
                _path("modelversions", NAMESPACE),
                _version_body(name, "sequential", digest),
            )
        )
        if not tracker.wait_ready([name], 60):
            raise TimeoutError(f"{name} was not Ready within 60 s")
        record = tracker.versions[name]
        assert record.ready is not None
        readies.append(record.ready - start)
        with tracker.changed:
            marks = [start, record.added or start, *record.write_times[: record.writes_to_ready]]
        steps.append([b - a for a, b in itertools.pairwise(marks)])
    wall = time.perf_counter() - began
    create_p50, ready_p50 = _ms(creates, 50), _ms(readies, 50)
    return {
        "sequential_n": args.sequential,
        "sequential_rate": args.sequential / wall if args.sequential else None,
        "sequential_create_p50_ms": create_p50,
        "sequential_ready_p50_ms": ready_p50,
        "sequential_ready_p95_ms": _ms(readies, 95),
        "sequential_overhead_p50_ms": (
            None if create_p50 is None or ready_p50 is None else ready_p50 - create_p50
        ),
        "sequential_steps_p50_ms": [
            _ms([s[i] for s in steps if len(s) > i], 50) or 0.0
            for i in range(max((len(s) for s in steps), default=0))
        ],
    }


def _registry_concurrent(
    api: Endpoint,
    session: Session,
    operator: Child,
    tracker: Tracker,
    digest: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """N versions from `threads` threads: the RegistryResult fields of that phase."""
    names = [f"mv-{i:05d}" for i in range(args.n)]
    models = [f"model-{i % args.models:03d}" for i in range(args.n)]
    requests = [
        (name, _path("modelversions", NAMESPACE), _version_body(name, model, digest))
        for name, model in zip(names, models, strict=True)
    ]
    apiserver, etcd = _child_pid("kube-apiserver"), _child_pid("etcd")
    # The rest of the machine's load: not the registry's own cost, but it
    # shares the two cores (the garbage collector watches every resource).
    others = {
        name: pid
        for name in ("kube-controller-manager", "versitygw")
        if (pid := _child_pid(name)) is not None
    }
    metrics_before = _request_counts(session)
    cpu_before = {
        "operator": _cpu_seconds(operator.pid),
        "apiserver": _cpu_seconds(apiserver, tree=False) if apiserver else 0.0,
        "etcd": _cpu_seconds(etcd, tree=False) if etcd else 0.0,
        "client": time.process_time(),
        **{name: _cpu_seconds(pid, tree=False) for name, pid in others.items()},
    }
    model_writes_before = tracker.snapshot()[1]

    results, first, last_created = _create_all(api, requests, args.threads, tracker.sent)
    created = [r for r in results if r.status == 201]
    expected = args.sequential + len(created)
    complete = tracker.wait_count(expected, args.timeout) and len(created) == args.n
    operator.check()
    with tracker.changed:
        seen = [(tracker.versions.get(r.key), r) for r in created]
        ready_times = [t.ready for t, _ in seen if t is not None and t.ready is not None]
        latencies = [t.ready - r.sent for t, r in seen if t is not None and t.ready is not None]
    last_ready = max(ready_times, default=first)
    # The operator may go on writing after the last Ready (Kopf's bookkeeping,
    # Models' status): counts and CPU run until it has been quiet for a while.
    last_write = tracker.wait_quiet(args.settle_seconds, args.timeout)

    cpu_after = {
        "operator": _cpu_seconds(operator.pid),
        "apiserver": _cpu_seconds(apiserver, tree=False) if apiserver else 0.0,
        "etcd": _cpu_seconds(etcd, tree=False) if etcd else 0.0,
        "client": time.process_time(),
        **{name: _cpu_seconds(pid, tree=False) for name, pid in others.items()},
    }
    metrics_after = _request_counts(session)
    api_calls = _operator_requests(metrics_before, metrics_after, len(results), args)
    writes_after, model_writes_after = tracker.snapshot()

    idle_cpu_before = _cpu_seconds(operator.pid)
    idle_began = time.perf_counter()
    time.sleep(args.idle_seconds)
    idle_cpu = _cpu_seconds(operator.pid) - idle_cpu_before
    idle_wall = time.perf_counter() - idle_began
    writes_idle, model_writes_idle = tracker.snapshot()
    memory = _memory_kib(operator.pid)
    operator.check()

    with tracker.changed:
        records = [tracker.versions[n] for n in names if n in tracker.versions]
        ready_records = [r for r in records if r.ready is not None]
        numbering_ok = _numbering_ok(ready_records, args.models) and complete
    wall = last_ready - first
    operator_cpu = cpu_after["operator"] - cpu_before["operator"]
    return {
        "n": args.n,
        "models": args.models,
        "threads": args.threads,
        "complete": complete,
        "not_ready": args.n - len(ready_records),
        "numbering_ok": numbering_ok,
        "wall_seconds": wall,
        "rate": len(ready_records) / wall if wall > 0 else 0.0,
        "quiet_after_ready_seconds": max(0.0, last_write - last_ready),
        "create_wall_seconds": last_created - first,
        "create_rate": len(created) / (last_created - first) if last_created > first else 0.0,
        "create_p50_ms": _ms([r.latency for r in created], 50),
        "create_p95_ms": _ms([r.latency for r in created], 95),
        "ready_p50_ms": _ms(latencies, 50),
        "ready_p95_ms": _ms(latencies, 95),
        "create_errors": len(results) - len(created),
        "writes_to_ready_per_version": statistics.fmean(r.writes_to_ready for r in ready_records)
        if ready_records
        else 0.0,
        "writes_to_ready_max": max((r.writes_to_ready for r in ready_records), default=0),
        "writes_per_version": statistics.fmean(r.writes for r in records) if records else 0.0,
        "model_writes": model_writes_after - model_writes_before,
        "idle_writes": (writes_idle - writes_after) + (model_writes_idle - model_writes_after),
        "api_calls_per_version": (sum(api_calls.values()) / args.n) if api_calls else None,
        "api_calls": api_calls,
        "operator_cpu_seconds": operator_cpu,
        "operator_cpu_ms_per_version": operator_cpu / args.n * 1000,
        "operator_rss_mb": memory["VmRSS"] / 1024,
        "operator_hwm_mb": memory["VmHWM"] / 1024,
        "idle_seconds": idle_wall,
        "idle_cpu_percent": idle_cpu / idle_wall * 100,
        "apiserver_cpu_seconds": cpu_after["apiserver"] - cpu_before["apiserver"]
        if apiserver
        else None,
        "etcd_cpu_seconds": cpu_after["etcd"] - cpu_before["etcd"] if etcd else None,
        "client_cpu_seconds": cpu_after["client"] - cpu_before["client"],
        "controller_manager_cpu_seconds": _spent(cpu_before, cpu_after, "kube-controller-manager"),
        "s3_server_cpu_seconds": _spent(cpu_before, cpu_after, "versitygw"),
        "watch_events": tracker.events,
    }


def _spent(before: dict[str, float], after: dict[str, float], name: str) -> float | None:
    return after[name] - before[name] if name in before else None


def _numbering_ok(records: Sequence[Tracked], models: int) -> bool:
    numbers: dict[str | None, list[int]] = {}
    for record in records:
        numbers.setdefault(record.model, []).append(record.version or 0)
    return len(numbers) == models and all(
        sorted(found) == list(range(1, len(found) + 1)) for found in numbers.values()
    )


_REQUEST_TOTAL: Final = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
_LABEL: Final = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _request_counts(session: Session) -> Counter[tuple[str, str, str, str]]:
    """apiserver_request_total summed by (verb, group, resource, subresource)."""
    status, data = session.request("GET", "/metrics")
    if status != 200:
        return Counter()
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for line in data.decode().splitlines():
        match = _REQUEST_TOTAL.match(line)
        if match is None:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        key = (
            labels.get("verb", ""),
            labels.get("group", ""),
            labels.get("resource", ""),
            labels.get("subresource", ""),
        )
        counts[key] += int(float(match["value"]))
    return counts


def _operator_requests(
    before: Counter[tuple[str, str, str, str]],
    after: Counter[tuple[str, str, str, str]],
    creates_sent: int,
    args: argparse.Namespace,
) -> dict[str, int]:
    """Requests on the registry's kinds and on Events in the window, minus the benchmark's.

    Only the operator touches these resources then (the controller-manager's
    garbage collector watches them, which is one long request, not counted
    until it ends); the benchmark's own requests in the window are its creates
    and one GET of /metrics (not on these resources).
    """
    if not after:
        return {}
    delta = after - before
    calls: dict[str, int] = {}
    for (verb, group, resource, subresource), count in sorted(delta.items()):
        if group != GROUP and resource != "events":
            continue
        if (verb, group, resource, subresource) == ("POST", GROUP, "modelversions", ""):
            count -= creates_sent
        if count > 0:
            calls[f"{verb} {resource}{'/' + subresource if subresource else ''}"] = count
    return calls


# ---------------------------------------------------------------- report


def _brief(result: Json) -> str:
    keys = ("rate", "latency_p50_ms", "ready_p50_ms", "create_p50_ms", "errors", "not_ready")
    return ", ".join(
        f"{k}={result[k]:.1f}" if isinstance(result[k], float) else f"{k}={result[k]}"
        for k in keys
        if k in result and result[k] is not None
    )


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    target: str = ""
    digits: int = 1


METRICS: Final = (
    Metric("mlflow.rate", "MLflow: versions/s, {threads} threads"),
    Metric("registry.rate", "Registry: versions/s, {threads} threads, first create → all Ready"),
    Metric("ratio", "**ratio registry / MLflow** (paired per repetition)", "≥ 1.0", 2),
    Metric("mlflow.latency_p50_ms", "MLflow: create p50 ms, {threads} threads"),
    Metric("mlflow.latency_p95_ms", "MLflow: create p95 ms, {threads} threads"),
    Metric("mlflow.sequential_rate", "MLflow: versions/s one by one"),
    Metric("mlflow.sequential_p50_ms", "MLflow: create p50 ms one by one"),
    Metric("registry.create_rate", "API server: creates/s accepted, {threads} threads"),
    Metric("registry.create_p50_ms", "API server: create p50 ms, {threads} threads"),
    Metric("registry.ready_p50_ms", "Registry: apply → Ready p50 ms, {threads} threads"),
    Metric("registry.ready_p95_ms", "Registry: apply → Ready p95 ms, {threads} threads"),
    Metric("registry.sequential_rate", "Registry: versions/s one by one (each to Ready)"),
    Metric("registry.sequential_create_p50_ms", "API server: create p50 ms one by one"),
    Metric("registry.sequential_ready_p50_ms", "Registry: apply → Ready p50 ms one by one"),
    Metric("registry.sequential_ready_p95_ms", "Registry: apply → Ready p95 ms one by one"),
    Metric(
        "registry.sequential_overhead_p50_ms",
        "Registry: apply → Ready overhead p50 ms (ready p50 - create p50, one by one)",
        "≤ 30",
    ),
    Metric(
        "registry.writes_to_ready_per_version", "Status writes per version until Ready", "≤ 2", 2
    ),
    Metric("registry.writes_per_version", "Status writes per version in all", "≤ 2", 2),
    Metric("registry.model_writes", "Model status writes in all", "", 0),
    Metric("registry.quiet_after_ready_seconds", "Operator still writing after the last Ready, s"),
    Metric("registry.api_calls_per_version", "Operator API requests per version", "", 2),
    Metric("registry.operator_cpu_ms_per_version", "Operator CPU ms per version"),
    Metric("registry.operator_cpu_seconds", "Operator CPU s, first create until quiet", "", 2),
    Metric("registry.apiserver_cpu_seconds", "kube-apiserver CPU s, same window", "", 2),
    Metric("registry.etcd_cpu_seconds", "etcd CPU s, same window", "", 2),
    Metric("registry.client_cpu_seconds", "Benchmark client CPU s, same window", "", 2),
    Metric(
        "registry.controller_manager_cpu_seconds",
        "kube-controller-manager CPU s, same window",
        "",
        2,
    ),
    Metric("registry.s3_server_cpu_seconds", "S3 server (versitygw) CPU s, same window", "", 2),
    Metric("registry.operator_rss_mb_start", "Operator RSS MB before the versions"),
    Metric("registry.operator_rss_mb", "Operator RSS MB holding all versions", "≤ 200"),
    Metric("registry.operator_hwm_mb", "Operator peak RSS MB"),
    Metric("registry.idle_cpu_percent", "Operator idle CPU % of one core", "≈ 0", 2),
    Metric("registry.idle_writes", "Writes during the idle window", "", 0),
    Metric("limited.rate", "With versionLimit: versions/s, first create → all Ready"),
    Metric("limit_cost", "**rate with versionLimit / without** (paired per repetition)", "", 2),
    Metric("limited.writes_per_version", "With versionLimit: status writes per version", "", 2),
    Metric("limited.operator_cpu_ms_per_version", "With versionLimit: operator CPU ms per version"),
    Metric("limited.api_calls_per_version", "With versionLimit: API requests per version", "", 2),
)


def _value(run: Json, key: str) -> float | None:
    if key == "ratio":
        if "mlflow" not in run or "registry" not in run or not run["mlflow"]["rate"]:
            return None
        ratio: float = run["registry"]["rate"] / run["mlflow"]["rate"]
        return ratio
    if key == "limit_cost":
        if "limited" not in run or "registry" not in run or not run["registry"]["rate"]:
            return None
        cost: float = run["limited"]["rate"] / run["registry"]["rate"]
        return cost
    side, _, name = key.partition(".")
    found = run.get(side, {}).get(name)
    return float(found) if isinstance(found, int | float) else None


def _summarize(runs: Sequence[Json]) -> dict[str, Json]:
    summary = {}
    for metric in METRICS:
        values = [v for run in runs if (v := _value(run, metric.key)) is not None]
        if values:
            summary[metric.key] = {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
                "values": values,
            }
    return summary


def _print_markdown(report: Json) -> None:
    p, machine, summary = report["parameters"], report["machine"], report["summary"]
    spread = "N" if p["models"] == 1 else f"N over {p['models']} Models"
    print(
        f"\nN = {p['n']:,} ({spread}), {p['threads']} client threads, "
        f"{p['sequential']} one by one, median (min-max) of {p['repeat']} interleaved "
        f"repetitions; {machine['nproc']} CPUs ({machine['cpu_model']}), "
        f"Python {machine['python']}, MLflow {p['mlflow_version'] or '—'} "
        f"(sqlite, {MLFLOW_WORKERS} workers), kopf {machine['kopf']}, operator at "
        f"{machine['git']}\n"
    )
    print("| metric | median | min-max | target |")
    print("|---|---:|---:|---|")
    for metric in METRICS:
        found = summary.get(metric.key)
        if found is None:
            continue
        d = metric.digits
        label = metric.label.format(threads=p["threads"])
        print(
            f"| {label} | {found['median']:.{d}f} | {found['min']:.{d}f}-{found['max']:.{d}f} "
            f"| {metric.target} |"
        )
    calls: Counter[str] = Counter()
    for run in report["runs"]:
        calls.update(run.get("registry", {}).get("api_calls", {}))
    if calls:
        repeat = len(report["runs"])
        parts = ", ".join(
            f"{name} {count / repeat / p['n']:.2f}" for name, count in calls.most_common()
        )
        print(f"\nOperator API requests per version, by verb and resource (mean): {parts}")
    steps = [
        run["registry"]["sequential_steps_p50_ms"] for run in report["runs"] if "registry" in run
    ]
    if steps and steps[0]:
        names = ["create sent → ADDED", "ADDED → write 1"] + [
            f"write {i} → write {i + 1}" for i in range(1, max(map(len, steps)) - 1)
        ]
        parts = ", ".join(
            f"{name} {statistics.median(s[i] for s in steps if len(s) > i):.0f}"
            for i, name in enumerate(names)
        )
        print(f"\nOne by one, p50 ms of each step until Ready (median): {parts}")
    problems = [
        f"repetition {run['repetition']}: {problem}"
        for run in report["runs"]
        for problem in _problems(run)
    ]
    if problems:
        print("\nProblems: " + "; ".join(problems))


def _problems(run: Json) -> list[str]:
    found = []
    registry = run.get("registry")
    if registry and not registry["complete"]:
        found.append(f"{registry['not_ready']} versions not Ready in time")
    if registry and not registry["numbering_ok"]:
        found.append("version numbers are not 1..k per Model")
    if registry and registry["create_errors"]:
        found.append(f"{registry['create_errors']} ModelVersion creates failed")
    if registry and registry["watch_error"]:
        found.append(f"watch error: {registry['watch_error']}")
    mlflow = run.get("mlflow")
    if mlflow and mlflow["errors"]:
        found.append(f"{mlflow['errors']} MLflow creates failed: {mlflow['error_samples']}")
    if mlflow and mlflow["highest_version"] != mlflow["n"] - mlflow["errors"]:
        found.append(f"MLflow's latest version is {mlflow['highest_version']}")
    return found


def _machine(args: argparse.Namespace) -> dict[str, str]:
    import kopf

    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    # An exported tree names its commit in COMMIT next to its operator/ directory.
    stamp = OPERATOR_SOURCE.parent / "COMMIT"
    git = (
        stamp.read_text().strip()
        if stamp.exists()
        else subprocess.run(
            ["git", "-C", str(OPERATOR_SOURCE), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    )
    return {
        "operator_source": str(OPERATOR_SOURCE),
        "nproc": str(os.cpu_count()),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "kopf": getattr(kopf, "__version__", "?"),
        "git": git or "?",
    }


if __name__ == "__main__":
    sys.exit(main())
