"""Kinect limb-track files (seed 000): one recording per file, (T, 4, 3) positions, NaN where tracking failed.

* CSV: 12 columns in the paper's order (Fig. 2) — ``left_hand_x, left_hand_y, left_hand_z, left_foot_x, ...,
  right_foot_z`` — one row per frame (30 Hz), a header row, empty or ``nan`` cells for lost limbs;
* ``.npy`` (a (T, 4, 3) or (T, 12) array) or ``.npz`` (key ``tracks``).
"""

from __future__ import annotations

import io as _io
import os
import pathlib

import numpy as np

from infantjax.errors import DataError

__all__ = ["LIMB_TRACK_COLUMNS", "LIMB_TRACK_SUFFIXES", "read_limb_tracks", "write_limb_tracks"]

LIMB_TRACK_COLUMNS = tuple(f"{limb}_{axis}" for limb in ("left_hand", "left_foot", "right_hand", "right_foot")
                           for axis in "xyz")
LIMB_TRACK_SUFFIXES = (".csv", ".npy", ".npz")


def read_limb_tracks(path: str | os.PathLike) -> np.ndarray:
    """Read one recording's limb tracks.

    Arguments:
        path: a ``.csv``, ``.npy`` or ``.npz`` file (module docstring).

    Returns:
        (T, 4, 3) float32 tracks (NaN where a limb was lost).
    """
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in LIMB_TRACK_SUFFIXES:
        raise DataError(f"{path}: limb tracks are read from {', '.join(LIMB_TRACK_SUFFIXES)} files, not {suffix!r}")
    try:
        if suffix == ".csv":
            text = path.read_text()
            lines = text.splitlines()
            skip = 1 if lines and any(c.isalpha() and c not in "nNaA" for c in lines[0]) else 0
            x = np.genfromtxt(_io.StringIO(text), delimiter=",", skip_header=skip, dtype=np.float64,
                              missing_values="", filling_values=np.nan)
            x = np.atleast_2d(x)
        elif suffix == ".npy":
            x = np.load(path, allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as z:
                if "tracks" not in z:
                    raise DataError(f"{path}: no 'tracks' array (found {sorted(z.files)})")
                x = z["tracks"]
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read limb tracks ({err})") from None
    x = np.asarray(x, np.float32)
    if x.ndim == 2 and x.shape[1] == 12:
        x = x.reshape(len(x), 4, 3)
    if x.ndim != 3 or x.shape[1:] != (4, 3):
        raise DataError(f"{path}: limb tracks must be 12 columns (4 limbs × x, y, z) or (T, 4, 3), got shape "
                        f"{x.shape}")
    return x


def write_limb_tracks(path: str | os.PathLike, tracks: np.ndarray, *, parents: bool = False) -> pathlib.Path:
    """Write (T, 4, 3) tracks as a CSV with the 12 named columns (``nan`` for lost limbs)."""
    from infantjax.io.files import write_text

    x = np.asarray(tracks, np.float64)
    if x.ndim != 3 or x.shape[1:] != (4, 3):
        raise DataError(f"write_limb_tracks: tracks must be (T, 4, 3), got shape {x.shape}")
    rows = [",".join(LIMB_TRACK_COLUMNS)]
    rows += [",".join("nan" if np.isnan(v) else f"{v:.6g}" for v in frame) for frame in x.reshape(len(x), 12)]
    return write_text(path, "\n".join(rows) + "\n", parents=parents)
