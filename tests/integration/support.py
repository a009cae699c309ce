"""Helpers for integration tests: the operator process, waiting, objects."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import kubernetes

from modelregistry.localenv import find_tool

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

GROUP, VERSION = "modelregistry.io", "v1alpha1"
CHART = Path(__file__).resolve().parents[2] / "charts" / "modelregistry"
Body = dict[str, Any]


class OperatorProcess:
    """The real operator (`python -m modelregistry run`) as a child process."""

    def __init__(self, env: dict[str, str], log_path: Path, namespace: str | None = None) -> None:
        self._env = env
        self.log_path = log_path
        self._scope = ["--namespace", namespace] if namespace else []
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        """Start it and wait until it watches; a start that fails leaves no process."""
        offset = len(self.log())
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "modelregistry", "run", "--verbose", *self._scope],
            env={**os.environ, **self._env, "PYTHONPATH": _python_path()},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        # Wait for the index to be filled and the watches to run; logged once.
        try:
            wait_until(
                lambda: "ModelVersions; watching them for changes" in self.log()[offset:],
                timeout=timeout,
                what="the operator to start watching",
                on_timeout=self.log_tail,
            )
        except BaseException:
            self.stop()
            raise

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, as when a node dies or an OOM kill hits."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


def _python_path() -> str:
    """The source tree first, so an uninstalled checkout runs too."""
    source = str(Path(__file__).resolve().parents[2] / "operator")
    return os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)


def wait_until(
    predicate: Callable[[], object],
    *,
    timeout: float = 60,
    interval: float = 0.25,
    what: str = "condition",
    on_timeout: Callable[[], str] | None = None,
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            detail = f"\n{on_timeout()}" if on_timeout else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


class Objects:
    """Create and read Model/ModelVersion objects in one namespace."""

    def __init__(self, api_client: kubernetes.client.ApiClient, namespace: str) -> None:
        self.api = kubernetes.client.CustomObjectsApi(api_client)
        self.core = kubernetes.client.CoreV1Api(api_client)
        self.namespace = namespace

    def create(self, plural: str, body: Body) -> Body:
        body = {"apiVersion": f"{GROUP}/{VERSION}", **body}
        created = self.api.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, body
        )
        return cast(Body, created)

    def model(self, name: str, **spec: Any) -> Body:
        return self.create("models", {"kind": "Model", "metadata": {"name": name}, "spec": spec})

    def version(self, name: str, model: str, uri: str, **spec: Any) -> Body:
        body: Body = {
            "kind": "ModelVersion",
            "metadata": {"name": name},
            "spec": {"modelRef": {"name": model}, "artifact": {"uri": uri}, **spec},
        }
        if "artifact" in spec:
            body["spec"]["artifact"] = {"uri": uri, **spec["artifact"]}
        return self.create("modelversions", body)

    def s3_secret(self, name: str, access_key: str, secret_key: str) -> None:
        """A Secret as spec.artifact.storage.secretRef expects it."""
        self.core.create_namespaced_secret(
            self.namespace,
            cast(
                Any,
                {
                    "metadata": {"name": name},
                    "stringData": {
                        "AWS_ACCESS_KEY_ID": access_key,
                        "AWS_SECRET_ACCESS_KEY": secret_key,
                    },
                },
            ),
        )

    def get(self, plural: str, name: str) -> Body:
        body = self.api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name)
        return cast(Body, body)

    def condition(self, name: str, condition_type: str) -> Body | None:
        status = self.get("modelversions", name).get("status") or {}
        return next((c for c in status.get("conditions", []) if c["type"] == condition_type), None)

    def present_condition(self, name: str, condition_type: str) -> Body:
        """The condition as it is now; the test expects the object to have it."""
        found = self.condition(name, condition_type)
        assert found is not None, f"{name} has no {condition_type} condition"
        return found

    def wait_condition(
        self,
        name: str,
        condition_type: str,
        status: str,
        reason: str | None = None,
        timeout: float = 60,
        on_timeout: Callable[[], str] | None = None,
    ) -> Body:
        def matches() -> Body | None:
            found = self.condition(name, condition_type)
            if found and found["status"] == status and reason in (None, found["reason"]):
                return found
            return None

        result: Body = wait_until(
            matches,
            timeout=timeout,
            what=f"{name}: {condition_type}={status} {reason or ''}",
            on_timeout=lambda: (
                f"status: {self.get('modelversions', name).get('status')}\n"
                + (on_timeout() if on_timeout else "")
            ),
        )
        return result

    def wait_stage(
        self,
        name: str,
        stage: str,
        timeout: float = 60,
        on_timeout: Callable[[], str] | None = None,
    ) -> None:
        """Until the version's status.stage is `stage`."""
        wait_until(
            lambda: (self.get("modelversions", name).get("status") or {}).get("stage") == stage,
            timeout=timeout,
            what=f"{name} in {stage}",
            on_timeout=on_timeout,
        )

    def events(self, name: str) -> list[Body]:
        listing = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        )
        return [{"type": e.type, "reason": e.reason, "message": e.message} for e in listing.items]

    def patch_spec(self, name: str, patch: Body) -> None:
        self.api.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "modelversions", name, {"spec": patch}
        )


def ready_version(
    objects: Objects, s3_client: S3Client, bucket: str, name: str, model: str, **spec: Any
) -> None:
    """Version `name` of `model` with bytes of its own (s3://BUCKET/NAME.bin), verified and
    (no checks) validated: Ready."""
    s3_client.put_object(Bucket=bucket, Key=f"{name}.bin", Body=name.encode())
    objects.version(name, model, f"s3://{bucket}/{name}.bin", **spec)
    objects.wait_condition(name, "Ready", "True", timeout=60)


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(find_tool("helm")), *args], capture_output=True, text=True, check=True, timeout=120
    )


def render_chart(api_client: kubernetes.client.ApiClient, namespace: str, *flags: str) -> str:
    """The chart's manifests, rendered for this server's version, as Argo CD renders them."""
    server = kubernetes.client.VersionApi(api_client).get_code().git_version
    return helm(
        "template", "mr", str(CHART), "--namespace", namespace, "--kube-version", server, *flags
    ).stdout


# --- `make run` as a person runs it in a terminal -------------------------

REPO = Path(__file__).resolve().parents[2]
# Variables a developer's shell or an outer `make test` may have set; a fresh
# terminal has none of them, and make would take them as variables.
_MAKE_ENV_SCRUBBED = ("DEV_DIR", "CLUSTER", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")


def fresh_clone(destination: Path) -> Path:
    """A copy of the working tree's files, as `git clone` plus local edits would give.

    `.venv` is a link to this checkout's virtualenv, and every file keeps its
    mtime, so make sees the venv as up to date (never rebuilds the shared one).
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if not source.is_file():  # deleted in the working tree, not yet committed
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    # A repository, as a clone is: what git lists is what the image is built from.
    subprocess.run(["git", "init", "-q"], cwd=destination, check=True)
    (destination / ".venv").symlink_to(REPO / ".venv", target_is_directory=True)
    stamp = REPO / ".venv" / ".installed"
    pyproject = destination / "pyproject.toml"
    # The venv was built from this checkout's pyproject.toml; a newer one here
    # would make `make run` reinstall the shared venv from the clone.
    newest = min(pyproject.stat().st_mtime, stamp.stat().st_mtime)
    os.utime(pyproject, (newest, newest))
    up_to_date = subprocess.run(
        ["make", "--question", ".venv/.installed"], cwd=destination, env=terminal_environment()
    )
    assert up_to_date.returncode == 0, "make would rebuild the shared venv from the clone"
    return destination


def terminal_environment(**extra: str) -> dict[str, str]:
    """This environment without make's own variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in _MAKE_ENV_SCRUBBED}
    return {**env, **extra}


def _as_a_foreground_job() -> None:
    """SIGINT and SIGQUIT at their defaults, as a terminal's foreground job has them. A
    shell without job control starts a background command (`pytest ... &` in a script)
    with both ignored, and make and all it starts would inherit that: the test's Ctrl-C
    would then be lost on make and on whatever has not installed its own handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


class ForegroundMake:
    """`make ARGS` in a process group of its own, as a terminal runs a foreground job.

    Ctrl-C is SIGINT to the whole group: make, the operator and the servers.
    """

    def __init__(
        self, args: list[str], *, cwd: Path, log_path: Path, env: dict[str, str] | None = None
    ) -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                ["make", "--no-print-directory", *args],
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env if env is not None else terminal_environment(),
                start_new_session=True,
                preexec_fn=_as_a_foreground_job,
            )
        self.pgid = self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 180) -> None:
        def seen() -> bool:
            if text in self.log():
                return True
            assert self.process.poll() is None, f"make exited early:\n{self.log()[-4000:]}"
            return False

        wait_until(seen, timeout=timeout, interval=0.05, what=repr(text), on_timeout=self.log_tail)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log()[-chars:]

    def processes(self) -> list[str]:
        """What is still running in the group, one `pid cmdline` each."""
        return live_processes(lambda pid, pgid, cmdline: pgid == self.pgid)

    def stop(
        self, signum: int = signal.SIGINT, *, timeout: float = 30, group: bool = True
    ) -> float:
        """Send one `signum` (to the group: Ctrl-C), return how long until the group was gone.

        Fails if anything of the group is left after `timeout` seconds, and then
        kills the group, so a failing test leaves nothing behind.
        """
        began = time.monotonic()
        if group:
            os.killpg(self.pgid, signum)
        else:
            os.kill(self.pgid, signum)
        try:
            wait_until(
                lambda: self.process.poll() is not None and not self.processes(),
                timeout=timeout,
                interval=0.05,
                what=f"make and all it started to end after one {signal.Signals(signum).name}",
                on_timeout=lambda: f"left: {self.processes()}\n{self.log_tail()}",
            )
        finally:
            self.kill()
        return time.monotonic() - began

    def kill(self) -> None:
        """SIGKILL to whatever is left of the group; safe to call at any time."""
        if self.processes() or self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


def live_processes(select: Callable[[int, int, str], bool]) -> list[str]:
    """Processes (zombies excluded) for which `select(pid, pgid, cmdline)` holds."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # it ended while we looked
            continue
        # The command name, in parentheses, may contain spaces: split after it.
        state, _ppid, pgid = stat[stat.rindex(")") + 2 :].split()[:3]
        if state != "Z" and select(int(entry.name), int(pgid), cmdline):
            found.append(f"{entry.name} {cmdline.strip()}")
    return found


# --- who does what: a namespace user, as the API server sees them ------------------


def impersonating(
    api_client: kubernetes.client.ApiClient, user: str, group: str | None = None
) -> kubernetes.client.ApiClient:
    """A client whose every request the API server takes as `user`'s (and `group`'s)."""
    client = kubernetes.client.ApiClient(api_client.configuration)
    client.set_default_header("Impersonate-User", user)  # type: ignore[no-untyped-call]
    if group is not None:
        client.set_default_header("Impersonate-Group", group)  # type: ignore[no-untyped-call]
    return client


def bind_cluster_role(
    api_client: kubernetes.client.ApiClient, namespace: str, role: str, user: str
) -> None:
    """Grant `user` a ClusterRole (such as `edit`) in one namespace."""
    kubernetes.client.RbacAuthorizationV1Api(api_client).create_namespaced_role_binding(
        namespace,
        cast(
            Any,
            {
                "metadata": {"name": f"{user}-{role}"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": role,
                },
                "subjects": [
                    {"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}
                ],
            },
        ),
    )
