"""Where input data lives: a local folder, or any fsspec URL.

``liushuang validate|build|audit|verify DATA`` accept ``s3://bucket/export/``,
``gs://…``, ``az://…``, ``memory://…`` (any protocol fsspec knows, with its
package installed, e.g. ``s3fs``) as well as a local folder. A URL becomes a
:class:`RemotePath`, which offers the small part of ``pathlib.Path`` the
readers use, so every reader works unchanged on both; on a Dask cluster the
workers open the same URL themselves (fsspec file systems pickle by their
options), so the data never has to be copied to a shared folder.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any


def is_url(value: str | os.PathLike[str]) -> bool:
    text = os.fspath(value)
    return "://" in text and not text.startswith("file://")


def location(value: str | os.PathLike[str]) -> Path | RemotePath:
    """A local path, or a :class:`RemotePath` for an fsspec URL (``file://`` is local)."""
    if isinstance(value, Path | RemotePath):
        return value
    text = os.fspath(value)
    if text.startswith("file://"):
        return Path(text[len("file://"):])
    if not is_url(text):
        return Path(text)
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - fsspec is a dependency
        raise ValueError(f"读取“{text}”需要 fsspec：pip install fsspec") from exc
    try:
        fs, root = fsspec.core.url_to_fs(text)
    except (ImportError, ValueError) as exc:
        raise ValueError(f"无法打开“{text}”：{exc}（该协议可能需要另装 fsspec 的插件，如 s3fs）") from exc
    return RemotePath(fs, root.rstrip("/") or "/", label=text.rstrip("/"))


class RemotePath:
    """A file or folder on an fsspec file system, with the ``pathlib.Path`` methods the readers use."""

    __slots__ = ("fs", "path", "_type", "_label")

    def __init__(self, fs: Any, path: str, kind: str | None = None, *, label: str | None = None) -> None:
        self.fs, self.path, self._type = fs, path, kind
        self._label = label  # the URL as the user wrote it (shown in reports)

    # --- names -----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix

    def __truediv__(self, other: str) -> RemotePath:
        return RemotePath(self.fs, f"{self.path.rstrip('/')}/{other}")

    def relative_to(self, root: RemotePath) -> PurePosixPath:
        return PurePosixPath(posixpath.relpath(self.path, root.path))

    def resolve(self) -> RemotePath:
        return self

    def __str__(self) -> str:
        return self._label or str(self.fs.unstrip_protocol(self.path))

    def __repr__(self) -> str:
        return f"RemotePath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemotePath) and self.fs == other.fs and self.path == other.path

    def __hash__(self) -> int:
        return hash(self.path)

    # --- the file system ------------------------------------------------------------------
    def iterdir(self) -> Iterator[RemotePath]:
        for info in self.fs.ls(self.path, detail=True):
            name = info["name"].rstrip("/")
            if name != self.path:
                yield RemotePath(self.fs, name, info.get("type"))

    def rglob(self, pattern: str) -> Iterator[RemotePath]:
        if pattern != "*":
            raise ValueError("RemotePath.rglob supports only '*'")
        for name, info in sorted(self.fs.find(self.path, withdirs=True, detail=True).items()):
            if name.rstrip("/") != self.path:
                yield RemotePath(self.fs, name.rstrip("/"), info.get("type"))

    def exists(self) -> bool:
        return bool(self.fs.exists(self.path))

    def is_dir(self) -> bool:
        return self._type == "directory" if self._type else bool(self.fs.isdir(self.path))

    def is_file(self) -> bool:
        return self._type == "file" if self._type else bool(self.fs.isfile(self.path))

    def size(self) -> int:
        return int(self.fs.size(self.path))

    def open(self, mode: str = "rb") -> IO[bytes]:
        if mode != "rb":
            raise ValueError("input data is opened read-only")
        return self.fs.open(self.path, "rb")  # type: ignore[no-any-return]

    def read_bytes(self) -> bytes:
        return bytes(self.fs.cat_file(self.path))


def file_size(path: Path | RemotePath) -> int:
    try:
        return path.size() if isinstance(path, RemotePath) else os.path.getsize(path)
    except OSError:  # FileNotFoundError included
        return 0


def parquet_file(path: Path | RemotePath) -> Any:
    """A ``pyarrow.parquet.ParquetFile``; a remote one reads only the byte ranges it needs."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path.open("rb") if isinstance(path, RemotePath) else path)
