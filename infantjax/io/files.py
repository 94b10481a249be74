"""Atomic file writes: every file infantjax writes goes through here.

A writer is handed a temporary path beside the target; when it finishes, the temporary file is flushed to disk
(``fsync``) and renamed onto the target (``os.replace``, atomic within one file system). A reader therefore sees
the old file or the new one, never a half-written one, and concurrent writers of one path leave one complete
version. When the writer raises, the temporary file is removed and an existing target stays as it was.

The temporary file is created with ``open(..., 0o666)``, so the kernel applies the process's current umask (and
any default ACL) exactly as for a file written with plain :func:`open`: ``0o644`` under the usual umask ``022``.
(``tempfile.mkstemp`` creates ``0o600`` files, which hid results from the group of a shared project folder.)

* :func:`atomic_path` — context manager yielding the temporary path (for writers that open by name: PyAV,
  matplotlib); :class:`AtomicFile` is the same as an object, for writers that live across calls
  (:class:`~infantjax.io.VideoWriter`).
* :func:`atomic_open` — context manager yielding an open file object.
* :func:`write_text`, :func:`write_bytes`, :func:`write_json`, :func:`save_npz` — one call each.
* :func:`temporaries`, :func:`remove_temporaries` — the temporary files a killed writer left (``.<name>.<8
  hex>.tmp`` + the target's suffix: a kill by signal runs no cleanup), for a caller that redoes that writer's
  work.

A target whose folder does not exist, or that is a folder, raises :class:`~infantjax.errors.FileWriteError` (also an
``OSError``) naming the path and what to do; ``parents=True`` creates missing folders instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import secrets
from collections.abc import Iterator, Mapping
from typing import IO, Any

import numpy as np

from infantjax.errors import DataError, FileWriteError

__all__ = [
    "AtomicFile",
    "atomic_open",
    "atomic_path",
    "json_default",
    "remove_temporaries",
    "save_npz",
    "temporaries",
    "write_bytes",
    "write_json",
    "write_text",
]

_ATTEMPTS = 100  # names tried before giving up on a unique temporary name (a clash is a 2^-32 event)
#: The name of a temporary file of :class:`AtomicFile` with its default suffix (``.tmp`` + the target's
#: suffix).
_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp(\.[^./\\]+)?$")


class AtomicFile:
    """A temporary file beside ``path`` that :meth:`commit` moves onto ``path`` and :meth:`discard` removes.

    Arguments:
        path: the file to write.
        suffix: ending of the temporary name (default ``.tmp`` + the target's suffix, so that writers which pick a
            format from the name — PyAV, matplotlib, numpy — see the target's).
        parents: create missing folders (default: a missing folder is an error).
        error: the :class:`~infantjax.errors.FileWriteError` subclass to raise for an unwritable target.

    Attributes:
        path: the target.
        tmp: the temporary file, created empty (mode ``0o666 & ~umask``); write it by name.

    Raises:
        FileWriteError: the target's folder does not exist, the target is a folder, or the folder is not writable.
    """

    def __init__(self, path: str | os.PathLike, *, suffix: str | None = None, parents: bool = False,
                 error: type[FileWriteError] = FileWriteError):
        self.path = pathlib.Path(path)
        self._error = error
        folder = self.path.parent
        if parents:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise error(f"cannot write {self.path}: cannot create folder {folder} ({err.strerror or err}); "
                            "check the path and its permissions") from None
        elif not folder.is_dir():
            raise error(f"cannot write {self.path}: folder {folder} does not exist; create it first or write "
                        "somewhere else")
        if self.path.is_dir():
            raise error(f"cannot write {self.path}: it is a folder; give a file name inside it")
        self.tmp = self._create(f".tmp{self.path.suffix}" if suffix is None else suffix)
        self.done = False

    def _create(self, suffix: str) -> pathlib.Path:
        # os.open with O_EXCL, not mkstemp: mode 0o666 lets the kernel apply the umask (mkstemp forces 0o600)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        for _ in range(_ATTEMPTS):
            tmp = self.path.with_name(f".{self.path.stem}.{secrets.token_hex(4)}{suffix}")
            try:
                os.close(os.open(tmp, flags, 0o666))
                return tmp
            except FileExistsError:
                continue
            except OSError as err:
                raise self._error(f"cannot write {self.path}: {err.strerror or err} in folder {self.path.parent}; "
                                  "check its permissions and free space") from None
        raise self._error(f"cannot write {self.path}: no unused temporary name in {self.path.parent} after "
                          f"{_ATTEMPTS} tries")

    def commit(self) -> pathlib.Path:
        """Flush the temporary file to disk and rename it onto the target; returns the target."""
        if self.done:
            raise RuntimeError(f"{self.path}: this write was already committed or discarded")
        try:
            fd = os.open(self.tmp, os.O_RDONLY)
            try:
                os.fsync(fd)  # the data is on disk before the rename makes it visible: no empty file after a crash
            finally:
                os.close(fd)
            os.replace(self.tmp, self.path)
        except BaseException as err:
            self.discard()
            if isinstance(err, IsADirectoryError):  # a folder appeared at the target while we wrote
                raise self._error(f"cannot write {self.path}: it is a folder; give a file name inside it") from None
            raise
        self.done = True
        return self.path

    def discard(self) -> None:
        """Remove the temporary file; the target is left as it was."""
        self.done = True
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def temporaries(folder: str | os.PathLike) -> list[pathlib.Path]:
    """The temporary files of interrupted atomic writes in ``folder`` (not below it), sorted: hidden files
    named ``.<name>.<8 hex digits>.tmp`` + a suffix, as :class:`AtomicFile` names them. A writer that finishes
    or raises removes its own; one killed by a signal cannot."""
    try:
        return sorted(p for p in pathlib.Path(folder).iterdir() if _TEMPORARY.match(p.name) and p.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []


def remove_temporaries(folder: str | os.PathLike) -> list[pathlib.Path]:
    """Remove :func:`temporaries` of ``folder``; returns the paths removed. Call it only where no other writer
    is at work in that folder (a temporary of a running writer would be taken from under it)."""
    removed = []
    for path in temporaries(folder):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str | None = None, parents: bool = False,
                error: type[FileWriteError] = FileWriteError) -> Iterator[pathlib.Path]:
    """Yield a temporary path beside ``path``; on leaving the block it replaces ``path`` (or, on an exception,
    is removed). Arguments as :class:`AtomicFile`.

    Example:
        >>> with atomic_path("plot.png") as tmp:  # doctest: +SKIP
        ...     fig.savefig(tmp)
    """
    with AtomicFile(path, suffix=suffix, parents=parents, error=error) as f:
        yield f.tmp


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", *, encoding: str | None = "utf-8",
                newline: str | None = None, parents: bool = False,
                error: type[FileWriteError] = FileWriteError) -> Iterator[IO]:
    """Yield a file object open on a temporary file that replaces ``path`` when the block ends without error.

    Arguments:
        path: the file to write.
        mode: ``"w"`` (text) or ``"wb"`` (binary).
        encoding, newline: as :func:`open`, for text mode (``newline=""`` for the csv module).
        parents, error: as :class:`AtomicFile`.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'w' or 'wb', got {mode!r}")
    text = {"encoding": encoding, "newline": newline} if mode == "w" else {}
    with atomic_path(path, parents=parents, error=error) as tmp, open(tmp, mode, **text) as fh:
        yield fh


def write_bytes(path: str | os.PathLike, data: bytes, *, parents: bool = False,
                error: type[FileWriteError] = FileWriteError) -> pathlib.Path:
    """Write ``data`` to ``path`` atomically; returns the path. ``parents``, ``error``: as :class:`AtomicFile`."""
    with atomic_open(path, "wb", parents=parents, error=error) as fh:
        fh.write(data)
    return pathlib.Path(path)


def write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8", parents: bool = False,
               error: type[FileWriteError] = FileWriteError) -> pathlib.Path:
    """Write ``text`` to ``path`` atomically (no newline translation); returns the path. ``parents``, ``error``: as
    :class:`AtomicFile`."""
    with atomic_open(path, "w", encoding=encoding, newline="", parents=parents, error=error) as fh:
        fh.write(text)
    return pathlib.Path(path)


def json_default(value: Any) -> Any:
    """``json`` fallback for NumPy scalars and arrays and paths (pass as ``default=``)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pathlib.PurePath):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 1, sort_keys: bool = True,
               allow_nan: bool = False, newline: bool = True, parents: bool = False,
               error: type[FileWriteError] = FileWriteError) -> pathlib.Path:
    """Write ``obj`` as JSON atomically; NumPy values and paths are converted (:func:`json_default`).

    Arguments:
        path: the file to write.
        obj: what to write.
        indent: ``json.dumps`` indent (``None``: one line).
        sort_keys: sort object keys (stable, diffable files).
        allow_nan: write NaN/inf as ``NaN``/``Infinity`` (not JSON, though Python reads it back); by default they
            raise :class:`~infantjax.errors.DataError` instead.
        newline: end the file with a newline.
        parents, error: as :class:`AtomicFile`.

    Returns:
        the path written.
    """
    try:
        text = json.dumps(obj, indent=indent, sort_keys=sort_keys, allow_nan=allow_nan, default=json_default)
    except ValueError as err:
        if allow_nan or "JSON compliant" not in str(err):
            raise
        raise DataError(f"cannot write {path}: the record holds NaN or infinity, which JSON cannot represent "
                        "(replace it by null, or write with allow_nan=True)") from None
    return write_text(path, text + ("\n" if newline else ""), parents=parents, error=error)


def save_npz(path: str | os.PathLike, arrays: Mapping[str, Any], *, compress: bool = True,
             parents: bool = False, error: type[FileWriteError] = FileWriteError) -> pathlib.Path:
    """Write named arrays as an ``.npz`` atomically, without pickles (read back with ``allow_pickle=False``).

    Arguments:
        path: the file to write (written as given: no ``.npz`` is appended).
        arrays: name → array; object arrays are refused.
        compress: ``np.savez_compressed`` (default) or ``np.savez``.
        parents, error: as :class:`AtomicFile`.

    Raises:
        DataError: an array of Python objects (it could only be stored as a pickle).
    """
    arrays = {name: np.asarray(a) for name, a in arrays.items()}
    objects = [name for name, a in arrays.items() if a.dtype.hasobject]
    if objects:
        raise DataError(f"cannot write {path}: arrays {objects} hold Python objects, which .npz stores only as "
                        "pickles; convert them to numbers or strings")
    with atomic_open(path, "wb", parents=parents, error=error) as fh:
        (np.savez_compressed if compress else np.savez)(fh, **arrays)
    return pathlib.Path(path)
