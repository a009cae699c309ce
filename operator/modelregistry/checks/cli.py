"""`modelregistry validate <check> --artifact PATH [options]`.

The exit code is the verdict: 0 passed, 1 failed, 2 usage or bad input (the
artifact was not judged). The report (docs/validation.md) is printed to
stdout as one JSON line and written to --report, by default the container's
termination-message path when it exists.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import ValidationError

from modelregistry.api.modelversion import CompareMetric
from modelregistry.checks.common import FORMATS, UsageError, infer_format
from modelregistry.checks.report import DEFAULT_REPORT_PATH, Report
from modelregistry.checks.thresholds import (
    ThresholdError,
    evaluate_all,
    metrics_report,
    parse_thresholds,
)

CHECKS = ("format", "metrics", "loadAndPredict", "compare")
DATASET_FORMATS = ("csv", "parquet")
EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_validate_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    validate = subparsers.add_parser(
        "validate",
        help="run a built-in validation check on a local artifact (exit 0 pass, 1 fail, 2 usage)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument("check", choices=CHECKS, help="the check to run")
    validate.add_argument(
        "--artifact", type=Path, help="the model file or directory (not needed by metrics)"
    )
    validate.add_argument(
        "--format",
        choices=FORMATS,
        help="the artifact's format (default: spec.artifact.format, else guessed from the files)",
    )
    validate.add_argument(
        "--spec",
        type=Path,
        help="a JSON/YAML file holding the ModelVersion (or its spec): signature, format, metrics",
    )
    validate.add_argument(
        "--require-signature",
        action="store_true",
        help="format: fail when the model has no input signature (the Model's policy)",
    )
    validate.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="EXPR",
        help="metrics: a threshold such as 'auc >= 0.9' (repeatable)",
    )
    validate.add_argument(
        "--metrics",
        metavar="JSON|@FILE",
        help="metrics: the metrics as a JSON object, or @file (default: spec.metrics)",
    )
    validate.add_argument(
        "--calls", type=int, default=20, help="loadAndPredict: timed predictions (default 20)"
    )
    validate.add_argument(
        "--max-latency-p95-ms",
        type=float,
        metavar="MS",
        help="loadAndPredict: fail when the p95 latency exceeds this",
    )
    compare = validate.add_argument_group("compare", "score this model and another one")
    compare.add_argument("--dataset", type=Path, help="the held-out data set (a file)")
    compare.add_argument(
        "--dataset-format",
        choices=DATASET_FORMATS,
        help="csv (a header row) or parquet (default: parquet for .parquet, else csv)",
    )
    compare.add_argument("--target", help="the data set's column of true values")
    compare.add_argument(
        "--feature",
        action="append",
        default=[],
        metavar="COLUMN",
        help="a column the models take, in order (repeatable; default: all but the target)",
    )
    compare.add_argument("--metric", choices=get_args(CompareMetric), help="the score")
    compare.add_argument(
        "--against", type=Path, help="the other model's file or directory (default: none)"
    )
    compare.add_argument(
        "--against-format", choices=FORMATS, help="its format (default: guessed from the files)"
    )
    compare.add_argument("--against-name", help="what the report calls it (its ModelVersion)")
    compare.add_argument("--against-version", type=int, help="its version number, for the report")
    compare.add_argument("--against-digest", help="its digest, for the report")
    compare.add_argument("--dataset-digest", help="the data set's digest, for the report")
    validate.add_argument(
        "--report",
        type=Path,
        help=f"write the JSON report here (default: {DEFAULT_REPORT_PATH}, when it exists)",
    )


def run_validate(args: argparse.Namespace) -> int:
    """Run the check; print and write its report; return the exit code."""
    try:
        report = _run(args)
        code = report.exit_code
    except UsageError as error:
        report = Report(args.check, False, message=str(error))
        code = EXIT_USAGE
    text = report.encode()
    print(text)
    target = args.report or (
        Path(DEFAULT_REPORT_PATH) if Path(DEFAULT_REPORT_PATH).exists() else None
    )
    if target is not None:
        try:
            target.write_text(text, encoding="utf-8")
        except OSError as error:
            print(
                f"modelregistry validate: cannot write the report to {target}: {error}",
                file=sys.stderr,
            )
            return EXIT_USAGE
    if code == EXIT_USAGE:
        print(f"modelregistry validate: {report.message}", file=sys.stderr)
    return code


def _run(args: argparse.Namespace) -> Report:
    spec = _read_spec(args.spec) if args.spec else {}
    if args.check == "metrics":
        return _metrics(args, spec)
    if args.artifact is None:
        raise UsageError(f"the {args.check} check needs --artifact PATH")
    artifact: Path = args.artifact
    if not artifact.exists():
        raise UsageError(f"--artifact {artifact}: no such file or directory")
    fmt = _format(args.format, spec, artifact)
    declared = _declared_signature(spec)
    if args.check == "format":
        from modelregistry.checks.formats import check_format

        return check_format(
            artifact, fmt, declared=declared, require_signature=args.require_signature
        )
    if args.check == "compare":
        return _compare(args, artifact, fmt, declared)
    from modelregistry.checks.predict import check_load_and_predict

    if args.max_latency_p95_ms is not None and not (
        math.isfinite(args.max_latency_p95_ms) and args.max_latency_p95_ms > 0
    ):
        raise UsageError(
            f"--max-latency-p95-ms must be a positive number, not {args.max_latency_p95_ms}"
        )
    return check_load_and_predict(
        artifact, fmt, declared=declared, calls=args.calls, max_p95_ms=args.max_latency_p95_ms
    )


def _compare(args: argparse.Namespace, artifact: Path, fmt: str, declared: Any) -> Report:
    from modelregistry.checks.compare import Against, Dataset, check_compare

    if args.dataset is None or not args.target or args.metric is None:
        raise UsageError("the compare check needs --dataset PATH, --target COLUMN and --metric")
    dataset_format = args.dataset_format or (
        "parquet" if args.dataset.suffix.lower() == ".parquet" else "csv"
    )
    dataset = Dataset(
        args.dataset, dataset_format, args.target, tuple(args.feature), args.dataset_digest
    )
    against = None
    if args.against is not None:
        if not args.against.exists():
            raise UsageError(f"--against {args.against}: no such file or directory")
        against_format = args.against_format or infer_format(args.against)
        if against_format is None:
            raise UsageError(f"cannot tell the format of {args.against}: pass --against-format")
        against = Against(
            args.against,
            against_format,
            args.against_name,
            args.against_version,
            args.against_digest,
        )
    return check_compare(artifact, fmt, dataset, args.metric, against=against, declared=declared)


def _read_spec(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"--spec {path}: {error.strerror or error}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise UsageError(f"--spec {path} is not JSON or YAML ({_first_line(error)})") from None
    if isinstance(document, dict) and isinstance(document.get("spec"), dict):
        document = document["spec"]  # a whole ModelVersion manifest
    if not isinstance(document, dict):
        raise UsageError(f"--spec {path} must hold a ModelVersion or its spec, as a mapping")
    return document


def _format(option: str | None, spec: dict[str, Any], artifact: Path) -> str:
    if option:
        return option
    declared = (
        spec.get("artifact", {}).get("format") if isinstance(spec.get("artifact"), dict) else None
    )
    if isinstance(declared, str):
        return declared
    guessed = infer_format(artifact)
    if guessed is None:
        raise UsageError(
            f"cannot tell the format of {artifact}: pass --format or set spec.artifact.format"
        )
    return guessed


def _declared_signature(spec: dict[str, Any]) -> Any:
    if spec.get("signature") is None:
        return None
    from modelregistry.api.modelversion import Signature
    from modelregistry.checks.signature import from_spec

    try:
        return from_spec(Signature.model_validate(spec["signature"]))
    except ValidationError as error:
        raise UsageError(f"spec.signature is not valid: {_validation_message(error)}") from None


def _metrics(args: argparse.Namespace, spec: dict[str, Any]) -> Report:
    if not args.threshold:
        raise UsageError("the metrics check needs at least one --threshold, e.g. 'auc >= 0.9'")
    try:
        thresholds = parse_thresholds(args.threshold)
    except ThresholdError as error:
        raise UsageError(str(error)) from None
    metrics = _read_metrics(args.metrics) if args.metrics else spec.get("metrics")
    if metrics is None:
        metrics = {}
    if not isinstance(metrics, dict):
        raise UsageError("the metrics must be a JSON object of name to number")
    return metrics_report(evaluate_all(thresholds, metrics))


def _read_metrics(option: str) -> Any:
    text = option
    if option.startswith("@"):
        try:
            text = Path(option[1:]).read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(f"--metrics {option}: {error.strerror or error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"--metrics is not JSON ({error})") from None


def _validation_message(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"])
    return f"{location}: {first['msg']}" if location else first["msg"]


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
