"""The inputs of an assessment: the videos a path names (a file, or a folder's videos) and one output folder
name per video, safe and unique on every file system."""

from __future__ import annotations

import os
import pathlib
import re
from collections.abc import Sequence

from infantjax.errors import DataError

#: Files ``assess`` takes from a folder (case-insensitive).
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mts", ".m2ts", ".ts", ".3gp", ".mpg", ".mpeg",
                  ".wmv")


def video_files(path: str | os.PathLike) -> list[pathlib.Path]:
    """The videos named by ``path``: the file itself, or a folder's files with a video suffix
    (:data:`VIDEO_SUFFIXES`), sorted by name.

    Raises:
        DataError: the path does not exist, or the folder holds no video.
    """
    p = pathlib.Path(path)
    if not p.exists():
        raise DataError(f"{p} does not exist; give a video file or a folder of videos")
    if p.is_file():
        return [p]
    found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES
                   and not f.name.startswith("."))
    if not found:
        raise DataError(f"{p} holds no video ({', '.join(VIDEO_SUFFIXES)}); give a video file or a folder of them")
    return found


#: Names Windows refuses for a file or folder, with any extension (compared case-insensitively).
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                     *(f"lpt{i}" for i in range(10)), "com¹", "com²", "com³", "lpt¹", "lpt²", "lpt³"}
#: Punctuation a folder name keeps besides letters, digits and combining marks of every script: safe in a file
#: name on Windows, macOS and Linux and in a link of the cohort page without escaping.
_NAME_PUNCTUATION = set("-_.()+,")
#: Longest folder name in UTF-8 bytes: the labelled video's name (``<name>.labelled.mp4``), a ``-N`` suffix
#: and the atomic writes' temporary names (``.<name>.<hex>.tmp.mp4``) stay within the 255 bytes of ext4, NTFS
#: (255 UTF-16 units) and APFS.
_NAME_BYTES = 160


def _safe_name(stem: str) -> str:
    """A video's file stem as a folder name: Unicode kept (composed, NFC: macOS decomposes names), every
    character that is not a letter, digit, combining mark or one of ``-_.()+,`` replaced by ``_`` (runs of
    them by one), no leading or trailing dot, underscore or space (Windows drops trailing dots and spaces), a
    Windows device name (``CON``, ``NUL``, ``COM1`` ...) suffixed with ``_``, at most :data:`_NAME_BYTES`
    bytes; ``video`` when nothing is left."""
    import unicodedata

    text = unicodedata.normalize("NFC", stem)
    out = []
    for c in text:
        keep = c in _NAME_PUNCTUATION or unicodedata.category(c)[0] in "LNM"
        if keep:
            out.append(c)
        elif not out or out[-1] != "_":
            out.append("_")
    name = re.sub(r"_+", "_", "".join(out)).strip("._ ")
    while len(name.encode("utf-8")) > _NAME_BYTES:
        name = name[:-1]
    name = unicodedata.normalize("NFC", name).rstrip("._ ")  # a cut may leave a lone combining mark
    if not name:
        return "video"
    if name.split(".")[0].casefold() in _WINDOWS_RESERVED:
        name += "_"
    return name


def _folder_names(videos: Sequence[pathlib.Path]) -> list[str]:
    """A unique output folder name per video (:func:`_safe_name` of its stem). Names are unique as
    case-insensitive, normalisation-insensitive file systems (Windows, macOS) compare them: where two stems
    give one name the video's suffix is added (``a_mov``), and where names still collide ``-2``, ``-3`` ..."""
    stems = [_safe_name(v.stem) for v in videos]
    keys = [s.casefold() for s in stems]
    out = []
    for v, s, k in zip(videos, stems, keys):
        group = [w.suffix.lower() for w, q in zip(videos, keys) if q == k]
        if len(group) > 1 and len(set(group)) == len(group):  # a.mp4 and a.mov: a_mp4 and a_mov
            s = _safe_name(f"{s}_{v.suffix.lstrip('.').lower()}")
        out.append(s)
    seen: dict[str, int] = {}
    taken = {s.casefold() for s in out}
    for i, s in enumerate(out):
        k = seen.get(s.casefold(), 0)
        seen[s.casefold()] = k + 1
        if k:
            n = k + 1
            while f"{s}-{n}".casefold() in taken:
                n += 1
            out[i] = f"{s}-{n}"
            taken.add(out[i].casefold())
    return out
