"""`make run` as the README shows it, from a fresh clone, and Ctrl-C at any moment of it.

Every run here is `make run` with no arguments in a copy of the working tree,
in a process group of its own; Ctrl-C is one SIGINT to that group, as a
terminal sends it. Each test then requires make, the operator and every
server to be gone within seconds, and kills the group if not, so that a
failing test leaves nothing behind.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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
# One Ctrl-C stops the operator (its grace is 2 s) and then each server
# (SIGTERM; they end in well under a second): "a few seconds", with room for
# a busy machine.
STOP_TIMEOUT = 10.0


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_clone(tmp_path_factory.mktemp("clone"))


@pytest.fixture
def make_run(clone: Path, tmp_path: Path) -> Iterator[Callable[[], ForegroundMake]]:
    """Starts `make run` as the README says, in the clone; kills what is left at the end."""
    started: list[ForegroundMake] = []

    def start() -> ForegroundMake:
        # Each run starts from a clone that never ran, as the README's reader has.
        shutil.rmtree(clone / ".dev", ignore_errors=True)
        run = ForegroundMake(
            ["run"],
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
    clone: Path, make_run: Callable[[], ForegroundMake]
) -> None:
    run = make_run()
    run.wait_for_output(RUNNING)
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


# Moments of start-up, in order; each is a state `make run` passes through.
MOMENTS: dict[str, Callable[[Path], Callable[[ForegroundMake], bool]]] = {
    "right after launch": lambda clone: lambda run: True,
    "while etcd starts": lambda clone: dev_file(clone, "controlplane/etcd.log"),
    "while kube-apiserver starts": lambda clone: dev_file(clone, "controlplane/kube-apiserver.log"),
    "while the S3 server starts": lambda clone: dev_file(clone, "s3/versitygw.log"),
    "as Kopf starts": lambda clone: output(RUNNING),
    "as Kopf starts watching": lambda clone: output("Initial authentication has finished"),
    # Once watching: the fresh-clone test stops it there.
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_one_ctrl_c_stops_make_run_at_any_moment_of_its_start(
    moment: str, clone: Path, make_run: Callable[[], ForegroundMake]
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


def test_sigterm_to_make_alone_stops_everything(
    clone: Path, make_run: Callable[[], ForegroundMake]
) -> None:
    """A supervisor stops make with SIGTERM; make passes it on to the operator only."""
    run = make_run()
    run.wait_for_output(RUNNING)
    elapsed = run.stop(signal.SIGTERM, timeout=STOP_TIMEOUT, group=False)
    print(f"stopped in {elapsed:.1f}s")
    assert_nothing_left(clone)
