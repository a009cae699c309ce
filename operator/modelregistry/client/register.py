"""register_model: upload an artifact, hash it on the way, and create its ModelVersion.

Everything that can be refused is checked before the first byte goes up: the
destination, the git working tree, MLmodel, the MLflow run, the spec against
the API types, and whether the Model exists.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelregistry.api.meta import MODELS, MODELVERSIONS
from modelregistry.checks.common import infer_format
from modelregistry.client import gitinfo, mlflowmodel, mlflowrun, signing, transfer
from modelregistry.client.errors import RegistryError
from modelregistry.client.session import Body, Session
from modelregistry.client.signing import SigningSettings
from modelregistry.client.spec import STAGES, VersionPlan, version_body
from modelregistry.client.versions import OnChange, wait_ready
from modelregistry.errors import InvalidArtifactError
from modelregistry.storage import S3Location

log = logging.getLogger(__name__)
# Where artifacts go when no destination is given: s3://bucket/ or s3://bucket/prefix/.
ARTIFACT_ROOT_VARIABLE = "MODELREGISTRY_ARTIFACT_ROOT"


@dataclass(frozen=True)
class RegisteredVersion:
    """A version as registered: where its bytes are, their digest, and the object."""

    name: str
    namespace: str
    model: str
    uri: str
    digest: str
    size: int
    file_count: int
    body: Body  # as created, or as last read when waited for
    signature: str | None = None  # the signature bundle's URI, when signed
    signed_by: str | None = None  # the signing key's fingerprint

    @property
    def ready(self) -> bool:
        conditions = (self.body.get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def register_model(
    path: str | os.PathLike[str],
    model: str,
    *,
    to: str | None = None,
    session: Session | None = None,
    namespace: str | None = None,
    name: str | None = None,
    version: int | None = None,
    stage: str = "None",
    description: str | None = None,
    create_model: bool = False,
    artifact_format: str | None = None,
    storage: Mapping[str, Any] | None = None,
    git_dir: str | os.PathLike[str] | None = None,
    use_git: bool = True,
    allow_dirty: bool = False,
    mlflow_run: str | None = None,
    mlflow_tracking_uri: str | None = None,
    metrics: Mapping[str, float] | None = None,
    hyperparameters: Mapping[str, str] | None = None,
    wait: bool = False,
    timeout: float = 600,
    transfer_settings: transfer.TransferSettings | None = None,
    s3_client: Any = None,
    progress: transfer.Progress | None = None,
    on_change: OnChange | None = None,
    signing_settings: SigningSettings | None = None,
) -> RegisteredVersion:
    """Upload `path` (a file or a directory) and register it as a version of `model`.

    The digest is computed while the bytes go up (one read), in the format
    the operator verifies (docs/digest.md). The ModelVersion records:

    - lineage.code: the repository URL and commit of the git working tree
      around `git_dir` (default: the current directory). A tree with
      uncommitted changes to tracked files is refused unless `allow_dirty`;
      outside a git tree with no `git_dir`, or with `use_git=False`, no code
      is recorded.
    - for an MLflow model directory (an MLmodel file): format `mlflow`, the
      signature, the flavors (annotation modelregistry.io/mlflow-flavors) and
      the run id MLmodel names;
    - with `mlflow_run`: the run's metrics, params and link, read from the
      tracking server (`mlflow_tracking_uri`, else MLFLOW_TRACKING_URI);
    - `metrics` and `hyperparameters`, which win over the run's.

    `to` is the destination, s3://bucket/key for a file or s3://bucket/prefix/
    for a directory; by default `$MODELREGISTRY_ARTIFACT_ROOT/<namespace>/<model>/<id>/`.
    S3 settings are boto3's (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...).
    `storage` is spec.artifact.storage as the API spells it (endpoint, region,
    secretRef): how the operator and the validation Pods reach those bytes.

    With `signing_settings`, the files are signed as they were hashed (an
    OpenSSF model-signing bundle over their digests: no second read) with
    the private key it names, the bundle goes next to the artifact (inside a
    prefix as `model.sig`, else the key plus `.sig`), and the version's
    spec.artifact.signature names it and the ConfigMap entry that holds the
    public key, which must hold the signing key's public half.

    With `wait`, returns once the version is Ready, and raises VersionStalled
    when it stalls or WaitTimedOut after `timeout` seconds. `progress` is
    called with the bytes of each PUT or part as it completes, from the
    upload's threads; `on_change` with the version as its conditions change.

    Raises RegistryError (Refused when the API server refuses) naming what to fix.
    """
    local = Path(path)
    if not local.exists():
        raise RegistryError(f"{local}: no such file or directory")
    if stage not in STAGES:
        raise RegistryError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
    signing_key = None
    if signing_settings is not None:
        signing_key = signing.load_signing_key(signing_settings.key_path, signing_settings.password)
        signing.check_local(local)
    session = session or Session.connect(namespace)
    location = _destination(to, local, session.namespace, model)
    plan = _plan(
        local,
        model,
        location,
        name=name,
        version=version,
        stage=stage,
        description=description,
        artifact_format=artifact_format,
        storage=storage,
        code=_code(git_dir, use_git=use_git, allow_dirty=allow_dirty),
        mlflow_run=mlflow_run,
        mlflow_tracking_uri=mlflow_tracking_uri,
        metrics=metrics or {},
        hyperparameters=hyperparameters or {},
        artifact_signature=(
            signing_settings.spec(signing.bundle_location(location).uri)
            if signing_settings is not None
            else None
        ),
    )
    version_body(plan)  # refused here, before the upload, if the spec is
    if not create_model and not session.exists(MODELS, model):
        raise RegistryError(
            f"Model {model!r} does not exist in namespace {session.namespace!r}: create it "
            f"(kubectl apply), or pass --create-model (create_model=True)"
        )
    settings = transfer_settings or transfer.TransferSettings()
    client = s3_client if s3_client is not None else transfer.s3_client(settings.concurrency)
    files = transfer.plan(local, location)
    transfer.ensure_free(client, location)
    if signing_settings is not None and signing_key is not None:
        signing.check_public_key(session, signing_settings, signing_key)
        if not location.is_prefix:
            transfer.ensure_free(client, signing.bundle_location(location))
    artifact = transfer.upload(client, files, location, settings=settings, progress=progress)
    bundle_uri = None
    if signing_key is not None:
        bundle_at, artifact = signing.sign_upload(
            client, artifact, location, signing_key, model_name=local.resolve().name
        )
        bundle_uri = bundle_at.uri
    if create_model and not session.exists(MODELS, model):
        session.create(
            MODELS,
            {
                "apiVersion": "modelregistry.io/v1alpha1",
                "kind": "Model",
                "metadata": {"name": model},
                "spec": {},
            },
        )
        log.info("created Model %s", model)
    created = session.create(MODELVERSIONS, version_body(plan, artifact.digest))
    registered = RegisteredVersion(
        name=created["metadata"]["name"],
        namespace=session.namespace,
        model=model,
        uri=location.uri,
        digest=artifact.digest,
        size=artifact.size,
        file_count=len(artifact.files),
        body=created,
        signature=bundle_uri,
        signed_by=signing_key.fingerprint if signing_key is not None else None,
    )
    if not wait:
        return registered
    body = wait_ready(session, registered.name, timeout=timeout, on_change=on_change)
    return dataclasses.replace(registered, body=body)


def _destination(to: str | None, local: Path, namespace: str, model: str) -> S3Location:
    if to is None:
        root = os.environ.get(ARTIFACT_ROOT_VARIABLE)
        if not root:
            raise RegistryError(
                f"no destination for the artifact: pass --to s3://BUCKET/PREFIX/ (to= in "
                f"Python), or set {ARTIFACT_ROOT_VARIABLE}=s3://BUCKET/"
            )
        # A new prefix per registration: an artifact is never written over another.
        unique = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)
        to = f"{root.rstrip('/')}/{namespace}/{model}/{unique}/"
        if local.is_file():
            to += local.name
    elif local.is_file() and to.endswith("/"):
        to += local.name
    try:
        return S3Location.parse(to)
    except InvalidArtifactError as error:
        raise RegistryError(f"destination {to}: {error}") from None


def _code(
    git_dir: str | os.PathLike[str] | None, *, use_git: bool, allow_dirty: bool
) -> dict[str, str] | None:
    if not use_git:
        return None
    try:
        info = gitinfo.read_git(Path(git_dir) if git_dir is not None else Path.cwd())
    except gitinfo.GitError as error:
        if git_dir is not None:
            raise
        log.warning("no code lineage recorded: %s", error)
        return None
    if allow_dirty and info.dirty:
        log.warning(
            "recording commit %s although the working tree has uncommitted changes",
            info.commit[:12],
        )
    elif not allow_dirty:
        gitinfo.require_clean(info)
    return info.code_reference()


def _plan(
    local: Path,
    model: str,
    location: S3Location,
    *,
    name: str | None,
    version: int | None,
    stage: str,
    description: str | None,
    artifact_format: str | None,
    storage: Mapping[str, Any] | None,
    code: Mapping[str, str] | None,
    mlflow_run: str | None,
    mlflow_tracking_uri: str | None,
    metrics: Mapping[str, float],
    hyperparameters: Mapping[str, str],
    artifact_signature: Mapping[str, Any] | None = None,
) -> VersionPlan:
    signature = None
    annotations: dict[str, str] = {}
    training_run: dict[str, str] | None = None
    if mlflowmodel.is_mlflow_model(local):
        found = mlflowmodel.read_mlflow_model(local)
        artifact_format = artifact_format or "mlflow"
        signature = found.signature
        annotations[mlflowmodel.FLAVORS_ANNOTATION] = ",".join(found.flavors)
        if found.run_id:
            training_run = {"id": found.run_id, "system": "mlflow"}
    run_metrics: dict[str, float] = {}
    run_params: dict[str, str] = {}
    if mlflow_run is not None:
        run = mlflowrun.fetch_run(mlflowrun.tracking_uri(mlflow_tracking_uri), mlflow_run)
        for skipped in run.skipped:
            log.warning("not recorded from MLflow run %s: %s", run.run_id, skipped)
        if training_run is not None and training_run["id"] != run.run_id:
            log.warning(
                "MLmodel names run %s, but run %s is recorded (--mlflow-run)",
                training_run["id"],
                run.run_id,
            )
        training_run = run.training_run()
        run_metrics, run_params = run.metrics, run.params
    return VersionPlan(
        model=model,
        uri=location.uri,
        name=name,
        version=version,
        stage=stage,
        description=description,
        artifact_format=artifact_format or infer_format(local),
        storage=storage,
        code=code,
        training_run=training_run,
        metrics={**run_metrics, **metrics},
        hyperparameters={**run_params, **hyperparameters},
        signature=signature,
        annotations=annotations,
        artifact_signature=artifact_signature,
    )
