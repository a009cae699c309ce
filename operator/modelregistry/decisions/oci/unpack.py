"""Which entries of a layer's tar may be written out, and where: files and directories only.

A tar names its own paths, so each name is checked before anything is
written: relative, every segment a name (a leading `./` is dropped, as tar
writes it), no control characters or backslashes. Links, devices and FIFOs
are refused: a model is files. Nothing lands outside the destination, and no
layer overwrites a file another one wrote.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Final, Literal

EntryKind = Literal["file", "directory", "other"]
# Permission bits kept from a tar entry: read and execute for everyone at most.
MODE_MASK: Final = 0o755
# zlib's window for gzip framing (16 + the largest window).
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS


class UnpackError(ValueError):
    """A layer that cannot be laid out: the message names the layer and the entry."""


@dataclass(frozen=True)
class Entry:
    kind: EntryKind
    path: str  # relative, `/`-separated


def entry(layer: str, name: str, kind: EntryKind) -> Entry | None:
    """Where a tar entry goes; None for the archive's own root (`./`); UnpackError otherwise."""
    if kind == "other":
        raise UnpackError(
            f"{layer} holds {name!r}, which is not a regular file or directory (a link, device "
            "or FIFO): only files and directories are unpacked"
        )
    path = name.removeprefix("./")
    if kind == "directory":
        path = path.removesuffix("/")
    if path in ("", ".") and not name.startswith("/"):
        if kind == "directory":
            return None
        raise UnpackError(f"{layer} holds a file with no name")
    segments = path.split("/")
    if (
        name.startswith("/")
        or any(s in ("", ".", "..") for s in segments)
        or any(ord(c) < 0x20 or c in "\\\x7f" for c in path)
    ):
        raise UnpackError(
            f"{layer} holds {name!r}: a path must be relative, each segment a name (no '', '.' "
            "or '..'), without control characters or backslashes"
        )
    return Entry(kind, path)


def file_mode(mode: int) -> int:
    """The mode a file is written with: at most rwxr-xr-x, always readable and writable by us."""
    return (mode & MODE_MASK) | 0o600


class Budget:
    """Bytes that may still be written: unpacking stops, in words, before a volume fills."""

    def __init__(self, limit: int | None) -> None:
        self._left = limit

    def take(self, count: int, what: str) -> None:
        if self._left is None:
            return
        if count > self._left:
            raise UnpackError(
                f"{what} would write past the room the verified artifact needs "
                "(a compressed layer unpacks to more than its own size allows)"
            )
        self._left -= count


class GzipSize:
    """Counts the bytes a gzip stream inflates to, fed in pieces, holding little in memory.

    Several gzip members one after another are one stream (as `gzip` reads
    them). Bytes that are not gzip raise UnpackError.
    """

    _PIECE: Final = 1 << 20

    def __init__(self, what: str) -> None:
        self._what = what
        self._inflater = zlib.decompressobj(_GZIP_WBITS)
        self.size = 0
        self._started = False

    def feed(self, data: bytes) -> None:
        try:
            while data:
                self._started = True
                self.size += len(self._inflater.decompress(data, self._PIECE))
                if self._inflater.eof:  # the next member starts in what is left over
                    data = self._inflater.unused_data
                    self._inflater = zlib.decompressobj(_GZIP_WBITS)
                    self._started = False
                else:
                    data = self._inflater.unconsumed_tail
        except zlib.error as error:
            raise UnpackError(f"{self._what} is not gzip data ({error})") from None

    def finish(self) -> int:
        """The inflated size; UnpackError if the stream stopped inside a member."""
        if self._started and not self._inflater.eof:
            raise UnpackError(f"{self._what} ends inside a gzip member")
        return self.size
