"""`register --sign-key --public-key`: the flags and what is refused before any upload."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.unit.clientfakes import FakeSession
from tests.unit.test_register_cli import model_file, register, session

__all__ = ["model_file", "session"]  # the fixtures, shared


def private_key(path: Path, curve: ec.EllipticCurve) -> Path:
    key = ec.generate_private_key(curve)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--public-key", "keys"], "'keys': write CONFIGMAP/KEY, e.g. signing-keys/team-a.pub"),
        (["--public-key", "keys/a/b"], "'keys/a/b': write CONFIGMAP/KEY"),
        (["--public-key", "/a.pub"], "'/a.pub': write CONFIGMAP/KEY"),
    ],
)
def test_a_public_key_that_is_not_configmap_slash_key_exits_2(
    session: FakeSession,
    model_file: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    said: str,
) -> None:
    with pytest.raises(SystemExit) as exited:
        register(str(model_file), "--model", "churn", "--sign-key", "k.pem", *args)
    assert exited.value.code == 2
    assert said in capsys.readouterr().err


def test_each_flag_needs_the_other(
    session: FakeSession, model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = [str(model_file), "--model", "churn", "--to=s3://mdl/s/", "--no-git"]
    assert register(*base, "--public-key", "keys/team.pub") == 1
    assert "--public-key names the key of a signature: add --sign-key" in capsys.readouterr().err
    assert register(*base, "--sign-key", "team.key") == 1
    assert "--sign-key needs --public-key CONFIGMAP/KEY" in capsys.readouterr().err
    assert not any(plural == "modelversions" for plural, _ in session.objects)


def test_a_key_that_cannot_sign_is_refused_before_anything_is_created(
    session: FakeSession, model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = [str(model_file), "--model", "churn", "--to=s3://mdl/s/", "--no-git"]
    sign = ["--public-key", "keys/team.pub", "--sign-key"]
    missing = tmp_path / "missing.key"
    assert register(*base, *sign, str(missing)) == 1
    assert f"signing key {missing}: No such file or directory" in capsys.readouterr().err
    p224 = private_key(tmp_path / "p224.key", ec.SECP224R1())
    assert register(*base, *sign, str(p224)) == 1
    assert "is on curve secp224r1, not P-256, P-384 or P-521" in capsys.readouterr().err
    assert not any(plural == "modelversions" for plural, _ in session.objects)


def test_a_directory_holding_model_sig_is_refused(
    session: FakeSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"w" * 10)
    (model / "model.sig").write_text("{}")
    key = private_key(tmp_path / "team.key", ec.SECP256R1())
    code = register(
        str(model),
        "--model=churn",
        "--to=s3://mdl/d/",
        "--no-git",
        "--sign-key",
        str(key),
        "--public-key",
        "keys/team.pub",
    )
    assert code == 1
    assert f"{model / 'model.sig'} exists, where --sign-key puts the signature" in (
        capsys.readouterr().err
    )
    assert not any(plural == "modelversions" for plural, _ in session.objects)
