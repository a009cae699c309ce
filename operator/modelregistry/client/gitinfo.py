"""Where the code came from: the repository URL and commit of a git working tree.

A version's lineage names a commit; a working tree with uncommitted changes to
tracked files trained from code no commit holds, so it is refused unless the
caller says otherwise. Untracked files do not count: the model directory
itself is often an untracked output inside the tree.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from modelregistry.client.errors import RegistryError

GIT_TIMEOUT = 30
# Changes listed in the refusal; the rest are counted.
SHOWN_CHANGES = 10
_HEX_COMMIT = re.compile(r"^[0-9a-f]{7,64}$")


class GitError(RegistryError):
    """The working tree cannot name the code: not a repository, no commit, or dirty."""


@dataclass(frozen=True)
class GitInfo:
    """One working tree: its repository URL, HEAD commit and uncommitted changes."""

    root: Path
    repository: str
    commit: str
    changes: tuple[str, ...]

    @property
    def dirty(self) -> bool:
        return bool(self.changes)

    def code_reference(self) -> dict[str, str]:
        """spec.lineage.code."""
        return {"repository": self.repository, "commit": self.commit}


def read_git(directory: Path) -> GitInfo:
    """The repository around `directory`; raises GitError when there is none."""
    if shutil.which("git") is None:
        raise GitError("git is not installed: install it, or register with --no-git")
    if not directory.is_dir():
        raise GitError(f"--git {directory}: no such directory")
    top = _git(directory, "rev-parse", "--show-toplevel")
    if top is None:
        raise GitError(
            f"{directory} is not in a git working tree: run the command in the training "
            f"code's repository, name it with --git DIR, or register with --no-git"
        )
    root = Path(top)
    commit = _git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if commit is None or not _HEX_COMMIT.match(commit):
        raise GitError(f"the git repository at {root} has no commit yet: commit the code first")
    # Porcelain lines are `XY path`; the leading column may be a space.
    status = _git(root, "status", "--porcelain", "--untracked-files=no", strip=False) or ""
    changes = tuple(line[3:] for line in status.splitlines() if line.strip())
    return GitInfo(root=root, repository=_repository(root), commit=commit, changes=changes)


def require_clean(info: GitInfo) -> None:
    """Raise unless the tracked files are as HEAD has them."""
    if not info.dirty:
        return
    shown = ", ".join(info.changes[:SHOWN_CHANGES])
    more = len(info.changes) - SHOWN_CHANGES
    if more > 0:
        shown += f" and {more} more"
    raise GitError(
        f"the git working tree at {info.root} has uncommitted changes ({shown}), so commit "
        f"{info.commit[:12]} is not the code that trained this model: commit them, or pass "
        f"--allow-dirty to record the commit anyway"
    )


def _repository(root: Path) -> str:
    """The remote's URL (origin first), without credentials; else the tree's own path."""
    remotes = (_git(root, "remote") or "").split()
    for remote in sorted(remotes, key=lambda name: name != "origin"):
        url = _git(root, "remote", "get-url", remote)
        if url:
            return strip_credentials(url)
    return root.as_uri()


def strip_credentials(url: str) -> str:
    """A URL without user and password: a token in a clone URL must not land in the cluster."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ssh", "git") or "@" not in parts.netloc:
        return url  # scp-like `git@host:path` names a user, not a secret
    host = parts.netloc.rsplit("@", 1)[1]
    if parts.scheme == "ssh" and parts.username and not parts.password:
        return url
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _git(directory: Path, *args: str, strip: bool = True) -> str | None:
    """Git's output, or None when it fails."""
    try:
        done = subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() if strip else done.stdout
