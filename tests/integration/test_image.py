"""The operator's image, built from the Dockerfile by hack/build-image.sh, as the node loads it.

The first run on a machine bootstraps the Debian base and installs the
dependencies (a few minutes on 2 busy cores); later runs find the archive by
its key at once, or rebuild only the project's layer after a source edit.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tarfile
import time
from collections.abc import Iterator
from typing import Any

import pytest

from modelregistry.localenv.image import (
    DEV_REFERENCE,
    ImageArchive,
    ensure_image,
    find_cached_image,
)

# The first build on a machine takes minutes; the suite's default timeout is 600 s.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

# What a layer must never hold: this machine's package settings (passed in as
# build secrets) and apt's downloaded lists of its mirror.
FORBIDDEN = ("etc/pip.conf", "root/.config/pip/pip.conf", "root/.pip/pip.conf")


@pytest.fixture(scope="module")
def image() -> ImageArchive:
    if find_cached_image() is None:
        missing = [tool for tool in ("buildah", "debootstrap") if shutil.which(tool) is None]
        if missing:
            pytest.skip(f"{', '.join(missing)} missing: apt-get install buildah debootstrap")
    return ensure_image()


@pytest.fixture(scope="module")
def archive(image: ImageArchive) -> Iterator[tarfile.TarFile]:
    with tarfile.open(image.archive) as tar:
        yield tar


def read_json(tar: tarfile.TarFile, name: str) -> Any:
    member = tar.extractfile(name)
    assert member is not None, name
    return json.load(member)


def blob_name(digest: str) -> str:
    return "blobs/" + digest.replace(":", "/", 1)


def test_archive_is_an_oci_layout_naming_the_image_twice(
    image: ImageArchive, archive: tarfile.TarFile
) -> None:
    assert read_json(archive, "oci-layout") == {"imageLayoutVersion": "1.0.0"}
    index = read_json(archive, "index.json")
    names = [m["annotations"]["io.containerd.image.name"] for m in index["manifests"]]
    assert names == [image.reference, DEV_REFERENCE]
    assert {m["digest"] for m in index["manifests"]} == {index["manifests"][0]["digest"]}
    manifest = read_json(archive, blob_name(index["manifests"][0]["digest"]))
    for descriptor in [manifest["config"], *manifest["layers"]]:
        assert archive.getmember(blob_name(descriptor["digest"])).size == descriptor["size"]


def test_config_runs_the_cli_as_a_numeric_non_root_user(archive: tarfile.TarFile) -> None:
    index = read_json(archive, "index.json")
    manifest = read_json(archive, blob_name(index["manifests"][0]["digest"]))
    config = read_json(archive, blob_name(manifest["config"]["digest"]))["config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["modelregistry"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PATH"].startswith("/opt/modelregistry/bin:")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == "/home/nonroot"


def test_layers_hold_the_program_and_nothing_of_the_build_machine(
    archive: tarfile.TarFile,
) -> None:
    index = read_json(archive, "index.json")
    manifest = read_json(archive, blob_name(index["manifests"][0]["digest"]))
    paths: set[str] = set()
    for layer in manifest["layers"]:
        stream = archive.extractfile(blob_name(layer["digest"]))
        assert stream is not None
        compressed = layer["mediaType"].endswith("+gzip")
        with tarfile.open(fileobj=gzip.GzipFile(fileobj=stream) if compressed else stream) as tar:
            for member in tar:
                path = member.name.removeprefix("./")
                paths.add(path)
                # Build secrets are mounted under /run/secrets: at most an empty mount point.
                assert not (path.startswith("run/secrets/") and member.size), path
                assert not (path.startswith("var/lib/apt/lists/") and member.size), path
    assert not paths & set(FORBIDDEN)
    assert "opt/modelregistry/bin/modelregistry" in paths
    site = "opt/modelregistry/lib/python3.11/site-packages/"
    assert f"{site}modelregistry/__init__.py" in paths
    assert f"{site}kopf/__init__.py" in paths
    # No installer or compiler in the final image.
    assert not any(p.startswith((f"{site}pip/", f"{site}setuptools/")) for p in paths)
    assert not {"usr/bin/gcc", "usr/bin/cc", "usr/bin/make"} & paths


def test_unchanged_sources_are_found_without_building(image: ImageArchive) -> None:
    first = ensure_image()
    started = time.monotonic()
    second = ensure_image()
    if second != first:
        pytest.skip("the sources changed between the two calls")
    assert time.monotonic() - started < 10
