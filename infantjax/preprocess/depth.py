"""Depth clips for the networks of seed 004: validation, resizing to 128x96, per-frame mean removal, clipping
of a video into 3-frame clips, and the 20 target maps per frame.

Seed 004, Sec. III: "Three subsequent frames were coupled to form a video clip. In the training set, subsequent
depth clips were shifted by one frame [...] while no shifting was performed in the testing set" (training
stride 1, test stride 3); "each image in the depth clip was resized to 128x96 pixels. Mean was removed by each
image in the clip. For each image we created the ground-truth masks with r equal to 6 pixels."

Layouts: a video is (F, H, W) or (F, H, W, 1); a batch of clips is (N, T=3, H, W, 1) channels-last; keypoints are
(F, 12, 2) or (N, T, 12, 2) pixels (x, y), NaN = missing joint.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from jaxtyping import Float

from infantjax.errors import DataError
from infantjax.preprocess.depth_targets import NUM_JOINTS, RADIUS, limb_target_maps

__all__ = [
    "CLIP_LENGTH",
    "DEPTH_UNIT_MM",
    "HEIGHT",
    "WIDTH",
    "DepthClips",
    "check_clips",
    "check_video",
    "make_clips",
    "prepare_clips",
    "regression_inputs",
    "remove_frame_mean",
    "resize_video",
]

CLIP_LENGTH = 3  # frames per clip (seed 004, Sec. II-A)
HEIGHT, WIDTH = 96, 128  # network input size (seed 004, Sec. III-B)


def _check_depth_array(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise DataError(f"{name} must be a real numeric depth array (uint16 millimetres or float), got dtype "
                        f"{x.dtype}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        raise DataError(f"{name} contains {bad} NaN/inf depth values; fill depth holes first (e.g. with 0 or "
                        "the nearest valid depth) — the networks cannot take NaN")
    return x


def check_video(frames, name: str = "frames") -> np.ndarray:
    """Validate a depth video (F, H, W) or (F, H, W, 1) and return it as (F, H, W) float32."""
    x = _check_depth_array(frames, name)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or min(x.shape) < 1:
        raise DataError(f"{name} must have shape (frames, height, width) or (frames, height, width, 1), got "
                        f"{x.shape}")
    return x.astype(np.float32)


def check_clips(clips, name: str = "clips", length: int = CLIP_LENGTH,
                size: tuple[int, int] | None = None) -> np.ndarray:
    """Validate a batch of depth clips and return it as (N, T, H, W, 1) float32.

    Arguments:
        clips: (N, T, H, W) or (N, T, H, W, 1) numeric depth, no NaN/inf.
        name: argument name used in error messages.
        length: required frames per clip (3).
        size: required (H, W), or None for any.
    Raises:
        DataError: wrong dtype, wrong shape, NaN/inf depth.
    """
    x = _check_depth_array(clips, name)
    if x.ndim == 4:
        x = x[..., None]
    if x.ndim != 5 or x.shape[-1] != 1:
        raise DataError(f"{name} must have shape (N, {length}, H, W, 1) (channels-last depth clips), got {x.shape}")
    if x.shape[1] != length:
        raise DataError(f"{name} must hold clips of {length} consecutive frames (axis 1), got {x.shape[1]}; "
                        "build them with make_clips")
    if x.shape[0] < 1:
        raise DataError(f"{name} is empty")
    if size is not None and tuple(x.shape[2:4]) != tuple(size):
        raise DataError(f"{name} frames must be {size[1]}x{size[0]} (width x height), got "
                        f"{x.shape[3]}x{x.shape[2]}; resize them with resize_video")
    return x.astype(np.float32)


def remove_frame_mean(clips: Float[np.ndarray, "N T H W 1"]) -> Float[np.ndarray, "N T H W 1"]:
    """Subtract from every frame its own mean depth (seed 004, Sec. III-B)."""
    x = check_clips(clips, length=np.shape(clips)[1] if np.ndim(clips) >= 2 else CLIP_LENGTH)
    return x - x.mean(axis=(2, 3), keepdims=True)


def resize_video(frames, keypoints=None, size: tuple[int, int] = (HEIGHT, WIDTH)):
    """Resize depth frames (F, H, W) to ``size`` = (height, width) bilinearly and scale keypoints with them.

    Arguments:
        frames: (F, H, W) or (F, H, W, 1) depth (e.g. 640x480 camera frames).
        keypoints: optional (F, J, 2) pixels (x, y) in the original frames.
        size: output (height, width); (96, 128) for seed 004.
    Returns:
        (F, height, width) float32 frames, and the scaled keypoints when given.
    """
    import jax
    import jax.numpy as jnp

    x = check_video(frames)
    f, h, w = x.shape
    if (h, w) == tuple(size):
        out = x
    else:
        out = np.asarray(jax.image.resize(jnp.asarray(x), (f, *size), method="linear", antialias=True))
    if keypoints is None:
        return out
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[0] != f or kp.shape[-1] != 2:
        raise DataError(f"keypoints must have shape ({f}, joints, 2) to match the frames, got {kp.shape}")
    # pixel centres at integer coordinates: x' = (x + 0.5) * s - 0.5
    scale = np.array([size[1] / w, size[0] / h])
    return out, ((kp + 0.5) * scale - 0.5).astype(np.float32)


def make_clips(frames, keypoints=None, length: int = CLIP_LENGTH, stride: int = 1):
    """Cut a video into clips of ``length`` consecutive frames, shifted by ``stride`` frames.

    Seed 004 trains on clips shifted by one frame (``stride=1``) and tests on non-overlapping clips
    (``stride=length``).

    Arguments:
        frames: (F, H, W) or (F, H, W, 1) depth.
        keypoints: optional (F, J, 2) keypoints.
        length: frames per clip.
        stride: shift between consecutive clips.
    Returns:
        (N, length, H, W, 1) float32 clips, and (N, length, J, 2) keypoints when given.
    """
    x = check_video(frames)
    if length < 1 or stride < 1:
        raise DataError(f"clip length and stride must be >= 1, got length={length}, stride={stride}")
    if x.shape[0] < length:
        raise DataError(f"the video has {x.shape[0]} frames, fewer than one clip of {length}")
    starts = np.arange(0, x.shape[0] - length + 1, stride)
    index = starts[:, None] + np.arange(length)[None]
    clips = x[index][..., None]
    if keypoints is None:
        return clips
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.ndim != 3 or kp.shape[0] != x.shape[0] or kp.shape[-1] != 2:
        raise DataError(f"keypoints must have shape ({x.shape[0]}, joints, 2) to match the frames, got {kp.shape}")
    return clips, kp[index]


@dataclasses.dataclass(frozen=True)
class DepthClips:
    """Network-ready clips with their targets.

    Attributes:
        clips: (N, T, H, W, 1) float32, mean removed per frame.
        keypoints: (N, T, 12, 2) float32 pixels (x, y) in the H x W frames, NaN = missing.
        binary: (N, T, H, W, 20) detection targets.
        gaussian: (N, T, H, W, 20) regression targets.
    """

    clips: np.ndarray
    keypoints: np.ndarray
    binary: np.ndarray
    gaussian: np.ndarray

    def __len__(self) -> int:
        return int(self.clips.shape[0])

    def take(self, index) -> DepthClips:
        return DepthClips(self.clips[index], self.keypoints[index], self.binary[index], self.gaussian[index])


DEPTH_UNIT_MM = 100.0  # our input scale: mean-removed depth in units of 10 cm (see prepare_clips)


def prepare_clips(clips, keypoints, radius: float = RADIUS, depth_unit: float = DEPTH_UNIT_MM) -> DepthClips:
    """Remove the per-frame mean, scale the depth and build binary and Gaussian targets for clips at network size.

    Seed 004 removes the mean of each frame and says nothing about the scale. We also divide by ``depth_unit``
    (100 mm by default: the infant's relief, a few cm, becomes ~0.1-1), because the regression CNN's first
    convolution mixes the depth with the 0-1 detection maps: in millimetres (+-50 around the mean, -400 at holes)
    the depth swamps the maps after the first BatchNorm and short runs learn nothing from them (docs/depth.md).
    ``depth_unit=1`` gives the literal millimetre input.

    Arguments:
        clips: (N, T, H, W[, 1]) depth clips in millimetres (see ``make_clips``/``resize_video``).
        keypoints: (N, T, 12, 2) babyPose joints in pixels of those frames (x, y); NaN = missing (empty maps).
        radius: r of the target maps (6 px).
        depth_unit: millimetres per input unit after mean removal (> 0).
    Returns:
        DepthClips.
    """
    if not np.isfinite(depth_unit) or depth_unit <= 0:
        raise DataError(f"depth_unit must be a positive number of millimetres, got {depth_unit!r}")
    x = check_clips(clips)
    kp = np.asarray(keypoints)
    if kp.shape[:2] != x.shape[:2] or kp.shape[2:] != (NUM_JOINTS, 2):
        raise DataError(f"keypoints must have shape {x.shape[:2] + (NUM_JOINTS, 2)} to match the clips, got "
                        f"{kp.shape}")
    h, w = x.shape[2:4]
    kp = kp.astype(np.float32)
    return DepthClips(
        clips=remove_frame_mean(x) / np.float32(depth_unit),
        keypoints=kp,
        binary=limb_target_maps(kp, h, w, radius, kind="binary"),
        gaussian=limb_target_maps(kp, h, w, radius, kind="gaussian"),
    )


def regression_inputs(clips: Float[np.ndarray, "N T H W 1"], detection_maps: Float[np.ndarray, "N T H W 20"]
                      ) -> Float[np.ndarray, "N T H W 21"]:
    """The regression CNN's input: the depth clip stacked with the detection maps per frame (Table I, "3x21")."""
    clips = np.asarray(clips, np.float32)
    detection_maps = np.asarray(detection_maps, np.float32)
    if clips.shape[:-1] != detection_maps.shape[:-1]:
        raise DataError(f"clips {clips.shape} and detection maps {detection_maps.shape} must agree on N, T, H, W")
    return np.concatenate([clips, detection_maps], axis=-1)
