"""The command line, run in-process through cli.main."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from modelregistry import admission, cli, crdgen
from modelregistry.digest import digest_local_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "data").mkdir(parents=True)
    (root / "MLmodel").write_text("artifact_path: model\n")
    (root / "data" / "model.pkl").write_bytes(b"\x80\x04" + bytes(range(200)))
    (root / "caf\u00e9.txt").write_text("non-ascii name\n")
    return root


def test_digest_of_a_file_prints_the_library_digest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"onnx bytes" * 100)

    code = cli.main(["digest", str(path)])

    out, err = capsys.readouterr()
    assert code == 0
    assert out == digest_local_path(path).digest + "\n"
    assert err == ""


def test_digest_of_a_directory_prints_the_library_digest(
    model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["digest", str(model_dir)])

    out, _ = capsys.readouterr()
    assert code == 0
    assert out == digest_local_path(model_dir).digest + "\n"


def test_digest_json_lists_the_files(model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = digest_local_path(model_dir)

    code = cli.main(["digest", "--json", str(model_dir)])

    printed = json.loads(capsys.readouterr().out)
    assert code == 0
    assert printed == {
        "digest": expected.digest,
        "size": expected.size,
        "files": [{"path": f.path, "digest": f.digest, "size": f.size} for f in expected.files],
    }
    assert [f["path"] for f in printed["files"]] == ["MLmodel", "caf\u00e9.txt", "data/model.pkl"]


def test_digest_of_a_missing_path_returns_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"

    code = cli.main(["digest", str(missing)])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith("modelregistry digest: ")
    assert str(missing) in err
    assert "no such file or directory" in err


def test_digest_of_an_empty_directory_returns_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    code = cli.main(["digest", str(empty)])

    assert code == 2
    assert "holds no files" in capsys.readouterr().err


def test_digest_of_an_unrepresentable_name_returns_2(
    model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (model_dir / "back\\slash").write_text("x")

    code = cli.main(["digest", str(model_dir)])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "newline or backslash" in err


def test_crds_check_passes_on_the_committed_files(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)

    assert cli.main(["crds", "--check"]) == 0
    assert cli.main(["crds", "--check", "--output-dir", str(ROOT / "crds")]) == 0
    assert capsys.readouterr().err == ""


def test_crds_check_fails_on_a_stale_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "crds"
    shutil.copytree(ROOT / "crds", stale)
    target = stale / crdgen.crd_filename(crdgen.MODELVERSION)
    target.write_text(target.read_text().replace("shortNames:\n    - mv\n", "shortNames:\n"))
    assert target.read_text() != crdgen.render(crdgen.MODELVERSION)

    code = cli.main(["crds", "--check", "--output-dir", str(stale)])

    err = capsys.readouterr().err
    assert code == 1
    assert str(target) in err
    assert "make crds" in err
    assert crdgen.crd_filename(crdgen.MODEL) not in err


def test_crds_check_fails_when_a_file_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    partial = tmp_path / "crds"
    partial.mkdir()
    shutil.copy(ROOT / "crds" / crdgen.crd_filename(crdgen.MODEL), partial)

    code = cli.main(["crds", "--check", "--output-dir", str(partial)])

    assert code == 1
    assert crdgen.crd_filename(crdgen.MODELVERSION) in capsys.readouterr().err


def test_crds_writes_files_that_then_pass_the_check(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "nested" / "b"

    assert cli.main(["crds", "--output-dir", str(first), "--output-dir", str(second)]) == 0

    for directory in (first, second):
        assert sorted(p.name for p in directory.iterdir()) == sorted(
            [*(crdgen.crd_filename(kind) for kind in crdgen.KINDS), admission.FILENAME]
        )
        for kind in crdgen.KINDS:
            assert (directory / crdgen.crd_filename(kind)).read_text() == crdgen.render(kind)
        assert (directory / admission.FILENAME).read_text() == admission.render()
    assert cli.main(["crds", "--check", "--output-dir", str(first)]) == 0
