"""The README's walkthrough, run as written against `make run`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import Cluster
from tests.integration.support import wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


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
    dev_dir = tmp_path / "dev"
    log_path = tmp_path / "make-run.log"
    with log_path.open("wb") as log:
        make_run = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"DEV_DIR={dev_dir}", *cluster_choice()],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C goes to the whole group, as in a terminal
        )

    def log_text() -> str:
        return log_path.read_text(errors="replace")

    try:
        wait_until(
            lambda: "Model Registry is running" in log_text(),
            timeout=300,
            what="make run to start",
            on_timeout=log_text,
        )
        script = walkthrough_script().replace("source .dev/env", f"source {dev_dir}/env")
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            env=dict(os.environ),
        )
        assert result.returncode == 0, (
            f"walkthrough failed\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            f"\n--- make run\n{log_text()[-4000:]}"
        )
        assert re.search(r"churn-1\s+churn\s+1\s+None\s+True\s+True", result.stdout), result.stdout
        assert "DigestMismatch" in result.stdout
        assert "spec.metrics is immutable" in result.stderr
    finally:
        os.killpg(make_run.pid, signal.SIGINT)
        try:
            make_run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(make_run.pid, signal.SIGKILL)
            raise
    # Ctrl-C stopped everything make run started.
    leftovers = subprocess.run(
        ["pgrep", "-f", str(dev_dir)], capture_output=True, text=True
    ).stdout.split()
    assert leftovers == [], f"processes left running: {leftovers}"


def test_make_run_uses_the_cluster_in_kubeconfig_when_asked(
    cluster: Cluster, tmp_path: Path
) -> None:
    dev_dir = tmp_path / "dev"
    log_path = tmp_path / "make-run.log"
    with log_path.open("wb") as log:
        make_run = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"DEV_DIR={dev_dir}", "CLUSTER=kubeconfig"],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
            start_new_session=True,
        )
    try:
        wait_until(
            lambda: "Model Registry is running" in log_path.read_text(errors="replace"),
            timeout=120,
            what="make run CLUSTER=kubeconfig to start",
            on_timeout=lambda: log_path.read_text(errors="replace"),
        )
        env_file = (dev_dir / "env").read_text()
        assert f"export KUBECONFIG={cluster.kubeconfig}" in env_file
        # No control plane of its own: only the S3 server's work dir was made.
        assert not (dev_dir / "controlplane").exists()
        assert (dev_dir / "s3").is_dir()
    finally:
        os.killpg(make_run.pid, signal.SIGINT)
        make_run.wait(timeout=60)
