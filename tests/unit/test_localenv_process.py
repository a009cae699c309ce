"""Work dirs of the local servers: every path a server is given is absolute."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelregistry.localenv.process import WorkDir
from modelregistry.localenv.service import LocalService


class RecordingService(LocalService):
    """A service without processes that records the work dir it is started in."""

    name = "recording service"

    def __init__(self, workdir: Path | None) -> None:
        super().__init__(workdir, prefix="modelregistry-test-", start_timeout=1)
        self.started_in: Path | None = None

    def _running(self) -> bool:
        return self.started_in is not None

    def _start(self, workdir: Path, deadline: float) -> None:
        self.started_in = workdir

    def _stop(self) -> None:
        self.started_in = None


def test_a_relative_work_dir_is_made_absolute_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    workdir = WorkDir(Path(".dev/s3"), prefix="unused-")
    assert workdir.path == tmp_path.resolve() / ".dev" / "s3"
    created = workdir.create()
    assert created == tmp_path.resolve() / ".dev" / "s3"
    assert created.is_dir()


def test_a_relative_work_dir_keeps_meaning_the_directory_it_meant_when_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    workdir = WorkDir(Path("dev"), prefix="unused-")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert workdir.create() == tmp_path.resolve() / "dev"


def test_a_temporary_work_dir_is_absolute_and_removed(tmp_path: Path) -> None:
    workdir = WorkDir(None, prefix="modelregistry-test-")
    created = workdir.create()
    assert created.is_absolute() and created.is_dir()
    workdir.cleanup()
    assert not created.exists()


def test_a_service_given_a_relative_work_dir_is_started_in_an_absolute_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with RecordingService(Path(".dev") / "s3") as service:
        assert service.started_in == tmp_path.resolve() / ".dev" / "s3"
        assert service.workdir == service.started_in
