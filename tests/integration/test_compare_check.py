"""The compare check end to end: two small scikit-learn models of different quality, one in
Production, the other scored against it on a held-out CSV in one validation Pod.

The Pod runs on the local node in the project's image, in a namespace that enforces the
`restricted` Pod Security profile. Its fetch step brings the candidate, the Production
holder's verified bytes and the data set, each checked by digest; status shows both scores.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import kubernetes
import pytest

from modelregistry.localenv import S3Server
from tests.integration.support import Objects, OperatorProcess, wait_until
from tests.integration.test_validation import pods_of, secret_for, upload_dir, validation_of
from tests.unit.test_checks_compare import good_model, holdout_csv, mlflow_model_of, poor_model

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

HOLDOUT_KEY = "holdout/october.csv"
STORE = "store"  # the Secret secret_for makes


def in_production(objects: Objects, s3: S3Server, s3_client: S3Client, bucket: str, model: Any,
                  root: Path) -> str:  # fmt: skip
    """clf-1, holding `model`, granted Production (the Model asks no approval); its digest."""
    digest = upload_dir(s3_client, bucket, "clf-1/", mlflow_model_of(root, model))
    objects.version(
        "clf-1",
        "clf",
        f"s3://{bucket}/clf-1/",
        artifact={"digest": digest, "format": "mlflow", "storage": secret_for(objects, s3)},
        stage="Production",
    )
    objects.wait_stage("clf-1", "Production")
    lock = objects.get("models", "clf")["status"]["production"]
    assert lock["holder"] == "clf-1"
    return digest


def held_out(s3_client: S3Client, bucket: str, tmp_path: Path) -> dict[str, str]:
    path = holdout_csv(tmp_path / "october.csv")
    s3_client.upload_file(str(path), bucket, HOLDOUT_KEY)
    digest = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    return {"uri": f"s3://{bucket}/{HOLDOUT_KEY}", "digest": digest, "target": "label"}


def compare(dataset: dict[str, str], metric: str = "auc") -> dict[str, Any]:
    return {"name": "ab", "builtin": "compare", "metric": metric, "dataset": dataset}


def candidate(objects: Objects, s3: S3Server, s3_client: S3Client, bucket: str, model: Any,
              root: Path, checks: list[dict[str, Any]]) -> None:  # fmt: skip
    """clf-2, holding `model`, with `checks`; its bytes read with the Secret clf-1's are."""
    digest = upload_dir(s3_client, bucket, "clf-2/", mlflow_model_of(root, model))
    if not any(s.metadata and s.metadata.name == STORE for s in secrets(objects)):
        secret_for(objects, s3)
    objects.version(
        "clf-2",
        "clf",
        f"s3://{bucket}/clf-2/",
        artifact={"digest": digest, "format": "mlflow", "storage": {"secretRef": {"name": STORE}}},
        validation={"checks": checks, "deadlineSeconds": 180},
    )


def secrets(objects: Objects) -> list[Any]:
    return list(objects.core.list_namespaced_secret(objects.namespace).items)


def scores(objects: Objects, name: str = "clf-2") -> tuple[float, float, dict[str, str]]:
    (result,) = validation_of(objects, name)["checks"]
    assert result["result"] == "Passed", result
    return float(result["value"]), float(result["threshold"]), result["details"]


def test_a_better_candidate_is_scored_above_the_holder_on_bytes_all_verified(
    operator: OperatorProcess,
    restricted: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
    tmp_path: Path,
) -> None:
    objects.model("clf")
    holder = in_production(objects, s3, s3_client, bucket, poor_model(), tmp_path / "poor")
    dataset = held_out(s3_client, bucket, tmp_path)
    candidate(objects, s3, s3_client, bucket, good_model(), tmp_path / "good", [compare(dataset)])

    passed = objects.wait_condition(
        "clf-2", "Validated", "True", "ChecksPassed", timeout=240, on_timeout=operator.log_tail
    )

    assert passed["message"] == "Every check passed: ab."
    own, other, details = scores(objects)
    assert own > 0.9 and other == 0.5
    assert details == {
        "metric": "auc",
        "datasetDigest": dataset["digest"],
        "against": "holder",
        "holder": "clf-1",
        "holderVersion": "1",
        "holderDigest": holder,
    }
    (result,) = validation_of(objects, "clf-2")["checks"]
    assert result["message"].startswith(f"auc on 200 rows of october.csv: this version {own}, ")
    assert result["message"].endswith(
        f"clf-1 (version 1) 0.5 (this version is better by {round(own - other, 6)})"
    )
    # The holder keeps Production: the check measures, the Model's policy decides.
    assert objects.get("modelversions", "clf-1")["status"]["stage"] == "Production"
    wait_until(lambda: not pods_of(objects, "clf-2"), what="the passed run's Pod to go")


def test_the_worse_candidate_reports_the_lower_value(
    operator: OperatorProcess,
    restricted: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
    tmp_path: Path,
) -> None:
    objects.model("clf")
    in_production(objects, s3, s3_client, bucket, good_model(), tmp_path / "good")
    dataset = held_out(s3_client, bucket, tmp_path)
    candidate(
        objects,
        s3,
        s3_client,
        bucket,
        poor_model(),
        tmp_path / "poor",
        [compare(dataset, "accuracy")],
    )

    objects.wait_condition(
        "clf-2", "Validated", "True", "ChecksPassed", timeout=240, on_timeout=operator.log_tail
    )

    own, other, details = scores(objects)
    assert own < other
    assert other > 0.85
    assert (details["metric"], details["holder"]) == ("accuracy", "clf-1")


def test_a_failed_run_keeps_its_pod_and_it_holds_no_credentials_for_the_check(
    operator: OperatorProcess,
    restricted: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
    tmp_path: Path,
) -> None:
    objects.model("clf")
    in_production(objects, s3, s3_client, bucket, poor_model(), tmp_path / "poor")
    dataset = {**held_out(s3_client, bucket, tmp_path), "target": "churned"}  # no such column
    candidate(objects, s3, s3_client, bucket, good_model(), tmp_path / "good", [compare(dataset)])

    failed = objects.wait_condition(
        "clf-2", "Validated", "False", "CheckFailed", timeout=240, on_timeout=operator.log_tail
    )

    assert (
        "Check 'ab' failed (exit code 2): the data set october.csv has no column 'churned'"
        in (failed["message"])
    )
    (pod,) = pods_of(objects, "clf-2")
    spec = pod.spec
    assert spec is not None
    (fetch,) = spec.init_containers or []
    (check,) = spec.containers
    fetched = {m.name: m.mount_path for m in fetch.volume_mounts or [] if not m.read_only}
    assert fetched == {
        "artifact": "/artifact",
        "meta": "/meta",
        "dataset": "/dataset",
        "against": "/against",
        "scratch-0": "/tmp",
    }
    assert [(m.name, m.read_only) for m in check.volume_mounts or []] == [
        ("artifact", True),
        ("meta", True),
        ("dataset", True),
        ("against", True),
        ("scratch-1", None),
    ]
    assert check.env_from is None
    assert [e.name for e in check.env or []] == ["HOME"]
    assert fetch.env_from is not None
    statuses = {s.name: s for s in (pod.status.init_container_statuses or [])} if pod.status else {}
    terminated = statuses["fetch"].state.terminated if statuses["fetch"].state else None
    assert terminated is not None and terminated.exit_code == 0
    assert terminated.message is not None and "; also " in terminated.message


def test_a_compare_check_without_a_data_set_is_refused_at_apply(
    operator: OperatorProcess, objects: Objects, bucket: str
) -> None:
    objects.model("clf")

    with pytest.raises(kubernetes.client.exceptions.ApiException) as refused:
        objects.version(
            "clf-2",
            "clf",
            f"s3://{bucket}/m.bin",
            validation={"checks": [{"name": "ab", "builtin": "compare", "metric": "auc"}]},
        )

    assert refused.value.status == 422
    assert "a compare check needs dataset (uri, digest, target) and metric" in str(
        refused.value.body
    )
    with pytest.raises(kubernetes.client.exceptions.ApiException) as refused:
        objects.version(
            "clf-3",
            "clf",
            f"s3://{bucket}/m.bin",
            validation={"checks": [{"name": "fmt", "builtin": "format", "metric": "auc"}]},
        )
    assert "dataset, metric and against belong to compare checks" in str(refused.value.body)


def test_a_data_set_changed_in_the_store_after_registration_fails_naming_both_digests(
    operator: OperatorProcess,
    restricted: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
    tmp_path: Path,
) -> None:
    objects.model("clf")
    dataset = held_out(s3_client, bucket, tmp_path)
    candidate(objects, s3, s3_client, bucket, good_model(), tmp_path / "good", [compare(dataset)])
    objects.wait_condition(
        "clf-2", "Validated", "True", "ChecksPassed", timeout=240, on_timeout=operator.log_tail
    )
    wait_until(lambda: not pods_of(objects, "clf-2"), what="the passed run's Pod to go")
    # Nobody holds Production: this version is scored alone.
    (alone,) = validation_of(objects, "clf-2")["checks"]
    assert alone.get("threshold") is None
    assert alone["details"] == {
        "metric": "auc",
        "datasetDigest": dataset["digest"],
        "against": "holder",
    }

    # Someone with write access to the bucket changes the labels; the next run refuses them.
    tampered = holdout_csv(tmp_path / "tampered.csv", seed=12)
    s3_client.upload_file(str(tampered), bucket, HOLDOUT_KEY)
    found = "sha256:" + hashlib.sha256(tampered.read_bytes()).hexdigest()
    revalidate(objects, "clf-2")

    failed = objects.wait_condition(
        "clf-2", "Validated", "False", "CheckFailed", timeout=60, on_timeout=operator.log_tail
    )

    assert failed["message"].startswith(
        f"Check 'ab' failed: Check 'ab' cannot use its data set {dataset['uri']}: it hashes to "
        f"{found}, not to {dataset['digest']} (dataset.digest)."
    )
    assert pods_of(objects, "clf-2") == []


def revalidate(objects: Objects, name: str) -> None:
    objects.api.patch_namespaced_custom_object(
        "modelregistry.io",
        "v1alpha1",
        objects.namespace,
        "modelversions",
        name,
        {"metadata": {"annotations": {"modelregistry.io/revalidate": str(time.time())}}},
    )


def registered(objects: Objects, s3_client: S3Client, bucket: str, name: str, model: Any,
               root: Path, **spec: Any) -> None:  # fmt: skip
    """`name`, holding `model`, read with the Secret STORE."""
    digest = upload_dir(s3_client, bucket, f"{name}/", mlflow_model_of(root, model))
    objects.version(
        name,
        "clf",
        f"s3://{bucket}/{name}/",
        artifact={"digest": digest, "format": "mlflow", "storage": {"secretRef": {"name": STORE}}},
        **spec,
    )


def comparison(objects: Objects, name: str) -> dict[str, Any]:
    return dict(objects.get("modelversions", name)["status"]["comparison"])


def test_the_gate_grants_and_refuses_production_on_the_measured_scores_not_the_declared(
    operator: OperatorProcess,
    restricted: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
    tmp_path: Path,
) -> None:
    dataset = held_out(s3_client, bucket, tmp_path)
    # The Model requires the compare check: its data set and metric are not the candidate's.
    objects.model(
        "clf",
        policy={
            "productionHandover": "replace",
            "production": {"mustBeat": {"metric": "auc", "by": 0.01, "check": "ab"}},
            "validation": {"requiredChecks": [compare(dataset)]},
        },
    )
    secret_for(objects, s3)
    # Each version declares an auc that flatters it; the gate compares what was measured.
    registered(objects, s3_client, bucket, "clf-1", poor_model(), tmp_path / "1",
               metrics={"auc": 0.99}, stage="Production")  # fmt: skip
    objects.wait_stage("clf-1", "Production", timeout=240, on_timeout=operator.log_tail)
    assert comparison(objects, "clf-1")["source"] == "Measured"

    registered(objects, s3_client, bucket, "clf-2", good_model(), tmp_path / "2",
               metrics={"auc": 0.6}, stage="Production")  # fmt: skip
    objects.wait_stage("clf-2", "Production", timeout=240, on_timeout=operator.log_tail)
    # Once it holds Production, clf-2 is scored alone in a run of its own: what the gate
    # compared stays in status.comparison.
    measured = comparison(objects, "clf-2")
    own = measured["candidate"]
    assert own > 0.9
    assert measured == {
        "metric": "auc",
        "candidate": own,
        "against": 0.5,
        "againstVersion": "clf-1",
        "by": 0.01,
        "source": "Measured",
        "passed": True,
    }
    assert objects.get("modelversions", "clf-1")["status"]["stage"] == "Archived"

    registered(objects, s3_client, bucket, "clf-3", poor_model(), tmp_path / "3",
               metrics={"auc": 0.999}, stage="Production")  # fmt: skip
    refused = objects.wait_condition(
        "clf-3", "StageGranted", "False", "ChampionNotBeaten", timeout=240,
        on_timeout=operator.log_tail,
    )  # fmt: skip
    mine, holder, details = scores(objects, "clf-3")
    assert (mine, holder, details["holder"]) == (0.5, own, "clf-2")
    assert refused["message"].startswith(
        f"Production needs auc above {own:.6g} (clf-2, the Production holder) by at least 0.01 "
        "(the Model's spec.policy.production.mustBeat; measured by the compare check); this "
        "version has 0.5, worse by "
    )
    assert comparison(objects, "clf-3")["source"] == "Measured"
    assert objects.get("modelversions", "clf-2")["status"]["stage"] == "Production"
