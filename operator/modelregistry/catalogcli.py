"""`modelregistry list` and `modelregistry search`: the catalog on the command line.

Both take the same filters (list is search by another name, for the habit of
`kubectl get`); docs/catalog.md says which of them the API server answers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from modelregistry import client
from modelregistry.api.meta import GROUP
from modelregistry.client.catalog import PAGE_SIZE
from modelregistry.decisions.catalog import CatalogEntry, client_side_terms, key_metrics
from modelregistry.decisions.catalogquery import DATASET_ROLES, STAGES, Query
from modelregistry.views import table

OUTPUTS = ("table", "wide", "json", "yaml", "name")


def add_catalog_parsers(commands: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    for name, summary in (
        ("list", "list versions (every filter of search works here too)"),
        ("search", "find versions by Model, stage, alias, metric, dataset, commit, owner, time"),
    ):
        parser = commands.add_parser(
            name,
            help=summary,
            description="Find ModelVersions. Every filter given must hold. The API server "
            "selects by labels, Model, stages, digest, training run, owner and task; metrics, "
            "datasets, commit prefixes, aliases, tags and times are matched on what it sends "
            "(--explain shows which). Exit status: 0 (also when nothing matched), 1 refused, "
            "2 a filter that cannot be understood.",
        )
        _add_filters(parser)
        common(parser)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    stages = ", ".join(STAGES)
    parser.add_argument(
        "-A", "--all-namespaces", action="store_true", help="search every namespace"
    )
    parser.add_argument("--model", help="versions of this Model")
    parser.add_argument(
        "-l", "--selector", dest="labels", metavar="SELECTOR", help="label selector, as kubectl's"
    )
    parser.add_argument("--stage", help=f"the stage granted (status.stage): {stages}")
    parser.add_argument("--asked", help=f"the stage asked for (spec.stage): {stages}")
    parser.add_argument(
        "--alias",
        action="append",
        default=[],
        help="an alias of its Model resolves to it, e.g. champion (repeatable)",
    )
    parser.add_argument(
        "--tag", action="append", default=[], help="its Model has this tag (repeatable)"
    )
    parser.add_argument("--owner", help="its Model's spec.owner")
    parser.add_argument("--task", help="its Model's spec.task, e.g. classification")
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="EXPR",
        help="a metric compared with a number: 'auc>=0.9' (>= > <= < == !=; repeatable, all "
        "must hold)",
    )
    parser.add_argument(
        "--dataset",
        action="append",
        default=[],
        metavar="NAME[@VERSION]",
        help="trained or evaluated on this dataset: NAME, NAME@VERSION, NAME@sha256:DIGEST, "
        "@VERSION (repeatable)",
    )
    parser.add_argument(
        "--dataset-role",
        metavar="ROLE",
        help=f"... in this role: {', '.join(DATASET_ROLES)}",
    )
    parser.add_argument("--commit", help="its code's commit begins with these hex digits")
    parser.add_argument("--run", help="its training run's id (spec.lineage.trainingRun.id)")
    parser.add_argument("--digest", help="its verified digest (status.artifact.digest)")
    parser.add_argument(
        "--since", metavar="WHEN", help="created since: 7d, 12h, 30m or an RFC 3339 time"
    )
    parser.add_argument("--until", metavar="WHEN", help="created until (same forms)")
    parser.add_argument(
        "--descends-from",
        metavar="VERSION",
        help="descends from this version (a name, or MODEL@NUMBER) through lineage parents",
    )
    parser.add_argument("-o", "--output", choices=OUTPUTS, default="table")
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=PAGE_SIZE,
        help="versions per LIST request (0: all in one)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="say on stderr what the API server selected, what was matched here, and each request",
    )


def run_catalog(session: client.Session, args: argparse.Namespace) -> int:
    query = client.parse_query(
        model=args.model,
        labels=args.labels,
        stage=args.stage,
        asked=args.asked,
        aliases=args.alias,
        tags=args.tag,
        owner=args.owner,
        task=args.task,
        where=args.where,
        datasets=args.dataset,
        dataset_role=args.dataset_role,
        commit=args.commit,
        run=args.run,
        digest=args.digest,
        since=args.since,
        until=args.until,
    )
    if args.chunk_size < 0:
        raise client.BadQuery(f"--chunk-size {args.chunk_size}: write 0 (no paging) or more")
    traffic = client.Traffic()
    found = client.search_versions(
        session,
        query,
        all_namespaces=args.all_namespaces,
        descends_from=args.descends_from,
        page_size=args.chunk_size,
        traffic=traffic,
    )
    if args.explain:
        _explain(query, args, traffic, len(found))
    if args.output == "json":
        print(json.dumps([e.as_dict() for e in found], indent=2, sort_keys=True))
    elif args.output == "yaml":
        print(yaml.safe_dump([e.as_dict() for e in found], sort_keys=True), end="")
    elif args.output == "name":
        for entry in found:
            print(f"modelversion.{GROUP}/{entry.name}")
    elif found:
        print(
            catalog_table(found, query, wide=args.output == "wide", namespaces=args.all_namespaces)
        )
    else:
        where = "" if args.all_namespaces else f" in namespace {session.namespace}"
        print(f"No ModelVersions found{where}.", file=sys.stderr)
    return 0


def catalog_table(
    entries: Sequence[CatalogEntry], query: Query, *, wide: bool = False, namespaces: bool = False
) -> str:
    header = ["NAME", "MODEL", "VERSION", "STAGE", "ALIASES", "METRICS", "CREATED"]
    if wide:
        header += ["ASKED", "READY", "OWNER", "DATASETS", "COMMIT"]
    rows = [["NAMESPACE", *header] if namespaces else header]
    for entry in entries:
        row = [
            entry.name,
            entry.model,
            str(entry.version) if entry.version is not None else "-",
            entry.stage,
            ",".join(entry.aliases) or "-",
            _metrics_cell(entry, query),
            entry.created,
        ]
        if wide:
            row += [
                entry.asked,
                entry.ready,
                entry.owner or "-",
                ",".join(_dataset(d) for d in entry.datasets) or "-",
                (entry.commit or "-")[:12],
            ]
        rows.append([entry.namespace, *row] if namespaces else row)
    return table(rows)


def _metrics_cell(entry: CatalogEntry, query: Query) -> str:
    shown, more = key_metrics(entry.metrics, query.where)
    cell = " ".join(f"{name}={value:.4g}" for name, value in shown)
    if more:
        cell += f" (+{more})"
    return cell or "-"


def _dataset(dataset: Any) -> str:
    name = str(dataset.get("name", ""))
    return f"{name}@{dataset['version']}" if dataset.get("version") else name


def _explain(query: Query, args: argparse.Namespace, traffic: client.Traffic, found: int) -> None:
    def say(line: str) -> None:
        print(f"search: {line}", file=sys.stderr)

    for request in traffic.requests:
        say(str(request))
    here = client_side_terms(query, descends_from=args.descends_from)
    say(f"matched here: {'; '.join(here) if here else 'nothing (the API server selected all)'}")
    say(
        f"{traffic.count} requests, {traffic.items} objects received, "
        f"{traffic.size / 1024:.1f} KiB; {found} versions matched"
    )
