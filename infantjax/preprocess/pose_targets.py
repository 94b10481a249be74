"""Training targets: Gaussian keypoint heatmaps and part affinity fields (jit-able, channels-last).

Heatmaps follow seed 002 Paper I Appendix B Eq. (4): T = exp(−‖P − G‖² / σ²) at every output pixel P for the
ground-truth position G, with σ in output pixels ("normalised according to the output resolution"). Pixel centres
are at (col + 0.5, row + 0.5), the same convention as the official decoding, so a target decodes back to its
keypoint exactly (up to the pixel grid).

PAFs (Cao et al.; Paper I §3.1 "skeleton estimation"): for every limb (a, b) two channels (x, y) holding the unit
vector from a to b on pixels within ``width`` output pixels of the segment, 0 elsewhere. The limb list is the
skeleton's edges, so P = 2 · len(edges).
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

__all__ = ["gaussian_heatmaps", "limbs_from_skeleton", "part_affinity_fields"]


def limbs_from_skeleton(skeleton) -> tuple[tuple[int, int], ...]:
    """The limb list of a skeleton (its edges, as (parent-side, child-side) index pairs)."""
    from infantjax import skeleton as _skeleton

    return tuple(tuple(e) for e in _skeleton.get(skeleton).edges)


def gaussian_heatmaps(keypoints: Float[Array, "K 2"], size: int, sigma: float,
                      visible: Bool[Array, " K"] | None = None) -> Float[Array, "S S K"]:
    """Gaussian heatmaps for one image.

    Arguments:
        keypoints: (K, 2) x, y as fractions of the (square) network input.
        size: output map size S (R for the upscaled output, R/8 for the passes).
        sigma: Gaussian σ in output pixels.
        visible: optional (K,) mask; masked keypoints get an all-zero map.

    Returns:
        (S, S, K) float32 heatmaps in [0, 1].
    """
    centres = (jnp.arange(size, dtype=jnp.float32) + 0.5)
    g = keypoints.astype(jnp.float32) * size  # (K, 2) in output pixels
    dx = centres[None, :, None] - g[None, None, :, 0]  # (1, S, K) over columns
    dy = centres[:, None, None] - g[None, None, :, 1]  # (S, 1, K) over rows
    hm = jnp.exp(-(dx ** 2 + dy ** 2) / (sigma ** 2))
    if visible is not None:
        hm = hm * visible.astype(jnp.float32)[None, None, :]
    return hm


def part_affinity_fields(keypoints: Float[Array, "K 2"], limbs: tuple[tuple[int, int], ...], size: int,
                         width: float = 1.0, visible: Bool[Array, " K"] | None = None) -> Float[Array, "S S P"]:
    """Part affinity fields for one image.

    Arguments:
        keypoints: (K, 2) x, y as fractions of the network input.
        limbs: (a, b) index pairs; channel 2l is the x and 2l + 1 the y component of limb l.
        size: output map size S.
        width: half-width of the limb band in output pixels.
        visible: optional (K,) mask; a limb with a masked end gets zero fields.

    Returns:
        (S, S, 2·len(limbs)) float32.
    """
    if not limbs:
        return jnp.zeros((size, size, 0), jnp.float32)
    idx = jnp.asarray(limbs, dtype=jnp.int32)  # (L, 2)
    g = keypoints.astype(jnp.float32) * size
    a, b = g[idx[:, 0]], g[idx[:, 1]]  # (L, 2)
    v = b - a
    length = jnp.sqrt(jnp.sum(v ** 2, axis=-1))  # (L,)
    unit = v / jnp.maximum(length, 1e-6)[:, None]
    centres = jnp.arange(size, dtype=jnp.float32) + 0.5
    px = centres[None, :, None] - a[None, None, :, 0]  # (1, S, L)
    py = centres[:, None, None] - a[None, None, :, 1]  # (S, 1, L)
    along = px * unit[None, None, :, 0] + py * unit[None, None, :, 1]
    across = jnp.abs(px * unit[None, None, :, 1] - py * unit[None, None, :, 0])
    on = (along >= 0) & (along <= length[None, None, :]) & (across <= width) & (length[None, None, :] > 1e-6)
    if visible is not None:
        vis = visible[idx[:, 0]] & visible[idx[:, 1]]
        on = on & vis[None, None, :]
    on = on.astype(jnp.float32)
    fx = on * unit[None, None, :, 0]
    fy = on * unit[None, None, :, 1]
    return jnp.stack([fx, fy], axis=-1).reshape(size, size, 2 * len(limbs))
