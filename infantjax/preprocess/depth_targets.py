"""Ground-truth maps of the depth limb-pose networks: 12 joint maps and 8 joint-connection maps per frame.

Seed 004 (Sec. II-A), inherited from Moccia et al. 2020:

* **binary** maps train the detection CNN. A joint map is 1 on every pixel within a circle of radius ``r`` around
  the annotated joint; a connection map is 1 on the rectangle of thickness ``r`` (half-width ``r/2``) centred on
  the segment between the two joints of the connection.
* **gaussian** maps train the regression CNN. They are "the Gaussian-distributed version" of the binary maps with
  standard deviation ``3 r``: inside the joint circle the value is ``exp(-d^2 / (2 sigma^2))`` with ``d`` the
  distance to the joint; inside the connection rectangle the Gaussian is "depicted along the connection
  direction", i.e. its profile runs across the segment: ``exp(-d_perp^2 / (2 sigma^2))`` with ``d_perp`` the
  distance to the line through the two joints (our reading; the profile is constant along the segment).
  Outside the binary support both maps are 0. With ``r = 6`` and ``sigma = 18`` the maps are nearly flat inside
  their support (1 at the joint, 0.946 on the circle) — that is what the paper specifies.

Coordinates are pixels, ``(x, y)`` = (column, row), with pixel centres at integer coordinates. A missing joint
(NaN coordinates) gives an empty (all-zero) joint map, and every connection that touches it is empty too; the
networks then learn "no joint here", which is how the paper's per-map masks handle occlusion.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from jaxtyping import Float

from infantjax import skeleton as skeleton_lib
from infantjax.errors import ConfigError, DataError, SkeletonMismatchError

__all__ = ["NUM_CONNECTIONS", "NUM_JOINTS", "RADIUS", "connection_maps", "joint_maps", "limb_target_maps"]

RADIUS = 6  # r in pixels of the 128x96 image (seed 004, Sec. III-B)
NUM_JOINTS = 12
NUM_CONNECTIONS = 8


def _check(keypoints, height: int, width: int, radius: float, kind: str, sigma: float | None,
           num_joints: int) -> tuple[np.ndarray, float]:
    if kind not in ("binary", "gaussian"):
        raise ConfigError(f"target kind {kind!r} is unknown; use 'binary' (detection) or 'gaussian' (regression)")
    if not (isinstance(height, (int, np.integer)) and isinstance(width, (int, np.integer))) or height < 1 \
            or width < 1:
        raise ConfigError(f"height and width must be positive integers, got height={height!r}, width={width!r}")
    if not np.isfinite(radius) or radius <= 0:
        raise ConfigError(f"radius must be a positive number of pixels, got {radius!r}")
    sigma = 3.0 * float(radius) if sigma is None else float(sigma)  # sigma = 3 r (seed 004, Sec. II-A)
    if not np.isfinite(sigma) or sigma <= 0:
        raise ConfigError(f"sigma must be a positive number of pixels, got {sigma!r}")
    kp = np.asarray(keypoints)
    if kp.dtype.kind not in "fiu":
        raise DataError(f"keypoints must be a real numeric array of (x, y) pixels, got dtype {kp.dtype}")
    if kp.ndim < 2 or kp.shape[-1] != 2:
        raise DataError(f"keypoints must have shape (..., {num_joints}, 2) with (x, y) pixels, got {kp.shape}")
    if kp.shape[-2] != num_joints:
        raise SkeletonMismatchError(
            f"keypoints have {kp.shape[-2]} joints but the skeleton has {num_joints}; "
            f"map them first with infantjax.skeleton.map_keypoints"
        )
    kp = kp.astype(np.float64)
    if np.isinf(kp).any():
        raise DataError("keypoints contain inf; mark missing joints with NaN instead")
    return kp, sigma


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.meshgrid(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64), indexing="ij")
    return xs, ys


def _num_joints(keypoints) -> int:
    return np.shape(keypoints)[-2] if np.ndim(keypoints) >= 2 else 0


_CHUNK = 64  # frames per vectorised step: bounds the (chunk, H, W, maps) float64 intermediates


def _chunked(fn, kp: np.ndarray, num_maps: int, height: int, width: int, *args) -> np.ndarray:
    batch = kp.shape[:-2]
    flat = kp.reshape(-1, kp.shape[-2], 2)
    out = np.zeros((flat.shape[0], height, width, num_maps), dtype=np.float32)
    for start in range(0, flat.shape[0], _CHUNK):
        out[start:start + _CHUNK] = fn(flat[start:start + _CHUNK], height, width, *args)
    return out.reshape(*batch, height, width, num_maps)


def _joint_maps(kp: np.ndarray, height: int, width: int, radius: float, kind: str, sigma: float) -> np.ndarray:
    xs, ys = _grid(height, width)
    kx = kp[:, None, None, :, 0]
    ky = kp[:, None, None, :, 1]
    d2 = (xs[..., None] - kx) ** 2 + (ys[..., None] - ky) ** 2  # NaN for missing joints -> comparisons False
    with np.errstate(invalid="ignore"):
        inside = d2 <= radius ** 2
    if kind == "binary":
        return inside.astype(np.float32)
    return np.where(inside, np.exp(-np.nan_to_num(d2) / (2.0 * sigma ** 2)), 0.0).astype(np.float32)


def _connection_maps(kp: np.ndarray, edges: np.ndarray, height: int, width: int, radius: float, kind: str,
                     sigma: float) -> np.ndarray:
    xs, ys = _grid(height, width)
    a = kp[:, edges[:, 0], :]  # (B, C, 2)
    b = kp[:, edges[:, 1], :]
    ax, ay = a[:, None, None, :, 0], a[:, None, None, :, 1]
    vx = (b[..., 0] - a[..., 0])[:, None, None, :]
    vy = (b[..., 1] - a[..., 1])[:, None, None, :]
    px = xs[..., None] - ax
    py = ys[..., None] - ay
    length2 = vx ** 2 + vy ** 2
    with np.errstate(invalid="ignore"):
        degenerate = length2 < 1e-12  # coincident joints: the band shrinks to a disc of radius r/2
        safe = np.where(degenerate, 1.0, length2)
        t = np.where(degenerate, 0.0, (px * vx + py * vy) / safe)
        perp = np.where(degenerate, np.sqrt(px ** 2 + py ** 2), np.abs(px * vy - py * vx) / np.sqrt(safe))
        inside = (t >= 0.0) & (t <= 1.0) & (perp <= radius / 2.0)  # NaN (missing joint) -> False
    if kind == "binary":
        return inside.astype(np.float32)
    return np.where(inside, np.exp(-np.nan_to_num(perp) ** 2 / (2.0 * sigma ** 2)), 0.0).astype(np.float32)


def joint_maps(keypoints: Float[np.ndarray, "*batch J 2"], height: int, width: int, radius: float = RADIUS,
               kind: Literal["binary", "gaussian"] = "binary", sigma: float | None = None
               ) -> Float[np.ndarray, "*batch H W J"]:
    """One map per joint: the disc of radius ``radius`` around it, binary or Gaussian (sigma = 3 radius).

    Arguments:
        keypoints: (..., J, 2) joint positions in pixels, (x, y); NaN = missing (empty map).
        height, width: map size in pixels.
        radius: disc radius r (6 px in seed 004).
        kind: ``"binary"`` (detection targets) or ``"gaussian"`` (regression targets).
        sigma: standard deviation of the Gaussian; default 3 r.
    Returns:
        (..., H, W, J) float32 maps.
    """
    kp, sigma = _check(keypoints, height, width, radius, kind, sigma, _num_joints(keypoints))
    return _chunked(_joint_maps, kp, kp.shape[-2], height, width, radius, kind, sigma)


def connection_maps(keypoints: Float[np.ndarray, "*batch J 2"], edges, height: int, width: int,
                    radius: float = RADIUS, kind: Literal["binary", "gaussian"] = "binary",
                    sigma: float | None = None) -> Float[np.ndarray, "*batch H W C"]:
    """One map per joint connection: the band of thickness ``radius`` centred on the segment between its joints.

    Arguments:
        keypoints: (..., J, 2) joint positions in pixels, (x, y); NaN = missing.
        edges: C index pairs (a, b); connection c is drawn from joint a to joint b.
        height, width: map size in pixels.
        radius: r; the band is r thick, i.e. pixels at most r/2 from the segment's line, between its two ends.
        kind: ``"binary"`` or ``"gaussian"`` (profile across the segment with sigma = 3 r).
        sigma: standard deviation of the Gaussian; default 3 r.
    Returns:
        (..., H, W, C) float32 maps; a connection with a missing joint is all zero.
    """
    kp, sigma = _check(keypoints, height, width, radius, kind, sigma, _num_joints(keypoints))
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if edges.size and (edges.min() < 0 or edges.max() >= kp.shape[-2]):
        raise ConfigError(f"edges refer to joints outside 0..{kp.shape[-2] - 1}: {edges.tolist()}")
    return _chunked(lambda k, *a: _connection_maps(k, edges, *a), kp, len(edges), height, width, radius, kind,
                    sigma)


def limb_target_maps(keypoints: Float[np.ndarray, "*batch 12 2"], height: int, width: int,
                     radius: float = RADIUS, kind: Literal["binary", "gaussian"] = "binary",
                     sigma: float | None = None, skeleton: str | skeleton_lib.Skeleton = "babypose-12"
                     ) -> Float[np.ndarray, "*batch H W 20"]:
    """The 20 target maps of seed 004: 12 joint maps followed by 8 connection maps (the skeleton's edges).

    Arguments:
        keypoints: (..., 12, 2) babyPose joints in pixels, (x, y); NaN = missing (empty maps, see module doc).
        height, width: map size (96, 128 for the networks of seed 004).
        radius: r = 6 px.
        kind: ``"binary"`` for the detection CNN, ``"gaussian"`` for the regression CNN.
        sigma: Gaussian standard deviation; default 3 r.
        skeleton: the keypoint set (name or Skeleton) giving joint count and connections.
    Returns:
        (..., H, W, J + C) float32 maps, channels-last: joints first, then connections in edge order.
    """
    skel = skeleton_lib.get(skeleton) if isinstance(skeleton, str) else skeleton
    kp = np.asarray(keypoints)
    if kp.ndim >= 2 and kp.shape[-1] == 2 and kp.shape[-2] != skel.num_keypoints:
        raise SkeletonMismatchError(
            f"keypoints have {kp.shape[-2]} joints but skeleton {skel.name!r} has {skel.num_keypoints}; "
            "map them first with infantjax.skeleton.map_keypoints"
        )
    joints = joint_maps(kp, height, width, radius, kind, sigma)
    connections = connection_maps(kp, skel.edges, height, width, radius, kind, sigma)
    return np.concatenate([joints, connections], axis=-1)
