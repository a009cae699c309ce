"""`make run`: a complete local registry in the foreground.

Builds the project's image for validation Pods first when the sources
changed (before anything starts, so nothing applied waits on it), then starts
(unless told to use KUBECONFIG) a local control plane, a local node (kubelet
+ containerd, unless `--no-node`) with that image loaded, and a local S3
server; installs the CRDs, creates a versioned bucket `models`, writes the
settings for another shell, and runs the operator until Ctrl-C; then stops
everything it started. Each step is announced as it begins, and the settings
are printed only once the operator watches: whatever is applied from then on
is acted on.

SIGINT and SIGTERM are handled alike at every moment (`StopSignals`): during
start-up the first one unwinds the ExitStack, which stops the servers already
started; once the operator runs, it stops the operator, then the servers. The
servers also die with this process (PR_SET_PDEATHSIG), should it be killed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import boto3
import kubernetes

from modelregistry.install import install_crds
from modelregistry.runner import StopSignals

BUCKET = "models"
VALIDATION_SECRET = "modelregistry-s3"  # noqa: S105 - the name of a Secret, not a password
RUNNING = "Model Registry is running"


class Steps:
    """`modelregistry dev: <step> … <seconds since start>`, one line per step, as it begins."""

    def __init__(self) -> None:
        self._started = time.monotonic()

    def elapsed(self) -> str:
        return f"{time.monotonic() - self._started:.0f}s"

    def say(self, what: str) -> None:
        print(f"modelregistry dev: {what} … {self.elapsed()}", flush=True)


def run_dev_environment(
    *, use_kubeconfig: bool, workdir: Path | None, signals: StopSignals, with_node: bool = True
) -> int:
    """Start what `make run` needs, run the operator until a stop signal, stop it all.

    `signals` must be entered already: a signal at any point of this stops it.
    """
    from modelregistry.localenv import ControlPlane, LocalEnvError, Node, S3Server, find_tool
    from modelregistry.localenv.image import ensure_image, find_cached_image
    from modelregistry.localenv.nodeconfig import WORKDIR_MAX

    steps = Steps()
    with_node = with_node and not use_kubeconfig
    image = find_cached_image() if with_node else None
    if with_node and image is None:
        # Now, not once Pods wait for it: a first build takes about 5 minutes.
        steps.say("building the project's image for validation Pods (once per source change)")
        image = ensure_image()
    # Absolute: it is in the env file, for a shell in any directory, and
    # every server's paths are built from it.
    root = (workdir or Path(tempfile.mkdtemp(prefix="modelregistry-dev-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    # Services are stopped in reverse order of entering, each by its __exit__.
    with contextlib.ExitStack() as stack:
        if use_kubeconfig:
            kubeconfig = absolute_kubeconfig(
                os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config"))
            )
            operator_kubeconfig = kubeconfig
        else:
            steps.say(
                "starting the control plane "
                "(etcd, kube-apiserver, kube-controller-manager, kube-scheduler)"
            )
            plane = stack.enter_context(ControlPlane(workdir=root / "controlplane"))
            kubeconfig = str(plane.kubeconfig)
            # The operator has an identity of its own, apart from the people's (admin).
            operator_kubeconfig = str(plane.operator_kubeconfig)
        node: Node | None = None
        if with_node:
            steps.say("starting the node (containerd, kubelet)")
            if another_node_runs():
                steps.say(
                    "another local node runs on this machine and only one can: waiting for it "
                    "to stop (up to 2 minutes)"
                )
            try:
                # The kubelet's sockets need a short path: a deep checkout gets a
                # temporary work dir for the node (its state does not outlive a run).
                node_dir = root / "node"
                node = stack.enter_context(
                    Node(plane, workdir=node_dir if len(str(node_dir)) <= WORKDIR_MAX else None)
                )
            except LocalEnvError as error:
                raise LocalEnvError(
                    f"{error}\n(`make run NODE=0` starts without a node: validation Pods "
                    "then stay Pending)"
                ) from None
        steps.say("starting the S3 server (versitygw)")
        s3 = stack.enter_context(S3Server(workdir=root / "s3"))

        steps.say(f"installing the CRDs and creating the versioned bucket s3://{BUCKET}/")
        kubernetes.config.load_kube_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        install_crds(kubernetes.client.ApiClient(), operator_user=user_of(operator_kubeconfig))
        create_bucket(s3.endpoint_url, s3.access_key, s3.secret_key, BUCKET)
        # The fetch step of validation Pods reads the bucket with these keys
        # (versions in `default` that name no Secret of their own).
        write_secret(VALIDATION_SECRET, "default", s3.access_key, s3.secret_key)
        os.environ["MODELREGISTRY_VALIDATION_SECRET"] = VALIDATION_SECRET

        settings = {
            "KUBECONFIG": kubeconfig,
            "AWS_ENDPOINT_URL": s3.endpoint_url,
            "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s3.secret_key,
            "AWS_DEFAULT_REGION": s3.region,
        }
        # kubectl of the server's version, and this environment's `modelregistry`.
        path = [str(find_tool("kubectl").parent), str(Path(sys.executable).parent)]

        env_file = root / "env"
        env_file.write_text(
            "".join(f"export {k}={shlex.quote(v)}\n" for k, v in settings.items())
            + f'export PATH="{os.pathsep.join(path)}:$PATH"\n'
        )
        if node is not None and image is not None:
            # Validation Pods run the project's image and reach the S3 server
            # at the node's address.
            steps.say("loading the project's image into the node")
            node.import_image(image.archive)
            forwarder = node.forward(_port(s3.endpoint_url), name="s3")
            os.environ.update(
                MODELREGISTRY_VALIDATION_IMAGE=image.reference,
                MODELREGISTRY_VALIDATION_IMAGE_PULL_POLICY="Never",
                MODELREGISTRY_VALIDATION_S3_ENDPOINT=f"http://{node.node_ip}:{forwarder.port}",
            )
        os.environ.update(settings)
        os.environ["KUBECONFIG"] = operator_kubeconfig
        os.environ.setdefault("MODELREGISTRY_S3_ENDPOINT", s3.endpoint_url)

        from modelregistry.runner import run_operator

        def announce() -> None:
            print(
                f"\n{RUNNING} (ready in {steps.elapsed()}; bucket s3://{BUCKET}/ is versioned).\n"
                f"In another shell:\n\n    source {env_file}\n    kubectl get modelversions -A\n\n"
                f"KUBECONFIG={kubeconfig}\nPress Ctrl-C to stop.\n",
                flush=True,
            )

        steps.say("starting the operator; ready once it has listed every Model and ModelVersion")
        return run_operator(signals=signals, on_watching=announce)


def user_of(kubeconfig: str) -> str:
    """The user name a kubeconfig authenticates as (a SelfSubjectReview)."""
    client = kubernetes.config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    review = kubernetes.client.AuthenticationV1Api(client).create_self_subject_review(
        cast(Any, {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    )
    user = review.to_dict().get("status", {}).get("user_info", {}).get("username")
    if not user:
        raise ValueError(f"{kubeconfig}: the API server names no user for it")
    return str(user)


def another_node_runs() -> bool:
    """Whether a local node holds the machine's node lock (ours would wait for it)."""
    from modelregistry.localenv.node import LOCK_FILE

    try:
        with LOCK_FILE.open("a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False  # no lock directory yet: no node either
    return False  # closing released it


def _port(url: str) -> int:
    port = urlsplit(url).port
    if port is None:
        raise ValueError(f"{url} names no port")
    return port


def absolute_kubeconfig(value: str) -> str:
    """KUBECONFIG (a list of paths) with each path absolute, for a shell in any directory."""
    return os.pathsep.join(str(Path(path).resolve()) for path in value.split(os.pathsep) if path)


def write_secret(name: str, namespace: str, access_key: str, secret_key: str) -> None:
    """Create or replace a Secret with S3 keys, as spec.artifact.storage.secretRef expects."""
    core = kubernetes.client.CoreV1Api()
    body = {
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key},
    }
    try:
        core.create_namespaced_secret(namespace, cast(Any, body))
    except kubernetes.client.exceptions.ApiException as error:
        if error.status != 409:
            raise
        core.replace_namespaced_secret(name, namespace, cast(Any, body))


def create_bucket(endpoint: str, access_key: str, secret_key: str, bucket: str) -> None:
    """Create `bucket` with versioning enabled (idempotent)."""
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
    )
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
