"""digest.py details the format tests leave open: exact refusals, chunking, worker count."""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import pytest

from modelregistry import digest
from modelregistry.digest import InvalidArtifactPathError, check_relative_path, prefix_artifact


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "'': paths must be relative, without './'"),
        ("/etc/passwd", "'/etc/passwd': paths must be relative, without './'"),
        ("./model.bin", "'./model.bin': paths must be relative, without './'"),
        ("a\udcffb", "'a\\udcffb': file names must be valid UTF-8"),
        (
            "a\nb",
            "'a\\nb': file names with a newline or backslash cannot be in a manifest",
        ),
        (
            "a\\b",
            "'a\\\\b': file names with a newline or backslash cannot be in a manifest",
        ),
    ],
)
def test_unrepresentable_paths_are_refused_with_the_reason(path: str, message: str) -> None:
    with pytest.raises(InvalidArtifactPathError) as raised:
        check_relative_path(path)

    assert str(raised.value) == message


def test_an_empty_prefix_is_refused() -> None:
    with pytest.raises(ValueError) as raised:
        prefix_artifact([])

    assert str(raised.value) == "a prefix artifact needs at least one file"


def test_read_chunks_reads_the_chunk_size_asked_for() -> None:
    stream = io.BytesIO(b"abcdefghij")

    assert list(digest.read_chunks(stream, 4)) == [b"abcd", b"efgh", b"ij"]


def test_read_chunks_reads_a_mebibyte_by_default() -> None:
    stream = io.BytesIO(b"x" * (digest.CHUNK_SIZE + 1))

    assert [len(chunk) for chunk in digest.read_chunks(stream)] == [1 << 20, 1]


class Recorded(ThreadPoolExecutor):
    workers: ClassVar[list[int | None]] = []

    def __init__(self, max_workers: int | None = None, **kwargs: Any) -> None:
        Recorded.workers.append(max_workers)
        super().__init__(max_workers=max_workers, **kwargs)


@pytest.mark.parametrize(
    ("workers", "cpus", "expected"),
    [(3, 16, 3), (None, 16, 8), (None, 8, 8), (None, 2, 2), (None, None, 1)],
)
def test_a_directory_is_hashed_by_at_most_eight_threads(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    workers: int | None,
    cpus: int | None,
    expected: int,
) -> None:
    (tmp_path / "a.bin").write_bytes(b"a")
    monkeypatch.setattr(digest, "ThreadPoolExecutor", Recorded)
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    Recorded.workers = []

    digest.digest_local_path(tmp_path, workers=workers)

    assert Recorded.workers == [expected]
