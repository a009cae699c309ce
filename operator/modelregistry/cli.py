"""Command line: `modelregistry digest|fingerprint|upload|run|crds|dev|validate|fetch`, and
a client's `approve|resolve|history|lineage|register|promote|status|list|search`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from modelregistry.digest import InvalidArtifactPathError, digest_local_path
from modelregistry.runner import Interrupted, StopSignals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="modelregistry", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    digest = commands.add_parser(
        "digest",
        help="print the digest of a local file or directory, as the operator computes it",
    )
    digest.add_argument("path", type=Path, help="a model file, or a directory (prefix artifact)")
    digest.add_argument("--json", action="store_true", help="print the digest and its files")

    fingerprint = commands.add_parser(
        "fingerprint",
        help="print the fingerprint of a PEM public key, or of each certificate's key, as a "
        "Model's spec.policy.signing.trustedKeys lists it",
    )
    fingerprint.add_argument(
        "path", type=Path, help="a PEM public key (a signer's), or PEM certificates (a root CA's)"
    )

    upload = commands.add_parser(
        "upload", help="upload a local file or directory to S3 and print its digest"
    )
    upload.add_argument("path", type=Path)
    upload.add_argument("uri", help="s3://bucket/key for a file, s3://bucket/prefix/ for a dir")

    run = commands.add_parser("run", help="run the operator against the cluster in KUBECONFIG")
    run.add_argument("--namespace", action="append", help="watch only this namespace (repeatable)")
    run.add_argument("--verbose", action="store_true")

    crds = commands.add_parser(
        "crds",
        help="write the CRD manifests rendered from the API types, and the admission policies",
    )
    crds.add_argument(
        "--output-dir",
        type=Path,
        action="append",
        default=None,
        help="a directory for the CRDs and the admission policies (kubectl apply -f DIR)",
    )
    crds.add_argument(
        "--reference",
        type=Path,
        action="append",
        default=[],
        help="a directory for the API reference pages (markdown, one per kind)",
    )
    crds.add_argument(
        "--chart",
        type=Path,
        action="append",
        default=[],
        help="a Helm chart: its crds/ and templates/admission.yaml",
    )
    crds.add_argument(
        "--check", action="store_true", help="fail if the files differ from the API types"
    )

    dev = commands.add_parser(
        "dev",
        help="start a local control plane and S3 server, install the CRDs and run the operator",
    )
    dev.add_argument(
        "--use-kubeconfig",
        action="store_true",
        help="use the cluster in KUBECONFIG instead of starting a local control plane",
    )
    dev.add_argument("--workdir", type=Path, help="keep state here (default: a temporary dir)")
    dev.add_argument(
        "--no-node",
        action="store_true",
        help="start no local node (kubelet + containerd): a faster start, but validation Pods "
        "stay Pending",
    )

    from modelregistry.checks.cli import add_validate_parser, run_validate
    from modelregistry.commands import LIFECYCLE_COMMANDS, add_parsers

    add_validate_parser(commands)
    add_parsers(commands)
    fetch = commands.add_parser(
        "fetch",
        help="download the verified bytes a modelregistry:// URI names into DEST, at their "
        "pinned versions, and check their digest (docs/serving.md); without a URI, the "
        "validation Pod's init container (--dest, --meta)",
    )
    fetch.add_argument("uri", nargs="?", help="modelregistry://NAMESPACE/MODEL@TARGET")
    fetch.add_argument("destination", nargs="?", type=Path, help="DEST: a new or empty directory")
    fetch.add_argument("--endpoint", help="the S3 endpoint as this machine reaches it")
    fetch.add_argument("--concurrency", type=int, default=8, help="parallel ranged GETs (8)")
    fetch.add_argument("--dest", type=Path, help="(validation Pod) where the artifact goes")
    fetch.add_argument("--meta", type=Path, help="(validation Pod) where spec and digest go")
    fetch.add_argument("--report", type=Path, default=Path("/dev/termination-log"))

    args = parser.parse_args(argv)
    if args.command == "digest":
        return _digest(args.path, as_json=args.json)
    if args.command == "fingerprint":
        return _fingerprint(args.path)
    if args.command == "upload":
        from modelregistry.upload import upload_artifact

        try:
            print(upload_artifact(args.path, args.uri).digest)
        except (ValueError, FileNotFoundError) as error:
            print(f"modelregistry upload: {error}", file=sys.stderr)
            return 2
        return 0
    if args.command == "run":
        from modelregistry.runner import run_operator

        return _until_stopped(
            "run",
            lambda signals: run_operator(
                namespaces=args.namespace, verbose=args.verbose, signals=signals
            ),
        )
    if args.command == "crds":
        return _crds(
            args.output_dir or [Path("crds")], args.chart, args.reference, check=args.check
        )
    if args.command == "validate":
        return run_validate(args)
    if args.command in LIFECYCLE_COMMANDS:
        from modelregistry.commands import run as run_lifecycle

        return run_lifecycle(args)
    if args.command == "fetch":
        return _fetch(fetch, args)

    def run_dev(signals: StopSignals) -> int:
        # Imported here, with the signals already ours: it takes a while.
        from modelregistry.devenv import run_dev_environment

        return run_dev_environment(
            use_kubeconfig=args.use_kubeconfig,
            workdir=args.workdir,
            signals=signals,
            with_node=not args.no_node,
        )

    return _until_stopped("dev", run_dev)


def _fetch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.uri is not None:
        if args.destination is None or args.dest or args.meta:
            parser.error("write: modelregistry fetch URI DEST (without --dest and --meta)")
        from modelregistry.download import Transfer
        from modelregistry.servingfetch import run_fetch_uri

        return run_fetch_uri(
            args.uri,
            args.destination,
            endpoint=args.endpoint,
            transfer=Transfer(concurrency=max(1, args.concurrency)),
        )
    if args.dest is None or args.meta is None:
        parser.error("write: modelregistry fetch URI DEST, or --dest DIR --meta DIR")
    from modelregistry.fetch import run_fetch

    return run_fetch(args.dest, args.meta, args.report)


def _until_stopped(command: str, run: Callable[[StopSignals], int]) -> int:
    """Run `command` with SIGINT and SIGTERM ours from the start (see modelregistry.runner)."""
    with StopSignals() as signals:
        try:
            return run(signals)
        except Exception as error:
            if signals.received is None:
                # Imported here: the image's CLI has no local servers (nor their packages).
                from modelregistry.localenv.errors import LocalEnvError

                if isinstance(error, LocalEnvError):  # a local server cannot start: say why
                    print(f"modelregistry {command}: {error}", file=sys.stderr)
                    return 1
                raise
            # A server in the same process group got the Ctrl-C too and ended
            # first: that is no error of its own.
            detail = (str(error).splitlines() or [type(error).__name__])[0]
            reason = f"{signals.received.name} ({detail})"
            signum = int(signals.received)
        except Interrupted as interrupted:
            reason, signum = str(interrupted), interrupted.signum
        # What it had started was stopped on the way out.
        print(f"modelregistry {command}: stopped by {reason} while starting", file=sys.stderr)
        return 128 + signum


def _digest(path: Path, *, as_json: bool) -> int:
    try:
        result = digest_local_path(path)
    except (FileNotFoundError, InvalidArtifactPathError, ValueError) as error:
        print(f"modelregistry digest: {error}", file=sys.stderr)
        return 2
    if as_json:
        files = [{"path": f.path, "digest": f.digest, "size": f.size} for f in result.files]
        print(json.dumps({"digest": result.digest, "size": result.size, "files": files}, indent=2))
    else:
        print(result.digest)
    return 0


def _fingerprint(path: Path) -> int:
    from modelregistry.signingkeys import KeyProblem, fingerprints

    try:
        found = fingerprints(path.read_bytes(), str(path))
    except OSError as error:
        print(f"modelregistry fingerprint: {path}: {error.strerror or error}", file=sys.stderr)
        return 2
    except KeyProblem as problem:
        print(f"modelregistry fingerprint: {problem}", file=sys.stderr)
        return 2
    for value, what in found:
        print(f"{value}  {what}")
    return 0


def _crds(
    directories: list[Path], charts: list[Path], references: list[Path], *, check: bool
) -> int:
    from modelregistry import admission, apidocs, crdgen

    files: dict[Path, str] = {}
    for directory in directories:
        files.update({directory / crdgen.crd_filename(k): crdgen.render(k) for k in crdgen.KINDS})
        files[directory / admission.FILENAME] = admission.render()
    for chart in charts:
        files.update(
            {chart / "crds" / crdgen.crd_filename(k): crdgen.render(k) for k in crdgen.KINDS}
        )
        files[chart / "templates" / "admission.yaml"] = admission.render_chart_template()
    for reference in references:
        files.update({reference / apidocs.filename(k): apidocs.render(k) for k in crdgen.KINDS})
    stale = []
    for target, text in files.items():
        if check:
            if not target.exists() or target.read_text() != text:
                stale.append(str(target))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    if stale:
        print(f"stale CRD manifests (run `make crds`): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
