"""Interoperability with model-signing itself (the OpenSSF reference implementation).

Bundles model-signing writes (its library and its CLI, key and certificate
signing) verify here against the files as the operator hashes them, and
bundles written here verify with model-signing's own `verify`. Nothing is
stood in for: the package is a dev dependency and runs as users run it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import model_signing
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from modelregistry import signingkeys
from modelregistry.client.signing import signed_bundle
from modelregistry.decisions import modelsigning
from modelregistry.digest import ArtifactDigest, digest_local_path
from tests.certificates import certificate

CLI = [sys.executable, "-m", "model_signing"]


def ms_config(module: str) -> Any:
    """A configuration of model-signing's `signing`, `verifying` or `hashing` (untyped there)."""
    return getattr(model_signing, module).Config()


def write_model(root: Path) -> Path:
    model = root / "model"
    (model / "a").mkdir(parents=True)
    (model / "weights").mkdir()
    (model / "a" / "b").write_bytes(b"nested")
    (model / "a-b").write_bytes(b"dash")  # sorts after a/b by component, before it as text
    (model / "config.json").write_text('{"layers": 2}')
    (model / "weights" / "w.bin").write_bytes(bytes(range(256)) * 64)
    return model


def key_pair(
    root: Path, curve: ec.EllipticCurve, name: str = "signer"
) -> tuple[ec.EllipticCurvePrivateKey, Path, Path]:
    key = ec.generate_private_key(curve)
    private = root / f"{name}-{curve.name}.key"
    public = root / f"{name}-{curve.name}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, private, public


def verify_here(
    bundle_path: Path,
    public: Path,
    hashed: ArtifactDigest,
    *,
    single_object: str | None = None,
    exempt: str | None = None,
) -> modelsigning.Differences:
    """The operator's check, on a bundle and the files as hashed: raises if it does not verify."""
    bundle = modelsigning.parse_bundle(bundle_path.read_bytes())
    key = signingkeys.load_public_key(public.read_bytes())
    assert bundle.key_hint == signingkeys.key_hint(key)
    signed = modelsigning.pae(bundle.payload_type, bundle.payload)
    assert signingkeys.signature_valid(key, bundle.signature, signed)
    statement = modelsigning.parse_statement(bundle.payload_type, bundle.payload)
    return modelsigning.compare(statement, hashed.files, single_object=single_object, exempt=exempt)


def ms_verify_key(model: Path, bundle: Path, public: Path) -> None:
    """model-signing's own verification (its library), as `verify key` runs it."""
    ms_config("verifying").use_elliptic_key_verifier(public_key=public).set_hashing_config(
        ms_config("hashing").set_ignored_paths(paths=[bundle])
    ).verify(model, bundle)


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()])
def test_a_directory_signed_by_model_signing_verifies_here(
    tmp_path: Path, curve: ec.EllipticCurve
) -> None:
    model = write_model(tmp_path)
    _, private, public = key_pair(tmp_path, curve)
    bundle = model / "model.sig"
    ms_config("signing").use_elliptic_key_signer(private_key=private).set_hashing_config(
        ms_config("hashing").set_ignored_paths(paths=[bundle])
    ).sign(model, bundle)
    hashed = digest_local_path(model)  # the bundle is among the files, as in the store
    assert not verify_here(bundle, public, hashed, exempt="model.sig")
    # Without the exemption the bundle itself is the one file not signed.
    assert verify_here(bundle, public, hashed) == modelsigning.Differences(unsigned=("model.sig",))


def test_model_signing_cli_signatures_verify_here_and_name_a_changed_file(tmp_path: Path) -> None:
    model = write_model(tmp_path)
    _, private, public = key_pair(tmp_path, ec.SECP256R1())
    bundle = tmp_path / "model.sig"
    subprocess.run(
        [
            *CLI,
            "sign",
            "key",
            str(model),
            "--private_key",
            str(private),
            "--signature",
            str(bundle),
        ],
        check=True,
        capture_output=True,
    )
    assert not verify_here(bundle, public, digest_local_path(model))
    (model / "weights" / "w.bin").write_bytes(b"tampered")
    (model / "extra.txt").write_text("added")
    (model / "a-b").unlink()
    assert verify_here(bundle, public, digest_local_path(model)) == modelsigning.Differences(
        unsigned=("extra.txt",), missing=("a-b",), changed=("weights/w.bin",)
    )


def test_a_single_file_signed_by_model_signing_verifies_here(tmp_path: Path) -> None:
    model = write_model(tmp_path)
    _, private, public = key_pair(tmp_path, ec.SECP256R1())
    file, bundle = model / "weights" / "w.bin", tmp_path / "w.bin.sig"
    ms_config("signing").use_elliptic_key_signer(private_key=private).sign(file, bundle)
    hashed = digest_local_path(file)
    assert not verify_here(bundle, public, hashed, single_object="w.bin")
    statement = modelsigning.parse_statement(
        *(lambda b: (b.payload_type, b.payload))(modelsigning.parse_bundle(bundle.read_bytes()))
    )
    assert [r.name for r in statement.resources] == ["."]


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()])
def test_a_directory_signed_here_verifies_with_model_signing(
    tmp_path: Path, curve: ec.EllipticCurve
) -> None:
    model = write_model(tmp_path)
    key, _, public = key_pair(tmp_path, curve)
    hashed = digest_local_path(model)
    bundle = model / modelsigning.DEFAULT_BUNDLE_NAME
    bundle.write_bytes(signed_bundle(hashed.files, key, model_name="model", single_object=False))
    ms_verify_key(model, bundle, public)
    # And its statement is the one model-signing computes for the same files.
    ours = modelsigning.parse_bundle(bundle.read_bytes())
    theirs = ms_config("hashing").set_ignored_paths(paths=[bundle]).hash(model)
    assert [
        (r.name, r.digest)
        for r in modelsigning.parse_statement(ours.payload_type, ours.payload).resources
    ] == [(d.identifier, d.digest.digest_hex) for d in theirs.resource_descriptors()]


def test_model_signing_cli_verifies_a_bundle_signed_here_and_refuses_a_changed_file(
    tmp_path: Path,
) -> None:
    model = write_model(tmp_path)
    key, _, public = key_pair(tmp_path, ec.SECP256R1())
    bundle = tmp_path / "model.sig"
    hashed = digest_local_path(model)
    bundle.write_bytes(signed_bundle(hashed.files, key, model_name="model", single_object=False))
    command = [*CLI, "verify", "key", str(model), "--signature", str(bundle)]
    command += ["--public_key", str(public)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (model / "config.json").write_text('{"layers": 3}')
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 1
    assert "Hash mismatch for 'config.json'" in done.stderr


def test_a_single_file_signed_here_verifies_with_model_signing(tmp_path: Path) -> None:
    model = write_model(tmp_path)
    key, _, public = key_pair(tmp_path, ec.SECP384R1())
    file, bundle = model / "config.json", tmp_path / "config.json.sig"
    hashed = digest_local_path(file)
    bundle.write_bytes(
        signed_bundle(hashed.files, key, model_name="config.json", single_object=True)
    )
    ms_verify_key(file, bundle, public)


def test_model_signing_refuses_a_bundle_signed_here_with_another_key(tmp_path: Path) -> None:
    model = write_model(tmp_path)
    key, _, _ = key_pair(tmp_path, ec.SECP256R1())
    _, _, other = key_pair(tmp_path, ec.SECP256R1(), "other")
    bundle = tmp_path / "model.sig"
    hashed = digest_local_path(model)
    bundle.write_bytes(signed_bundle(hashed.files, key, model_name="model", single_object=False))
    with pytest.raises(ValueError, match="Key mismatch"):
        ms_verify_key(model, bundle, other)


# --- certificate signing ----------------------------------------------------------------


def pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def test_certificate_signatures_verify_both_ways(tmp_path: Path) -> None:
    root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = certificate("Model Root", root_key, "Model Root", root_key, ca=True)
    intermediate = certificate("Model CA", inter_key, "Model Root", root_key, ca=True)
    leaf = certificate(
        "trainer", leaf_key, "Model CA", inter_key, ca=False, email="trainer@example.com"
    )
    (tmp_path / "root.pem").write_bytes(pem(root))
    (tmp_path / "chain.pem").write_bytes(pem(intermediate))
    (tmp_path / "leaf.pem").write_bytes(pem(leaf))
    (tmp_path / "leaf.key").write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    model = write_model(tmp_path)
    theirs = tmp_path / "theirs.sig"
    ms_config("signing").use_certificate_signer(
        private_key=tmp_path / "leaf.key",
        signing_certificate=tmp_path / "leaf.pem",
        certificate_chain=[tmp_path / "chain.pem"],
    ).sign(model, theirs)
    bundle = modelsigning.parse_bundle(theirs.read_bytes())
    signer = signingkeys.verify_chain(bundle.certificates, [root])
    assert signer.identities == ("trainer@example.com",)
    assert signer.root_fingerprint == signingkeys.fingerprint(root_key.public_key())
    assert signingkeys.signature_valid(
        signer.key, bundle.signature, modelsigning.pae(bundle.payload_type, bundle.payload)
    )
    statement = modelsigning.parse_statement(bundle.payload_type, bundle.payload)
    assert not modelsigning.compare(statement, digest_local_path(model).files)
    # A root that did not issue the chain is refused.
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(signingkeys.KeyProblem, match="does not lead to a trusted root"):
        signingkeys.verify_chain(
            bundle.certificates, [certificate("Other", stranger, "Other", stranger, ca=True)]
        )

    # Ours, with the same certificate, verifies with model-signing's certificate verifier.
    ours = tmp_path / "ours.sig"
    payload = modelsigning.payload_bytes(
        modelsigning.statement_for(
            digest_local_path(model).files, model_name="model", single_object=False
        )
    )
    signature = signingkeys.sign(leaf_key, modelsigning.pae(modelsigning.PAYLOAD_TYPE, payload))
    chain = [c.public_bytes(serialization.Encoding.DER) for c in (leaf, intermediate)]
    ours.write_bytes(modelsigning.bundle_bytes(payload, signature, certificates=chain))
    ms_config("verifying").use_certificate_verifier(
        certificate_chain=[tmp_path / "root.pem"]
    ).verify(model, ours)
