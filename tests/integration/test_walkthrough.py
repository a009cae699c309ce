"""The README's walkthrough, run as written against `make run`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import Cluster
from tests.integration.support import (
    REPO,
    ForegroundMake,
    fresh_clone,
    live_processes,
    terminal_environment,
)

# They start a registry of their own (with its own node): run before the session's.
pytestmark = [pytest.mark.integration, pytest.mark.own_environment]


def walkthrough_script() -> str:
    readme = (REPO / "README.md").read_text()
    section = re.search(r"<!-- walkthrough -->(.*?)<!-- /walkthrough -->", readme, re.S)
    assert section, "README.md lost its walkthrough markers"
    blocks = re.findall(r"```sh\n(.*?)```", section.group(1), re.S)
    assert blocks, "the walkthrough has no ```sh block"
    return "\n".join(blocks)


def cluster_choice() -> list[str]:
    """`make run` on the suite's cluster: the local default, or KUBECONFIG's when asked."""
    return (
        ["CLUSTER=kubeconfig"] if os.environ.get("MODELREGISTRY_TEST_USE_KUBECONFIG") == "1" else []
    )


def test_readme_walkthrough_runs_against_make_run(tmp_path: Path) -> None:
    # A fresh clone: `make run` and the walkthrough run there exactly as
    # written (default .dev, `source .dev/env`), and this checkout's own .dev,
    # perhaps in use by a developer's `make run`, is left alone.
    clone = fresh_clone(tmp_path / "clone")
    make_run = ForegroundMake(
        ["run", *cluster_choice()],
        cwd=clone,
        log_path=tmp_path / "make-run.log",
        # The shared venv's editable install points at this checkout: this
        # makes the clone run its own code.
        env=terminal_environment(PYTHONPATH=str(clone / "operator")),
    )
    try:
        make_run.wait_for_output("Model Registry is running", timeout=300)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", walkthrough_script()],
            cwd=clone,
            capture_output=True,
            text=True,
            timeout=300,
            env=terminal_environment(),
        )
        assert result.returncode == 0, (
            f"walkthrough failed\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            f"\n--- make run\n{make_run.log_tail()}"
        )
        assert re.search(r"churn-1\s+churn\s+1\s+None\s+True\s+True\s+True", result.stdout), (
            result.stdout
        )
        assert "DigestMismatch" in result.stdout
        assert "format: Passed" in result.stdout
        # The Validated message, then the failed check's own log, name the missing file.
        assert result.stdout.count("MLmodel names model.json") >= 2, result.stdout
        assert "spec.metrics is immutable" in result.stderr
        # Ctrl-C stops everything make run started (the servers' command
        # lines all name the clone's .dev).
        make_run.stop(signal.SIGINT)
        left = live_processes(lambda pid, pgid, cmdline: str(clone) in cmdline)
        assert left == [], f"processes left running: {left}"
    finally:
        make_run.kill()


def test_make_run_uses_the_cluster_in_kubeconfig_when_asked(
    cluster_for_make_run: Cluster, tmp_path: Path
) -> None:
    # From this checkout, so DEV_DIR keeps its .dev out of the way of a
    # developer's own `make run`; the fresh-clone tests run without it.
    dev_dir = tmp_path / "dev"
    make_run = ForegroundMake(
        ["run", f"DEV_DIR={dev_dir}", "CLUSTER=kubeconfig"],
        cwd=REPO,
        log_path=tmp_path / "make-run.log",
        env=terminal_environment(KUBECONFIG=str(cluster_for_make_run.kubeconfig)),
    )
    try:
        make_run.wait_for_output("Model Registry is running", timeout=120)
        env_file = (dev_dir / "env").read_text()
        assert f"export KUBECONFIG={cluster_for_make_run.kubeconfig}" in env_file
        # No control plane of its own: only the S3 server's work dir was made.
        assert not (dev_dir / "controlplane").exists()
        assert (dev_dir / "s3").is_dir()
        # One Ctrl-C, at once after start-up (Kopf is still starting), ends it all.
        make_run.stop(signal.SIGINT)
    finally:
        make_run.kill()
