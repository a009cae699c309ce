"""`modelregistry approve|resolve|history|lineage|register|promote|status|list|search`.

A thin layer over `modelregistry.client`: parse, call, show. Exit status 0
on success, 1 when the registry or the store refused or failed (the message
says what to fix), 2 for a usage error, 3 when `--wait` timed out (the
version may still become Ready).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from modelregistry import client
from modelregistry.api.lifecycle import GatedStage
from modelregistry.client.spec import STAGES as ALL_STAGES

LIFECYCLE_COMMANDS = (
    "approve",
    "resolve",
    "history",
    "lineage",
    "register",
    "promote",
    "status",
    "list",
    "search",
)
STAGES: tuple[GatedStage, ...] = ("Staging", "Production")
EXIT_FAILED, EXIT_USAGE, EXIT_TIMED_OUT = 1, 2, 3


def add_parsers(commands: Any) -> None:
    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-n", "--namespace", help="default: the kubeconfig context's")
        parser.add_argument("--as", dest="as_user", help="act as this user (impersonation)")
        parser.add_argument(
            "--as-group", dest="as_group", help="... and this group (impersonation)"
        )

    approve = commands.add_parser(
        "approve",
        help="approve a stage of a version: your entry in its status.approvals, checked by "
        "the API server",
    )
    approve.add_argument("version", help="the ModelVersion's name")
    approve.add_argument("--stage", required=True, choices=STAGES)
    approve.add_argument("--comment", help="why, for the audit trail")
    common(approve)

    resolve = commands.add_parser(
        "resolve", help="print the verified version a stage or alias names: MODEL@TARGET"
    )
    resolve.add_argument("reference", help="e.g. churn@champion, churn@Production, churn@3")
    resolve.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text")
    common(resolve)

    history = commands.add_parser("history", help="print every change of a version's stage")
    history.add_argument("version")
    history.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text")
    common(history)

    lineage = commands.add_parser(
        "lineage",
        help="print what a version came from (data, code, run, parents) and its descendants",
    )
    lineage.add_argument("version")
    lineage.add_argument(
        "--descendants",
        action="store_true",
        help="every version that descends from it (children's children too), not only children",
    )
    lineage.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text")
    common(lineage)

    from modelregistry.registercli import add_register_parser

    add_register_parser(commands, common)

    promote = commands.add_parser(
        "promote",
        help="ask for a stage (spec.stage); the operator grants it once the gates pass",
    )
    promote.add_argument("version", help="the ModelVersion's name")
    promote.add_argument("--stage", required=True, choices=ALL_STAGES)
    common(promote)

    status = commands.add_parser("status", help="print a version's stage, digest and conditions")
    status.add_argument("version")
    status.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text")
    common(status)

    from modelregistry.catalogcli import add_catalog_parsers

    add_catalog_parsers(commands, common)


def run(args: argparse.Namespace) -> int:
    try:
        session = client.Session.connect(
            args.namespace,
            as_user=args.as_user,
            as_groups=[args.as_group] if args.as_group else [],
        )
        if args.command == "register":
            from modelregistry.registercli import run_register

            return run_register(session, args)
        if args.command == "promote":
            client.promote(session, args.version, args.stage)
            print(
                f"{args.version}: asked for {args.stage} (spec.stage); the operator grants it "
                f"once the gates pass: `modelregistry status {args.version}`"
            )
            return 0
        if args.command == "status":
            from modelregistry import views

            return _show(
                client.status(session, args.version),
                args.output,
                views.status_text,
                views.status_value,
            )
        if args.command in ("list", "search"):
            from modelregistry.catalogcli import run_catalog

            return run_catalog(session, args)
        if args.command == "approve":
            entry = client.approve(session, args.version, args.stage, args.comment)
            print(
                f"{args.version}: {entry['stage']} approved by {entry['user']} at {entry['time']}"
            )
            return 0
        if args.command == "resolve":
            found = client.resolve(session, client.Reference.parse(args.reference))
            return _show(found, args.output, _resolved_text)
        if args.command == "history":
            summary, entries = client.history(session, args.version)
            return _show(
                {"summary": summary, "history": entries},
                args.output,
                _history_text,
            )
        return _lineage(session, args)
    except client.BadQuery as error:
        print(f"modelregistry {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except client.Refused as refused:
        print(
            f"modelregistry {args.command}: refused by the API server: {refused}", file=sys.stderr
        )
        return EXIT_FAILED
    except client.WaitTimedOut as error:
        print(f"modelregistry {args.command}: {error}", file=sys.stderr)
        return EXIT_TIMED_OUT
    except client.RegistryError as error:
        print(f"modelregistry {args.command}: {error}", file=sys.stderr)
        return EXIT_FAILED


def _show(value: Any, output: str, text: Any, data: Any = None) -> int:
    if output in ("json", "yaml") and data is not None:
        value = data(value)
    if output == "json":
        print(json.dumps(value, indent=2, sort_keys=True))
    elif output == "yaml":
        print(yaml.safe_dump(value, sort_keys=True), end="")
    else:
        print(text(value))
    return 0


def _lineage(session: client.Session, args: argparse.Namespace) -> int:
    value = client.lineage(session, args.version)
    if args.descendants:
        value["descendants"] = [
            {
                "name": d.node.name,
                "model": d.node.model,
                "version": d.node.version,
                "depth": d.depth,
                "parent": {"model": d.parent[0], "version": d.parent[1]},
            }
            for d in client.descendants_of(session, args.version)
        ]
    return _show(value, args.output, _lineage_text)


def _resolved_text(found: dict[str, Any]) -> str:
    lines = [
        f"version:   {found['version']} ({found['name']}, {found.get('stage', 'None')})",
        f"uri:       {found['uri']}",
        f"digest:    {found['digest']}",
    ]
    if found.get("versionId"):
        lines.append(f"versionId: {found['versionId']}")
    return "\n".join(lines)


def _history_text(value: dict[str, Any]) -> str:
    lines = []
    summary = value["summary"]
    if summary:
        lines.append(
            f"({summary['count']} older entries, {summary.get('first')} to {summary.get('last')})"
        )
    rows = [("TIME", "FROM", "TO", "REASON", "ACTOR")]
    rows += [
        (e["time"], e["from"], e["to"], e["reason"], e.get("actor") or "-")
        for e in value["history"]
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if not value["history"]:
        lines.append("(no change of stage yet)")
    return "\n".join(lines)


def _lineage_text(value: dict[str, Any]) -> str:
    own, lineage = value["version"], value["lineage"]
    lines = [f"{own['model']} version {own['version']}"]
    for dataset in lineage.get("datasets") or []:
        detail = ", ".join(
            f"{k} {dataset[k]}" for k in ("version", "role", "digest", "uri") if dataset.get(k)
        )
        lines.append(f"  dataset  {dataset['name']}" + (f" ({detail})" if detail else ""))
    if code := lineage.get("code"):
        lines.append(f"  code     {code['repository']} @ {code['commit']}")
    if run := lineage.get("trainingRun"):
        lines.append(f"  run      {run['id']}" + (f" ({run['uri']})" if run.get("uri") else ""))
    for parent in lineage.get("parents") or []:
        lines.append(f"  parent   {parent['model']} version {parent['version']}")
    if "descendants" in value:
        lines += [
            f"  {'  ' * (d['depth'] - 1)}descendant {d['model']} version "
            f"{d['version'] if d['version'] is not None else '(none yet)'} ({d['name']})"
            for d in value["descendants"]
        ]
        if not value["descendants"]:
            lines.append("  (no descendants)")
        return "\n".join(lines)
    for child in value["children"]:
        lines.append(f"  child    {child}")
    return "\n".join(lines)
