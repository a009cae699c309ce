"""The operator's image for the local node: built by `hack/build-image.sh`, found by key.

The script builds the top-level Dockerfile with buildah (base image
bootstrapped from Debian, this machine's package settings passed in as build
secrets) and writes an OCI archive named by a key over the image's inputs.
`ensure_image()` returns that archive at once when it exists for the current
sources, and runs the script otherwise, passing on its progress lines as they
come (a cold build takes minutes). The key is computed here exactly as the
script computes it (a unit test holds the two together), so the common case
starts no subprocess but `git ls-files`.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from modelregistry.localenv.errors import LocalEnvError
from modelregistry.localenv.tools import cache_root

# The name the script gives the image; the chart's and validation Pods'
# default image is DEV_REFERENCE (both names are in every archive).
IMAGE_REPOSITORY: Final = "localhost/modelregistry/operator"
DEV_TAG: Final = "dev"
DEV_REFERENCE: Final = f"{IMAGE_REPOSITORY}:{DEV_TAG}"

BUILD_SCRIPT: Final = "hack/build-image.sh"
# Files outside operator/ that decide the image's content; the sources under
# operator/ are added from git. Same list as image_inputs() in the script.
FIXED_INPUTS: Final = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", BUILD_SCRIPT)
SOURCE_DIR: Final = "operator"
# The script's last lines, shown when it fails.
ERROR_TAIL_LINES: Final = 30
# How long a stopped build may take to clean up (its work dir) before it is killed.
STOP_GRACE_SECONDS: Final = 5.0


@dataclass(frozen=True)
class ImageArchive:
    """A built image: its name in the archive (tagged by key) and the oci-archive file."""

    reference: str
    archive: Path

    @property
    def dev_reference(self) -> str:
        """The stable second name in the same archive (`...:dev`)."""
        return DEV_REFERENCE


def project_root() -> Path:
    """The source checkout this module runs from (the image is built from its Dockerfile)."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "Dockerfile").is_file() or not (root / BUILD_SCRIPT).is_file():
        raise LocalEnvError(
            f"no Dockerfile and {BUILD_SCRIPT} under {root}: the image is built from a "
            "source checkout of the project"
        )
    return root


def image_inputs(root: Path) -> list[str]:
    """Paths (relative, `/`-separated, bytewise sorted) of the files that decide the image.

    The fixed files plus what git lists under operator/: tracked files and
    untracked ones that are not ignored (so a new module counts before it is
    committed, while __pycache__ and *.egg-info do not). Files that are listed
    but missing (deleted, not yet committed) are left out.
    """
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", SOURCE_DIR],
        cwd=root,
        capture_output=True,
        check=False,
        timeout=60,
    )
    if listed.returncode != 0:
        message = listed.stderr.decode(errors="replace").strip()
        raise LocalEnvError(f"cannot list the image's sources in {root}: {message}")
    sources = [name for name in listed.stdout.decode().split("\0") if name]
    candidates = {*FIXED_INPUTS, *sources}
    return sorted(
        (path for path in candidates if (root / path).is_file()), key=lambda p: p.encode()
    )


def cache_key(root: Path, paths: Iterable[str]) -> str:
    """SHA-256 over `sha256sum`-style lines ("<file digest>  <path>\\n") of the given files."""
    listing = hashlib.sha256()
    for path in paths:
        digest = hashlib.sha256((root / path).read_bytes()).hexdigest()
        listing.update(f"{digest}  {path}\n".encode())
    return listing.hexdigest()


def archive_path(key: str) -> Path:
    """Where the script writes the archive for a key."""
    return cache_root() / "images" / f"modelregistry-{key}.oci.tar"


def reference_for(key: str) -> str:
    """The image's name inside the archive for a key."""
    return f"{IMAGE_REPOSITORY}:{key[:12]}"


def find_cached_image(root: Path | None = None) -> ImageArchive | None:
    """The archive for the current sources, if it was built already."""
    root = root or project_root()
    key = cache_key(root, image_inputs(root))
    archive = archive_path(key)
    if archive.is_file() and archive.stat().st_size > 0:
        return ImageArchive(reference=reference_for(key), archive=archive)
    return None


def ensure_image(
    root: Path | None = None,
    *,
    timeout: float = 1800,
    progress: Callable[[str], None] | None = None,
) -> ImageArchive:
    """Return the image for the current sources, building it first if needed.

    A cold build (Debian bootstrap, Python dependencies) takes about five
    minutes; afterwards a source change rebuilds in seconds and unchanged
    sources return at once. The script's progress lines go to `progress` as
    they come (default: stderr). Raises `LocalEnvError` with the script's last
    lines when the build fails.
    """
    root = root or project_root()
    if cached := find_cached_image(root):
        return cached
    stdout = run_streaming(
        ["bash", str(root / BUILD_SCRIPT)],
        name=BUILD_SCRIPT,
        cwd=root,
        env={**os.environ, "MODELREGISTRY_CACHE": str(cache_root())},
        timeout=timeout,
        progress=progress or _to_stderr,
    )
    return parse_script_output(stdout)


def run_streaming(
    argv: list[str],
    *,
    name: str,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    progress: Callable[[str], None],
) -> str:
    """Run `argv`, each stderr line to `progress` as it comes; return its stdout.

    It runs in a process group of its own, so that stopping it (a timeout, or
    Ctrl-C raising here) reaches every process it started: SIGINT first, as a
    terminal's Ctrl-C, then SIGKILL after STOP_GRACE_SECONDS.
    """
    tail: collections.deque[str] = collections.deque(maxlen=ERROR_TAIL_LINES)
    expired = threading.Event()
    with tempfile.TemporaryFile(mode="w+") as out:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )

        def expire() -> None:
            expired.set()
            _stop_group(process)

        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        timer.start()
        try:
            assert process.stderr is not None
            with process.stderr:
                for line in process.stderr:
                    tail.append(line.rstrip("\n"))
                    progress(tail[-1])
            returncode = process.wait()
        except BaseException:
            _stop_group(process)
            raise
        finally:
            timer.cancel()
        if expired.is_set():
            raise LocalEnvError(f"{name} did not finish within {timeout:.0f}s")
        if returncode != 0:
            lines = "\n".join(tail)
            raise LocalEnvError(f"{name} failed (exit {returncode}):\n{lines}")
        out.seek(0)
        return out.read()


def _stop_group(process: subprocess.Popen[str]) -> None:
    """SIGINT to the process's group; SIGKILL to what is left once it ended, or after a grace."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE_SECONDS)
    # A heartbeat between its ticks, or a step that outlived the script.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def parse_script_output(stdout: str) -> ImageArchive:
    """Read the `reference=...` and `archive=...` lines the script prints last."""
    values = dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)
    try:
        return ImageArchive(reference=values["reference"], archive=Path(values["archive"]))
    except KeyError as error:
        raise LocalEnvError(
            f"{BUILD_SCRIPT} printed no {error.args[0]}= line; output:\n{stdout}"
        ) from error
