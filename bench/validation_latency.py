"""How long validation takes on the local node, and where the time goes (issue 9 §4).

One run starts a local control plane (`localenv.ControlPlane`), a local node
(`localenv.Node`: containerd + kubelet) with the project's image imported
(`localenv.image.ensure_image()`), a real S3 server (versitygw) forwarded to
the Pods' network, and the operator (`python -m modelregistry run`, default
settings plus the validation ones: the image, pull policy Never, S3 as Pods
reach it, a Secret for the fetch step). A scikit-learn model in MLflow layout
(the tests' `sklearn_mlflow_model`) is uploaded once as a prefix; every
ModelVersion points at it, in a namespace that enforces the `restricted` Pod
Security profile, with the checks `format` and `loadAndPredict` (20 calls).

  (a) warm-up: --warmup versions (default 1) one after another, not counted
      (the first Pod on a fresh node starts from cold caches; reported apart);
  (b) sequential: --sequential K versions (default 5) one after another, each
      waiting until Validated=True and its Pod is gone;
  (c) concurrent: --concurrent N versions (default 20) created at once, until
      all are Validated; the operator's CPU (utime+stime from /proc) and
      memory (VmRSS sampled every 0.2 s, VmHWM) over that window, and the CPU
      of kube-apiserver, the kubelet, containerd and the Pods (cpuacct).

One watch on ModelVersions and one on Pods, opened before the first create,
time every step on this machine's clock as the events arrive (perf_counter;
the API's own timestamps have one-second resolution):

  create sent -> ArtifactVerified=True seen -> validation Pod ADDED ->
  PodScheduled=True -> init container `fetch` running -> terminated ->
  first check container running -> all check containers terminated ->
  Pod Succeeded -> Validated=True seen -> Pod DELETED.

The kubelet reports container states as its PLEG relist notices them (about
once a second), so a state shorter than that may be seen only as its end; the
tables say how many Pods each figure was seen for. The kubelet's own container
timestamps (startedAt/finishedAt, whole seconds) are kept in the JSON too.
The validator's own latency figures are read from the loadAndPredict check's
result in status.validation.checks (value = p95 ms; the message names p50 and
p95). For scale, the same two checks also run on this host, outside any Pod,
as `python -m modelregistry validate ...` on the same directory.

    .venv/bin/python bench/validation_latency.py [--sequential 5] [--concurrent 20]
        [--warmup 1] [--output FILE.json] [--workdir DIR]

Only one local node runs per machine (a lock); the node start waits up to
--node-wait seconds for another one to stop. Every process it starts (control
plane, node, S3 server, forwarders, operator) is stopped on exit, on failure
and on Ctrl-C/SIGTERM; the node's stop undoes its host changes.

It reuses the HTTP, watch and /proc helpers of `registry_throughput.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import re
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from common import OPERATOR_SOURCE, api_client, operator_environment, versioned_bucket, workdir
from modelregistry.digest import digest_local_path
from modelregistry.install import install_crds
from modelregistry.localenv import ControlPlane, Node, S3Server
from modelregistry.localenv.image import ensure_image
from modelregistry.localenv.pki import OPERATOR_USER
from registry_throughput import (
    CLOCK_TICKS,
    Child,
    Endpoint,
    Session,
    Watch,
    _child_pid,
    _cpu_seconds,
    _memory_kib,
    _raise_interrupt,
)

REPO: Final = Path(__file__).resolve().parents[1]
GROUP: Final = "modelregistry.io"
VERSION: Final = "v1alpha1"
NAMESPACE: Final = "bench-validation"
MODEL: Final = "clf"
SECRET: Final = "store"
BUCKET: Final = "models"
PREFIX: Final = "clf/"
CALLS: Final = 20
VERSION_LABEL: Final = f"{GROUP}/model-version"
FETCH_CONTAINER: Final = "fetch"
# Validated=False reasons the operator retries on its own: not a verdict.
RETRIED: Final = frozenset({"Unschedulable"})
CHECKS: Final = (
    {"name": "format", "builtin": "format"},
    {"name": "predict", "builtin": "loadAndPredict", "calls": CALLS},
)
LATENCY: Final = re.compile(r"p50 (?P<p50>[0-9.]+) ms, p95 (?P<p95>[0-9.]+) ms")
# Where the node puts the Pods' cgroups (cgroup v1 here; cpuacct counts their CPU).
POD_CGROUPS: Final = (
    Path("/sys/fs/cgroup/cpuacct/modelregistry-node/cpuacct.usage"),
    Path("/sys/fs/cgroup/cpu,cpuacct/modelregistry-node/cpuacct.usage"),
)
Json = dict[str, Any]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    output = args.output or Path(tempfile.gettempdir()) / time.strftime(
        "validation-latency-%Y%m%dT%H%M%SZ.json", time.gmtime()
    )
    try:
        report = _run(args)
    except KeyboardInterrupt:
        _log("interrupted; every process started has been stopped")
        return 130
    output.write_text(json.dumps(report, indent=2) + "\n")
    _print_markdown(report)
    _log(f"JSON results: {output}")
    return 0 if report["complete"] else 1


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--sequential", type=int, default=5, help="versions validated one by one (default 5)"
    )
    parser.add_argument(
        "--concurrent", type=int, default=20, help="versions created at once (default 20)"
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="versions validated first, not counted (default 1)"
    )
    parser.add_argument(
        "--host-repeat",
        type=int,
        default=3,
        help="runs of each check on this host, outside a Pod, for scale (default 3; 0: none)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds one version may take to be Validated, one by one (default 300)",
    )
    parser.add_argument(
        "--concurrent-timeout",
        type=float,
        default=900.0,
        help="seconds for all concurrent versions to be Validated (default 900)",
    )
    parser.add_argument(
        "--node-wait",
        type=float,
        default=600.0,
        help="seconds to wait for another local node to stop before ours starts (default 600)",
    )
    parser.add_argument("--output", type=Path, default=None, help="JSON result file")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep logs and data here (default: temporary)"
    )
    args = parser.parse_args(argv)
    if args.sequential < 0 or args.concurrent < 0 or args.warmup < 0 or args.host_repeat < 0:
        parser.error("counts must be >= 0")
    if args.sequential + args.concurrent == 0:
        parser.error("--sequential 0 and --concurrent 0 leave nothing to measure")
    return args


def _log(message: str) -> None:
    print(time.strftime("%H:%M:%S ", time.gmtime()) + message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- statistics


def _spread(values: Sequence[float | None]) -> Json | None:
    """Median, min, max and count of the values that were seen."""
    found = [v for v in values if v is not None]
    if not found:
        return None
    return {
        "median": statistics.median(found),
        "min": min(found),
        "max": max(found),
        "n": len(found),
    }


def _percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def _since(end: float | None, start: float | None) -> float | None:
    """end - start in ms when both were seen."""
    return None if end is None or start is None else (end - start) * 1000


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------- what the watches saw


@dataclass
class Timeline:
    """One ModelVersion and its validation Pod; times are perf_counter seconds."""

    name: str
    sent: float | None = None
    verified: float | None = None  # ArtifactVerified=True seen
    running: float | None = None  # Validated=Unknown (ValidationRunning) seen
    pod_added: float | None = None
    scheduled: float | None = None  # PodScheduled=True seen
    unschedulable: bool = False  # PodScheduled=False (Unschedulable) seen
    fetch_running: float | None = None
    fetch_done: float | None = None
    checks_started: float | None = None  # first check container running (or done)
    checks_done: float | None = None  # every check container terminated
    succeeded: float | None = None  # Pod phase Succeeded seen
    validated: float | None = None  # Validated=True seen
    pod_deleted: float | None = None
    validated_reason: str | None = None
    failed: str | None = None  # Validated=False for good: reason and message
    unschedulable_reported: float | None = None  # Validated=False Unschedulable seen (retried)
    container_ids: dict[str, str] = field(default_factory=dict)  # container name -> containerd id
    # containerd's task events (ns-precise, on the perf_counter scale): "<name>.start", ".exit"
    # and "sandbox.start" (one by one only: the one unknown task started before `fetch`).
    tasks: dict[str, float] = field(default_factory=dict)
    pod_name: str | None = None
    pod_events: int = 0
    version_events: int = 0
    # The kubelet's own timestamps (epoch seconds, whole seconds in the API).
    kubelet: dict[str, float | None] = field(default_factory=dict)
    # One by one only: CPU seconds from create sent until the Pod was deleted.
    pod_cpu_seconds: float | None = None  # the validation Pod (cpuacct of the node's Pods)
    operator_cpu_seconds: float | None = None
    checks: list[Json] = field(default_factory=list)  # status.validation.checks when Validated


class Tracker:
    """Both watches' events, per ModelVersion; thread-safe."""

    def __init__(self) -> None:
        self.timelines: dict[str, Timeline] = {}
        self.changed = threading.Condition()

    def get(self, name: str) -> Timeline:
        return self.timelines.setdefault(name, Timeline(name))

    def sent(self, name: str, at: float) -> None:
        with self.changed:
            self.get(name).sent = at

    def on_version(self, kind: str, body: Json, at: float) -> None:
        name = body["metadata"]["name"]
        status = body.get("status") or {}
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        with self.changed:
            record = self.get(name)
            record.version_events += 1
            verified = conditions.get("ArtifactVerified") or {}
            if record.verified is None and verified.get("status") == "True":
                record.verified = at
            validated = conditions.get("Validated") or {}
            if record.running is None and validated.get("status") == "Unknown":
                record.running = at
            if record.validated is None and validated.get("status") == "True":
                record.validated = at
                record.validated_reason = validated.get("reason")
                record.checks = list((status.get("validation") or {}).get("checks") or [])
                self.changed.notify_all()
            if validated.get("status") == "False":
                if validated.get("reason") in RETRIED:
                    record.unschedulable_reported = record.unschedulable_reported or at
                elif record.failed is None:
                    record.failed = f"{validated.get('reason')}: {validated.get('message')}"
                    self.changed.notify_all()

    def on_pod(self, kind: str, body: Json, at: float) -> None:
        name = (body["metadata"].get("labels") or {}).get(VERSION_LABEL)
        if name is None:
            return
        status = body.get("status") or {}
        with self.changed:
            record = self.get(name)
            record.pod_events += 1
            record.pod_name = body["metadata"]["name"]
            if kind == "ADDED" and record.pod_added is None:
                record.pod_added = at
            if kind == "DELETED":
                record.pod_deleted = record.pod_deleted or at
                self.changed.notify_all()
                return
            for condition in status.get("conditions") or []:
                if condition.get("type") != "PodScheduled":
                    continue
                if condition.get("status") == "True" and record.scheduled is None:
                    record.scheduled = at
                elif condition.get("reason") == "Unschedulable":
                    record.unschedulable = True
            for container in [
                *(status.get("initContainerStatuses") or []),
                *(status.get("containerStatuses") or []),
            ]:
                if container.get("containerID"):
                    record.container_ids[container["name"]] = container["containerID"].split(
                        "://", 1
                    )[-1]
            for container in status.get("initContainerStatuses") or []:
                if container.get("name") != FETCH_CONTAINER:
                    continue
                state = container.get("state") or {}
                if "running" in state and record.fetch_running is None:
                    record.fetch_running = at
                if "terminated" in state:
                    record.fetch_done = record.fetch_done or at
                    record.kubelet["fetch_started"] = _epoch(state["terminated"].get("startedAt"))
                    record.kubelet["fetch_finished"] = _epoch(state["terminated"].get("finishedAt"))
            checks = status.get("containerStatuses") or []
            states = [c.get("state") or {} for c in checks]
            if record.checks_started is None and any(
                "running" in s or "terminated" in s for s in states
            ):
                record.checks_started = at
            if (
                record.checks_done is None
                and len(states) == len(CHECKS)
                and all("terminated" in s for s in states)
            ):
                record.checks_done = at
                started = [_epoch(s["terminated"].get("startedAt")) for s in states]
                finished = [_epoch(s["terminated"].get("finishedAt")) for s in states]
                record.kubelet["checks_started"] = min((t for t in started if t), default=None)
                record.kubelet["checks_finished"] = max((t for t in finished if t), default=None)
            if status.get("phase") == "Succeeded" and record.succeeded is None:
                record.succeeded = at
                record.kubelet["pod_start"] = _epoch(status.get("startTime"))

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(min(remaining, 1.0))
        return True

    def finished(self, names: Sequence[str]) -> bool:
        """Every one is Validated=True or has failed (callers hold the lock)."""
        return all(
            (r := self.timelines.get(n)) is not None
            and (r.validated is not None or r.failed is not None)
            for n in names
        )


# ---------------------------------------------------------------- phases

PHASES: Final = (
    ("create_to_verified", "create sent → ArtifactVerified=True seen"),
    ("verified_to_pod", "ArtifactVerified=True seen → Pod ADDED seen (< 0: Pod first)"),
    ("pod_to_scheduled", "Pod ADDED → PodScheduled=True seen"),
    ("pod_to_sandbox", "Pod ADDED → sandbox (pause) started"),
    ("sandbox_to_fetch", "sandbox started → `fetch` started"),
    ("pod_to_fetch_task", "**Pod scheduling + start** (ADDED → `fetch` started)"),
    ("fetch_task", "**artifact fetch** (`fetch` started → exited)"),
    ("fetch_to_checks_task", "`fetch` exited → first check started"),
    ("checks_task", "**checks** (first check started → last exited)"),
    ("format_task", "· `format` alone (started → exited)"),
    ("predict_task", "· `loadAndPredict` alone (started → exited)"),
    ("checks_to_succeeded_task", "last check exited → Pod Succeeded seen"),
    ("results", "**results into status** (Pod Succeeded seen → Validated=True seen)"),
    ("verified_to_validated", "**total: ArtifactVerified=True seen → Validated=True seen**"),
    ("pod_to_validated", "Pod ADDED → Validated=True seen"),
    ("create_to_validated", "create sent → Validated=True seen"),
    ("validated_to_deleted", "Validated=True seen → Pod DELETED seen (< 0: deleted first)"),
)
# The same steps as the Pod watch saw them: the kubelet reports container
# states when its PLEG relist notices them (every second).
WATCH_PHASES: Final = (
    ("pod_to_fetch", "Pod ADDED → `fetch` running seen"),
    ("fetch", "`fetch` running seen → terminated seen"),
    ("fetch_to_checks", "`fetch` terminated seen → first check running seen"),
    ("checks", "first check running seen → all terminated seen"),
    ("checks_to_succeeded", "all checks terminated seen → Pod Succeeded seen"),
    ("kubelet_fetch", "kubelet's timestamps: `fetch` startedAt → finishedAt (whole s)"),
    ("kubelet_checks", "kubelet's timestamps: first check startedAt → last finishedAt (whole s)"),
)


def _phases(t: Timeline) -> dict[str, float | None]:
    k, task = t.kubelet, t.tasks
    check_names = [str(c["name"]) for c in CHECKS]
    starts = _every([task.get(f"{n}.start") for n in check_names])
    exits = _every([task.get(f"{n}.exit") for n in check_names])
    first_start = min(starts) if starts else None
    last_exit = max(exits) if exits else None
    return {
        "create_to_verified": _since(t.verified, t.sent),
        "verified_to_pod": _since(t.pod_added, t.verified),
        "pod_to_scheduled": _since(t.scheduled, t.pod_added),
        "pod_to_sandbox": _since(task.get("sandbox.start"), t.pod_added),
        "sandbox_to_fetch": _since(task.get("fetch.start"), task.get("sandbox.start")),
        "pod_to_fetch_task": _since(task.get("fetch.start"), t.pod_added),
        "fetch_task": _since(task.get("fetch.exit"), task.get("fetch.start")),
        "fetch_to_checks_task": _since(first_start, task.get("fetch.exit")),
        "checks_task": _since(last_exit, first_start),
        "format_task": _since(task.get("format.exit"), task.get("format.start")),
        "predict_task": _since(task.get("predict.exit"), task.get("predict.start")),
        "checks_to_succeeded_task": _since(t.succeeded, last_exit),
        "results": _since(t.validated, t.succeeded),
        "verified_to_validated": _since(t.validated, t.verified),
        "pod_to_validated": _since(t.validated, t.pod_added),
        "create_to_validated": _since(t.validated, t.sent),
        "validated_to_deleted": _since(t.pod_deleted, t.validated),
        "pod_to_fetch": _since(t.fetch_running, t.pod_added),
        "fetch": _since(t.fetch_done, t.fetch_running),
        "fetch_to_checks": _since(t.checks_started, t.fetch_done),
        "checks": _since(t.checks_done, t.checks_started),
        "checks_to_succeeded": _since(t.succeeded, t.checks_done),
        "kubelet_fetch": _since(k.get("fetch_finished"), k.get("fetch_started")),
        "kubelet_checks": _since(k.get("checks_finished"), k.get("checks_started")),
    }


def _every(values: Sequence[float | None]) -> list[float] | None:
    """The values when every one was seen, else None."""
    found = [v for v in values if v is not None]
    return found if len(found) == len(values) else None


def _validator_latency(t: Timeline) -> Json | None:
    """The loadAndPredict check's own p50/p95 (ms) and value, from status.validation.checks."""
    for check in t.checks:
        if check.get("name") != "predict":
            continue
        match = LATENCY.search(check.get("message") or "")
        return {
            "value": _number(check.get("value")),
            "threshold": check.get("threshold"),
            "p50_ms": float(match["p50"]) if match else None,
            "p95_ms": float(match["p95"]) if match else None,
            "message": check.get("message"),
        }
    return None


def _number(text: object) -> float | None:
    try:
        return float(str(text))
    except ValueError:
        return None


def _summary(timelines: Sequence[Timeline]) -> Json:
    phases = [_phases(t) for t in timelines]
    latencies = [v for t in timelines if (v := _validator_latency(t)) is not None]
    return {
        "phases_ms": {key: _spread([p[key] for p in phases]) for key in phases[0]}
        if phases
        else {},
        "validator_p50_ms": _spread([v["p50_ms"] for v in latencies]),
        "validator_p95_ms": _spread([v["p95_ms"] for v in latencies]),
        "validator_value": _spread([v["value"] for v in latencies]),
        "pod_cpu_seconds": _spread([t.pod_cpu_seconds for t in timelines]),
        "operator_cpu_seconds": _spread([t.operator_cpu_seconds for t in timelines]),
    }


# ---------------------------------------------------------------- machine state


def _machine_busy_seconds() -> float:
    """CPU seconds this machine spent busy (all CPUs; /proc/stat: all but idle and iowait)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / CLOCK_TICKS


def _pods_cpu_seconds() -> float | None:
    for path in POD_CGROUPS:
        with contextlib.suppress(OSError, ValueError):
            return int(path.read_text()) / 1e9
    return None


_EVENT: Final = re.compile(
    r"^(?P<date>\d{4}-\d\d-\d\d) (?P<time>\d\d:\d\d:\d\d)(?:\.(?P<fraction>\d+))? "
    r"(?P<offset>[+-]\d{4}) \S+ (?P<namespace>\S+) (?P<topic>/tasks/(?:start|exit)) "
    r"(?P<body>\{.*\})$"
)


class TaskEvents:
    """containerd's task start/exit events (`ctr events`), with nanosecond timestamps.

    The API server's container timestamps have whole seconds and the watch
    sees states only after the kubelet's next PLEG relist; containerd's own
    events say when each container's process started and exited. Containers
    are matched by the containerd IDs in the Pods' status.
    """

    def __init__(self, node: Node, log: Path) -> None:
        # Event times are this host's wall clock; timelines are perf_counter.
        self.offset = time.time() - time.perf_counter()
        self.log = log
        ctr = shutil.which("ctr")
        self.child = (
            None
            if ctr is None
            else Child(
                [ctr, "--address", node.containerd_socket, "--namespace", "k8s.io", "events"],
                dict(os.environ),
                log,
            )
        )

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(grace=2)

    def read(self) -> list[tuple[str, str, float]]:
        """(topic, container id, perf_counter time) of every task start and exit so far."""
        found = []
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        for line in text.splitlines():
            match = _EVENT.match(line)
            if match is None or match["namespace"] != "k8s.io":
                continue
            with contextlib.suppress(ValueError, KeyError):
                body = json.loads(match["body"])
                stamp = datetime.strptime(
                    f"{match['date']} {match['time']} {match['offset']}", "%Y-%m-%d %H:%M:%S %z"
                ).timestamp() + float("0." + (match["fraction"] or "0"))
                found.append((match["topic"], body["container_id"], stamp - self.offset))
        return found

    def apply(self, tracker: Tracker, timelines: Sequence[Timeline], *, sandboxes: bool) -> None:
        """Fill each timeline's `tasks`; with `sandboxes` (one Pod at a time) its pause container.

        The sandbox's ID is not in the Pod's status: one by one, it is the one
        task of an unknown container started between Pod ADDED and `fetch`.
        """
        events = self.read()
        owners = {cid: (t, name) for t in timelines for name, cid in t.container_ids.items()}
        with tracker.changed:
            known = {cid for t in tracker.timelines.values() for cid in t.container_ids.values()}
        for topic, cid, at in events:
            if cid in owners:
                record, name = owners[cid]
                record.tasks.setdefault(f"{name}.{topic.rsplit('/', 1)[1]}", at)
        if not sandboxes:
            return
        unknown = [at for topic, cid, at in events if topic == "/tasks/start" and cid not in known]
        for record in timelines:
            fetch = record.tasks.get("fetch.start")
            if record.pod_added is None or fetch is None:
                continue
            between = [at for at in unknown if record.pod_added <= at <= fetch]
            if len(between) == 1:
                record.tasks["sandbox.start"] = between[0]


class CpuMeter:
    """CPU seconds of the operator, the local servers, the Pods and the machine."""

    def __init__(self, operator: Child) -> None:
        self.pids: dict[str, int] = {"operator": operator.pid}
        for name in ("kube-apiserver", "etcd", "kubelet", "containerd", "kube-scheduler"):
            pid = _child_pid(name)
            if pid is not None:
                self.pids[name] = pid

    def read(self) -> dict[str, float | None]:
        found: dict[str, float | None] = {
            name: _cpu_seconds(pid, tree=name == "operator") for name, pid in self.pids.items()
        }
        found["pods"] = _pods_cpu_seconds()
        found["machine"] = _machine_busy_seconds()
        found["benchmark"] = time.process_time()
        return found


class MemorySampler(threading.Thread):
    """The operator's VmRSS every `interval` seconds while it runs; the peak seen."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True, name="rss sampler")
        self._pid, self._interval = pid, interval
        self._stop_event = threading.Event()
        self.peak_kib = 0
        self.samples = 0

    def run(self) -> None:
        while not self._stop_event.is_set():
            with contextlib.suppress(OSError, KeyError):
                self.peak_kib = max(self.peak_kib, _memory_kib(self._pid)["VmRSS"])
                self.samples += 1
            self._stop_event.wait(self._interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


# ---------------------------------------------------------------- the run


@dataclass
class Environment:
    api: Endpoint
    session: Session
    operator: Child
    node: Node
    digest: str
    image: str
    model_dir: Path
    events: TaskEvents


def _run(args: argparse.Namespace) -> Json:
    with contextlib.ExitStack() as stack:
        work = stack.enter_context(workdir(args.workdir, "validation"))
        _log(f"work dir {work}")
        image = ensure_image()
        _log(f"image {image.reference}")
        plane = stack.enter_context(ControlPlane(workdir=work / "controlplane"))
        _log("control plane up; starting the node (waits for another local node to stop)")
        node = Node(plane, workdir=work / "node", start_timeout=args.node_wait)
        stack.enter_context(node)
        _log(f"node Ready in {node.ready_after or 0:.1f} s; importing {image.archive.name}")
        node.import_image(image.archive)
        events = TaskEvents(node, work / "containerd-events.log")
        stack.callback(events.stop)
        s3 = stack.enter_context(S3Server(workdir=work / "s3"))
        port = urllib.parse.urlsplit(s3.endpoint_url).port
        assert port is not None
        forwarder = node.forward(port, name="s3")
        pod_s3 = f"http://{node.node_ip}:{forwarder.port}"

        install_crds(api_client(plane), operator_user=OPERATOR_USER)
        model_dir = _make_model(work / "model")
        digest = _upload(s3, model_dir)
        pki = plane.pki
        tls = ssl.create_default_context(cafile=str(pki.ca_cert))
        tls.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
        api = Endpoint("127.0.0.1", urllib.parse.urlsplit(plane.server).port or 443, tls)
        operator = Child(
            [sys.executable, "-m", "modelregistry", "run"],
            operator_environment(
                plane,
                s3,
                MODELREGISTRY_VALIDATION_IMAGE=image.reference,
                MODELREGISTRY_VALIDATION_IMAGE_PULL_POLICY="Never",
                MODELREGISTRY_VALIDATION_S3_ENDPOINT=pod_s3,
                MODELREGISTRY_VALIDATION_SECRET=SECRET,
            ),
            work / "operator.log",
        )
        stack.callback(operator.stop)
        session = Session(api)
        stack.callback(session.close)
        env = Environment(api, session, operator, node, digest, image.reference, model_dir, events)
        try:
            return _measure(env, s3, args)
        except Exception:
            _log(f"operator log tail:\n{operator.tail()}")
            raise
    raise AssertionError("unreachable")


def _make_model(root: Path) -> Path:
    """The tests' scikit-learn model in MLflow layout (tests/unit/test_checks_artifacts.py)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.unit.test_checks_artifacts import sklearn_mlflow_model

    path: Path = sklearn_mlflow_model(root)
    return path


def _upload(s3: S3Server, root: Path) -> str:
    client = versioned_bucket(s3, BUCKET)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        client.upload_file(str(path), BUCKET, PREFIX + path.relative_to(root).as_posix())
    return digest_local_path(root).digest


def _path(plural: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{plural}"


def _version_body(name: str, digest: str) -> Json:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelVersion",
        "metadata": {"name": name},
        "spec": {
            "modelRef": {"name": MODEL},
            "artifact": {"uri": f"s3://{BUCKET}/{PREFIX}", "digest": digest, "format": "mlflow"},
            "validation": {"deadlineSeconds": 300, "checks": [dict(c) for c in CHECKS]},
        },
    }


def _setup(env: Environment, s3: S3Server) -> None:
    session = env.session
    session.json(
        "POST",
        "/api/v1/namespaces",
        {
            "metadata": {
                "name": NAMESPACE,
                "labels": {
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                },
            }
        },
    )
    session.json(
        "POST",
        f"/api/v1/namespaces/{NAMESPACE}/secrets",
        {
            "metadata": {"name": SECRET},
            "stringData": {
                "AWS_ACCESS_KEY_ID": s3.access_key,
                "AWS_SECRET_ACCESS_KEY": s3.secret_key,
            },
        },
    )
    session.json(
        "POST",
        _path("models"),
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Model",
            "metadata": {"name": MODEL},
            "spec": {"description": "validation latency benchmark"},
        },
    )
    # The operator is up once it has written the Model's status.
    deadline = time.monotonic() + 180
    while not env.session.json("GET", f"{_path('models')}/{MODEL}").get("status"):
        env.operator.check()
        if time.monotonic() > deadline:
            raise TimeoutError("the operator wrote no Model status within 180 s")
        time.sleep(0.2)


def _create(env: Environment, tracker: Tracker, name: str) -> None:
    body = json.dumps(_version_body(name, env.digest)).encode()
    tracker.sent(name, time.perf_counter())
    status, data = env.session.request("POST", _path("modelversions"), body)
    if status != 201:
        raise RuntimeError(f"create {name}: HTTP {status}: {data[:300]!r}")


def _one_by_one(
    env: Environment, tracker: Tracker, names: Sequence[str], timeout: float
) -> list[Timeline]:
    done = []
    for name in names:
        pods_before, operator_before = _pods_cpu_seconds(), _cpu_seconds(env.operator.pid)
        _create(env, tracker, name)
        ended = tracker.wait(functools.partial(tracker.finished, [name]), timeout)
        env.operator.check()
        with tracker.changed:
            record = tracker.timelines[name]
        if not ended or record.validated is None:
            raise RuntimeError(
                f"{name} was not Validated within {timeout:.0f} s: {record.failed or 'no verdict'}"
            )
        # The next one starts once this Pod is gone: nothing overlaps.
        tracker.wait(functools.partial(_pod_gone, record), 60)
        pods_after = _pods_cpu_seconds()
        if pods_before is not None and pods_after is not None:
            record.pod_cpu_seconds = pods_after - pods_before
        record.operator_cpu_seconds = _cpu_seconds(env.operator.pid) - operator_before
        env.events.apply(tracker, [record], sandboxes=True)
        phases = _phases(record)
        _log(
            f"{name}: verified→Validated {_fmt(phases['verified_to_validated'])} ms (Pod start "
            f"{_fmt(phases['pod_to_fetch_task'])}, fetch {_fmt(phases['fetch_task'])}, "
            f"→checks {_fmt(phases['fetch_to_checks_task'])}, checks "
            f"{_fmt(phases['checks_task'])}, "
            f"→Succeeded {_fmt(phases['checks_to_succeeded_task'])}, "
            f"results {_fmt(phases['results'])})"
        )
        done.append(record)
        time.sleep(1)
    return done


def _fmt(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}"


def _pod_gone(record: Timeline) -> bool:
    return record.pod_deleted is not None


def _concurrent(env: Environment, tracker: Tracker, count: int, timeout: float) -> Json:
    names = [f"conc-{i:02d}" for i in range(count)]
    meter = CpuMeter(env.operator)
    memory_before = _memory_kib(env.operator.pid)
    sampler = MemorySampler(env.operator.pid)
    cpu_before = meter.read()
    sampler.start()
    began = time.perf_counter()
    try:
        for name in names:
            _create(env, tracker, name)
        created = time.perf_counter()
        complete = tracker.wait(lambda: tracker.finished(names), timeout)
        ended = time.perf_counter()
        cpu_after = meter.read()
    finally:
        sampler.stop()
    memory_after = _memory_kib(env.operator.pid)
    env.operator.check()
    # The passed runs' Pods go after their results are in: wait for that, not counted.
    tracker.wait(
        lambda: all(_pod_gone(tracker.timelines[n]) for n in names),
        120,
    )
    with tracker.changed:
        timelines = [tracker.timelines[n] for n in names]
    env.events.apply(tracker, timelines, sandboxes=False)
    validated = [t for t in timelines if t.validated is not None]
    last = max((t.validated for t in validated if t.validated), default=ended)
    wall = last - began
    cpu = {
        key: (after - before)
        if (after := cpu_after.get(key)) is not None and (before := cpu_before.get(key)) is not None
        else None
        for key in cpu_after
    }
    totals = [(t.validated - t.sent) for t in validated if t.validated and t.sent]
    return {
        "n": count,
        "complete": complete and len(validated) == count,
        "validated": len(validated),
        "failed": {t.name: t.failed for t in timelines if t.failed},
        "wall_seconds": wall,
        "create_wall_seconds": created - began,
        "validations_per_minute": len(validated) / wall * 60 if wall > 0 else None,
        "create_to_validated_p50_s": _percentile(totals, 50),
        "create_to_validated_p95_s": _percentile(totals, 95),
        "create_to_validated_max_s": max(totals, default=None),
        "max_pods_scheduled_at_once": _max_overlap(timelines),
        "unschedulable_seen": sum(t.unschedulable for t in timelines),
        "unschedulable_reported": sum(t.unschedulable_reported is not None for t in timelines),
        "cpu_seconds": cpu,
        "cpu_window_seconds": ended - began,
        "operator_cpu_percent_of_one_core": (cpu["operator"] or 0) / (ended - began) * 100,
        "operator_rss_mb_before": memory_before["VmRSS"] / 1024,
        "operator_rss_mb_peak_sampled": sampler.peak_kib / 1024,
        "operator_rss_mb_after": memory_after["VmRSS"] / 1024,
        "operator_hwm_mb": memory_after["VmHWM"] / 1024,
        "rss_samples": sampler.samples,
        "summary": _summary(validated),
        "timelines": [_timeline_json(t) for t in timelines],
    }


def _max_overlap(timelines: Sequence[Timeline]) -> int:
    """Most Pods scheduled and not yet finished at one time."""
    edges: list[tuple[float, int]] = []
    for t in timelines:
        end = t.succeeded or t.checks_done or t.pod_deleted
        if t.scheduled is not None and end is not None:
            edges += [(t.scheduled, 1), (end, -1)]
    running = peak = 0
    for _, step in sorted(edges):
        running += step
        peak = max(peak, running)
    return peak


def _timeline_json(t: Timeline) -> Json:
    found = asdict(t)
    found["phases_ms"] = _phases(t)
    found["validator"] = _validator_latency(t)
    return found


def _host_checks(model_dir: Path, repeat: int) -> Json:
    """The same checks run on this host, outside a Pod: wall time of the whole command."""
    results: Json = {}
    for check, extra in (("format", []), ("loadAndPredict", ["--calls", str(CALLS)])):
        walls, reports = [], []
        for _ in range(repeat):
            began = time.perf_counter()
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "modelregistry",
                    "validate",
                    check,
                    "--artifact",
                    str(model_dir),
                    *extra,
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
            walls.append((time.perf_counter() - began) * 1000)
            if done.returncode != 0:
                raise RuntimeError(f"validate {check} on the host: {done.stdout}{done.stderr}")
            reports.append(json.loads(done.stdout.strip().splitlines()[-1]))
        details = [r.get("details") or {} for r in reports]
        results[check] = {
            "wall_ms": _spread(walls),
            "p50_ms": _spread([d["p50Ms"] for d in details if "p50Ms" in d]),
            "p95_ms": _spread([d["p95Ms"] for d in details if "p95Ms" in d]),
        }
    return results


def _measure(env: Environment, s3: S3Server, args: argparse.Namespace) -> Json:
    host = _host_checks(env.model_dir, args.host_repeat) if args.host_repeat else {}
    _setup(env, s3)
    tracker = Tracker()
    watches = [
        Watch(env.api, _path("modelversions"), tracker.on_version),
        Watch(env.api, f"/api/v1/namespaces/{NAMESPACE}/pods", tracker.on_pod),
    ]
    try:
        for watch in watches:
            watch.start_and_wait()
        node = env.session.json("GET", "/api/v1/nodes")["items"][0]
        _log(f"warm-up: {args.warmup} version(s)")
        warmup = _one_by_one(
            env, tracker, [f"warmup-{i}" for i in range(args.warmup)], args.timeout
        )
        _log(f"sequential: {args.sequential} version(s)")
        sequential = _one_by_one(
            env, tracker, [f"seq-{i:02d}" for i in range(args.sequential)], args.timeout
        )
        concurrent = None
        if args.concurrent:
            _log(f"concurrent: {args.concurrent} versions at once")
            concurrent = _concurrent(env, tracker, args.concurrent, args.concurrent_timeout)
            _log(
                f"concurrent: {concurrent['validated']}/{args.concurrent} Validated in "
                f"{concurrent['wall_seconds']:.1f} s"
            )
        errors = [w.error for w in watches if w.error]
    finally:
        for watch in watches:
            watch.stop()
    return {
        "benchmark": "validation_latency",
        "complete": concurrent is None or concurrent["complete"],
        "parameters": {
            "sequential": args.sequential,
            "concurrent": args.concurrent,
            "warmup": args.warmup,
            "checks": list(CHECKS),
            "host_repeat": args.host_repeat,
        },
        "machine": _machine(env, node),
        "host_checks": host,
        "warmup": [_timeline_json(t) for t in warmup],
        "sequential": {
            "summary": _summary(sequential),
            "timelines": [_timeline_json(t) for t in sequential],
        },
        "concurrent": concurrent,
        "watch_error": "; ".join(errors) or None,
    }


def _machine(env: Environment, node: Json) -> Json:
    import kopf

    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    git = subprocess.run(
        ["git", "-C", str(OPERATOR_SOURCE), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    info = node.get("status", {}).get("nodeInfo", {})
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "kopf": getattr(kopf, "__version__", "?"),
        "git": git or "?",
        "operator_source": str(OPERATOR_SOURCE),
        "image": env.image,
        "node_ready_seconds": env.node.ready_after,
        "node_allocatable": node.get("status", {}).get("allocatable", {}),
        "kubelet": info.get("kubeletVersion"),
        "container_runtime": info.get("containerRuntimeVersion"),
        "load_average": os.getloadavg(),
    }


# ---------------------------------------------------------------- report


def _cell(found: Json | None, digits: int = 0, unit: float = 1.0) -> str:
    if not found:
        return "—"
    median, low, high = found["median"] / unit, found["min"] / unit, found["max"] / unit
    return f"{median:,.{digits}f} ({low:,.{digits}f}-{high:,.{digits}f}) [{found['n']}]"


def _phase_table(report: Json, phases: Sequence[tuple[str, str]]) -> None:
    sequential, concurrent = report["sequential"]["summary"], report["concurrent"]
    header, rule = "| phase | one by one |", "|---|---:|"
    if concurrent:
        header += f" {concurrent['n']} at once |"
        rule += "---:|"
    if report["warmup"]:
        header += " first Pod on the node |"
        rule += "---:|"
    print(header)
    print(rule)
    warm = report["warmup"][0]["phases_ms"] if report["warmup"] else None
    for key, label in phases:
        row = f"| {label} | {_cell(sequential['phases_ms'].get(key))} |"
        if concurrent:
            row += f" {_cell(concurrent['summary']['phases_ms'].get(key))} |"
        if warm is not None:
            value = warm.get(key)
            row += f" {'—' if value is None else f'{value:,.0f}'} |"
        print(row)


def _print_markdown(report: Json) -> None:
    machine, params = report["machine"], report["parameters"]
    sequential = report["sequential"]["summary"]
    concurrent = report["concurrent"]
    print(
        f"\n{params['sequential']} versions one by one (after {params['warmup']} warm-up), "
        f"{params['concurrent']} at once; checks format + loadAndPredict ({CALLS} calls); "
        f"{machine['nproc']} CPUs ({machine['cpu_model']}), node allocatable "
        f"cpu {machine['node_allocatable'].get('cpu', '?')}, Python {machine['python']}, "
        f"kubelet {machine['kubelet']}, {machine['container_runtime']}, operator at "
        f"{machine['git']}\n"
    )
    print(
        "Median (min-max) [Pods seen], ms. Container starts and exits are containerd's "
        "task events; the rest is when this benchmark's watches saw it.\n"
    )
    _phase_table(report, PHASES)
    print("\nThe same steps as the Pod watch saw them (the kubelet's PLEG relists every second):\n")
    _phase_table(report, WATCH_PHASES)
    print("\nThe validator's own figures (loadAndPredict, 20 calls), ms:\n")
    print("| | one by one | at once | on the host, outside a Pod |")
    print("|---|---:|---:|---:|")
    host = report["host_checks"].get("loadAndPredict", {})
    for key in ("p50_ms", "p95_ms"):
        at_once = concurrent["summary"][f"validator_{key}"] if concurrent else None
        print(
            f"| {key[:3]} | {_cell(sequential[f'validator_{key}'], 3)} | {_cell(at_once, 3)} "
            f"| {_cell(host.get(key), 3)} |"
        )
    for key, label in (
        ("pod_cpu_seconds", "CPU s of the validation Pod (cpuacct), one by one"),
        ("operator_cpu_seconds", "operator CPU s per version, one by one"),
    ):
        print(f"| {label} | {_cell(sequential[key], 2)} | | |")
    for check, found in report["host_checks"].items():
        print(
            f"| `modelregistry validate {check}` on the host, whole command | | "
            f"| {_cell(found['wall_ms'])} |"
        )
    if concurrent:
        cpu = concurrent["cpu_seconds"]
        window = concurrent["cpu_window_seconds"]
        print(f"\n{concurrent['n']} validations at once:\n")
        print("| figure | value |")
        print("|---|---:|")
        rows = [
            ("Validated", f"{concurrent['validated']} / {concurrent['n']}"),
            ("wall, first create sent → last Validated, s", f"{concurrent['wall_seconds']:.1f}"),
            ("validations per minute", f"{concurrent['validations_per_minute'] or 0:.1f}"),
            (
                "create → Validated p50 / p95 / max, s",
                f"{concurrent['create_to_validated_p50_s'] or 0:.1f} / "
                f"{concurrent['create_to_validated_p95_s'] or 0:.1f} / "
                f"{concurrent['create_to_validated_max_s'] or 0:.1f}",
            ),
            ("most Pods scheduled at once", str(concurrent["max_pods_scheduled_at_once"])),
            (
                "Pods the scheduler found no room for at first / versions reported Unschedulable",
                f"{concurrent['unschedulable_seen']} / {concurrent['unschedulable_reported']}",
            ),
            (
                "operator CPU s (% of one core over the window)",
                f"{cpu['operator']:.2f} ({concurrent['operator_cpu_percent_of_one_core']:.1f}%)",
            ),
            ("operator CPU ms per validation", f"{cpu['operator'] / concurrent['n'] * 1000:.0f}"),
            (
                "operator RSS MB before → peak sampled → after (VmHWM)",
                f"{concurrent['operator_rss_mb_before']:.0f} → "
                f"{concurrent['operator_rss_mb_peak_sampled']:.0f} → "
                f"{concurrent['operator_rss_mb_after']:.0f} ({concurrent['operator_hwm_mb']:.0f})",
            ),
        ]
        for name in ("kube-apiserver", "etcd", "kube-scheduler", "kubelet", "containerd"):
            if cpu.get(name) is not None:
                rows.append((f"{name} CPU s", f"{cpu[name]:.2f}"))
        if cpu.get("pods") is not None:
            rows.append(("validation Pods' CPU s (cpuacct), all", f"{cpu['pods']:.1f}"))
        rows.append(
            (
                "machine busy CPU s (all CPUs) / window s",
                f"{cpu['machine']:.1f} / {window:.1f} ({cpu['machine'] / window:.2f} cores)",
            )
        )
        for name, value in rows:
            print(f"| {name} | {value} |")
        if concurrent["failed"]:
            print(f"\nFailed: {concurrent['failed']}")
    if report["watch_error"]:
        print(f"\nWatch error: {report['watch_error']}")


if __name__ == "__main__":
    sys.exit(main())
