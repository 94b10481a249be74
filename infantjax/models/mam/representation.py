"""MAM's motion representations (seed 001, "Input construction"): what the Transformer sees of a pose sequence.

* ``"distance"`` (the paper's choice): per frame the Euclidean distances between every pair of joints — the upper
  triangle of the J × J distance matrix, J(J−1)/2 values, pair (i, j), i < j, in row-major order
  (``numpy.triu_indices(J, 1)``). Invariant to where the infant lies and how it is turned, so it carries the
  "overall motion patterns and inter-joint coordination" the paper wants.
* ``"coordinates"``: the joints relative to their centroid per frame, J · C values (joint-major).
* ``"velocities"`` / ``"accelerations"``: first / second differences over time of those coordinates (the first
  frame(s) repeat the first difference, so the length stays T).

Every representation is **normalised per recording** (ours: the paper says only "normalized"): each value minus
its mean over the recording, divided by one standard deviation of the whole recording's centred values. The
relative amplitudes of the joints are kept (small fidgety movements stay small beside gross movements) while body
size, camera distance and units drop out.

3D input (T, J, 3) was better than 2D in the paper; 2D (T, J, 2) is accepted by the same functions.

Plain NumPy on host arrays (this is input construction, nothing here is jitted).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

from infantjax.errors import ConfigError, DataError

__all__ = [
    "INPUTS",
    "distance_matrix",
    "features_per_joint",
    "motion_features",
    "normalise_recording",
    "num_features",
    "pair_indices",
]

INPUTS = ("distance", "coordinates", "velocities", "accelerations")


def pair_indices(num_joints: int) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) of the upper-triangle pairs, i < j, row-major: J(J−1)/2 of them."""
    return np.triu_indices(int(num_joints), 1)


def num_features(input_kind: str, num_joints: int, channels: int) -> int:
    """Values per frame of a representation: J(J−1)/2 for ``"distance"``, J · C otherwise."""
    _check_kind(input_kind)
    return num_joints * (num_joints - 1) // 2 if input_kind == "distance" else num_joints * channels


def features_per_joint(input_kind: str, num_joints: int, channels: int) -> int:
    """Values of one joint's token: its row of the distance matrix (J) or its C coordinates."""
    _check_kind(input_kind)
    return num_joints if input_kind == "distance" else channels


def _check_kind(input_kind: str) -> None:
    if input_kind not in INPUTS:
        raise ConfigError(f"unknown MAM input {input_kind!r}; use one of {', '.join(INPUTS)}")


def _check_keypoints(keypoints, num_joints: int | None, where: str) -> np.ndarray:
    k = np.asarray(keypoints, np.float64)
    if k.ndim != 3 or k.shape[2] not in (2, 3):
        raise DataError(f"{where}: keypoints must be (frames, joints, 2 or 3), got shape {k.shape}")
    if num_joints is not None and k.shape[1] != num_joints:
        raise DataError(f"{where}: {k.shape[1]} joints per frame, the model takes {num_joints}; convert the "
                        "keypoints to the model's skeleton (infantjax.skeleton) or train a model for this one")
    if k.shape[0] < 3:
        raise DataError(f"{where}: {k.shape[0]} frames is too short for a motion representation (3 at least)")
    if not np.isfinite(k).all():
        raise DataError(f"{where}: keypoints contain NaN/inf; interpolate missing joints first "
                        "(infantjax.preprocess)")
    return k


def distance_matrix(keypoints: Float[np.ndarray, "T J C"]) -> Float[np.ndarray, "T P"]:
    """The upper triangles of the per-frame joint distance matrices, un-normalised.

    Arguments:
        keypoints: (T, J, C) joint positions, C = 3 (or 2).

    Returns:
        (T, J(J−1)/2) float32 distances, pairs in :func:`pair_indices` order.
    """
    k = _check_keypoints(keypoints, None, "distance_matrix")
    i, j = pair_indices(k.shape[1])
    return np.linalg.norm(k[:, i] - k[:, j], axis=-1).astype(np.float32)


def normalise_recording(values: Float[np.ndarray, "T F"]) -> Float[np.ndarray, "T F"]:
    """Centre every column over the recording and divide by the standard deviation of all centred values (module
    docstring); a motionless recording stays zero."""
    v = np.asarray(values, np.float64)
    v = v - v.mean(axis=0, keepdims=True)
    scale = float(np.sqrt(np.mean(v ** 2)))
    return (v / scale if scale > 1e-12 else v).astype(np.float32)


def motion_features(keypoints: Float[np.ndarray, "T J C"], input_kind: str = "distance", *,
                    num_joints: int | None = None) -> Float[np.ndarray, "T F"]:
    """One recording's normalised motion representation (module docstring).

    Arguments:
        keypoints: (T, J, C) joint positions, 3D (C = 3, the paper's) or 2D (C = 2).
        input_kind: ``"distance"``, ``"coordinates"``, ``"velocities"`` or ``"accelerations"``.
        num_joints: the joint count the model takes (checked when given).

    Returns:
        (T, F) float32, F = :func:`num_features`.
    """
    _check_kind(input_kind)
    k = _check_keypoints(keypoints, num_joints, "motion_features")
    if input_kind == "distance":
        return normalise_recording(distance_matrix(k))
    x = k - k.mean(axis=1, keepdims=True)  # relative to the centroid: where the infant lies drops out
    if input_kind in ("velocities", "accelerations"):
        x = np.diff(x, axis=0, prepend=x[:1])
        x[0] = x[1]
    if input_kind == "accelerations":
        x = np.diff(x, axis=0, prepend=x[:1])
        x[0] = x[1]
    return normalise_recording(x.reshape(len(x), -1))
