"""Image preprocessing exactly as the official EfficientPose code does it (data/efficientpose/README.md §1).

1. Rescale so that the longer side becomes R, with scikit-image ``rescale`` semantics re-implemented on
   ``scipy.ndimage`` (scikit-image is not a dependency): the uint8 image becomes float64 in [0, 1]; the output
   size is round(scale·H) × round(scale·W); when downscaling, a Gaussian pre-filter with
   sigma = (in/out − 1)/2 per spatial axis (0 on channels; in/out = 1/scale on the long side, README §1), scipy
   mode 'mirror'; bilinear ``ndimage.zoom(grid_mode=True, mode='mirror')``; clipped to the input's value range.
2. Zero-pad to R × R: top/left get floor(deficit / 2), bottom/right the remainder.
3. Back to uint8 by ``np.uint8(255 · x)`` (truncation, reference quirk).
4. Keras ``preprocess_input`` in float32: 'torch' mode for EfficientPose (x/255 − mean)/std, 'tf' mode for Lite
   x/127.5 − 1.

:func:`prepare_examples` applies steps 1–3 to training frames and moves their keypoints with them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from jaxtyping import Float, UInt8
from scipy import ndimage as ndi

from infantjax.errors import ConfigError, DataError

__all__ = ["TORCH_MEAN", "TORCH_STD", "check_image", "normalise", "pad_to_square", "prepare_examples", "preprocess",
           "rescale"]

TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)


def check_image(image, name: str = "image") -> np.ndarray:
    """Validate an (H, W, 3) uint8 RGB image; raise :class:`DataError` naming what is wrong."""
    if not isinstance(image, np.ndarray):
        try:
            image = np.asarray(image)
        except Exception:  # noqa: BLE001 - anything that cannot become an array is not an image
            raise DataError(f"{name} must be an (H, W, 3) uint8 RGB array, got {type(image).__name__}") from None
    if image.dtype == object or image.ndim != 3:
        raise DataError(
            f"{name} must be an (H, W, 3) uint8 RGB array, got shape {image.shape}; for a batch use "
            "PosePredictor.heatmaps_batch, for grey images stack the channel three times"
        )
    if image.shape[-1] != 3:
        raise DataError(f"{name} must have 3 colour channels (RGB) in the last axis, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise DataError(
            f"{name} must be uint8 (0..255), got {image.dtype}; convert with np.clip(x * 255, 0, 255)"
            ".astype(np.uint8) for float images in [0, 1]"
        )
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise DataError(f"{name} is too small ({image.shape[0]}x{image.shape[1]}); need at least 2x2 pixels")
    return image


def rescale(image: UInt8[np.ndarray, "H W 3"], scale: float) -> Float[np.ndarray, "h w 3"]:
    """scikit-image ``rescale(image, scale, channel_axis=-1)`` defaults on scipy.ndimage (float64 in [0, 1]).

    Arguments:
        image: uint8 RGB image.
        scale: scale factor for both spatial axes.

    Returns:
        float64 image of size round(scale·H) × round(scale·W).
    """
    x = image.astype(np.float64) / 255.0  # img_as_float
    in_shape = np.array(x.shape, dtype=np.float64)
    out_shape = np.maximum(np.round(scale * in_shape[:2]), 1)
    out_shape = np.array([out_shape[0], out_shape[1], in_shape[2]])
    factors = in_shape / out_shape
    filtered = x
    if np.any(factors > 1):  # anti-aliasing only when downscaling
        sigma = np.maximum(0.0, (factors - 1.0) / 2.0)
        filtered = ndi.gaussian_filter(x, sigma, cval=0.0, mode="mirror")
    out = ndi.zoom(filtered, 1.0 / factors, order=1, mode="mirror", cval=0.0, grid_mode=True)
    return np.clip(out, x.min(), x.max())  # clip=True: to the input's range


def pad_to_square(image: np.ndarray, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Zero-pad (h, w, C) to (size, size, C): top/left floor of half the deficit, remainder bottom/right.

    Returns:
        the padded image and (top, left) offsets.
    """
    h, w = image.shape[:2]
    if h > size or w > size:
        raise DataError(f"cannot pad a {h}x{w} image to {size}x{size}")
    top, left = (size - h) // 2, (size - w) // 2
    out = np.zeros((size, size) + image.shape[2:], dtype=image.dtype)
    out[top:top + h, left:left + w] = image
    return out, (top, left)


def normalise(image: UInt8[np.ndarray, "... 3"], mode: Literal["torch", "tf"]) -> Float[np.ndarray, "... 3"]:
    """Keras ``preprocess_input`` in float32: 'torch' (x/255 − mean)/std (RGB) or 'tf' x/127.5 − 1."""
    x = image.astype(np.float32)
    if mode == "torch":
        x /= np.float32(255.0)
        x -= np.asarray(TORCH_MEAN, dtype=np.float32)
        x /= np.asarray(TORCH_STD, dtype=np.float32)
        return x
    if mode == "tf":
        x /= np.float32(127.5)
        x -= np.float32(1.0)
        return x
    raise ConfigError(f"normalisation mode must be 'torch' or 'tf', got {mode!r}")


def preprocess(image: UInt8[np.ndarray, "H W 3"], resolution: int,
               mode: Literal["torch", "tf"] = "torch") -> Float[np.ndarray, "R R 3"]:
    """The official EfficientPose network input for one image (README §1).

    Arguments:
        image: (H, W, 3) uint8 RGB.
        resolution: R (224 RT, 256 I, 368 II, 480 III, 600 IV).
        mode: 'torch' (EfficientPose) or 'tf' (Lite).

    Returns:
        (R, R, 3) float32 network input.
    """
    image = check_image(image)
    h, w = image.shape[:2]
    scale = resolution / w if w >= h else resolution / h  # longer side -> R (landscape: W)
    resized = rescale(image, scale)
    padded, _ = pad_to_square(resized, resolution)
    as_uint8 = np.uint8(255 * padded)  # reference quirk: truncation, not rounding
    return normalise(as_uint8, mode)


def prepare_examples(frames: UInt8[np.ndarray, "N H W 3"], keypoints_px: Float[np.ndarray, "N K 2"],
                     resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Letterbox frames to the network input as the official code does (before normalisation).

    Arguments:
        frames: (N, H, W, 3) uint8 RGB, all the same size.
        keypoints_px: (N, K, 2) pixel x, y (the image spans [0, W] × [0, H]).
        resolution: R.

    Returns:
        inputs (N, R, R, 3) uint8 and keypoints (N, K, 2) float32 as fractions of the square input (training examples for
        :class:`infantjax.train.PoseData`).
    """
    frames = np.asarray(frames)
    kp = np.asarray(keypoints_px, dtype=np.float64)
    if frames.ndim != 4 or kp.ndim != 3 or len(frames) != len(kp) or kp.shape[-1] != 2:
        raise DataError(f"frames (N, H, W, 3) and keypoints (N, K, 2) expected, got {frames.shape} and {kp.shape}")
    n, h, w = frames.shape[:3]
    out = np.zeros((n, resolution, resolution, 3), np.uint8)
    scale = resolution / w if w >= h else resolution / h
    for i in range(n):
        img = check_image(frames[i], f"frames[{i}]")
        padded, _ = pad_to_square(rescale(img, scale), resolution)
        out[i] = np.uint8(255 * padded)
    frac = kp / np.array([w, h], dtype=np.float64)
    long, short = max(h, w), min(h, w)
    p = (long - short) / (2.0 * long)
    if w > h:
        frac[..., 1] = p + frac[..., 1] * (1 - 2 * p)
    elif h > w:
        frac[..., 0] = p + frac[..., 0] * (1 - 2 * p)
    return out, frac.astype(np.float32)

