"""Compare checks with oci:// versions: the validation Pod's fetch step brings an oci://
candidate's data set and compared version, and an oci:// compared version pulled by its
verified manifest digest with its own registry Secret (never the candidate's)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from modelregistry import fetch
from modelregistry.api import Artifact
from modelregistry.api.modelversion import (
    ModelVersionSpec,
    ModelVersionStatus,
    StorageSettings,
    ValidationCheck,
    ValidationStatus,
    VerifiedArtifact,
)
from modelregistry.api.oci import RegistrySettings
from modelregistry.decisions.oci import podplan
from modelregistry.decisions.passdata import VersionView
from modelregistry.decisions.validationplan import Compared, Plan, compared_version
from modelregistry.decisions.validationpod import (
    AGAINST_DIR,
    INPUT_PREFIX,
    PLAN_VARIABLE,
    S3_SECRET_KEYS,
    DatasetRecord,
    against_path,
    build_pod,
)
from modelregistry.decisions.verification import Outcome
from modelregistry.digest import ArtifactDigest, FileDigest
from modelregistry.oci.pull import credentials_from_environment
from modelregistry.reconciler.comparison import read_datasets
from modelregistry.storage import ReadProgress

from .builders import DIGEST_A, DIGEST_B, DIGEST_C, NOW, NOW_TEXT
from .test_oci_validation_pod import OCI, REGISTRY, SETTINGS, UID, URI

HOLDOUT_DIGEST = "sha256:" + "d" * 64
HOLDOUT = {"uri": "s3://data/holdout.csv", "digest": HOLDOUT_DIGEST, "target": "churned"}
RECORD = DatasetRecord("s3://data/holdout.csv", HOLDOUT_DIGEST, 1234, "v-7")
S3_HOLDER = VerifiedArtifact(
    uri="s3://models/churn/1/", digest=DIGEST_B, size=900, file_count=2, verified_at=NOW_TEXT
)
OCI_HOLDER = VerifiedArtifact(
    uri=URI, digest=DIGEST_A, size=40 << 20, file_count=1, verified_at=NOW_TEXT, oci=OCI
)


def compare(dataset: dict[str, Any] = HOLDOUT) -> ValidationCheck:
    return ValidationCheck.model_validate(
        {"name": "ab", "builtin": "compare", "metric": "auc", "dataset": dataset}
    )


def view(artifact: dict[str, Any], verified: VerifiedArtifact) -> VersionView:
    spec = ModelVersionSpec.model_validate({"modelRef": {"name": "churn"}, "artifact": artifact})
    return VersionView(spec, ModelVersionStatus(artifact=verified), 4, NOW, "team-a", "c-2", UID)


def oci_candidate() -> VersionView:
    verified = VerifiedArtifact(
        uri=URI, digest=DIGEST_A, size=40 << 20, file_count=1, verified_at=NOW_TEXT, oci=OCI
    )
    return view({"uri": URI, "format": "mlflow"}, verified)


def s3_candidate() -> VersionView:
    verified = VerifiedArtifact(
        uri="s3://models/churn/2/", digest=DIGEST_C, size=800, file_count=2, verified_at=NOW_TEXT
    )
    artifact = {
        "uri": "s3://models/churn/2/",
        "format": "mlflow",
        "storage": {"secretRef": {"name": "candidate-store"}},
    }
    return view(artifact, verified)


def pod_of(candidate: VersionView, holder: Compared, check: ValidationCheck) -> dict[str, Any]:
    plan = Plan(checks=(check,), against={"holder": holder})
    run = ValidationStatus(run=1, checks_digest=DIGEST_C, started_at=NOW_TEXT)
    return build_pod(candidate, UID, run, plan, SETTINGS, {HOLDOUT_DIGEST: RECORD})


def fetch_env(pod: dict[str, Any]) -> dict[str, Any]:
    (step,) = pod["spec"]["initContainers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in step["env"]}


def volume(pod: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [v for v in pod["spec"]["volumes"] if v["name"] == name]
    return dict(found["emptyDir"])


def secret_variables(prefix: str, secret: str, keys: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {
        prefix + variable: {"secretKeyRef": {"name": secret, "key": key, "optional": True}}
        for key, variable in keys
    }


def test_an_oci_candidate_s_pod_brings_the_data_set_with_its_own_secret_and_the_s3_holder() -> None:
    holder = Compared("churn-1", 1, S3_HOLDER, "mlflow", StorageSettings(region="eu-west-1"), None)
    dataset = {**HOLDOUT, "storage": {"secretRef": {"name": "holdout-store"}}}

    pod = pod_of(oci_candidate(), holder, compare(dataset))

    env = fetch_env(pod)
    plan = json.loads(env[PLAN_VARIABLE])
    # The candidate is pulled by its verified digest, as without a compare check.
    assert {k: plan[k] for k in ("uri", "digest", "unpackLimit", "oci")} == {
        "uri": URI,
        "digest": DIGEST_A,
        "unpackLimit": 300 << 20,
        "oci": {"endpoint": "10.0.0.7:31500", "plainHTTP": False},
    }
    prefix = f"{INPUT_PREFIX}1_"
    (item,) = plan["datasets"]
    assert item["uri"] == "s3://data/holdout.csv"
    assert (item["digest"], item["versionId"], item["size"]) == (HOLDOUT_DIGEST, "v-7", 1234)
    assert item["credentials"] == {"secret": "holdout-store", "prefix": prefix}
    (against,) = plan["against"]
    assert against["name"] == "churn-1"
    assert (against["uri"], against["digest"], against["region"]) == (
        "s3://models/churn/1/",
        DIGEST_B,
        "eu-west-1",
    )
    assert "credentials" not in against  # it names no Secret: the step's own
    expected = secret_variables(prefix, "holdout-store", S3_SECRET_KEYS)
    assert {k: v for k, v in env.items() if k.startswith(INPUT_PREFIX)} == expected
    # The step's own store Secret: the operator's default, an oci:// version has none.
    (step,) = pod["spec"]["initContainers"]
    assert step["envFrom"] == [{"secretRef": {"name": "s3-for-validation"}}]


def test_an_oci_holder_is_pulled_by_its_digest_with_its_own_registry_secret() -> None:
    registry = RegistrySettings.model_validate(
        {"secretRef": {"name": "holder-pull"}, "plainHttp": True}
    )
    holder = Compared("churn-1", 1, OCI_HOLDER, "mlflow", None, registry)

    pod = pod_of(s3_candidate(), holder, compare())

    env = fetch_env(pod)
    (against,) = json.loads(env[PLAN_VARIABLE])["against"]
    prefix = f"{INPUT_PREFIX}1_"
    assert against == {
        "name": "churn-1",
        "uri": URI,
        "digest": DIGEST_A,
        "unpackLimit": 300 << 20,
        "oci": {"endpoint": "10.0.0.7:31500", "plainHTTP": True},
        "credentials": {"secret": "holder-pull", "prefix": prefix},
    }
    assert {k: v for k, v in env.items() if k.startswith(INPUT_PREFIX)} == secret_variables(
        prefix, "holder-pull", podplan.SECRET_KEYS
    )
    # The holder's Secret reaches the fetch step alone, never a check.
    for container in pod["spec"]["containers"]:
        assert not [e for e in container["env"] if e["name"].startswith(INPUT_PREFIX)]
        assert "envFrom" not in container
    # The candidate's own registry variables are not set: it is an s3:// version.
    assert not {v for _, v in podplan.SECRET_KEYS} & set(env)
    # Room for the holder unpacked (300 MiB), not its 40 MiB of layers.
    assert volume(pod, "against")["sizeLimit"] == "302Mi"
    (check,) = pod["spec"]["containers"]
    args = check["args"]
    assert args[args.index("--against") + 1] == f"{AGAINST_DIR}/churn-1"
    assert args[args.index("--against-digest") + 1] == DIGEST_A


def test_an_oci_holder_without_a_secret_gets_no_credentials() -> None:
    holder = Compared("churn-1", 1, OCI_HOLDER, "mlflow", None, RegistrySettings())

    env = fetch_env(pod_of(s3_candidate(), holder, compare()))

    (against,) = json.loads(env[PLAN_VARIABLE])["against"]
    assert "credentials" not in against
    assert not [k for k in env if k.startswith(INPUT_PREFIX)]


def test_each_input_naming_a_secret_gets_a_prefix_of_its_own() -> None:
    registry = RegistrySettings.model_validate({"secretRef": {"name": "holder-pull"}})
    holder = Compared("churn-1", 1, OCI_HOLDER, "mlflow", None, registry)
    dataset = {**HOLDOUT, "storage": {"secretRef": {"name": "holdout-store"}}}

    plan = json.loads(fetch_env(pod_of(oci_candidate(), holder, compare(dataset)))[PLAN_VARIABLE])

    prefixes = [plan["datasets"][0]["credentials"], plan["against"][0]["credentials"]]
    assert prefixes == [
        {"secret": "holdout-store", "prefix": f"{INPUT_PREFIX}1_"},
        {"secret": "holder-pull", "prefix": f"{INPUT_PREFIX}2_"},
    ]


def test_an_oci_version_lies_in_its_directory_and_an_s3_object_under_its_name() -> None:
    assert against_path(Compared("churn-1", 1, OCI_HOLDER)) == f"{AGAINST_DIR}/churn-1"
    one = S3_HOLDER.model_copy(update={"uri": "s3://models/churn/model.onnx"})
    assert against_path(Compared("churn-1", 1, one)) == f"{AGAINST_DIR}/churn-1/model.onnx"


def test_the_compared_version_carries_its_registry_settings() -> None:
    spec = ModelVersionSpec.model_validate(
        {
            "modelRef": {"name": "churn"},
            "version": 1,
            "artifact": {"uri": URI, "registry": {"secretRef": {"name": "holder-pull"}}},
        }
    )
    status = ModelVersionStatus.model_validate(
        {
            "artifact": OCI_HOLDER.model_dump(mode="json", by_alias=True),
            "conditions": [
                {
                    "type": "ArtifactVerified",
                    "status": "True",
                    "reason": "DigestMatched",
                    "message": "",
                    "lastTransitionTime": NOW_TEXT,
                }
            ],
        }
    )

    found = compared_version("churn-1", "churn", spec, status)

    assert found is not None and found.registry is not None
    assert found.registry.secret_ref is not None
    assert found.registry.secret_ref.name == "holder-pull"


def test_the_data_set_is_read_with_its_own_storage_else_the_version_s() -> None:
    read: list[Artifact] = []

    async def reader(
        namespace: str, artifact: Artifact, field: str, digest: str | None, p: ReadProgress
    ) -> Outcome:
        read.append(artifact)
        file = FileDigest("holdout.csv", "d" * 64, 12, "v-1")
        return ArtifactDigest(HOLDOUT_DIGEST, 12, (file,), is_prefix=False)

    own = {**HOLDOUT, "storage": {"secretRef": {"name": "holdout-store"}}}
    for dataset in (own, HOLDOUT):
        plan = Plan(checks=(compare(dataset),))
        asyncio.run(read_datasets(plan, "team-a", oci_candidate().spec, reader))
    first, second = read
    assert first.storage is not None and first.storage.secret_ref is not None
    assert first.storage.secret_ref.name == "holdout-store"
    assert second.storage is None  # an oci:// version has none: the operator's own


def test_an_input_s_own_s3_keys_come_from_its_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    item = {"uri": "s3://d/x.csv", "credentials": {"secret": "holdout-store", "prefix": "P_1_"}}
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "the-step-s-own")
    monkeypatch.setenv("P_1_AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("P_1_AWS_SECRET_ACCESS_KEY", "key")

    assert fetch._s3_credentials(item) == {
        "aws_access_key_id": "id",
        "aws_secret_access_key": "key",
    }
    monkeypatch.setenv("P_1_AWS_SESSION_TOKEN", "token")
    assert fetch._s3_credentials(item)["aws_session_token"] == "token"
    assert fetch._s3_credentials({"uri": "s3://d/x.csv"}) == {}  # boto3's chain


def test_an_input_whose_secret_lacks_the_keys_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("P_1_AWS_ACCESS_KEY_ID", "id")
    item = {"uri": "s3://d/x.csv", "credentials": {"secret": "holdout-store", "prefix": "P_1_"}}

    with pytest.raises(ValueError, match="the Secret 'holdout-store' named for it has no"):
        fetch._s3_credentials(item)


def test_registry_credentials_are_read_under_the_input_s_prefix() -> None:
    environ = {
        podplan.USERNAME_VARIABLE: "candidate",
        podplan.PASSWORD_VARIABLE: "candidate-password",
        "P_2_" + podplan.USERNAME_VARIABLE: "holder",
        "P_2_" + podplan.PASSWORD_VARIABLE: "holder-password",
    }

    own = credentials_from_environment(environ, REGISTRY, "P_2_")
    step = credentials_from_environment(environ, REGISTRY)

    assert own is not None and step is not None
    assert own != step
    assert credentials_from_environment(environ, REGISTRY, "P_3_") is None


def test_a_data_set_s_own_store_is_part_of_what_a_run_does() -> None:
    own = {**HOLDOUT, "storage": {"secretRef": {"name": "holdout-store"}}}
    other = {**HOLDOUT, "storage": {"secretRef": {"name": "other-store"}}}

    digests = {Plan(checks=(compare(d),)).digest for d in (HOLDOUT, own, other)}

    assert len(digests) == 3


def test_a_compared_version_in_a_registry_pods_may_not_reach_fails_naming_the_setting(
    tmp_path: Any,
) -> None:
    item = {
        "name": "churn-1",
        "uri": URI,
        "digest": DIGEST_A,
        "unpackLimit": 300 << 20,
        "oci": {"endpoint": None, "plainHTTP": False},
    }
    plan = {"againstDir": str(tmp_path), "against": [item], "datasets": []}

    with pytest.raises(RuntimeError) as failed:
        fetch.fetch_inputs(plan)

    assert str(failed.value) == (
        f"Could not fetch {URI} (the compared version churn-1): validation Pods may not reach "
        f"the registry {REGISTRY}: the operator's {podplan.SETTING} does not name it (ask the "
        "operator's administrator to add it)"
    )


# What botocore's credential chain would find (the fetch step's environment has none here).
NO_CREDENTIALS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


@pytest.mark.parametrize(
    ("named", "field"),
    [
        ({}, "the check's dataset.storage.secretRef"),
        ({"name": "churn-1"}, "the spec.artifact.storage.secretRef of ModelVersion 'churn-1'"),
    ],
)
def test_an_input_the_fetch_step_has_no_credentials_for_fails_naming_where_to_give_them(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, named: dict[str, str], field: str
) -> None:
    for variable in NO_CREDENTIALS:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    item = {
        **named,
        "uri": "s3://data/holdout.csv",
        "digest": HOLDOUT_DIGEST,
        "size": 10,
        "endpoint": "http://127.0.0.1:9",
        "region": "us-east-1",
    }

    with pytest.raises(RuntimeError) as failed:
        fetch._fetch_verified(item, tmp_path / "in", "the held-out data set")

    assert str(failed.value) == (
        "Could not fetch s3://data/holdout.csv (the held-out data set): the fetch step has no "
        f"S3 credentials for it. Name a Secret for it in {field}, or ask the operator's "
        "administrator to set MODELREGISTRY_VALIDATION_SECRET"
    )
