"""The image's cache key: which files decide it, and agreement with hack/build-image.sh;
the build script's progress passed on as it comes."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
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
    run_streaming,
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
    for script in ("build-image.sh", "progress.sh"):
        shutil.copy2(REPO / "hack" / script, root / "hack" / script)
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


def bash(script: str, tmp_path: Path, progress: list[str], timeout: float = 60) -> str:
    return run_streaming(
        ["bash", "-c", script],
        name="the script",
        cwd=tmp_path,
        env=dict(os.environ),
        timeout=timeout,
        progress=progress.append,
    )


def group_alive(pgid: int) -> bool:
    """Whether a process of the group runs (zombies, not yet reaped, do not)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # it ended while we looked
            continue
        state, _ppid, group = text[text.rindex(")") + 2 :].split()[:3]
        if int(group) == pgid and state != "Z":
            return True
    return False


def group_ends(pgid: int) -> bool:
    """Whether the group is gone soon: a SIGKILLed process ends a moment after the signal."""
    for _ in range(200):
        if not group_alive(pgid):
            return True
        time.sleep(0.05)
    return False


def test_progress_lines_come_while_the_script_runs_and_stdout_is_returned(
    tmp_path: Path,
) -> None:
    seen = tmp_path / "seen"
    progress: list[str] = []

    def note(line: str) -> None:
        progress.append(line)
        seen.touch()

    # The script goes on only once its first line was passed on: buffered
    # until the end, it would fail.
    script = (
        "echo 'build-image: step one' >&2; "
        f"for _ in $(seq 200); do [ -e {seen} ] && break; sleep 0.05; done; "
        f"[ -e {seen} ] || exit 3; "
        "echo reference=x; echo 'build-image: step two' >&2; echo archive=/a.tar"
    )
    out = run_streaming(
        ["bash", "-c", script],
        name="the script",
        cwd=tmp_path,
        env=dict(os.environ),
        timeout=60,
        progress=note,
    )
    assert out == "reference=x\narchive=/a.tar\n"
    assert progress == ["build-image: step one", "build-image: step two"]


def test_a_failure_shows_the_last_lines(tmp_path: Path) -> None:
    progress: list[str] = []
    with pytest.raises(LocalEnvError) as failure:
        bash("for i in $(seq 1 40); do echo line $i >&2; done; exit 4", tmp_path, progress)
    message = str(failure.value)
    assert message.startswith("the script failed (exit 4):\nline 11\n")
    assert message.endswith("\nline 40")
    assert len(progress) == 40


def test_a_timeout_stops_the_whole_group(tmp_path: Path) -> None:
    progress: list[str] = []
    with pytest.raises(LocalEnvError, match="did not finish within 1s"):
        # A child that ignores SIGINT is killed after the grace.
        bash("echo pid=$$ >&2; (trap '' INT; sleep 60) & sleep 60", tmp_path, progress, 1)
    assert group_ends(int(progress[0].removeprefix("pid=")))


def test_ctrl_c_while_it_runs_stops_the_whole_group(tmp_path: Path) -> None:
    progress: list[str] = []

    def interrupt(line: str) -> None:
        progress.append(line)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_streaming(
            ["bash", "-c", "echo pid=$$ >&2; sleep 60 & sleep 60"],
            name="the script",
            cwd=tmp_path,
            env=dict(os.environ),
            timeout=60,
            progress=interrupt,
        )
    assert group_ends(int(progress[0].removeprefix("pid=")))
