"""`modelregistry fetch`, the validation Pod's init container: only the pinned objects, at
their versionIds, no byte beyond the verified size, no path outside the destination; and the
report and exit code it ends with."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3.session
import pytest

from modelregistry import fetch as fetching
from modelregistry.checks.report import Report
from modelregistry.digest import InvalidArtifactPathError
from modelregistry.fetch import ArtifactChanged, SizeBudget, prefix_objects, safe_relative

from .builders import DIGEST_A, PREFIX_URI, URI


def report_text(passed: bool, message: str) -> str:
    return Report("fetch", passed, message=message).encode()


def test_fetch_names_the_variables_the_pod_sets() -> None:
    assert fetching.PLAN_VARIABLE == "MODELREGISTRY_FETCH_PLAN"
    assert fetching.SPEC_VARIABLE == "MODELREGISTRY_SPEC"
    assert (
        fetching.EXIT_OK,
        fetching.EXIT_USAGE,
        fetching.EXIT_CHANGED,
        fetching.EXIT_UNREADABLE,
    ) == (0, 2, 3, 4)


# --- prefix_objects ---------------------------------------------------------------------------


def plan_with(files: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"uri": PREFIX_URI, "digest": DIGEST_A, "files": files, **fields}


def never_listed() -> list[str]:
    raise AssertionError("the store was listed although every file is pinned")


PINNED: list[dict[str, Any]] = [
    {"path": "MLmodel", "versionId": "m1"},
    {"path": "data/model.pkl", "versionId": None},
    {"path": "conda.yaml"},
]


@pytest.mark.parametrize(
    "fields", [{"fileCount": 3}, {}, {"fileCount": 2}], ids=["all", "no-count", "fewer"]
)
def test_every_pinned_file_is_fetched_at_its_version_and_nothing_is_listed(
    fields: dict[str, Any],
) -> None:
    objects = prefix_objects(plan_with(PINNED, **fields), never_listed)

    assert objects == [("MLmodel", "m1"), ("conda.yaml", None), ("data/model.pkl", None)]


def test_a_prefix_status_could_not_pin_whole_is_listed_and_must_hold_as_many_objects() -> None:
    plan = plan_with(PINNED[:1], fileCount=3)

    objects = prefix_objects(plan, lambda: ["b.bin", "MLmodel", "a.bin"])

    assert objects == [("MLmodel", "m1"), ("a.bin", None), ("b.bin", None)]


@pytest.mark.parametrize(
    ("listed", "count"),
    [
        (["MLmodel", "a.bin", "b.bin", "extra.bin"], 4),  # an object was added
        (["MLmodel", "a.bin"], 2),  # one was removed
        (["a.bin"], 2),  # a pinned one is gone from the listing: still counted
        ([], 1),
    ],
)
def test_a_listed_prefix_that_holds_another_number_of_objects_changed(
    listed: list[str], count: int
) -> None:
    plan = plan_with(PINNED[:1], fileCount=3)

    with pytest.raises(ArtifactChanged) as changed:
        prefix_objects(plan, lambda: listed)

    assert str(changed.value) == f"{PREFIX_URI} holds {count} objects now, but 3 were verified"


def test_a_plan_without_files_lists_the_prefix() -> None:
    assert prefix_objects(plan_with([], fileCount=1), lambda: ["model.onnx"]) == [
        ("model.onnx", None)
    ]
    assert prefix_objects({"uri": PREFIX_URI, "fileCount": 0}, never_listed) == []


# --- safe_relative ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "path"),
    [
        ("model.onnx", Path("model.onnx")),
        ("data/model.pkl", Path("data", "model.pkl")),
        ("a/b/c.txt", Path("a", "b", "c.txt")),
        ("...", Path("...")),
        ("..data", Path("..data")),
    ],
)
def test_a_relative_path_stays_under_the_destination(relative: str, path: Path) -> None:
    assert safe_relative(relative) == path
    assert not safe_relative(relative).is_absolute()


@pytest.mark.parametrize(
    "relative",
    ["", ".", "..", "../etc/passwd", "a/../../x", "a/./b", "a//b", "a/", "/etc/passwd", "./a"],
)
def test_a_path_that_could_leave_the_destination_is_refused(relative: str) -> None:
    with pytest.raises(InvalidArtifactPathError):
        safe_relative(relative)


# --- SizeBudget -------------------------------------------------------------------------------


def test_a_budget_takes_exactly_the_verified_size() -> None:
    budget = SizeBudget(10)

    budget.take(4, "a")
    budget.take(6, "b")
    budget.take(0, "c")

    with pytest.raises(ArtifactChanged) as changed:
        budget.take(1, "model.pkl")
    assert str(changed.value) == "model.pkl holds more bytes than were verified"


def test_a_budget_refuses_the_chunk_that_goes_over() -> None:
    budget = SizeBudget(10)
    budget.take(9, "a")

    with pytest.raises(ArtifactChanged, match=r"^b holds more bytes than were verified$"):
        budget.take(2, "b")


def test_a_budget_of_zero_takes_nothing_and_none_takes_everything() -> None:
    with pytest.raises(ArtifactChanged):
        SizeBudget(0).take(1, "a")
    unlimited = SizeBudget(None)
    for _ in range(3):
        unlimited.take(2**40, "a")


# --- fetch, against a fake store ---------------------------------------------------------------


class Body:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def iter_chunks(self, size: int) -> Iterator[bytes]:
        assert size == 1 << 20
        for start in range(0, len(self._content), 4):
            yield self._content[start : start + 4]


class Paginator:
    def __init__(self, keys: list[str]) -> None:
        self._keys = keys

    def paginate(self, **asked: str) -> Iterator[dict[str, Any]]:
        yield {"Contents": [{"Key": k} for k in self._keys if k.startswith(asked["Prefix"])]}
        yield {}


class Store:
    """An S3 client for one bucket: objects by key, and every request it was asked."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.gets: list[dict[str, str]] = []
        self.listed = 0
        self.options: dict[str, Any] = {}

    def get_object(self, **asked: str) -> dict[str, Any]:
        self.gets.append(asked)
        return {"Body": Body(self.objects[asked["Key"]])}

    def get_paginator(self, operation: str) -> Paginator:
        assert operation == "list_objects_v2"
        self.listed += 1
        return Paginator(list(self.objects))


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    fake = Store({})

    class Session:
        def client(self, service: str, **options: Any) -> Store:
            assert service == "s3"
            fake.options = options
            return fake

    monkeypatch.setattr(boto3.session, "Session", Session)
    return fake


def test_a_single_object_is_fetched_at_its_version(store: Store, tmp_path: Path) -> None:
    store.objects["fraud/v1/model.onnx"] = b"onnx bytes"
    plan = {"uri": URI, "versionId": "v7", "size": 10, "endpoint": "http://s3:9000"}

    artifact = fetching.fetch(plan, tmp_path)

    assert artifact == tmp_path / "model.onnx"
    assert artifact.read_bytes() == b"onnx bytes"
    assert store.gets == [{"Bucket": "models", "Key": "fraud/v1/model.onnx", "VersionId": "v7"}]
    assert store.listed == 0
    assert store.options["endpoint_url"] == "http://s3:9000"
    assert "region_name" not in store.options


def test_a_single_object_without_a_version_is_fetched_as_it_is(
    store: Store, tmp_path: Path
) -> None:
    store.objects["fraud/v1/model.onnx"] = b"x"

    fetching.fetch({"uri": URI, "versionId": None, "region": "eu-west-1"}, tmp_path)

    assert store.gets == [{"Bucket": "models", "Key": "fraud/v1/model.onnx"}]
    assert "endpoint_url" not in store.options
    assert store.options["region_name"] == "eu-west-1"


def test_only_the_pinned_objects_of_a_prefix_are_fetched(store: Store, tmp_path: Path) -> None:
    store.objects.update(
        {
            "fraud/v1/mlflow/MLmodel": b"flavors",
            "fraud/v1/mlflow/data/model.pkl": b"pickle",
            "fraud/v1/mlflow/extra.pkl": b"not verified",
        }
    )
    plan = plan_with(
        [{"path": "MLmodel", "versionId": "m1"}, {"path": "data/model.pkl", "versionId": "p2"}],
        fileCount=2,
        size=13,
    )

    artifact = fetching.fetch(plan, tmp_path)

    assert artifact == tmp_path
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        "MLmodel",
        "data/model.pkl",
    ]
    assert store.gets == [
        {"Bucket": "models", "Key": "fraud/v1/mlflow/MLmodel", "VersionId": "m1"},
        {"Bucket": "models", "Key": "fraud/v1/mlflow/data/model.pkl", "VersionId": "p2"},
    ]
    assert store.listed == 0


def test_a_prefix_too_large_to_pin_is_listed(store: Store, tmp_path: Path) -> None:
    store.objects.update(
        {"fraud/v1/mlflow/MLmodel": b"m", "fraud/v1/mlflow/a": b"a", "fraud/v1/mlflow/dir/": b""}
    )
    plan = plan_with([{"path": "MLmodel", "versionId": "m1"}], fileCount=2, size=2)

    fetching.fetch(plan, tmp_path)

    assert store.listed == 1
    assert [g["Key"] for g in store.gets] == ["fraud/v1/mlflow/MLmodel", "fraud/v1/mlflow/a"]


def test_no_byte_beyond_the_verified_size_is_written(store: Store, tmp_path: Path) -> None:
    store.objects["fraud/v1/model.onnx"] = b"0123456789abcdef"

    with pytest.raises(ArtifactChanged, match=r"^fraud/v1/model.onnx holds more bytes"):
        fetching.fetch({"uri": URI, "size": 10}, tmp_path)

    assert (tmp_path / "model.onnx").read_bytes() == b"01234567"


def test_a_pinned_path_that_leaves_the_destination_is_never_written(
    store: Store, tmp_path: Path
) -> None:
    destination = tmp_path / "artifact"
    store.objects["fraud/v1/mlflow/../../escape"] = b"x"
    plan = plan_with([{"path": "../../escape", "versionId": "e"}], fileCount=1)

    with pytest.raises(InvalidArtifactPathError):
        fetching.fetch(plan, destination)

    assert store.gets == []
    assert list(tmp_path.rglob("*")) == []


# --- run_fetch: the report and the exit code ---------------------------------------------------


def test_fetch_without_a_plan_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MODELREGISTRY_FETCH_PLAN", raising=False)
    termination = tmp_path / "termination-log"
    expected = report_text(
        False,
        "MODELREGISTRY_FETCH_PLAN is missing or not JSON: 'MODELREGISTRY_FETCH_PLAN'",
    )

    code = fetching.run_fetch(tmp_path / "artifact", tmp_path / "meta", termination)

    assert code == fetching.EXIT_USAGE == 2
    assert termination.read_text() == expected
    assert capsys.readouterr().out == expected + "\n"
    assert not (tmp_path / "artifact").exists()
    assert not (tmp_path / "meta").exists()


def test_fetch_with_a_plan_that_is_not_json_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODELREGISTRY_FETCH_PLAN", "uri=s3://models/x")

    code = fetching.run_fetch(tmp_path / "artifact", tmp_path / "meta", None)

    assert code == 2
    assert capsys.readouterr().out == (
        report_text(
            False,
            "MODELREGISTRY_FETCH_PLAN is missing or not JSON: Expecting value: line 1 column 1 "
            "(char 0)",
        )
        + "\n"
    )


def fake_download(content: bytes) -> Any:
    def download(plan: dict[str, Any], destination: Path) -> Path:
        destination.mkdir(parents=True, exist_ok=True)
        target = destination / "model.onnx"
        target.write_bytes(content)
        return target

    return download


def test_fetched_bytes_that_match_are_handed_over_with_the_meta_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = b"onnx bytes"
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    plan = {"uri": URI, "digest": digest, "versionId": "v7", "files": []}
    monkeypatch.setenv("MODELREGISTRY_FETCH_PLAN", json.dumps(plan))
    monkeypatch.setenv("MODELREGISTRY_SPEC", '{"modelRef":{"name":"fraud"}}')
    monkeypatch.setattr(fetching, "fetch", fake_download(content))
    termination = tmp_path / "termination-log"

    code = fetching.run_fetch(tmp_path / "artifact", tmp_path / "meta", termination)

    assert code == 0
    assert termination.read_text() == report_text(True, f"Fetched {URI} ({digest}).")
    assert (tmp_path / "meta" / "spec.json").read_text() == '{"modelRef":{"name":"fraud"}}'
    assert (tmp_path / "meta" / "digest").read_text() == digest
    assert (tmp_path / "meta" / "version-id").read_text() == "v7"


def test_fetched_bytes_that_changed_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = b"other bytes"
    observed = "sha256:" + hashlib.sha256(content).hexdigest()
    plan: dict[str, Any] = {"uri": URI, "digest": DIGEST_A, "versionId": None, "files": []}
    monkeypatch.setenv("MODELREGISTRY_FETCH_PLAN", json.dumps(plan))
    monkeypatch.setattr(fetching, "fetch", fake_download(content))
    termination = tmp_path / "termination-log"

    code = fetching.run_fetch(tmp_path / "artifact", tmp_path / "meta", termination)

    assert code == 3
    assert termination.read_text() == report_text(
        False,
        f"{URI} hashes to {observed} now, but {DIGEST_A} was verified: the bytes changed "
        "before validation. Nothing was validated.",
    )
    assert not (tmp_path / "meta").exists()


def test_a_store_that_changed_while_fetching_is_a_changed_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def changed(plan: dict[str, Any], destination: Path) -> Path:
        raise ArtifactChanged(f"{PREFIX_URI} holds 4 objects now, but 3 were verified")

    monkeypatch.setenv("MODELREGISTRY_FETCH_PLAN", json.dumps(plan_with([], fileCount=3)))
    monkeypatch.setattr(fetching, "fetch", changed)
    termination = tmp_path / "termination-log"

    code = fetching.run_fetch(tmp_path / "artifact", tmp_path / "meta", termination)

    assert code == fetching.EXIT_CHANGED
    assert termination.read_text() == report_text(
        False,
        f"{PREFIX_URI} holds 4 objects now, but 3 were verified: the bytes changed before "
        "validation. Nothing was validated.",
    )
    assert not (tmp_path / "meta").exists()


def test_a_fetch_that_cannot_read_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(plan: dict[str, Any], destination: Path) -> Path:
        raise PermissionError("AccessDenied: no s3:GetObject")

    monkeypatch.setenv("MODELREGISTRY_FETCH_PLAN", json.dumps({"uri": URI, "digest": DIGEST_A}))
    monkeypatch.setattr(fetching, "fetch", refuse)
    termination = tmp_path / "termination-log"

    code = fetching.run_fetch(tmp_path / "artifact", tmp_path / "meta", termination)

    assert code == 4
    assert termination.read_text() == report_text(
        False, f"Could not fetch {URI}: AccessDenied: no s3:GetObject"
    )


def test_a_path_outside_the_destination_ends_the_fetch_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: Store
) -> None:
    plan = plan_with([{"path": "a/../../x", "versionId": "1"}], fileCount=1)
    monkeypatch.setenv("MODELREGISTRY_FETCH_PLAN", json.dumps(plan))

    code = fetching.run_fetch(tmp_path / "artifact", tmp_path / "meta", None)

    assert code == fetching.EXIT_UNREADABLE
    assert store.gets == []


def test_a_report_path_in_a_missing_directory_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MODELREGISTRY_FETCH_PLAN", raising=False)

    code = fetching.run_fetch(tmp_path / "a", tmp_path / "m", tmp_path / "no" / "termination-log")

    assert code == 2
    assert not (tmp_path / "no").exists()
    assert capsys.readouterr().err == ""


def test_a_report_that_cannot_be_written_is_said_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MODELREGISTRY_FETCH_PLAN", raising=False)
    directory = tmp_path / "termination-log"
    directory.mkdir()

    code = fetching.run_fetch(tmp_path / "a", tmp_path / "m", directory)

    assert code == 2
    assert capsys.readouterr().err.startswith("modelregistry fetch: cannot write the report: ")


# --- a compare check's inputs: the other version and the data set ------------------------------

HOLDER_FILES = {"MLmodel": b"flavors: {}", "model.pkl": b"pickled"}
DATASET = b"x,y,label\n1,2,0\n"


def sha(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def holder_digest() -> str:
    from modelregistry.digest import FileDigest, prefix_artifact

    return prefix_artifact(
        [
            FileDigest(path=p, hexdigest=hashlib.sha256(c).hexdigest(), size=len(c))
            for p, c in HOLDER_FILES.items()
        ]
    ).digest


def inputs_plan(tmp_path: Path, **changes: Any) -> dict[str, Any]:
    holder = {
        "name": "fraud-2",
        "uri": "s3://models/fraud/v2/",
        "digest": holder_digest(),
        "versionId": None,
        "size": sum(len(c) for c in HOLDER_FILES.values()),
        "fileCount": 2,
        "files": [{"path": "MLmodel", "versionId": "m1"}, {"path": "model.pkl", "versionId": "p1"}],
        "endpoint": "http://archive:9000",
    }
    dataset = {
        "uri": "s3://models/holdout/october.csv",
        "digest": sha(DATASET),
        "versionId": "d7",
        "size": len(DATASET),
        "fileCount": 1,
        "files": [],
    }
    return {
        "uri": URI,
        "digest": DIGEST_A,
        "againstDir": str(tmp_path / "against"),
        "against": [{**holder, **changes.get("holder", {})}],
        "datasetDir": str(tmp_path / "dataset"),
        "datasets": [{**dataset, **changes.get("dataset", {})}],
    }


def stocked(store: Store) -> Store:
    store.objects.update({f"fraud/v2/{p}": c for p, c in HOLDER_FILES.items()})
    store.objects["holdout/october.csv"] = DATASET
    return store


@pytest.fixture
def store_with_inputs(store: Store) -> Store:
    return stocked(store)


def test_the_other_version_and_the_data_set_are_fetched_pinned_and_verified(
    store_with_inputs: Store, tmp_path: Path
) -> None:
    store = store_with_inputs
    plan = inputs_plan(tmp_path)

    digests = fetching.fetch_inputs(plan)

    assert digests == [holder_digest(), sha(DATASET)]
    hexdigest = hashlib.sha256(DATASET).hexdigest()
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == [
        "against/fraud-2/MLmodel",
        "against/fraud-2/model.pkl",
        f"dataset/{hexdigest}/october.csv",
    ]
    assert store.gets == [
        {"Bucket": "models", "Key": "fraud/v2/MLmodel", "VersionId": "m1"},
        {"Bucket": "models", "Key": "fraud/v2/model.pkl", "VersionId": "p1"},
        {"Bucket": "models", "Key": "holdout/october.csv", "VersionId": "d7"},
    ]
    assert store.listed == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"dataset": {"digest": DIGEST_A}},
            f"s3://models/holdout/october.csv (the held-out data set) hashes to {sha(DATASET)}, "
            f"but {DIGEST_A} is pinned for it.",
        ),
        (
            {"dataset": {"size": 5}},
            "holdout/october.csv holds more bytes than were verified (the held-out data set).",
        ),
        (
            {"holder": {"digest": DIGEST_A}},
            f"s3://models/fraud/v2/ (the compared version fraud-2) hashes to {{holder}}, but "
            f"{DIGEST_A} is pinned for it.",
        ),
        (
            {"holder": {"fileCount": 3, "files": [{"path": "MLmodel", "versionId": "m1"}]}},
            "s3://models/fraud/v2/ holds 2 objects now, but 3 were verified (the compared "
            "version fraud-2).",
        ),
    ],
    ids=["dataset-digest", "dataset-size", "holder-digest", "holder-objects"],
)
def test_inputs_that_are_not_the_pinned_bytes_are_refused(
    store_with_inputs: Store, tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(fetching.InputChanged) as refused:
        fetching.fetch_inputs(inputs_plan(tmp_path, **changes))

    assert str(refused.value) == message.replace("{holder}", holder_digest())


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"holder": {"name": "../escape"}}, "'../escape'"),
        ({"holder": {"name": "a/b"}}, "'a/b' is not a single path segment"),
        ({"holder": {"name": ""}}, "''"),
        ({"dataset": {"digest": "sha256:.."}}, "'..'"),
    ],
)
def test_a_name_that_is_not_one_directory_is_refused_before_any_read(
    store_with_inputs: Store, tmp_path: Path, changes: dict[str, Any], named: str
) -> None:
    plan = inputs_plan(tmp_path, **changes)
    if "dataset" in changes:
        plan["against"] = []

    with pytest.raises(ValueError, match=re.escape(named)):
        fetching.fetch_inputs(plan)

    assert store_with_inputs.gets == []
    assert not (tmp_path / "against").exists() and not (tmp_path / "dataset").exists()


def test_a_plan_without_inputs_fetches_nothing(store: Store) -> None:
    assert fetching.fetch_inputs({"uri": URI, "digest": DIGEST_A}) == []
    assert store.gets == []


def artifact_fetched(content: bytes) -> Any:
    """The real fetch for the inputs; the candidate's own bytes written as they are."""
    real = fetching.fetch

    def download(plan: dict[str, Any], destination: Path) -> Path:
        if plan.get("uri") == URI:
            written: Path = fake_download(content)(plan, destination)
            return written
        return real(plan, destination)

    return download


def test_run_fetch_hands_over_nothing_when_an_input_changed(
    store_with_inputs: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = inputs_plan(tmp_path, dataset={"digest": DIGEST_A})
    plan["digest"] = sha(b"onnx bytes")
    monkeypatch.setenv("MODELREGISTRY_FETCH_PLAN", json.dumps(plan))
    monkeypatch.setattr(fetching, "fetch", artifact_fetched(b"onnx bytes"))
    termination = tmp_path / "termination-log"

    code = fetching.run_fetch(tmp_path / "artifact", tmp_path / "meta", termination)

    assert code == fetching.EXIT_INPUT_CHANGED == 5
    assert termination.read_text() == report_text(
        False,
        f"s3://models/holdout/october.csv (the held-out data set) hashes to {sha(DATASET)}, but "
        f"{DIGEST_A} is pinned for it. Nothing was validated.",
    )
    assert not (tmp_path / "meta").exists()


def test_run_fetch_says_every_input_it_verified(
    store_with_inputs: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = inputs_plan(tmp_path)
    plan["digest"] = sha(b"onnx bytes")
    monkeypatch.setenv("MODELREGISTRY_FETCH_PLAN", json.dumps(plan))
    monkeypatch.setattr(fetching, "fetch", artifact_fetched(b"onnx bytes"))
    termination = tmp_path / "termination-log"

    code = fetching.run_fetch(tmp_path / "artifact", tmp_path / "meta", termination)

    assert code == 0
    assert termination.read_text() == report_text(
        True,
        f"Fetched {URI} ({sha(b'onnx bytes')}); also s3://models/fraud/v2/ ({holder_digest()}), "
        f"s3://models/holdout/october.csv ({sha(DATASET)}).",
    )
    assert (tmp_path / "meta" / "digest").read_text() == sha(b"onnx bytes")


def test_run_fetch_says_which_input_it_could_not_read(
    store_with_inputs: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    del store_with_inputs.objects["holdout/october.csv"]
    plan = inputs_plan(tmp_path)
    plan["digest"] = sha(b"onnx bytes")
    monkeypatch.setenv("MODELREGISTRY_FETCH_PLAN", json.dumps(plan))
    monkeypatch.setattr(fetching, "fetch", artifact_fetched(b"onnx bytes"))
    termination = tmp_path / "termination-log"

    code = fetching.run_fetch(tmp_path / "artifact", tmp_path / "meta", termination)

    assert code == fetching.EXIT_UNREADABLE
    assert termination.read_text() == report_text(
        False,
        "Could not fetch s3://models/holdout/october.csv (the held-out data set): "
        "'holdout/october.csv'",
    )
    assert not (tmp_path / "meta").exists()
