"""The shared download core: large objects as ranged GETs written at their offsets and hashed
in order (one read), everything pinned at its versionId, nothing beyond the verified size, and
`modelregistry fetch URI DEST`'s landing: DEST holds the verified bytes or is left as it was.

The store here is a fake that serves byte ranges and records every request; the real S3
server (versitygw) serves the same calls in tests/integration/test_serving.py.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelregistry.decisions.serving import Pinned, PinnedFile, parse_uri
from modelregistry.digest import FileDigest, digest_local_path
from modelregistry.download import (
    ArtifactChanged,
    Transfer,
    artifact_digest,
    download_artifact,
)
from modelregistry.servingfetch import BytesDiffer, Landing, UsageError, check

from .builders import PREFIX_URI, URI


class Body:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def read(self) -> bytes:
        return self._content

    def iter_chunks(self, size: int) -> Iterator[bytes]:
        for start in range(0, len(self._content), size):
            yield self._content[start : start + size]


class RangedStore:
    """Objects by (key, versionId); answers ranges as S3 does, or as told to misbehave."""

    def __init__(self, objects: dict[tuple[str, str | None], bytes]) -> None:
        self.objects = objects
        self.asked: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.total: int | None = None  # a Content-Range total other than the object's
        self.short = False  # send one byte less than asked
        self.no_range = False  # ignore Range

    def get_object(self, **asked: str) -> dict[str, Any]:
        with self.lock:
            self.asked.append(asked)
        content = self.objects[(asked["Key"], asked.get("VersionId"))]
        if "Range" not in asked or self.no_range:
            return {"Body": Body(content)}
        start, end = (int(n) for n in asked["Range"].removeprefix("bytes=").split("-"))
        part = content[start : end + 1]
        if self.short:
            part = part[:-1]
        total = self.total if self.total is not None else len(content)
        return {"Body": Body(part), "ContentRange": f"bytes {start}-{end}/{total}"}


CONTENT = bytes(range(256)) * 41  # 10,496 bytes: 11 parts of 1,000
KEY = "fraud/v1/model.onnx"
SMALL = Transfer(part_size=1000, concurrency=3)


def plan(**fields: Any) -> dict[str, Any]:
    return {"uri": URI, "versionId": "v7", "size": len(CONTENT), **fields}


def test_a_large_object_comes_in_ranged_parts_at_its_version_hashed_in_order(
    tmp_path: Path,
) -> None:
    store = RangedStore({(KEY, "v7"): CONTENT})

    path, files = download_artifact(store, plan(), tmp_path, SMALL)

    assert path == tmp_path / "model.onnx"
    assert path.read_bytes() == CONTENT
    assert files == [
        FileDigest("model.onnx", hashlib.sha256(CONTENT).hexdigest(), len(CONTENT), "v7")
    ]
    ranges = sorted(
        (int(a["Range"][6:].split("-")[0]), int(a["Range"].split("-")[1])) for a in store.asked
    )
    assert ranges == [(s, min(s + 1000, len(CONTENT)) - 1) for s in range(0, len(CONTENT), 1000)]
    assert all(a["VersionId"] == "v7" and a["Key"] == KEY for a in store.asked)


def test_an_object_no_larger_than_a_part_is_one_get(tmp_path: Path) -> None:
    store = RangedStore({(KEY, None): CONTENT[:1000]})

    _, files = download_artifact(store, plan(versionId=None, size=1000), tmp_path, SMALL)

    assert store.asked == [{"Bucket": "models", "Key": KEY}]
    assert files[0].size == 1000
    assert files[0].hexdigest == hashlib.sha256(CONTENT[:1000]).hexdigest()


def test_an_object_of_unknown_size_is_one_get(tmp_path: Path) -> None:
    store = RangedStore({(KEY, "v7"): CONTENT})

    _, files = download_artifact(store, plan(size=None), tmp_path, SMALL)

    assert len(store.asked) == 1
    assert files[0].size == len(CONTENT)


@pytest.mark.parametrize(
    ("misbehave", "message"),
    [
        (
            {"total": len(CONTENT) + 1},
            f"^{KEY} holds {len(CONTENT) + 1} bytes now, but {len(CONTENT)} were verified$",
        ),
        ({"short": True}, f"^{KEY}: the store sent 999 bytes for bytes 0-999$"),
        ({"no_range": True}, f"^{KEY}: the store answered a ranged GET without a Content-Range$"),
    ],
)
def test_a_part_that_is_not_what_was_asked_is_a_changed_artifact(
    tmp_path: Path, misbehave: dict[str, Any], message: str
) -> None:
    store = RangedStore({(KEY, "v7"): CONTENT})
    for name, value in misbehave.items():
        setattr(store, name, value)

    with pytest.raises(ArtifactChanged, match=message):
        download_artifact(store, plan(), tmp_path, Transfer(part_size=1000, concurrency=1))


def test_a_prefix_downloads_its_pinned_files_by_size_and_digests_them(tmp_path: Path) -> None:
    big, small = CONTENT, b"flavors"
    store = RangedStore(
        {("fraud/v1/mlflow/data/model.pkl", "p2"): big, ("fraud/v1/mlflow/MLmodel", "m1"): small}
    )
    prefix = {
        "uri": PREFIX_URI,
        "size": len(big) + len(small),
        "fileCount": 2,
        "files": [
            {"path": "MLmodel", "versionId": "m1", "size": len(small)},
            {"path": "data/model.pkl", "versionId": "p2", "size": len(big)},
        ],
    }

    path, files = download_artifact(store, prefix, tmp_path, SMALL)

    assert path == tmp_path
    assert (tmp_path / "data" / "model.pkl").read_bytes() == big
    assert [f.path for f in files] == ["MLmodel", "data/model.pkl"]
    assert artifact_digest(prefix, files).digest == digest_local_path(tmp_path).digest
    assert sum("Range" in a for a in store.asked) == 11


def test_transfer_settings_are_at_least_one() -> None:
    for wrong in ({"part_size": 0}, {"concurrency": 0}):
        with pytest.raises(ValueError, match="at least 1"):
            Transfer(**wrong)


# --- what `fetch URI DEST` hands over ------------------------------------------------------------


def pinned(**fields: Any) -> Pinned:
    defaults: dict[str, Any] = {
        "uri": parse_uri("modelregistry://team-a/fraud@champion"),
        "name": "fraud-3",
        "version": 3,
        "stage": "Production",
        "artifact_uri": URI,
        "digest": "sha256:" + hashlib.sha256(b"onnx").hexdigest(),
        "size": 4,
        "file_count": 1,
        "version_id": "v7",
        "files": (),
    }
    return Pinned(**{**defaults, **fields})


def hashed(path: str, content: bytes) -> FileDigest:
    return FileDigest(path, hashlib.sha256(content).hexdigest(), len(content))


def test_the_verified_bytes_pass_the_check() -> None:
    check(pinned(), [hashed("model.onnx", b"onnx")])


def test_other_bytes_are_named_with_both_digests() -> None:
    other = hashed("model.onnx", b"evil")

    with pytest.raises(BytesDiffer) as differ:
        check(pinned(), [other])

    assert str(differ.value) == (
        f"model.onnx hashes to {other.digest}, but {pinned().digest} was verified "
        "(modelregistry://team-a/fraud@champion: fraud-3, s3://models/fraud/v1/model.onnx at "
        "versionId v7)"
    )


def test_a_prefix_names_the_file_whose_recorded_digest_differs() -> None:
    good, bad = hashed("MLmodel", b"m"), hashed("data/model.pkl", b"evil")
    recorded = hashed("data/model.pkl", b"pickle")
    found = pinned(
        artifact_uri=PREFIX_URI,
        version_id=None,
        files=(
            PinnedFile("MLmodel", good.digest, 1, "m1"),
            PinnedFile("data/model.pkl", recorded.digest, 6, None),
        ),
    )

    with pytest.raises(BytesDiffer) as differ:
        check(found, [good, bad])

    assert str(differ.value) == (
        f"data/model.pkl hashes to {bad.digest}, but {recorded.digest} was verified "
        f"(modelregistry://team-a/fraud@champion: fraud-3, {PREFIX_URI})"
    )


def test_a_prefix_whose_unlisted_files_differ_is_named_by_its_digest() -> None:
    files = [hashed("a", b"a"), hashed("b", b"b")]
    found = pinned(artifact_uri=PREFIX_URI, files=(PinnedFile("a", files[0].digest, 1, None),))

    with pytest.raises(BytesDiffer, match=r"^the 2 files hash to sha256:[0-9a-f]{64}, but "):
        check(found, files)


def test_dest_absent_gets_the_bytes_by_one_rename_and_nothing_on_failure(tmp_path: Path) -> None:
    destination = tmp_path / "models"
    landing = Landing(destination)
    assert not landing.holds(pinned())
    with pytest.raises(RuntimeError), landing as staging:
        (staging / "model.onnx").write_bytes(b"half")
        raise RuntimeError("the store went away")
    assert list(tmp_path.iterdir()) == []

    landing = Landing(destination)
    with landing as staging:
        (staging / "model.onnx").write_bytes(b"onnx")
        assert staging.parent == tmp_path and staging.name.startswith(".models.modelregistry-")
        landing.commit()
    assert [p.name for p in tmp_path.iterdir()] == ["models"]
    assert (destination / "model.onnx").read_bytes() == b"onnx"


def test_an_empty_dest_directory_stays_and_gets_the_files_moved_in(tmp_path: Path) -> None:
    landing = Landing(tmp_path)
    with pytest.raises(RuntimeError), landing as staging:
        assert staging.parent == tmp_path
        (staging / "model.onnx").write_bytes(b"half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []

    landing = Landing(tmp_path)
    with landing as staging:
        (staging / "sub").mkdir()
        (staging / "sub" / "f").write_bytes(b"x")
        (staging / "model.onnx").write_bytes(b"onnx")
        landing.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "sub"]


def test_a_staging_directory_a_killed_run_left_is_cleared(tmp_path: Path) -> None:
    inside, beside = tmp_path / "inside", tmp_path / "beside"
    (inside / ".modelregistry-fetch-0123").mkdir(parents=True)
    (inside / ".modelregistry-fetch-0123" / "model.onnx").write_bytes(b"half")
    (beside / ".new.modelregistry-fetch-99").mkdir(parents=True)
    (beside / ".other.modelregistry-fetch-99").mkdir()

    assert not Landing(inside).holds(pinned())
    assert list(inside.iterdir()) == []
    assert not Landing(beside / "new").holds(pinned())
    assert list(beside.iterdir()) == [beside / ".other.modelregistry-fetch-99"]


def test_a_dest_that_holds_the_verified_bytes_already_is_left_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"onnx")
    assert Landing(tmp_path).holds(pinned())

    prefix_dir = tmp_path / "prefix"
    (prefix_dir / "d").mkdir(parents=True)
    (prefix_dir / "d" / "f").write_bytes(b"x")
    digest = digest_local_path(prefix_dir).digest
    assert Landing(prefix_dir).holds(pinned(artifact_uri=PREFIX_URI, digest=digest))


@pytest.mark.parametrize(
    "files",
    [{"model.onnx": b"evil"}, {"other.onnx": b"onnx"}, {"model.onnx": b"onnx", "x": b""}],
    ids=["other-bytes", "other-name", "one-more"],
)
def test_a_dest_that_holds_other_files_is_refused(tmp_path: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)

    with pytest.raises(UsageError) as refused:
        Landing(tmp_path).holds(pinned())

    assert str(refused.value) == (
        f"{tmp_path} holds other files: fetch into a new or empty directory"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)


def test_a_prefix_dest_with_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")

    with pytest.raises(UsageError):
        Landing(tmp_path).holds(pinned(artifact_uri=PREFIX_URI))


def test_a_dest_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")

    with pytest.raises(UsageError, match=r"f is a file: name a directory \(new, or empty\)$"):
        Landing(tmp_path / "f")
