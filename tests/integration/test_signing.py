"""Signed models end to end: model-signing bundles, a real API server, S3 server and operator.

Models are signed as people sign them: with model-signing's own CLI (key and
certificate signing), or with `modelregistry register --sign-key`, whose
bundle model-signing's `verify key` then checks on a copy of the uploaded
prefix. The public key sits in a ConfigMap; the Model's policy pins which
keys count. A namespace user who may write that ConfigMap and create
versions, but not change the Model, is impersonated to try to get a version
signed with a key of their own into Staging.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import kubernetes
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from kubernetes.client.exceptions import ApiException

from modelregistry import signingkeys
from modelregistry.digest import digest_local_path
from modelregistry.localenv import S3Server
from tests.certificates import certificate
from tests.integration.conftest import Cluster
from tests.integration.support import Objects, OperatorProcess, impersonating

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

MODEL_SIGNING = [sys.executable, "-m", "model_signing"]
MALLORY = "mallory"
KEYS = "signing-keys"  # the ConfigMap of public keys


class Signer:
    """An ECDSA P-256 key pair on disk, as model_signing takes it."""

    def __init__(self, directory: Path, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.private = directory / f"{name}.key"
        self.private.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public = directory / f"{name}.pub"
        self.public.write_bytes(self.public_pem)
        self.fingerprint = signingkeys.fingerprint(self.key.public_key())

    def sign(self, model: Path, bundle: Path) -> None:
        """`model_signing sign key`, as a person runs it."""
        subprocess.run(
            [
                *MODEL_SIGNING,
                "sign",
                "key",
                str(model),
                "--private_key",
                str(self.private),
                "--signature",
                str(bundle),
            ],
            check=True,
            capture_output=True,
        )


def write_model(directory: Path) -> Path:
    (directory / "tokenizer").mkdir(parents=True)
    (directory / "config.json").write_text('{"layers": 4}')
    (directory / "weights.safetensors").write_bytes(bytes(range(256)) * 512)
    (directory / "tokenizer" / "vocab.txt").write_text("a\nb\nc\n")
    return directory


def upload(s3_client: S3Client, bucket: str, prefix: str, directory: Path) -> None:
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        key = prefix + path.relative_to(directory).as_posix()
        s3_client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())


def key_config_map(
    api_client: kubernetes.client.ApiClient, namespace: str, entries: dict[str, bytes]
) -> None:
    kubernetes.client.CoreV1Api(api_client).create_namespaced_config_map(
        namespace,
        cast(
            Any,
            {"metadata": {"name": KEYS}, "data": {k: v.decode() for k, v in entries.items()}},
        ),
    )


def signed_by_key(uri: str, entry: str = "team.pub") -> dict[str, Any]:
    return {"signature": {"uri": uri, "publicKey": {"name": KEYS, "key": entry}}}


def signed_prefix(
    tmp_path: Path, s3_client: S3Client, bucket: str, signer: Signer, prefix: str = "churn/1/"
) -> str:
    """A model signed by model_signing (model.sig inside it), uploaded with its bundle."""
    model = write_model(tmp_path / prefix.strip("/").replace("/", "-"))
    signer.sign(model, model / "model.sig")
    upload(s3_client, bucket, prefix, model)
    return f"s3://{bucket}/{prefix}"


def test_a_prefix_signed_with_model_signing_verifies(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
    tmp_path: Path,
) -> None:
    signer = Signer(tmp_path, "team")
    uri = signed_prefix(tmp_path, s3_client, bucket, signer)
    key_config_map(cluster.api_client, namespace, {"team.pub": signer.public_pem})
    objects.model("churn")
    objects.version("churn-1", "churn", uri, artifact=signed_by_key(uri + "model.sig"))

    verified = objects.wait_condition(
        "churn-1", "SignatureVerified", "True", "Signed", on_timeout=operator.log_tail
    )
    assert signer.fingerprint in verified["message"]
    assert "signs the 3 files" in verified["message"]
    objects.wait_condition("churn-1", "Ready", "True")
    status = objects.get("modelversions", "churn-1")["status"]
    record = status["artifactSignature"]
    bundle = s3_client.get_object(Bucket=bucket, Key="churn/1/model.sig")
    assert record["uri"] == uri + "model.sig"
    assert record["method"] == "key"
    assert record["keyFingerprint"] == signer.fingerprint
    assert record["files"] == 3
    assert record["versionId"] == bundle["VersionId"]
    assert record["artifactDigest"] == status["artifact"]["digest"]
    # The bundle is one of the prefix's files (in its digest), the one the signature does not list.
    assert status["artifact"]["fileCount"] == 4
    assert any(e["reason"] == "Signed" for e in objects.events("churn-1"))


def test_files_added_removed_or_changed_after_signing_are_named(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
    tmp_path: Path,
) -> None:
    signer = Signer(tmp_path, "team")
    uri = signed_prefix(tmp_path, s3_client, bucket, signer)
    key_config_map(cluster.api_client, namespace, {"team.pub": signer.public_pem})
    # After signing: a new version of one object, one more, one fewer.
    s3_client.put_object(Bucket=bucket, Key="churn/1/config.json", Body=b'{"layers": 5}')
    s3_client.put_object(Bucket=bucket, Key="churn/1/extra.py", Body=b"print('hi')")
    s3_client.delete_object(Bucket=bucket, Key="churn/1/tokenizer/vocab.txt")
    objects.model("churn")
    objects.version("churn-1", "churn", uri, artifact=signed_by_key(uri + "model.sig"))

    refused = objects.wait_condition(
        "churn-1", "SignatureVerified", "False", "FilesDiffer", on_timeout=operator.log_tail
    )
    assert "not signed: extra.py" in refused["message"]
    assert "signed but missing: tokenizer/vocab.txt" in refused["message"]
    assert "changed since signing: config.json" in refused["message"]
    # The bytes are what they are (no digest was declared): verified; the signature is not.
    assert objects.present_condition("churn-1", "ArtifactVerified")["status"] == "True"
    stalled = objects.wait_condition("churn-1", "Stalled", "True", "FilesDiffer")
    assert "config.json" in stalled["message"]
    assert objects.present_condition("churn-1", "Ready")["status"] == "False"
    assert "artifactSignature" not in objects.get("modelversions", "churn-1")["status"]


def test_a_signature_by_another_key_is_refused(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
    tmp_path: Path,
) -> None:
    signer, other = Signer(tmp_path, "team"), Signer(tmp_path, "other")
    uri = signed_prefix(tmp_path, s3_client, bucket, signer)
    key_config_map(cluster.api_client, namespace, {"team.pub": other.public_pem})
    objects.model("churn")
    objects.version("churn-1", "churn", uri, artifact=signed_by_key(uri + "model.sig"))

    refused = objects.wait_condition(
        "churn-1", "SignatureVerified", "False", "SignatureInvalid", on_timeout=operator.log_tail
    )
    assert "was signed with another key" in refused["message"]
    assert other.fingerprint in refused["message"]


def test_a_missing_key_and_bundle_are_waited_for(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
    tmp_path: Path,
) -> None:
    signer = Signer(tmp_path, "team")
    model = write_model(tmp_path / "single")
    weights = model / "weights.safetensors"
    s3_client.put_object(Bucket=bucket, Key="m/weights.safetensors", Body=weights.read_bytes())
    uri = f"s3://{bucket}/m/weights.safetensors"
    objects.model("m")
    objects.version("m-1", "m", uri, artifact=signed_by_key(uri + ".sig"))

    missing = objects.wait_condition(
        "m-1", "SignatureVerified", "False", "SignatureMissing", on_timeout=operator.log_tail
    )
    assert f"{uri}.sig (spec.artifact.signature.uri)" in missing["message"]
    objects.wait_condition("m-1", "Reconciling", "True", "SignatureMissing")
    signer.sign(weights, tmp_path / "weights.sig")
    s3_client.put_object(
        Bucket=bucket, Key="m/weights.safetensors.sig", Body=(tmp_path / "weights.sig").read_bytes()
    )
    no_key = objects.wait_condition("m-1", "SignatureVerified", "False", "KeyNotFound", timeout=90)
    assert f"ConfigMap {KEYS!r}" in no_key["message"]
    assert f"kubectl create configmap {KEYS} --from-file=team.pub=FILE" in no_key["message"]
    key_config_map(cluster.api_client, namespace, {"team.pub": signer.public_pem})
    objects.wait_condition("m-1", "SignatureVerified", "True", "Signed", timeout=90)
    record = objects.get("modelversions", "m-1")["status"]["artifactSignature"]
    assert record["files"] == 1
    objects.wait_condition("m-1", "Ready", "True")


def test_a_bundle_replaced_after_verification_is_refused_naming_both_versions(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
    tmp_path: Path,
) -> None:
    """The verified bundle is pinned: even a valid bundle by the same key is other bytes."""
    signer = Signer(tmp_path, "team")
    weights = write_model(tmp_path / "single") / "weights.safetensors"
    s3_client.put_object(Bucket=bucket, Key="m/weights.safetensors", Body=weights.read_bytes())
    uri = f"s3://{bucket}/m/weights.safetensors"
    signer.sign(weights, tmp_path / "first.sig")
    first = s3_client.put_object(
        Bucket=bucket, Key="m/weights.safetensors.sig", Body=(tmp_path / "first.sig").read_bytes()
    )
    key_config_map(cluster.api_client, namespace, {"team.pub": signer.public_pem})
    objects.model("m")
    objects.version("m-1", "m", uri, artifact=signed_by_key(uri + ".sig"))
    objects.wait_condition(
        "m-1", "SignatureVerified", "True", "Signed", on_timeout=operator.log_tail
    )

    signer.sign(weights, tmp_path / "second.sig")  # ECDSA: a new signature, other bytes
    assert (tmp_path / "second.sig").read_bytes() != (tmp_path / "first.sig").read_bytes()
    second = s3_client.put_object(
        Bucket=bucket, Key="m/weights.safetensors.sig", Body=(tmp_path / "second.sig").read_bytes()
    )
    changed = objects.wait_condition(
        "m-1", "SignatureVerified", "False", "SignatureChanged", timeout=60
    )
    assert f"versionId {first['VersionId']} -> {second['VersionId']}" in changed["message"]
    objects.wait_condition("m-1", "Stalled", "True", "SignatureChanged")
    # The record of what was verified stays, and still binds.
    record = objects.get("modelversions", "m-1")["status"]["artifactSignature"]
    assert record["versionId"] == first["VersionId"]


def test_the_policy_gates_staging_on_a_trusted_signature(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
    tmp_path: Path,
) -> None:
    signer = Signer(tmp_path, "team")
    key_config_map(cluster.api_client, namespace, {"team.pub": signer.public_pem})
    objects.model(
        "churn", policy={"signing": {"required": True, "trustedKeys": [signer.fingerprint]}}
    )
    s3_client.put_object(Bucket=bucket, Key="unsigned.bin", Body=b"no signature")
    objects.version("churn-1", "churn", f"s3://{bucket}/unsigned.bin", stage="Staging")
    refused = objects.wait_condition(
        "churn-1", "StageGranted", "False", "SignatureRequired", on_timeout=operator.log_tail
    )
    assert "spec.policy.signing.required" in refused["message"]
    assert "--sign-key" in refused["message"]
    assert objects.get("modelversions", "churn-1")["status"].get("stage") == "None"

    uri = signed_prefix(tmp_path, s3_client, bucket, signer)
    objects.version(
        "churn-2", "churn", uri, stage="Staging", artifact=signed_by_key(uri + "model.sig")
    )
    granted = objects.wait_condition("churn-2", "StageGranted", "True", "Granted", timeout=90)
    assert granted["message"] == "Staging is granted."


def test_a_policy_without_trusted_keys_is_refused_by_the_api_server(
    operator: OperatorProcess, objects: Objects
) -> None:
    with pytest.raises(ApiException) as refused:
        objects.model("churn", policy={"signing": {"required": True}})
    assert refused.value.status == 422
    assert "a required signature needs trustedKeys" in str(refused.value.body)


def test_the_signature_is_immutable(
    operator: OperatorProcess, objects: Objects, bucket: str
) -> None:
    uri = f"s3://{bucket}/m/"
    objects.model("m")
    objects.version("m-1", "m", uri, artifact=signed_by_key(uri + "model.sig"))
    with pytest.raises(ApiException) as refused:
        objects.patch_spec("m-1", {"artifact": {"signature": {"uri": uri + "other.sig"}}})
    assert refused.value.status == 422
    assert "spec.artifact is immutable" in str(refused.value.body)
    with pytest.raises(ApiException) as both:
        objects.version(
            "m-2",
            "m",
            uri,
            artifact={
                "signature": {
                    "uri": uri + "model.sig",
                    "publicKey": {"name": KEYS, "key": "a"},
                    "certificate": {"trustRoot": {"name": KEYS, "key": "b"}},
                }
            },
        )
    assert "set either publicKey" in str(both.value.body)


def test_a_namespace_user_cannot_promote_a_model_signed_with_a_key_of_their_own(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
    tmp_path: Path,
) -> None:
    """mallory may write ConfigMaps and versions (and ask for a stage), not change the Model."""
    team, mallory_key = Signer(tmp_path, "team"), Signer(tmp_path, "mallory")
    key_config_map(cluster.api_client, namespace, {"team.pub": team.public_pem})
    objects.model(
        "churn", policy={"signing": {"required": True, "trustedKeys": [team.fingerprint]}}
    )
    rbac = kubernetes.client.RbacAuthorizationV1Api(cluster.api_client)
    rules = [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "update", "create"]},
        {
            "apiGroups": ["modelregistry.io"],
            "resources": ["modelversions"],
            "verbs": ["get", "create", "patch"],
        },
        {"apiGroups": ["modelregistry.io"], "resources": ["models"], "verbs": ["get"]},
    ]
    rbac.create_namespaced_role(
        namespace, cast(Any, {"metadata": {"name": "signer"}, "rules": rules})
    )
    rbac.create_namespaced_role_binding(
        namespace,
        cast(
            Any,
            {
                "metadata": {"name": "mallory-signer"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "signer",
                },
                "subjects": [
                    {"kind": "User", "name": MALLORY, "apiGroup": "rbac.authorization.k8s.io"}
                ],
            },
        ),
    )
    as_mallory = impersonating(cluster.api_client, MALLORY)
    core = kubernetes.client.CoreV1Api(as_mallory)
    # Her own bytes, signed with her own key; the team's key in the ConfigMap swapped for hers.
    uri = signed_prefix(tmp_path, s3_client, bucket, mallory_key, prefix="evil/")
    core.replace_namespaced_config_map(
        KEYS,
        namespace,
        cast(
            Any, {"metadata": {"name": KEYS}, "data": {"team.pub": mallory_key.public_pem.decode()}}
        ),
    )
    Objects(as_mallory, namespace).version(
        "churn-evil", "churn", uri, stage="Staging", artifact=signed_by_key(uri + "model.sig")
    )
    # Her signature verifies with the key she put there, and counts for nothing.
    objects.wait_condition(
        "churn-evil", "SignatureVerified", "True", "Signed", on_timeout=operator.log_tail
    )
    refused = objects.wait_condition("churn-evil", "StageGranted", "False", "KeyNotTrusted")
    assert mallory_key.fingerprint in refused["message"]
    assert "spec.policy.signing.trustedKeys" in refused["message"]
    assert objects.get("modelversions", "churn-evil")["status"].get("stage") == "None"
    # Nor may she trust her key in the Model's policy, or write the version's status.
    custom = kubernetes.client.CustomObjectsApi(as_mallory)
    policy = {"signing": {"required": True, "trustedKeys": [mallory_key.fingerprint]}}
    with pytest.raises(ApiException) as forbidden:
        custom.patch_namespaced_custom_object(
            "modelregistry.io",
            "v1alpha1",
            namespace,
            "models",
            "churn",
            {"spec": {"policy": policy}},
        )
    assert forbidden.value.status == 403
    with pytest.raises(ApiException) as no_status:
        custom.patch_namespaced_custom_object_status(
            "modelregistry.io",
            "v1alpha1",
            namespace,
            "modelversions",
            "churn-evil",
            {"status": {"stage": "Staging"}},
        )
    assert no_status.value.status == 403


# --- certificate signing -------------------------------------------------------------------


def test_a_certificate_signature_verifies_against_a_private_trust_root(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
    tmp_path: Path,
) -> None:
    root_key, leaf_key = (
        ec.generate_private_key(ec.SECP384R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    root = certificate("Models Root", root_key, "Models Root", root_key, ca=True)
    leaf = certificate(
        "trainer", leaf_key, "Models Root", root_key, ca=False, email="trainer@example.com"
    )
    pem = serialization.Encoding.PEM
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (tmp_path / "root.pem").write_bytes(root.public_bytes(pem))
    (tmp_path / "leaf.key").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    model = write_model(tmp_path / "model")
    subprocess.run(
        [
            *MODEL_SIGNING,
            "sign",
            "certificate",
            str(model),
            "--private_key",
            str(tmp_path / "leaf.key"),
            "--signing_certificate",
            str(tmp_path / "leaf.pem"),
            "--certificate_chain",
            str(tmp_path / "root.pem"),
        ],
        cwd=model,
        check=True,
        capture_output=True,
    )
    upload(s3_client, bucket, "cert/", model)
    key_config_map(cluster.api_client, namespace, {"roots.pem": root.public_bytes(pem)})
    uri = f"s3://{bucket}/cert/"
    root_fingerprint = signingkeys.fingerprint(root_key.public_key())
    objects.model("m", policy={"signing": {"required": True, "trustedKeys": [root_fingerprint]}})

    def bycertificate(identity: str) -> dict[str, Any]:
        trust = {"trustRoot": {"name": KEYS, "key": "roots.pem"}, "identity": identity}
        return {"signature": {"uri": uri + "model.sig", "certificate": trust}}

    objects.version("m-1", "m", uri, stage="Staging", artifact=bycertificate("trainer@example.com"))
    verified = objects.wait_condition(
        "m-1", "SignatureVerified", "True", "Signed", on_timeout=operator.log_tail
    )
    assert "CN=trainer (trainer@example.com)" in verified["message"]
    record = objects.get("modelversions", "m-1")["status"]["artifactSignature"]
    assert record["method"] == "certificate"
    assert record["keyFingerprint"] == root_fingerprint
    objects.wait_condition("m-1", "StageGranted", "True", "Granted", timeout=90)

    objects.version("m-2", "m", uri, artifact=bycertificate("someone@example.com"))
    refused = objects.wait_condition("m-2", "SignatureVerified", "False", "SignatureInvalid")
    assert "not by 'someone@example.com'" in refused["message"]


# --- register --sign-key --------------------------------------------------------------------


def test_register_signs_while_uploading_and_model_signing_verifies_the_copy(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3: S3Server,
    s3_client: S3Client,
    bucket: str,
    tmp_path: Path,
) -> None:
    signer = Signer(tmp_path, "team")
    key_config_map(cluster.api_client, namespace, {"team.pub": signer.public_pem})
    objects.model(
        "churn", policy={"signing": {"required": True, "trustedKeys": [signer.fingerprint]}}
    )
    model = write_model(tmp_path / "model")
    environment = {
        "KUBECONFIG": str(cluster.kubeconfig),
        "AWS_ENDPOINT_URL": s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "AWS_DEFAULT_REGION": s3.region,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "operator"),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelregistry",
            "register",
            str(model),
            "--model",
            "churn",
            "-n",
            namespace,
            "--to",
            f"s3://{bucket}/churn/7/",
            "--no-git",
            "--stage",
            "Staging",
            "--sign-key",
            str(signer.private),
            "--public-key",
            f"{KEYS}/team.pub",
            "--wait",
            "-o",
            "json",
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["signature"] == f"s3://{bucket}/churn/7/model.sig"
    assert result["signedBy"] == signer.fingerprint
    name = result["name"]
    objects.wait_condition(
        name, "SignatureVerified", "True", "Signed", on_timeout=operator.log_tail
    )
    objects.wait_stage(name, "Staging")
    spec = objects.get("modelversions", name)["spec"]["artifact"]
    assert spec["signature"] == {
        "uri": f"s3://{bucket}/churn/7/model.sig",
        "publicKey": {"name": KEYS, "key": "team.pub"},
    }
    # The digest covers the bundle too: what the operator hashes under the prefix.
    copy = tmp_path / "copy"
    for item in s3_client.list_objects_v2(Bucket=bucket, Prefix="churn/7/")["Contents"]:
        target = copy / item["Key"].removeprefix("churn/7/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3_client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    assert digest_local_path(copy).digest == spec["digest"]
    verified = subprocess.run(
        [
            *MODEL_SIGNING,
            "verify",
            "key",
            str(copy),
            "--signature",
            str(copy / "model.sig"),
            "--public_key",
            str(signer.public),
        ],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stderr


def test_register_refuses_a_key_the_config_map_does_not_hold(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3: S3Server,
    s3_client: S3Client,
    bucket: str,
    tmp_path: Path,
) -> None:
    signer, other = Signer(tmp_path, "team"), Signer(tmp_path, "other")
    key_config_map(cluster.api_client, namespace, {"team.pub": other.public_pem})
    objects.model("churn")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelregistry",
            "register",
            str(write_model(tmp_path / "m")),
            "--model",
            "churn",
            "-n",
            namespace,
            "--to",
            f"s3://{bucket}/x/",
            "--no-git",
            "--sign-key",
            str(signer.private),
            "--public-key",
            f"{KEYS}/team.pub",
        ],
        env={
            "KUBECONFIG": str(cluster.kubeconfig),
            "AWS_ENDPOINT_URL": s3.endpoint_url,
            "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s3.secret_key,
            "AWS_DEFAULT_REGION": s3.region,
            "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "operator"),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert f"holds {other.fingerprint}, not the public half of the signing key" in done.stderr
    # Refused before any upload.
    assert s3_client.list_objects_v2(Bucket=bucket, Prefix="x/").get("KeyCount", 0) == 0
