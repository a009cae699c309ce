"""The image's cache key: which files decide it, and agreement with hack/build-image.sh."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from modelregistry.localenv.errors import LocalEnvError
from modelregistry.localenv.image import (
    DEV_REFERENCE,
    ImageArchive,
    archive_path,
    cache_key,
    find_cached_image,
    image_inputs,
    parse_script_output,
    reference_for,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small git checkout shaped like the project, with the real build script."""
    if not (REPO / "hack" / "build-image.sh").is_file():
        pytest.skip("hack/build-image.sh is not in this copy (e.g. the mutation-testing one)")
    root = tmp_path / "checkout"
    files = {
        "Dockerfile": "FROM docker.io/library/debian:bookworm-slim\n",
        ".dockerignore": "*\n!operator/\n",
        ".gitignore": ".venv/\n__pycache__/\n*.egg-info/\n",
        "pyproject.toml": "[project]\nname = 'x'\n",
        "README.md": "readme\n",
        "operator/modelregistry/__init__.py": "",
        "operator/modelregistry/cli.py": "print('hi')\n",
        "tests/test_x.py": "def test(): pass\n",
        ".venv/lib/site.py": "venv\n",
        "operator/modelregistry/__pycache__/cli.cpython-311.pyc": "bytecode",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "hack").mkdir()
    shutil.copy2(REPO / "hack" / "build-image.sh", root / "hack" / "build-image.sh")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "."], cwd=root, check=True)
    monkeypatch.setenv("MODELREGISTRY_CACHE", str(tmp_path / "cache"))
    return root


def key_of(root: Path) -> str:
    return cache_key(root, image_inputs(root))


def test_inputs_are_the_fixed_files_and_the_sources(checkout: Path) -> None:
    assert image_inputs(checkout) == [
        ".dockerignore",
        "Dockerfile",
        "README.md",
        "hack/build-image.sh",
        "operator/modelregistry/__init__.py",
        "operator/modelregistry/cli.py",
        "pyproject.toml",
    ]


@pytest.mark.parametrize(
    "changed",
    ["operator/modelregistry/cli.py", "Dockerfile", ".dockerignore", "pyproject.toml"],
)
def test_key_changes_with_an_input(checkout: Path, changed: str) -> None:
    before = key_of(checkout)
    with (checkout / changed).open("a") as file:
        file.write("# changed\n")
    assert key_of(checkout) != before


def test_key_counts_a_new_untracked_module(checkout: Path) -> None:
    before = key_of(checkout)
    (checkout / "operator/modelregistry/new.py").write_text("x = 1\n")
    assert key_of(checkout) != before


@pytest.mark.parametrize(
    "ignored",
    [
        ".venv/lib/site.py",
        "operator/modelregistry/__pycache__/cli.cpython-311.pyc",
        "tests/test_x.py",
    ],
)
def test_key_ignores_what_is_not_in_the_image(checkout: Path, ignored: str) -> None:
    before = key_of(checkout)
    (checkout / ignored).write_text("something else")
    assert key_of(checkout) == before


def test_a_deleted_tracked_file_is_left_out(checkout: Path) -> None:
    (checkout / "operator/modelregistry/cli.py").unlink()
    assert "operator/modelregistry/cli.py" not in image_inputs(checkout)


def test_script_computes_the_same_key(checkout: Path) -> None:
    (checkout / "operator/modelregistry/new.py").write_text("x = 1\n")
    printed = subprocess.run(
        ["bash", "hack/build-image.sh", "--print-key"],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert printed == key_of(checkout)


def test_not_a_checkout_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LocalEnvError, match="cannot list the image's sources"):
        image_inputs(tmp_path)


def test_cached_archive_is_found_by_key(checkout: Path) -> None:
    assert find_cached_image(checkout) is None
    key = key_of(checkout)
    archive = archive_path(key)
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"oci")
    assert find_cached_image(checkout) == ImageArchive(reference_for(key), archive)
    assert reference_for(key) == f"localhost/modelregistry/operator:{key[:12]}"


def test_script_output_is_parsed() -> None:
    image = parse_script_output(
        "reference=localhost/modelregistry/operator:0123456789ab\n"
        f"dev_reference={DEV_REFERENCE}\n"
        "archive=/cache/images/modelregistry-0123.oci.tar\n"
    )
    assert image == ImageArchive(
        "localhost/modelregistry/operator:0123456789ab",
        Path("/cache/images/modelregistry-0123.oci.tar"),
    )
    assert image.dev_reference == "localhost/modelregistry/operator:dev"
    with pytest.raises(LocalEnvError, match="no archive= line"):
        parse_script_output("reference=x\n")
