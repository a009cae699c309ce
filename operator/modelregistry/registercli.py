"""`modelregistry register`: the command line of `client.register_model`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from modelregistry import client, views
from modelregistry.client import transfer
from modelregistry.client.signing import PASSWORD_VARIABLE, SigningSettings
from modelregistry.client.spec import STAGES

MIB = 1024 * 1024


def add_register_parser(commands: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    register = commands.add_parser(
        "register",
        help="upload a model file or directory, hashing it on the way, and create its "
        "ModelVersion (lineage from git, signature and run from MLflow)",
        description="Upload PATH in parallel parts while computing its digest (one read), then "
        "create a ModelVersion of --model with that digest, the git commit it was trained from, "
        "and for an MLflow model its format, flavors, signature, and the run's metrics and "
        "params. Exit status: 0 registered (Ready with --wait), 1 failed or stalled, "
        "2 usage error, 3 --wait timed out.",
    )
    register.add_argument("path", type=Path, help="a model file, or a directory (a prefix)")
    register.add_argument("--model", required=True, help="the Model this is a version of")
    register.add_argument(
        "--to",
        metavar="S3_URI",
        help="where the bytes go: s3://bucket/prefix/ for a directory, s3://bucket/key (or a "
        "prefix) for a file; default $MODELREGISTRY_ARTIFACT_ROOT/<namespace>/<model>/<id>/",
    )
    register.add_argument("--name", help="the ModelVersion's name (default: <model>-<random>)")
    register.add_argument(
        "--version", type=_positive, help="the version number (default: the next free one)"
    )
    register.add_argument("--stage", choices=STAGES, default="None", help="ask for a stage")
    register.add_argument("--description", help="free text for people")
    register.add_argument(
        "--create-model", action="store_true", help="create the Model if it does not exist"
    )
    register.add_argument(
        "--format",
        dest="artifact_format",
        help="spec.artifact.format (default: mlflow for an MLmodel directory, else by suffix)",
    )
    register.add_argument(
        "--storage-secret",
        metavar="SECRET",
        help="spec.artifact.storage.secretRef: a Secret in the namespace with the S3 keys the "
        "operator and the validation Pods use",
    )
    register.add_argument(
        "--storage-endpoint",
        metavar="URL",
        help="spec.artifact.storage.endpoint: the S3 endpoint as the operator reaches it",
    )
    git = register.add_mutually_exclusive_group()
    git.add_argument(
        "--git",
        type=Path,
        metavar="DIR",
        help="the working tree of the training code (default: the current directory)",
    )
    git.add_argument("--no-git", action="store_true", help="record no code lineage")
    register.add_argument(
        "--allow-dirty",
        action="store_true",
        help="record the commit although tracked files have uncommitted changes",
    )
    register.add_argument(
        "--mlflow-run", metavar="RUN_ID", help="record this run's metrics, params and link"
    )
    register.add_argument(
        "--mlflow-tracking-uri",
        metavar="URL",
        help="the MLflow tracking server (default: $MLFLOW_TRACKING_URI)",
    )
    register.add_argument(
        "--metric",
        action="append",
        type=_metric,
        default=[],
        metavar="NAME=NUMBER",
        help="a metric (repeatable; wins over the run's)",
    )
    register.add_argument(
        "--param",
        action="append",
        type=_param,
        default=[],
        metavar="NAME=VALUE",
        help="a hyperparameter (repeatable; wins over the run's)",
    )
    register.add_argument(
        "--sign-key",
        type=Path,
        metavar="KEY.pem",
        help="sign the files as they are hashed with this PEM private key (ECDSA P-256/384/521, "
        "as model_signing's `sign key` takes; a password in $" + PASSWORD_VARIABLE + "): an "
        "OpenSSF model-signing bundle goes next to the artifact and spec.artifact.signature "
        "names it",
    )
    register.add_argument(
        "--public-key",
        type=_public_key,
        metavar="CONFIGMAP/KEY",
        help="with --sign-key: the ConfigMap entry in the namespace that holds the public key "
        "the operator verifies with",
    )
    register.add_argument("--wait", action="store_true", help="wait until the version is Ready")
    register.add_argument(
        "--timeout", type=_positive_float, default=600.0, help="seconds --wait waits (600)"
    )
    register.add_argument(
        "--part-size",
        type=_part_size,
        default=transfer.DEFAULT_PART_SIZE,
        metavar="MIB",
        help=f"multipart part size in MiB, also the largest single PUT "
        f"({transfer.DEFAULT_PART_SIZE // MIB})",
    )
    register.add_argument(
        "--concurrency",
        type=_positive,
        default=transfer.DEFAULT_CONCURRENCY,
        help=f"parallel requests ({transfer.DEFAULT_CONCURRENCY})",
    )
    register.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text")
    common(register)


def run_register(session: client.Session, args: argparse.Namespace) -> int:
    _show_notes()
    signing_settings = _signing(args)
    size = _size(args.path)
    began = time.monotonic()
    with views.UploadProgress(size, args.path.name or str(args.path)) as progress:
        registered = client.register_model(
            args.path,
            args.model,
            to=args.to,
            session=session,
            name=args.name,
            version=args.version,
            stage=args.stage,
            description=args.description,
            create_model=args.create_model,
            artifact_format=args.artifact_format,
            storage=_storage(args),
            git_dir=args.git,
            use_git=not args.no_git,
            allow_dirty=args.allow_dirty,
            mlflow_run=args.mlflow_run,
            mlflow_tracking_uri=args.mlflow_tracking_uri,
            metrics=dict(args.metric),
            hyperparameters=dict(args.param),
            wait=False,
            transfer_settings=transfer.TransferSettings(args.part_size, args.concurrency),
            progress=progress,
            signing_settings=signing_settings,
        )
    print(_registered_line(registered, time.monotonic() - began), file=sys.stderr)
    if args.wait:
        with views.ConditionsView() as conditions:
            body = client.wait_ready(
                session, registered.name, timeout=args.timeout, on_change=conditions.update
            )
        registered = dataclasses.replace(registered, body=body)
    value = {
        "name": registered.name,
        "namespace": registered.namespace,
        "model": registered.model,
        "uri": registered.uri,
        "digest": registered.digest,
        "size": registered.size,
        "files": registered.file_count,
        "ready": registered.ready,
    }
    if registered.signature is not None:
        value["signature"] = registered.signature
        value["signedBy"] = registered.signed_by
    if args.output == "json":
        print(json.dumps(value, indent=2, sort_keys=True))
    elif args.output == "yaml":
        print(yaml.safe_dump(value, sort_keys=True), end="")
    else:
        print(views.ready_line(registered.body) if args.wait else registered.name)
    return 0


def _signing(args: argparse.Namespace) -> SigningSettings | None:
    if args.sign_key is None:
        if args.public_key is not None:
            raise client.RegistryError("--public-key names the key of a signature: add --sign-key")
        return None
    if args.public_key is None:
        raise client.RegistryError(
            "--sign-key needs --public-key CONFIGMAP/KEY: the ConfigMap entry with the public key "
            "the operator verifies the signature with"
        )
    name, key = args.public_key
    return SigningSettings(args.sign_key, name, key, os.environ.get(PASSWORD_VARIABLE))


def _public_key(text: str) -> tuple[str, str]:
    try:
        return SigningSettings.parse_public_key(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _storage(args: argparse.Namespace) -> dict[str, Any] | None:
    storage: dict[str, Any] = {}
    if args.storage_endpoint:
        storage["endpoint"] = args.storage_endpoint
    if args.storage_secret:
        storage["secretRef"] = {"name": args.storage_secret}
    return storage or None


def _registered_line(registered: client.RegisteredVersion, seconds: float) -> str:
    rate = registered.size / MIB / seconds if seconds > 0 else 0.0
    files = "1 file" if registered.file_count == 1 else f"{registered.file_count} files"
    signed = (
        f"; signed by {registered.signed_by}: {registered.signature}"
        if registered.signature
        else ""
    )
    return (
        f"registered {registered.name} (Model {registered.model}): {registered.uri} "
        f"{registered.digest} ({files}, {registered.size / MIB:.1f} MiB in {seconds:.1f}s, "
        f"{rate:.0f} MiB/s){signed}"
    )


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


class _Notes(logging.Handler):
    """The client's warnings (what was not recorded, and why), for a person."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"modelregistry register: note: {record.getMessage()}", file=sys.stderr)


def _show_notes() -> None:
    logger = logging.getLogger("modelregistry.client")
    if not any(isinstance(h, _Notes) for h in logger.handlers):
        logger.addHandler(_Notes(logging.INFO))
        logger.setLevel(logging.INFO)


def _pair(text: str, flag: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: write {flag} NAME=VALUE")
    return name, value


def _metric(text: str) -> tuple[str, float]:
    name, value = _pair(text, "--metric")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{text!r}: the value of metric {name} must be a number")
    return name, number


def _param(text: str) -> tuple[str, str]:
    return _pair(text, "--param")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def _part_size(text: str) -> int:
    mib = _positive(text)
    if mib * MIB < transfer.MIN_PART_SIZE:
        raise argparse.ArgumentTypeError(
            f"{text} MiB is below S3's {transfer.MIN_PART_SIZE // MIB} MiB part size floor"
        )
    return mib * MIB
