"""Container images built on this machine, for a node that can pull from no registry.

`oci_archive` writes a single-layer OCI image archive (the layout `ctr images
import` and `buildah` read) from files in memory: enough for the pause image
and for tiny test images made of one static binary. Archives are
reproducible: the same files give the same digests.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from modelregistry.localenv.errors import LocalEnvError
from modelregistry.localenv.tools import cache_root

PAUSE_VERSION: Final = "3.10.1"
PAUSE_IMAGE: Final = f"localhost/modelregistry/pause:{PAUSE_VERSION}"
BUSYBOX_IMAGE: Final = "localhost/modelregistry-test/busybox:1"
# The pause image's user in the upstream Dockerfile.
_PAUSE_USER: Final = "65535:65535"
_KUBERNETES_MODULE: Final = "k8s.io/kubernetes"
# The applets the node tests use, as links to the one busybox binary.
_BUSYBOX_APPLETS: Final = ("sh", "sleep", "echo", "cat", "touch", "id", "true", "false")

_OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
_OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
_OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
_OCI_LAYER: Final = "application/vnd.oci.image.layer.v1.tar"


@dataclass(frozen=True)
class ImageFile:
    """A file (or, with `link_to`, a symlink) in an image's only layer."""

    path: str
    data: bytes = b""
    mode: int = 0o755
    link_to: str | None = None


@dataclass(frozen=True)
class ImageSpec:
    """What goes into an image: its files and how its container starts."""

    name: str
    files: Sequence[ImageFile]
    entrypoint: Sequence[str] = ()
    cmd: Sequence[str] = ()
    user: str = ""
    env: Sequence[str] = field(default=("PATH=/bin",))


def layer_tar(files: Sequence[ImageFile]) -> bytes:
    """An uncompressed layer with fixed owners and times, so it is reproducible."""
    buffer = io.BytesIO()
    directories: set[str] = set()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in sorted(files, key=lambda f: f.path):
            relative = item.path.lstrip("/")
            parts = relative.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                directory = "/".join(parts[:depth])
                if directory not in directories:
                    directories.add(directory)
                    tar.addfile(_tar_info(directory, tarfile.DIRTYPE, 0o755))
            if item.link_to is not None:
                info = _tar_info(relative, tarfile.SYMTYPE, 0o777)
                info.linkname = item.link_to
                tar.addfile(info)
            else:
                info = _tar_info(relative, tarfile.REGTYPE, item.mode)
                info.size = len(item.data)
                tar.addfile(info, io.BytesIO(item.data))
    return buffer.getvalue()


def _tar_info(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def oci_archive(spec: ImageSpec) -> bytes:
    """An OCI image archive (a tar of an OCI layout) holding one linux/amd64 image.

    The index names the image twice: `io.containerd.image.name` is what `ctr
    images import` uses, `org.opencontainers.image.ref.name` what other tools read.
    """
    layer = layer_tar(spec.files)
    layer_digest = _digest(layer)
    image_config: dict[str, object] = {"Env": list(spec.env)}
    if spec.entrypoint:
        image_config["Entrypoint"] = list(spec.entrypoint)
    if spec.cmd:
        image_config["Cmd"] = list(spec.cmd)
    if spec.user:
        image_config["User"] = spec.user
    config = _json(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": image_config,
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            "history": [{"created_by": "modelregistry.localenv.images"}],
        }
    )
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": _OCI_MANIFEST,
            "config": _descriptor(_OCI_CONFIG, config),
            "layers": [_descriptor(_OCI_LAYER, layer)],
        }
    )
    index = _json(
        {
            "schemaVersion": 2,
            "mediaType": _OCI_INDEX,
            "manifests": [
                {
                    **_descriptor(_OCI_MANIFEST, manifest),
                    "platform": {"architecture": "amd64", "os": "linux"},
                    "annotations": {
                        "io.containerd.image.name": spec.name,
                        "org.opencontainers.image.ref.name": spec.name,
                    },
                }
            ],
        }
    )
    entries = [
        ("oci-layout", _json({"imageLayoutVersion": "1.0.0"})),
        ("index.json", index),
        *((f"blobs/sha256/{_digest(blob)[7:]}", blob) for blob in (config, manifest, layer)),
    ]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in ("blobs", "blobs/sha256"):
            tar.addfile(_tar_info(directory, tarfile.DIRTYPE, 0o755))
        for name, data in entries:
            info = _tar_info(name, tarfile.REGTYPE, 0o644)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_oci_archive(spec: ImageSpec, destination: Path) -> Path:
    """Write `oci_archive(spec)` atomically (a reader never sees half an archive)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False) as handle:
        handle.write(oci_archive(spec))
    Path(handle.name).replace(destination)
    return destination


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _descriptor(media_type: str, blob: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": _digest(blob), "size": len(blob)}


def pause_spec(binary: bytes) -> ImageSpec:
    """The pause image as upstream's Dockerfile makes it: /pause, run as 65535."""
    return ImageSpec(
        name=PAUSE_IMAGE,
        files=[ImageFile("/pause", binary)],
        entrypoint=["/pause"],
        user=_PAUSE_USER,
        env=(),
    )


def busybox_spec(binary: bytes) -> ImageSpec:
    """A FROM-scratch image with a static busybox and a few applet links in /bin."""
    links = [ImageFile(f"/bin/{applet}", link_to="busybox") for applet in _BUSYBOX_APPLETS]
    return ImageSpec(
        name=BUSYBOX_IMAGE, files=[ImageFile("/bin/busybox", binary), *links], cmd=["sh"]
    )


def pause_archive(kubernetes_version: str | None = None) -> Path:
    """The cached pause image archive, built from the Kubernetes module's pause.c if missing.

    The source comes from the Go module cache that building the Kubernetes
    binaries filled, so the pause binary matches the kubelet's version.
    """
    version = _kubernetes_version(kubernetes_version)
    archive = _image_cache(version) / f"pause-{PAUSE_VERSION}.oci.tar"
    if archive.is_file():
        return archive
    source = _module_dir(version) / "build" / "pause" / "linux" / "pause.c"
    if not source.is_file():
        raise LocalEnvError(
            f"{source} not found: the pause image is built from the Kubernetes module source; "
            f"run hack/build-tools.sh kubernetes first (it downloads {_KUBERNETES_MODULE})"
        )
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise LocalEnvError("no C compiler for the pause image: apt-get install gcc libc6-dev")
    with tempfile.TemporaryDirectory() as scratch:
        binary = Path(scratch) / "pause"
        result = subprocess.run(
            [
                compiler,
                "-Os",
                "-Wall",
                "-static",
                f"-DVERSION=v{PAUSE_VERSION}",
                "-o",
                binary,
                source,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LocalEnvError(
                f"compiling {source} failed (a static build needs libc6-dev):\n{result.stderr}"
            )
        return write_oci_archive(pause_spec(binary.read_bytes()), archive)


def busybox_archive(destination: Path | None = None, busybox: Path = Path("/bin/busybox")) -> Path:
    """A test image made of the host's static busybox (Debian's busybox-static).

    Written to `destination`, by default into the image cache.
    """
    if destination is None:
        destination = _image_cache(_kubernetes_version(None)) / "busybox.oci.tar"
    if not busybox.is_file():
        raise LocalEnvError(f"{busybox} not found: apt-get install busybox-static")
    data = busybox.read_bytes()
    if b"/lib64/ld-linux" in data[:4096] or b"/lib/ld-linux" in data[:4096]:
        raise LocalEnvError(
            f"{busybox} is dynamically linked and cannot run in an empty image: "
            "apt-get install busybox-static"
        )
    return write_oci_archive(busybox_spec(data), destination)


def pinned_reference(archive: Path) -> str:
    """`name@sha256:...` of the one image in an OCI archive: how a Pod names it by digest."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        if member is None:
            raise LocalEnvError(f"{archive} has no index.json")
        (entry,) = json.loads(member.read())["manifests"]
    name = entry["annotations"]["org.opencontainers.image.ref.name"]
    repository = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
    return f"{repository}@{entry['digest']}"


def _kubernetes_version(explicit: str | None) -> str:
    return explicit or os.environ.get("KUBERNETES_VERSION") or "v1.35.4"


def _image_cache(version: str) -> Path:
    return cache_root() / f"node-images-{version}"


def main(argv: Sequence[str] | None = None) -> int:
    """Build the node's images into the cache and print their paths (hack/build-node-images.sh)."""
    wanted = list(argv if argv is not None else sys.argv[1:]) or ["pause", "busybox"]
    builders: dict[str, Callable[[], Path]] = {
        "pause": pause_archive,
        "busybox": busybox_archive,
    }
    unknown = [name for name in wanted if name not in builders]
    if unknown:
        print(f"unknown image(s) {', '.join(unknown)}; known: pause, busybox", file=sys.stderr)
        return 2
    try:
        for name in wanted:
            print(builders[name]())
    except LocalEnvError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def _module_dir(version: str) -> Path:
    gomodcache = os.environ.get("GOMODCACHE")
    if not gomodcache:
        try:
            gomodcache = subprocess.run(
                ["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            gomodcache = str(Path.home() / "go" / "pkg" / "mod")
    return Path(gomodcache) / f"{_KUBERNETES_MODULE}@{version}"
