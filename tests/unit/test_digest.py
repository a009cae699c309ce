"""Artifact digests: one file, a directory, and the manifest format.

The directory digest must equal what `sha256sum` gives for the same files, so
a user can check it with coreutils alone; those tests run the real shell.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from modelregistry.digest import (
    CHUNK_SIZE,
    SHA256_PREFIX,
    FileDigest,
    InvalidArtifactPathError,
    check_relative_path,
    digest_local_file,
    digest_local_path,
    manifest,
    prefix_artifact,
    single_object,
)

SHELL_DIGEST = (
    "(cd \"$1\" && find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum)"
    " | sha256sum"
)

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

needs_coreutils = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "find", "sort", "xargs", "sha256sum")),
    reason="needs bash and GNU coreutils/findutils",
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shell_digest(directory: Path) -> str:
    """The directory digest as the documented shell pipeline computes it."""
    result = subprocess.run(
        ["bash", "-c", SHELL_DIGEST, "digest", str(directory)],
        check=True,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
    )
    hexdigest, dash = result.stdout.split()
    assert dash == "-"
    return SHA256_PREFIX + hexdigest


def shell_manifest(directory: Path) -> bytes:
    result = subprocess.run(
        ["bash", "-c", SHELL_DIGEST.removesuffix(" | sha256sum"), "manifest", str(directory)],
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
    )
    return result.stdout


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return root


# --- one file ---------------------------------------------------------------


def test_single_file_digest_is_sha256_of_its_bytes(tmp_path: Path) -> None:
    content = b"weights\x00\x01\x02" * 1000
    path = tmp_path / "model.onnx"
    path.write_bytes(content)

    result = digest_local_path(path)

    assert result.digest == "sha256:" + sha256(content)
    assert result.size == len(content)
    assert result.is_prefix is False
    assert [(f.path, f.hexdigest, f.size) for f in result.files] == [
        ("model.onnx", sha256(content), len(content))
    ]
    assert result.version_id is None


def test_empty_file_has_the_digest_of_no_bytes(tmp_path: Path) -> None:
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")

    result = digest_local_path(path)

    assert result.digest == "sha256:" + EMPTY_SHA256
    assert result.size == 0


def test_file_larger_than_one_chunk_is_hashed_whole(tmp_path: Path) -> None:
    content = bytes(range(256)) * (CHUNK_SIZE * 2 // 256) + b"tail"
    assert len(content) > 2 * CHUNK_SIZE
    path = tmp_path / "big.safetensors"
    path.write_bytes(content)

    result = digest_local_path(path)

    assert result.digest == "sha256:" + sha256(content)
    assert result.size == len(content)


@needs_coreutils
def test_single_file_digest_matches_sha256sum(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"some model bytes\n" * 123)

    printed = subprocess.run(
        ["sha256sum", str(path)], check=True, capture_output=True, text=True
    ).stdout.split()[0]

    assert digest_local_path(path).digest == "sha256:" + printed


def test_digest_local_file_uses_the_given_relative_path(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"x")

    assert digest_local_file(path).path == "model.bin"
    assert digest_local_file(path, "sub/model.bin").path == "sub/model.bin"


def test_single_object_carries_the_version_id() -> None:
    file = FileDigest(path="k", hexdigest="ab" * 32, size=3, version_id="v7")

    result = single_object(file)

    assert result.digest == "sha256:" + "ab" * 32
    assert result.version_id == "v7"
    assert result.is_prefix is False


def test_missing_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file or directory"):
        digest_local_path(tmp_path / "absent")


# --- the manifest -------------------------------------------------------------


def test_manifest_lines_are_hex_two_spaces_path_sorted_by_utf8_bytes() -> None:
    files = [
        FileDigest(path="b", hexdigest="1" * 64, size=1),
        FileDigest(path="a/c", hexdigest="2" * 64, size=2),
        FileDigest(path="a-c", hexdigest="3" * 64, size=3),
        FileDigest(path="B", hexdigest="4" * 64, size=4),
        FileDigest(path="\u00e9t\u00e9", hexdigest="5" * 64, size=5),
        FileDigest(path="z", hexdigest="6" * 64, size=6),
    ]

    text = manifest(files)

    # Byte order: uppercase before lowercase, '-' (0x2d) before '/' (0x2f),
    # and multi-byte UTF-8 after ASCII.
    expected = (
        f"{'4' * 64}  B\n"
        f"{'3' * 64}  a-c\n"
        f"{'2' * 64}  a/c\n"
        f"{'1' * 64}  b\n"
        f"{'6' * 64}  z\n"
        f"{'5' * 64}  \u00e9t\u00e9\n"
    )
    assert text == expected.encode()


def test_prefix_digest_is_sha256_of_the_manifest() -> None:
    files = [
        FileDigest(path="weights/part-2", hexdigest="c" * 64, size=20),
        FileDigest(path="MLmodel", hexdigest="a" * 64, size=5),
        FileDigest(path="weights/part-1", hexdigest="b" * 64, size=10),
    ]
    expected_manifest = (
        f"{'a' * 64}  MLmodel\n{'b' * 64}  weights/part-1\n{'c' * 64}  weights/part-2\n"
    ).encode()

    result = prefix_artifact(files)

    assert manifest(files) == expected_manifest
    assert result.digest == "sha256:" + sha256(expected_manifest)
    assert result.size == 35
    assert [f.path for f in result.files] == ["MLmodel", "weights/part-1", "weights/part-2"]
    assert result.is_prefix is True
    assert result.version_id is None


def test_prefix_digest_does_not_depend_on_input_order() -> None:
    files = [FileDigest(path=name, hexdigest=sha256(name.encode()), size=1) for name in "dcba"]

    assert prefix_artifact(files).digest == prefix_artifact(reversed(files)).digest


def test_prefix_of_no_files_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one file"):
        prefix_artifact([])


@pytest.mark.parametrize(
    "path",
    ["new\nline", "back\\slash", "dir/with\\backslash/f", "/absolute", "./dotted", ""],
)
def test_manifest_refuses_unrepresentable_paths(path: str) -> None:
    with pytest.raises(InvalidArtifactPathError):
        check_relative_path(path)
    with pytest.raises(InvalidArtifactPathError):
        manifest([FileDigest(path=path, hexdigest="0" * 64, size=0)])


@pytest.mark.parametrize("path", ["model.bin", "a/b/c.txt", "with space", "\u00e9/\u6587\u4ef6"])
def test_manifest_accepts_ordinary_relative_paths(path: str) -> None:
    assert check_relative_path(path) == path


ABSOLUTE = "paths must be relative, without './'"
SEGMENT = "every path segment must be a name (no empty segment, '.' or '..')"


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("", ABSOLUTE),
        ("/etc/passwd", ABSOLUTE),
        ("./model.bin", ABSOLUTE),
        (".", SEGMENT),
        ("..", SEGMENT),
        ("../model.bin", SEGMENT),
        ("a/../../etc/passwd", SEGMENT),
        ("a/..", SEGMENT),
        ("a/./b", SEGMENT),
        ("a/.", SEGMENT),
        ("a//b", SEGMENT),
        ("a/", SEGMENT),
        ("dir/sub/", SEGMENT),
        ("a/b/../c", SEGMENT),
    ],
)
def test_every_segment_must_be_a_name(path: str, problem: str) -> None:
    with pytest.raises(InvalidArtifactPathError) as refused:
        check_relative_path(path)

    assert str(refused.value) == f"{path!r}: {problem}"


@pytest.mark.parametrize(
    "path",
    ["...", ".hidden", "..data", "a/.b", "a..b/c", "a/b.", "a/...", " /x", "a/ ", "-"],
)
def test_segments_that_only_look_like_dots_are_names(path: str) -> None:
    assert check_relative_path(path) == path


def test_the_segment_rule_comes_before_the_character_rules() -> None:
    with pytest.raises(InvalidArtifactPathError, match="every path segment must be a name"):
        check_relative_path("a/../new\nline")


# --- directories --------------------------------------------------------------

TREES: dict[str, dict[str, bytes]] = {
    "flat": {"MLmodel": b"flavors: {}\n", "model.pkl": b"\x80\x04pickle", "empty": b""},
    "nested": {
        "MLmodel": b"artifact_path: model\n",
        "data/model/weights.bin": b"\x00" * 4096,
        "data/model/config.json": b"{}",
        "data/tokenizer/vocab.txt": b"a\nb\nc\n",
        "a-b": b"dash",
        "a/b": b"slash",
        "B": b"upper",
        "code/x/y/z/deep.py": b"print('deep')\n",
    },
    "non-ascii": {
        "caf\u00e9/men\u00fc.txt": b"cafe",
        "\u6a21\u578b/\u6743\u91cd.bin": b"\x01\x02",
        "na\u00efve name with spaces.json": b"[]",
        "\u00c5ngstr\u00f6m": b"unit",
        "plain.txt": b"ascii",
    },
    "large": {
        "big.bin": bytes(range(256)) * (CHUNK_SIZE // 128) + b"!",
        "small.txt": b"s",
    },
}


@needs_coreutils
@pytest.mark.parametrize("tree", sorted(TREES))
def test_directory_digest_equals_the_sha256sum_pipeline(tmp_path: Path, tree: str) -> None:
    root = write_tree(tmp_path / tree, TREES[tree])

    result = digest_local_path(root)

    assert result.is_prefix is True
    assert result.digest == shell_digest(root)
    assert manifest(result.files) == shell_manifest(root)
    assert result.size == sum(len(content) for content in TREES[tree].values())
    assert sorted(f.path for f in result.files) == sorted(TREES[tree])


def test_directory_files_record_each_file(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "m", {"x/one": b"1", "two": b"22"})

    result = digest_local_path(root)

    assert [(f.path, f.digest, f.size) for f in result.files] == [
        ("two", "sha256:" + sha256(b"22"), 2),
        ("x/one", "sha256:" + sha256(b"1"), 1),
    ]


def test_directory_digest_changes_when_a_byte_changes(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "m", {"a": b"1", "b/c": b"2"})
    before = digest_local_path(root).digest

    (root / "b" / "c").write_bytes(b"3")

    assert digest_local_path(root).digest != before


def test_directory_digest_changes_when_a_file_is_renamed(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "m", {"a": b"1", "b": b"2"})
    before = digest_local_path(root).digest

    (root / "b").rename(root / "c")

    assert digest_local_path(root).digest != before


@pytest.mark.parametrize("name", ["new\nline.txt", "back\\slash.txt"])
def test_directory_with_unrepresentable_name_is_refused(tmp_path: Path, name: str) -> None:
    root = write_tree(tmp_path / "m", {"fine.txt": b"ok", f"sub/{name}": b"bad"})

    with pytest.raises(InvalidArtifactPathError, match="newline or backslash"):
        digest_local_path(root)


def test_empty_directory_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()

    with pytest.raises(ValueError, match="holds no files"):
        digest_local_path(root)


def test_directory_of_empty_directories_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "hollow"
    (root / "a" / "b").mkdir(parents=True)
    (root / "c").mkdir()

    with pytest.raises(ValueError, match="holds no files"):
        digest_local_path(root)


def test_parallel_hashing_equals_serial(tmp_path: Path) -> None:
    files = {f"shard-{i:03d}/part-{i % 7}.bin": bytes([i]) * (1000 + 37 * i) for i in range(48)}
    root = write_tree(tmp_path / "sharded", files)

    serial = digest_local_path(root, workers=1)
    parallel = digest_local_path(root, workers=4)

    assert parallel == serial
    assert len(serial.files) == 48
    assert serial.size == sum(len(c) for c in files.values())


@needs_coreutils
def test_symlinks_are_left_out_as_find_type_f_leaves_them(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"weights")
    (tmp_path / "latest.bin").symlink_to(tmp_path / "model.bin")

    result = digest_local_path(tmp_path)

    assert [f.path for f in result.files] == ["model.bin"]
    assert result.digest == shell_digest(tmp_path)


def test_names_that_are_not_utf8_are_refused() -> None:
    undecodable = b"caf\xff.bin".decode(errors="surrogateescape")

    with pytest.raises(InvalidArtifactPathError, match="UTF-8"):
        check_relative_path(undecodable)
