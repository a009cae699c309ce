"""Laying out a layer's tar: files and directories only, where their names say, within budget."""

from __future__ import annotations

import gzip
import os
import zlib

import pytest

from modelregistry.decisions.oci.unpack import (
    Budget,
    Entry,
    GzipSize,
    UnpackError,
    entry,
    file_mode,
)

LAYER = "layer 1 (application/vnd.kitops.modelkit.model.v1.tar)"


@pytest.mark.parametrize(
    ("name", "kind", "path"),
    [
        ("model.onnx", "file", "model.onnx"),
        ("./model.onnx", "file", "model.onnx"),
        ("data/train.csv", "file", "data/train.csv"),
        ("data/", "directory", "data"),
        ("./data/", "directory", "data"),
        ("data", "directory", "data"),
        (".hidden", "file", ".hidden"),
        ("..x", "file", "..x"),
    ],
)
def test_files_and_directories_go_where_their_names_say(name: str, kind: str, path: str) -> None:
    assert entry(LAYER, name, kind) == Entry(kind, path)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["./", ".", "", "/"[:0]])
def test_the_archives_own_root_is_skipped(name: str) -> None:
    assert entry(LAYER, name, "directory") is None


@pytest.mark.parametrize("name", ["./", "."])
def test_a_file_without_a_name_is_refused(name: str) -> None:
    with pytest.raises(UnpackError, match=r"^layer 1 \(.*\) holds a file with no name$"):
        entry(LAYER, name, "file")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("/etc/passwd", "file"),
        ("../x", "file"),
        ("a/../../x", "file"),
        ("a//b", "file"),
        ("a/./b", "directory"),
        ("a/", "file"),
        ("a\\b", "file"),
        ("a\x00b", "file"),
        ("a\x1fb", "directory"),
        ("..", "directory"),
        ("/", "directory"),
        ("data//", "directory"),
        ("./../x", "file"),
    ],
)
def test_names_that_could_land_elsewhere_are_refused(name: str, kind: str) -> None:
    with pytest.raises(UnpackError) as refused:
        entry(LAYER, name, kind)  # type: ignore[arg-type]

    assert str(refused.value) == (
        f"{LAYER} holds {name!r}: a path must be relative, each segment a name (no '', '.' or "
        "'..'), without control characters or backslashes"
    )


def test_links_devices_and_fifos_are_refused() -> None:
    with pytest.raises(UnpackError) as refused:
        entry(LAYER, "weights.bin", "other")

    assert str(refused.value) == (
        f"{LAYER} holds 'weights.bin', which is not a regular file or directory (a link, device "
        "or FIFO): only files and directories are unpacked"
    )


@pytest.mark.parametrize(
    ("mode", "written"),
    [
        (0o644, 0o644),
        (0o755, 0o755),
        (0o4755, 0o755),
        (0o777, 0o755),
        (0o000, 0o600),
        (0o444, 0o644),
    ],
)
def test_files_keep_at_most_rwxr_xr_x_and_stay_ours_to_write(mode: int, written: int) -> None:
    assert file_mode(mode) == written


def test_a_budget_takes_up_to_its_limit_and_refuses_the_byte_past_it() -> None:
    budget = Budget(10)
    budget.take(4, "a")
    budget.take(6, "b")
    budget.take(0, "c")

    with pytest.raises(UnpackError) as refused:
        budget.take(1, "layer 2's big.bin")

    assert str(refused.value) == (
        "layer 2's big.bin would write past the room the verified artifact needs (a compressed "
        "layer unpacks to more than its own size allows)"
    )


def test_no_budget_takes_everything() -> None:
    Budget(None).take(1 << 60, "x")


def fed(data: bytes, step: int) -> GzipSize:
    counter = GzipSize("layer 0 (x)")
    for start in range(0, len(data), step):
        counter.feed(data[start : start + step])
    return counter


@pytest.mark.parametrize("step", [1, 7, 8192, 1 << 22])
def test_a_gzip_stream_is_counted_as_it_inflates_member_after_member(step: int) -> None:
    first = os.urandom(5000) + b"a" * 3_000_000  # inflates past one piece
    stream = gzip.compress(first) + gzip.compress(b"hello") + gzip.compress(b"")

    assert fed(stream, step).finish() == len(first) + 5


def test_nothing_fed_is_nothing() -> None:
    assert GzipSize("x").finish() == 0
    counter = GzipSize("x")
    counter.feed(b"")
    assert counter.finish() == 0


def test_a_stream_that_stops_inside_a_member_is_refused() -> None:
    whole = gzip.compress(b"x" * 10000)
    counter = fed(whole[:-4], 100)

    with pytest.raises(UnpackError, match=r"^layer 0 \(x\) ends inside a gzip member$"):
        counter.finish()
    complete = fed(gzip.compress(b"y") + whole[:10], 3)
    with pytest.raises(UnpackError, match="ends inside a gzip member"):
        complete.finish()


@pytest.mark.parametrize(
    "data", [b"not gzip at all", zlib.compress(b"zlib, not gzip"), gzip.compress(b"ok") + b"junk"]
)
def test_bytes_that_are_not_gzip_are_refused(data: bytes) -> None:
    with pytest.raises(UnpackError, match=r"^layer 0 \(x\) is not gzip data \("):
        fed(data, 4)
