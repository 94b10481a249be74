"""The checks every family's ``predict`` runs on its recording before anything is computed: a wrong input (a string
where arrays are expected, None, an array of the wrong rank or width) is a :class:`~infantjax.errors.DataError`
saying what was given and what the family takes, never an ``AttributeError`` from deep inside."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from infantjax.errors import DataError

__all__ = ["NAN_RULES", "as_array", "as_arrays", "as_path", "as_sequence"]


def _describe(x: Any) -> str:
    if x is None:
        return "None"
    if isinstance(x, (str, bytes)):
        return f"the string {x[:40]!r}"
    shape = getattr(x, "shape", None)
    if shape is not None:
        return f"an array of shape {tuple(shape)}"
    return f"a {type(x).__name__}"


def _layout(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("N" if n is None else str(n) for n in shape) + ")"


#: What an input may hold where a value is missing: ``"refuse"`` no NaN at all (features, depth clips: a
#: NaN there is an error upstream, and the networks would turn it into a confident number), ``"partial"`` NaN
#: where a value was lost but not everywhere (tracks with gaps).
NAN_RULES = ("refuse", "partial")


def as_array(x: Any, shape: tuple[int | None, ...], *, where: str, what: str = "the input",
             nan: str = "refuse") -> np.ndarray:
    """``x`` as a float32 array of ``shape`` (None: any size on that axis), with something in it.

    Arguments:
        nan: ``"refuse"`` (no NaN) or ``"partial"`` (NaN allowed, but not in every value); infinities are
            always refused.

    Raises:
        DataError: ``x`` is None, a string, not numeric, of another rank or size, empty (an axis of length 0),
            infinite somewhere, or NaN where ``nan`` does not allow it.
    """
    want = f"{what}: a float array {_layout(shape)}"
    if x is None or isinstance(x, (str, bytes, os.PathLike, dict)):
        raise DataError(f"{where} takes {want}, got {_describe(x)}")
    try:
        a = np.asarray(x, np.float32)
    except (TypeError, ValueError) as err:
        raise DataError(f"{where} takes {want}, got {_describe(x)} ({err})") from None
    if a.ndim != len(shape) or any(n is not None and a.shape[i] != n for i, n in enumerate(shape)):
        raise DataError(f"{where} takes {want}, got {_describe(a)}")
    if a.size == 0:
        raise DataError(f"{where} takes {want}, got an empty array of shape {tuple(a.shape)}: nothing to "
                        "predict")
    if np.isinf(a).any():
        raise DataError(f"{where}: {what} holds infinite values; pass finite numbers")
    missing = int(np.isnan(a).sum())
    if missing and nan == "refuse":
        raise DataError(f"{where}: {what} holds NaN ({missing} of {a.size} values); this model takes no "
                        "missing values: compute them again from complete keypoints (or fill the gaps first)")
    if missing == a.size:
        raise DataError(f"{where}: every value is NaN ({what}): nothing was tracked, so there is nothing to "
                        "predict")
    return a


def as_arrays(xs: Any, shape: tuple[int | None, ...], *, where: str, what: str = "per recording",
              nan: str = "refuse") -> list[np.ndarray]:
    """``xs`` (a sequence with one array per recording, at least one) as float32 arrays of ``shape`` each
    (:func:`as_array` of each, with ``nan``).

    Raises:
        DataError: ``xs`` is None, a string, empty, a single array instead of a sequence of them, or holds a
            wrong array.
    """
    want = f"a list with, {what}, a float array {_layout(shape)}"
    if xs is None or isinstance(xs, (str, bytes, os.PathLike, dict)) or not isinstance(xs, (Sequence, np.ndarray)):
        raise DataError(f"{where} takes {want}, got {_describe(xs)}")
    if isinstance(xs, np.ndarray) and xs.ndim != len(shape) + 1:
        raise DataError(f"{where} takes {want}, got {_describe(xs)}")
    if len(xs) == 0:
        raise DataError(f"{where} takes {want}, got an empty list: no recording to predict")
    return [as_array(x, shape, where=f"{where}: recording {i}", what=what, nan=nan) for i, x in enumerate(xs)]


def as_sequence(x: Any, *, where: str):
    """``x`` when it is a :class:`~infantjax.sequence.SkeletonSequence`.

    Raises:
        DataError: anything else (the message says how to read one from a keypoint file).
    """
    from infantjax.sequence import SkeletonSequence

    if not isinstance(x, SkeletonSequence):
        raise DataError(f"{where} takes a SkeletonSequence (infantjax.io.read_keypoints(path) reads one from a "
                        f"keypoint file), got {_describe(x)}")
    if x.num_frames == 0:
        raise DataError(f"{where}: the recording has no frames; pass the keypoints of a recording")
    return x


def as_path(x: Any, *, where: str, what: str = "a video file") -> str:
    """``x`` as a path that exists.

    Raises:
        DataError: not a string or path, or no such file.
    """
    if not isinstance(x, (str, os.PathLike)):
        raise DataError(f"{where} takes the path of {what}, got {_describe(x)}")
    path = os.fspath(x)
    if not os.path.isfile(path):
        raise DataError(f"{where}: {path!r} is not a file; pass the path of {what}")
    return path
