"""The catalog on the real API server: `modelregistry search` and kubectl, as people run them.

The first ```console block of docs/catalog.md (upload the bytes, `kubectl apply -f
examples/catalog.yaml`) runs as written in a namespace of its own (its kubeconfig's
context), the session's operator grants the stages and resolves the alias, and then:
- every other ```console block and the ```python one run as written, each
  command's output and exit status compared with the page's (times, ages,
  sizes, durations and the namespace's name aside);
- each filter is run as a process, as a person runs it;
- the field selectors reach the API server (the LIST URL carries them, and
  it sends only what they select);
- RBAC: a user with `view` in the namespace searches it, and -A says what it
  lacks; a user who may edit versions, or even write approvals, cannot make
  a version appear at a stage or behind an alias it was not granted.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import kubernetes
import pytest

from modelregistry.devenv import BUCKET, create_bucket
from modelregistry.localenv import S3Server
from tests.integration.conftest import Cluster, temporary_namespace
from tests.integration.support import (
    REPO,
    Objects,
    OperatorProcess,
    bind_cluster_role,
    impersonating,
    wait_until,
)

pytestmark = pytest.mark.integration

GROUP, VERSION = "modelregistry.io", "v1alpha1"
DOC = REPO / "docs" / "catalog.md"
VERSIONS = ("churn-1", "churn-2", "churn-3", "fraud-1", "fraud-2")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
# kubectl's AGE column, the last: 42s, 3m, 2m10s, 5h.
AGE = re.compile(r"(?<=\s)(\d+[smhd]){1,2}$", re.M)
CONSOLE = re.compile(r"```console\n(.*?)```", re.S)
PYTHON = re.compile(r"```python\n(.*?)```\n\nIt prints:\n\n```text\n(.*?)```", re.S)
# The exit status of an example that is refused on purpose (0 for every other).
EXITS = {
    "modelregistry search --where 'auc=>0.9'": 2,
    "modelregistry search -A --as carol": 1,
    "kubectl get modelversions --field-selector spec.metrics.auc=0.93": 1,
}


@dataclass(frozen=True)
class Example:
    command: str
    output: str  # what the page shows: stdout, after what the command says on stderr


@dataclass(frozen=True)
class Catalog:
    namespace: str
    kubeconfig: Path  # the admin's; the page's first block sets its context's namespace
    kubectl: Path
    objects: Objects
    s3: dict[str, str]  # the S3 server's address and keys, as boto3 reads them
    setup: list[tuple[Example, str]] = field(default_factory=list)  # and what each printed

    def env(self) -> dict[str, str]:
        """A shell's: kubectl and `modelregistry` on PATH, this checkout's code."""
        return {
            **os.environ,
            **self.s3,
            "KUBECONFIG": str(self.kubeconfig),
            "PATH": os.pathsep.join(
                [str(Path(sys.executable).parent), str(self.kubectl.parent), os.environ["PATH"]]
            ),
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO / "operator"), os.environ.get("PYTHONPATH")) if p
            ),
        }


@pytest.fixture(scope="module")
def catalog(
    cluster: Cluster,
    s3: S3Server,
    operator: OperatorProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Catalog]:
    """The page's first block run as written, in a directory of its own (examples/ and
    .dev/, as a checkout has) with a kubeconfig of its own, against `make run`'s bucket."""
    create_bucket(s3.endpoint_url, s3.access_key, s3.secret_key, BUCKET)
    root = tmp_path_factory.mktemp("catalog")
    (root / "examples").symlink_to(REPO / "examples")
    (root / ".dev").mkdir()
    with temporary_namespace(cluster, "t-catalog-") as namespace:
        # temporary_namespace deletes it afterwards (lifting the deletion guards that a
        # version in Production calls for), and the page's first command creates it.
        core = kubernetes.client.CoreV1Api(cluster.api_client)
        core.delete_namespace(namespace)
        wait_until(lambda: absent(core, namespace), what=f"namespace {namespace} to go")
        shutil.copy(cluster.kubeconfig, root / "kubeconfig")
        catalog = Catalog(
            namespace,
            root / "kubeconfig",
            cluster.kubectl,
            Objects(cluster.api_client, namespace),
            upload_environment(s3),
        )
        for example in setup_examples():
            # The page's namespace is `ml`; this catalog's has a name of its own.
            done = run_as_written(catalog, re.sub(r"\bml\b", namespace, example.command), root)
            assert done.returncode == 0, done.stdout
            catalog.setup.append((example, done.stdout))
        objects = catalog.objects
        for name in VERSIONS:
            objects.wait_condition(name, "Ready", "True", timeout=90, on_timeout=operator.log_tail)
        wait_until(
            lambda: (
                stage(objects, "churn-2") == "Production" and stage(objects, "churn-3") == "Staging"
            ),
            what="churn-2 in Production and churn-3 in Staging",
            on_timeout=operator.log_tail,
        )
        objects.wait_condition("fraud-2", "StageGranted", "False", "ApprovalRequired")
        wait_until(
            lambda: resolved(objects, "churn").get("champion", {}).get("name") == "churn-2",
            what="churn@champion to resolve to churn-2",
            on_timeout=operator.log_tail,
        )
        yield catalog


def absent(core: kubernetes.client.CoreV1Api, namespace: str) -> bool:
    try:
        core.read_namespace(namespace)
    except kubernetes.client.exceptions.ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


def upload_environment(s3: S3Server) -> dict[str, str]:
    """What `source .dev/env` sets for `modelregistry upload`: boto3's usual variables."""
    return {
        "AWS_ENDPOINT_URL": s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "AWS_DEFAULT_REGION": s3.region,
    }


def stage(objects: Objects, name: str) -> str | None:
    return cast(str | None, (objects.get("modelversions", name).get("status") or {}).get("stage"))


def resolved(objects: Objects, model: str) -> dict[str, Any]:
    return cast(
        dict[str, Any], (objects.get("models", model).get("status") or {}).get("resolved") or {}
    )


def run(catalog: Catalog, *args: str) -> subprocess.CompletedProcess[str]:
    """`modelregistry ARGS` as a process, in the catalog's namespace (the context's)."""
    return subprocess.run(
        [sys.executable, "-m", "modelregistry", *args],
        env=catalog.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def found(catalog: Catalog, *args: str) -> list[str]:
    done = run(catalog, "search", *args, "-o", "name")
    assert done.returncode == 0, done.stderr
    return [line.rsplit("/", 1)[1] for line in done.stdout.splitlines()]


# ------------------------------------------------------------------ the docs, as written


def console_blocks() -> list[list[Example]]:
    """The `$ ` lines of each ```console block of docs/catalog.md, with the output shown."""
    blocks = []
    for block in CONSOLE.findall(DOC.read_text()):
        examples: list[Example] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                examples.append(Example(line[2:], ""))
            elif examples:
                last = examples[-1]
                examples[-1] = Example(last.command, f"{last.output}\n{line}".lstrip("\n"))
        blocks.append(examples)
    return blocks


def setup_examples() -> list[Example]:
    """The first block: what the page says to run to try it (the fixture runs it)."""
    return console_blocks()[0]


def console_examples() -> list[Example]:
    return [example for block in console_blocks()[1:] for example in block]


def run_as_written(catalog: Catalog, command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """In a shell, as a person does, stderr and stdout in one stream as a terminal shows them
    (Python writes stderr at once and a pipe's stdout at exit: what it says on stderr first)."""
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        env=catalog.env(),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        check=False,
    )


def normalised(text: str, namespace: str) -> str:
    """What changes from run to run: times, ages, sizes, durations, the namespace's name
    (the page's is `ml`)."""
    text = TIME.sub("<time>", text.rstrip("\n"))
    text = AGE.sub("<age>", text)
    text = re.sub(r"\d+\.\d KiB", "<size> KiB", text)
    text = re.sub(r"\d+ ms\b", "<n> ms", text)
    return text.replace(namespace, "ml")


def test_the_docs_have_kubectl_and_modelregistry_examples() -> None:
    commands = [example.command for example in console_examples()]

    assert "kubectl get modelversions --field-selector status.stage=Production" in commands
    assert sum(c.startswith("kubectl ") for c in commands) >= 5
    assert sum(c.startswith("modelregistry search") for c in commands) >= 5
    assert any(c.startswith("modelregistry lineage") for c in commands)
    assert any(c.startswith("modelregistry list") for c in commands)
    assert any("-o yaml" in c for c in commands)
    assert any("--explain" in c for c in commands)
    assert set(EXITS) <= set(commands)  # each refusal the page shows is still on it
    assert any("kubectl apply -f examples/catalog.yaml" in e.command for e in setup_examples())


def test_trying_it_prints_what_the_page_shows(catalog: Catalog) -> None:
    assert len(catalog.setup) == len(setup_examples())
    for example, printed in catalog.setup:
        assert normalised(printed, catalog.namespace) == example.output, printed


@pytest.mark.parametrize("example", console_examples(), ids=lambda e: e.command)
def test_a_docs_example_runs_as_written(catalog: Catalog, example: Example) -> None:
    done = run_as_written(catalog, example.command, REPO)

    assert done.returncode == EXITS.get(example.command, 0), done.stdout
    shown = normalised(example.output, catalog.namespace)
    assert normalised(done.stdout, catalog.namespace) == shown, done.stdout


def test_the_python_example_prints_what_the_page_shows(catalog: Catalog) -> None:
    found = PYTHON.search(DOC.read_text())
    assert found is not None, "docs/catalog.md has no ```python block followed by its output"
    code, shown = found.groups()
    # The page's namespace is `ml`; this catalog's has a name of its own.
    code = code.replace('Session.connect("ml")', f'Session.connect("{catalog.namespace}")')

    done = run_as_written(catalog, f"python -c {shlex.quote(code)}", REPO)

    assert done.returncode == 0, done.stdout
    assert normalised(done.stdout, catalog.namespace) == normalised(shown, catalog.namespace)


# ------------------------------------------------------------------ each filter, as a user runs it


@pytest.mark.parametrize(
    ("args", "names"),
    [
        ((), list(VERSIONS)),
        (("--model", "fraud"), ["fraud-1", "fraud-2"]),
        (("-l", "team=risk"), ["churn-1", "churn-2"]),
        (("--stage", "Production"), ["churn-2"]),
        (("--stage", "staging"), ["churn-3"]),
        (("--stage", "None"), ["churn-1", "fraud-1", "fraud-2"]),
        (("--asked", "Production"), ["churn-2", "fraud-2"]),
        (("--asked", "Production", "--stage", "None"), ["fraud-2"]),
        (("--asked", "None"), ["churn-1", "fraud-1"]),
        (("--alias", "champion"), ["churn-2"]),
        (("--tag", "pii"), ["churn-1", "churn-2", "churn-3"]),
        (("--tag", "tabular", "--owner", "team-payments"), ["fraud-1", "fraud-2"]),
        (("--task", "classification", "--where", "recall>0.7"), ["fraud-2"]),
        (("--where", "auc>=0.93"), ["churn-2", "churn-3", "fraud-1"]),
        (("--where", "auc>=0.9", "--where", "f1<0.8"), ["churn-3"]),
        (("--where", "f1!=0.8"), ["churn-1", "churn-3"]),
        (("--where", "auc==0.88"), ["churn-1"]),
        (("--where", "auc<0.9"), ["churn-1"]),
        (("--where", "auc<=0.91"), ["churn-1", "fraud-2"]),
        (("--dataset", "events"), ["churn-1", "churn-2", "churn-3"]),
        (("--dataset", "events@2024-06"), ["churn-2", "churn-3"]),
        (("--dataset", "@v3"), ["fraud-1", "fraud-2"]),
        (("--dataset", "holdout", "--dataset-role", "test"), ["churn-2"]),
        (("--dataset", "events", "--dataset-role", "test"), []),
        (("--commit", "5E6F7A"), ["churn-2", "churn-3"]),
        (("--run", "run-42"), ["churn-2"]),
        (("--since", "1h"), list(VERSIONS)),
        (("--until", "1h"), []),
        (("--descends-from", "churn-2"), ["churn-3", "fraud-1", "fraud-2"]),
        (("--descends-from", "fraud@1"), ["fraud-2"]),
        (("--descends-from", "churn-2", "--model", "fraud", "--where", "auc>0.95"), ["fraud-1"]),
    ],
)
def test_each_filter(catalog: Catalog, args: tuple[str, ...], names: list[str]) -> None:
    assert found(catalog, *args) == names


def test_a_verified_digest_finds_its_version(catalog: Catalog) -> None:
    digest = catalog.objects.get("modelversions", "fraud-1")["status"]["artifact"]["digest"]

    assert found(catalog, "--digest", digest) == ["fraud-1"]


def test_json_shows_what_the_operator_granted_and_resolved(catalog: Catalog) -> None:
    done = run(catalog, "search", "--model", "churn", "-o", "json")

    assert done.returncode == 0, done.stderr
    entries = {e["name"]: e for e in json.loads(done.stdout)}
    assert entries["churn-2"]["stage"] == "Production"
    assert entries["churn-2"]["aliases"] == ["champion"]
    assert entries["churn-2"]["ready"] == "True"
    assert entries["churn-2"]["owner"] == "team-risk"
    assert entries["churn-3"]["parents"] == [{"model": "churn", "version": 2}]
    assert entries["churn-1"]["labels"] == {"team": "risk"}


def test_a_bad_filter_exits_2_and_says_how_to_write_it(catalog: Catalog) -> None:
    done = run(catalog, "search", "--where", "auc=0.9")

    assert done.returncode == 2
    assert done.stderr == (
        "modelregistry search: --where 'auc=0.9': '=' is not a comparison; write --where "
        "'auc==0.9'\n"
    )
    assert done.stdout == ""


# ------------------------------------------------------------------ server-side selection


def explained(catalog: Catalog, *args: str) -> list[str]:
    done = run(catalog, "search", *args, "--explain", "-o", "name")
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


def test_field_selectors_are_applied_by_the_api_server(catalog: Catalog) -> None:
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{catalog.namespace}/modelversions"

    lines = explained(catalog, "--model", "churn", "--stage", "Staging", "--where", "auc>0.9")

    (request,) = [line for line in lines if path in line]
    # The selectors are in the LIST URL, and the server sent only the version they select.
    assert (
        f"GET {path}?fieldSelector=spec.modelRef.name%3Dchurn%2Cstatus.stage%3DStaging"
        "&limit=500: 1 items, "
    ) in request
    assert lines[-1].startswith("search: 2 requests, 3 objects received, ")
    assert lines[-1].endswith("; 1 versions matched")
    assert "search: matched here: metric auc>0.9" in lines

    # What no selector can say is matched here, over every version the server sent.
    lines = explained(catalog, "--where", "auc>0.9")
    (request,) = [line for line in lines if path in line]
    assert f"GET {path}?limit=500: 5 items, " in request


def test_a_stage_of_none_is_selected_by_the_server_too(catalog: Catalog) -> None:
    listing = kubernetes.client.CustomObjectsApi(
        kubernetes.config.new_client_from_config(config_file=str(catalog.kubeconfig))  # type: ignore[no-untyped-call]
    ).list_namespaced_custom_object(
        GROUP,
        VERSION,
        catalog.namespace,
        "modelversions",
        field_selector="status.stage!=Staging,status.stage!=Production,status.stage!=Archived",
    )

    names = sorted(i["metadata"]["name"] for i in cast(dict[str, Any], listing)["items"])
    assert names == ["churn-1", "fraud-1", "fraud-2"]


def test_pages_follow_the_continue_token(catalog: Catalog) -> None:
    lines = explained(catalog, "--chunk-size", "2")

    pages = [line for line in lines if "/modelversions?" in line]
    assert [re.search(r": (\d+) items", p).group(1) for p in pages] == ["2", "2", "1"]  # type: ignore[union-attr]
    assert "continue=" not in pages[0]
    assert "continue=" in pages[1]
    assert "continue=" in pages[2]
    assert found(catalog, "--chunk-size", "2") == list(VERSIONS)


def test_lineage_lists_descendants(catalog: Catalog) -> None:
    done = run(catalog, "lineage", "churn-2", "--descendants")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-3:] == [
        "  descendant churn version 3 (churn-3)",
        "  descendant fraud version 1 (fraud-1)",
        "    descendant fraud version 2 (fraud-2)",
    ]


# ------------------------------------------------------------------ RBAC and forgery


def test_a_viewer_searches_their_namespace_and_is_told_what_all_namespaces_needs(
    cluster: Cluster, catalog: Catalog
) -> None:
    user = f"viewer-{uuid.uuid4().hex[:6]}"
    bind_cluster_role(cluster.api_client, catalog.namespace, "view", user)

    wait_until(
        lambda: run(catalog, "search", "--as", user, "-o", "name").returncode == 0,
        what="the view role to reach the viewer",  # RBAC is read from a watch: a moment
    )
    assert found(catalog, "--as", user, "--stage", "Production") == ["churn-2"]

    everywhere = run(catalog, "search", "--as", user, "-A")
    assert everywhere.returncode == 1
    assert everywhere.stderr == (
        f"modelregistry search: refused by the API server: models.modelregistry.io is "
        f'forbidden: User "{user}" cannot list resource "models" in API group '
        '"modelregistry.io" at the cluster scope. -A reads every namespace at once, which '
        "needs the list verb on models.modelregistry.io across the cluster (a "
        "ClusterRoleBinding); without it, search a namespace you may read: -n NAMESPACE\n"
    )
    elsewhere = run(catalog, "search", "--as", user, "-n", "default")
    assert elsewhere.returncode == 1
    assert elsewhere.stderr.endswith(
        "Searching namespace 'default' needs the list verb on models.modelregistry.io there "
        "(the view role has it)\n"
    )


def test_a_namespace_user_cannot_put_a_version_at_a_stage_or_behind_an_alias(
    cluster: Cluster, catalog: Catalog
) -> None:
    """mallory may create versions and labels (edit) and write approvals (approver)."""
    mallory = f"mallory-{uuid.uuid4().hex[:6]}"
    bind_cluster_role(cluster.api_client, catalog.namespace, "edit", mallory)
    bind_cluster_role(cluster.api_client, catalog.namespace, "modelregistry-approver", mallory)
    as_mallory = kubernetes.client.CustomObjectsApi(impersonating(cluster.api_client, mallory))
    churn_2 = catalog.objects.get("modelversions", "churn-2")
    uri = churn_2["spec"]["artifact"]["uri"]
    name = "mallory-1"
    wait_until(
        lambda: _try_create(as_mallory, catalog.namespace, name, uri),
        what="the edit role to reach mallory",
    )
    try:
        catalog.objects.wait_condition(name, "Ready", "True", timeout=90)
        # Asking is not being granted: churn-2 holds Production.
        catalog.objects.wait_condition(name, "StageGranted", "False", "ProductionHeld")
        refused = []
        for plural, target, patch in (
            ("modelversions", name, {"status": {"stage": "Production"}}),
            ("models", "churn", {"status": {"resolved": {"champion": {"name": name}}}}),
        ):
            with pytest.raises(kubernetes.client.exceptions.ApiException) as raised:
                as_mallory.patch_namespaced_custom_object_status(
                    GROUP, VERSION, catalog.namespace, plural, target, patch
                )
            refused.append(raised.value.status)
        assert refused == [403, 403]  # the approvals policy; no RBAC on a Model's status

        assert found(catalog, "--stage", "Production") == ["churn-2"]
        assert found(catalog, "--alias", "champion") == ["churn-2"]
        assert found(catalog, "-l", "stage=Production") == [name]  # labels are the user's own
        assert found(catalog, "--asked", "Production", "--stage", "None") == [name, "fraud-2"]
    finally:
        catalog.objects.api.delete_namespaced_custom_object(
            GROUP, VERSION, catalog.namespace, "modelversions", name
        )
        wait_until(lambda: name not in found(catalog), what=f"{name} to go", timeout=60)


def _try_create(
    api: kubernetes.client.CustomObjectsApi, namespace: str, name: str, uri: str
) -> bool:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelVersion",
        "metadata": {"name": name, "labels": {"stage": "Production"}},
        "spec": {
            "modelRef": {"name": "churn"},
            "version": 9,
            "stage": "Production",
            "artifact": {"uri": uri},
            "metrics": {"auc": 0.99},
        },
    }
    try:
        api.create_namespaced_custom_object(GROUP, VERSION, namespace, "modelversions", body)
    except kubernetes.client.exceptions.ApiException as error:
        if error.status == 403:
            return False
        raise
    return True
