"""`make run` as the README shows it, from a fresh clone, and Ctrl-C at any moment of it.

Every run here is `make run` as the README writes it, in a copy of the working
tree, in a process group of its own; Ctrl-C is one SIGINT to that group, as a
terminal sends it. Each test then requires make, the operator and every
server to be gone within seconds, and kills the group if not, so that a
failing test leaves nothing behind. On a machine that lacks something, `make
run` says what and how to fix it within seconds, before it builds anything.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import Cluster
from tests.integration.support import (
    ForegroundMake,
    fresh_clone,
    live_processes,
    terminal_environment,
    wait_until,
)

# They start a registry of their own (with its own node): run before the session's.
pytestmark = [pytest.mark.integration, pytest.mark.own_environment]

RUNNING = "Model Registry is running"
# What `modelregistry dev` says as each step begins.
STEP = "modelregistry dev: "
# One Ctrl-C stops the operator (its grace is 2 s) and then each server
# (SIGTERM; they end in well under a second): "a few seconds" on a quiet
# machine; on a loaded one the node (kubelet, containerd) and the control
# plane take longer to go, so the bound is generous: what is checked is that
# one signal ends everything, not how fast.
STOP_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_clone(tmp_path_factory.mktemp("clone"))


@pytest.fixture
def make_run(clone: Path, tmp_path: Path) -> Iterator[Callable[..., ForegroundMake]]:
    """Starts `make run` as the README says, in the clone; kills what is left at the end."""
    started: list[ForegroundMake] = []

    def start(*variables: str) -> ForegroundMake:
        # Each run starts from a clone that never ran, as the README's reader has.
        shutil.rmtree(clone / ".dev", ignore_errors=True)
        run = ForegroundMake(
            ["run", *variables],
            cwd=clone,
            log_path=tmp_path / f"make-run-{len(started)}.log",
            # The shared venv's editable install points at the working tree:
            # this makes the clone run its own code.
            env=terminal_environment(PYTHONPATH=str(clone / "operator")),
        )
        started.append(run)
        return run

    yield start
    for run in started:
        run.kill()


def assert_nothing_left(clone: Path) -> None:
    left = live_processes(lambda pid, pgid, cmdline: str(clone) in cmdline)
    assert left == [], f"processes left running: {left}"


def test_make_run_as_the_readme_says_from_a_fresh_clone(
    clone: Path, make_run: Callable[..., ForegroundMake]
) -> None:
    run = make_run()
    run.wait_for_output(RUNNING)
    # Each step was announced, and the settings came once the operator watched.
    log = run.log()
    steps = [
        "starting the control plane",
        "starting the node",
        "starting the S3 server",
        "installing the CRDs",
        "loading the project's image into the node",
        "starting the operator",
    ]
    positions = [log.index(STEP + step) for step in steps]
    assert positions == sorted(positions), log
    assert log.index("ModelVersions; watching them for changes") < log.index(RUNNING), log
    applied = subprocess.run(
        [
            "bash",
            "-euo",
            "pipefail",
            "-c",
            "source .dev/env\nkubectl apply -f examples/model.yaml\n"
            # The operator is watching: it writes the Model's status for its generation.
            "kubectl wait --for=jsonpath='{.status.observedGeneration}'=1 model/churn"
            " --timeout=60s",
        ],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=120,
        env=terminal_environment(),
    )
    assert applied.returncode == 0, f"{applied.stdout}\n{applied.stderr}\n{run.log_tail()}"
    assert "model.modelregistry.io/churn created" in applied.stdout
    assert "model.modelregistry.io/churn condition met" in applied.stdout
    # Every path the servers were given is absolute, in the clone's .dev.
    assert (clone / ".dev" / "s3" / "data" / "models").is_dir()
    elapsed = run.stop(signal.SIGINT, timeout=STOP_TIMEOUT)
    print(f"stopped in {elapsed:.1f}s")
    assert_nothing_left(clone)
    assert "Traceback" not in run.log(), run.log_tail()


def dev_file(clone: Path, name: str) -> Callable[[ForegroundMake], bool]:
    return lambda run: (clone / ".dev" / name).exists()


def output(text: str) -> Callable[[ForegroundMake], bool]:
    return lambda run: text in run.log()


def make_itself_runs(run: ForegroundMake) -> bool:
    """The child has become make: a signal sent between fork and exec is lost (the parent's
    handler, still installed in the child, only notes it)."""
    try:
        argv0 = Path(f"/proc/{run.process.pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    return argv0.endswith(b"make")


# Moments of start-up, in order; each is a state `make run` passes through.
MOMENTS: dict[str, Callable[[Path], Callable[[ForegroundMake], bool]]] = {
    "right after launch": lambda clone: make_itself_runs,
    "while etcd starts": lambda clone: dev_file(clone, "controlplane/etcd.log"),
    "while kube-apiserver starts": lambda clone: dev_file(clone, "controlplane/kube-apiserver.log"),
    "while containerd starts": lambda clone: dev_file(clone, "node/containerd.log"),
    "while the kubelet starts": lambda clone: dev_file(clone, "node/kubelet.log"),
    "while the S3 server starts": lambda clone: dev_file(clone, "s3/versitygw.log"),
    "while the image loads into the node": lambda clone: output(
        STEP + "loading the project's image into the node"
    ),
    "as Kopf starts": lambda clone: output(STEP + "starting the operator"),
    "as Kopf starts watching": lambda clone: output("Initial authentication has finished"),
    # Once watching (RUNNING): the fresh-clone test stops it there.
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_one_ctrl_c_stops_make_run_at_any_moment_of_its_start(
    moment: str, clone: Path, make_run: Callable[..., ForegroundMake]
) -> None:
    run = make_run()
    reached = MOMENTS[moment](clone)
    wait_until(
        lambda: reached(run) or run.process.poll() is not None,
        timeout=180,
        interval=0.02,
        what=moment,
        on_timeout=run.log_tail,
    )
    assert run.process.poll() is None, f"make run ended before {moment}:\n{run.log_tail()}"
    elapsed = run.stop(signal.SIGINT, timeout=STOP_TIMEOUT)
    print(f"{moment}: stopped in {elapsed:.1f}s")
    assert_nothing_left(clone)


def image_builds() -> list[str]:
    return live_processes(lambda pid, pgid, cmdline: "buildah" in cmdline and " bud " in cmdline)


def test_one_ctrl_c_stops_make_run_while_it_builds_the_image(
    clone: Path, make_run: Callable[..., ForegroundMake]
) -> None:
    """The build runs in a process group of its own; Ctrl-C reaches it all the same."""
    if image_builds():
        pytest.skip("another image build runs on this machine: its processes would be counted")
    # A source edit nobody built yet: `make run` builds the image first.
    source = clone / "operator" / "modelregistry" / "__init__.py"
    original = source.read_text()
    source.write_text(f"{original}# {uuid.uuid4()}\n")
    try:
        run = make_run()
        run.wait_for_output("build-image: building the Dockerfile")
        assert STEP + "starting the control plane" not in run.log()
        elapsed = run.stop(signal.SIGINT, timeout=STOP_TIMEOUT)
        print(f"stopped in {elapsed:.1f}s")
        assert_nothing_left(clone)
        assert image_builds() == []
    finally:
        source.write_text(original)


def test_sigterm_to_make_alone_stops_everything(
    clone: Path, make_run: Callable[..., ForegroundMake]
) -> None:
    """A supervisor stops make with SIGTERM; make passes it on to the operator only."""
    run = make_run()
    run.wait_for_output(RUNNING)
    elapsed = run.stop(signal.SIGTERM, timeout=STOP_TIMEOUT, group=False)
    print(f"stopped in {elapsed:.1f}s")
    assert_nothing_left(clone)


def test_make_run_node_0_starts_without_a_node(
    clone: Path, make_run: Callable[..., ForegroundMake]
) -> None:
    run = make_run("NODE=0")
    run.wait_for_output(RUNNING)
    assert STEP + "starting the node" not in run.log()
    assert not (clone / ".dev" / "node").exists()
    run.stop(signal.SIGINT, timeout=STOP_TIMEOUT)
    assert_nothing_left(clone)


def test_make_run_cluster_kubeconfig_uses_that_cluster(
    clone: Path, cluster_for_make_run: Cluster
) -> None:
    """As the README writes it, in the fresh clone, on the suite's cluster."""
    shutil.rmtree(clone / ".dev", ignore_errors=True)
    run = ForegroundMake(
        ["run", "CLUSTER=kubeconfig"],
        cwd=clone,
        log_path=clone.parent / "make-run-kubeconfig.log",
        env=terminal_environment(
            PYTHONPATH=str(clone / "operator"), KUBECONFIG=str(cluster_for_make_run.kubeconfig)
        ),
    )
    try:
        run.wait_for_output(RUNNING)
        assert (
            f"export KUBECONFIG={cluster_for_make_run.kubeconfig}"
            in (clone / ".dev" / "env").read_text()
        )
        # Neither a control plane nor a node of its own, nor the image.
        assert STEP + "starting the control plane" not in run.log()
        assert STEP + "starting the node" not in run.log()
        assert not (clone / ".dev" / "controlplane").exists()
        run.stop(signal.SIGINT, timeout=STOP_TIMEOUT)
    finally:
        run.kill()
    assert_nothing_left(clone)


# --- a machine that lacks something: told at once, before anything is built ------------

# Within seconds: the check reads files and runs `go version`, and builds nothing.
FAIL_FAST_SECONDS = 10.0


@pytest.fixture
def bare_clone() -> Iterator[Path]:
    """A fresh clone without a virtualenv, in a directory another user may read."""
    parent = Path(tempfile.mkdtemp(prefix="modelregistry-bare-", dir="/tmp"))
    try:
        parent.chmod(0o755)
        clone = fresh_clone(parent / "clone")
        (clone / ".venv").unlink()  # so a venv made by `make run` would show
        yield clone
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def caches(root: Path) -> dict[str, str]:
    """Empty, not yet existing caches: whatever `make run` builds would land there."""
    return {
        "MODELREGISTRY_CACHE": str(root / "modelregistry-cache"),
        "GOCACHE": str(root / "go-build"),
        "GOMODCACHE": str(root / "go-mod"),
        "PIP_CACHE_DIR": str(root / "pip"),
    }


def run_make(
    argv: list[str], clone: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.monotonic()
    result = subprocess.run(
        argv, cwd=clone, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    return result, time.monotonic() - began


def assert_nothing_built(clone: Path, env: dict[str, str]) -> None:
    assert not (clone / ".venv").exists(), "make run created a virtualenv"
    assert not (clone / ".dev").exists(), "make run started something"
    made = [name for name in caches(clone.parent) if Path(env[name]).exists()]
    assert made == [], f"make run wrote to {made}"


def test_make_run_with_too_old_a_go_stops_at_once(bare_clone: Path) -> None:
    fake = bare_clone.parent / "old-go"
    fake.mkdir()
    (fake / "go").write_text("#!/bin/sh\necho 'go version go1.20 linux/amd64'\n")
    (fake / "go").chmod(0o755)
    env = terminal_environment(
        PATH=f"{fake}{os.pathsep}{os.environ['PATH']}", **caches(bare_clone.parent)
    )
    result, elapsed = run_make(["make", "--no-print-directory", "run"], bare_clone, env)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert (
        "make run: this machine is not ready:\n"
        "  - Go >= 1.26 is needed to build the local tools "
        "(etcd, Kubernetes, the S3 server; hack/build-tools.sh); `go version` "
        "says 'go version go1.20 linux/amd64' (GOTOOLCHAIN=local): install a newer Go from "
        "https://go.dev/dl/ and put it first on PATH\n"
    ) in result.stderr, output
    assert elapsed < FAIL_FAST_SECONDS, f"took {elapsed:.1f}s"
    assert_nothing_built(bare_clone, env)


def test_make_run_as_a_user_is_told_the_sudo_line_at_once(bare_clone: Path) -> None:
    """Not root, on a PATH without buildah: the exact `sudo apt-get install` line, and root."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("switching to the user nobody needs root and setpriv")
    python = Path("/usr/bin/python3")
    if not python.is_file():
        pytest.skip("no system /usr/bin/python3 for the user nobody")
    # The programs make run needs, but buildah (Debian puts it in /usr/bin only).
    bin_dir = bare_clone.parent / "bin"
    bin_dir.mkdir()
    for name in ("make", "go", "git", "gcc", "containerd", "ctr"):
        found = shutil.which(name)
        if found is None:
            pytest.skip(f"{name} is not on this machine")
        (bin_dir / name).symlink_to(found)
    search = os.pathsep.join([str(bin_dir), "/usr/local/sbin", "/usr/sbin", "/sbin"])
    if shutil.which("buildah", path=search) is not None:
        pytest.skip("buildah is in sbin here: the PATH cannot hide it")
    env = {"PATH": str(bin_dir), "HOME": str(bare_clone.parent), **caches(bare_clone.parent)}
    argv = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    argv += ["make", "--no-print-directory", "run", f"PYTHON={python}"]
    result, elapsed = run_make(argv, bare_clone, env)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert result.stderr.startswith(
        "make run: this machine is not ready:\n"
        "  - make run starts a local node (containerd, runc, kubelet) and builds the project's "
        "image with buildah: both need root; run it as root, or `make run NODE=0` to start "
        "without the node (validation Pods then stay Pending)\n"
        "  - these Debian packages are missing: buildah; install them (as root), then run "
        "this again:\n"
        "sudo apt-get install -y buildah\n"
    ), output
    assert elapsed < FAIL_FAST_SECONDS, f"took {elapsed:.1f}s"
    assert_nothing_built(bare_clone, env)
