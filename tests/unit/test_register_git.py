"""Code lineage from a real git working tree made in tmp_path."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from modelregistry.client.gitinfo import GitError, read_git, require_clean, strip_credentials


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "training"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.email", "ml@example.com")
    git(root, "config", "user.name", "ML")
    (root / "train.py").write_text("print('train')\n")
    (root / "data.py").write_text("print('data')\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "train")
    git(root, "remote", "add", "origin", "https://oauth2:s3cr3t@git.example.com/ml/churn.git")
    return root


def test_a_clean_tree_gives_its_remote_and_head_commit(repo: Path) -> None:
    (repo / "sub").mkdir()

    info = read_git(repo / "sub")

    assert info.commit == git(repo, "rev-parse", "HEAD")
    assert info.repository == "https://git.example.com/ml/churn.git"
    assert info.code_reference() == {"repository": info.repository, "commit": info.commit}
    assert not info.dirty
    require_clean(info)


def test_a_changed_tracked_file_is_refused_naming_it_and_the_way_out(repo: Path) -> None:
    (repo / "train.py").write_text("print('changed')\n")
    (repo / "data.py").unlink()

    info = read_git(repo)

    assert info.changes == ("data.py", "train.py")
    with pytest.raises(GitError, match=r"uncommitted changes \(data.py, train.py\).*--allow-dirty"):
        require_clean(info)


def test_untracked_files_such_as_the_model_itself_do_not_make_it_dirty(repo: Path) -> None:
    (repo / "model").mkdir()
    (repo / "model" / "MLmodel").write_text("flavors: {}\n")

    assert not read_git(repo).dirty


def test_outside_a_working_tree_says_how_to_name_one(tmp_path: Path) -> None:
    with pytest.raises(GitError, match=r"not in a git working tree.*--git DIR.*--no-git"):
        read_git(tmp_path)


def test_a_repository_without_a_commit_is_refused(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")

    with pytest.raises(GitError, match="has no commit yet"):
        read_git(tmp_path)


def test_a_repository_without_a_remote_is_named_by_its_path(repo: Path) -> None:
    git(repo, "remote", "remove", "origin")

    assert read_git(repo).repository == repo.resolve().as_uri()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:token@github.com/a/b.git", "https://github.com/a/b.git"),
        ("https://token@github.com/a/b.git", "https://github.com/a/b.git"),
        ("https://github.com/a/b.git", "https://github.com/a/b.git"),
        ("git@github.com:a/b.git", "git@github.com:a/b.git"),
        ("ssh://git@github.com/a/b.git", "ssh://git@github.com/a/b.git"),
        ("ssh://git:pw@github.com/a/b.git", "ssh://github.com/a/b.git"),
    ],
)
def test_credentials_never_leave_the_machine(url: str, expected: str) -> None:
    assert strip_credentials(url) == expected
