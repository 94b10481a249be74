"""Data augmentation for skeleton windows and feature clips — jit-able, vmappable, explicit ``key`` arguments.

Two families, from two papers:

* **Random perturbation** of skeleton windows (seed 002; the reference's ``random_perturbation``,
  gcn_reference A.9): one rotation by an integer angle in [−45°, 45°], one isotropic scale from
  {0.70, 0.71, …, 1.30} and translations dx, dy each from {−0.30, …, 0.30} (step 0.01), drawn once per window and
  applied to the positions of every frame, in that order, before features are computed — so velocities and bones
  are rotated and scaled but not translated. The draws are uniform over those grids, as the reference's
  ``random.choice``.
* **Magnitude warp and time warp** of feature clips (seed 003; other_seeds_reference §1.6) from a bank of smooth
  random curves (:func:`curve_bank`: not-a-knot cubic splines through 3–14 interior knots with values from
  N(1, σ = 1)). The bank is built once in NumPy/SciPy; the warps pick curves from it with ``jax.random`` inside
  ``jit``.

Every function takes one sample; batch with ``jax.vmap`` over split keys, or use the ``*_batch`` helpers.
NaN (missing) values stay NaN and do not spread to other keypoints in :func:`random_perturbation` and
:func:`magnitude_warp`; :func:`time_warp` interpolates in time, so fill gaps before it (seed 003 does).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray
from scipy.interpolate import CubicSpline

from infantjax.errors import ConfigError, DataError

__all__ = [
    "Perturbation",
    "apply_perturbation",
    "curve_bank",
    "magnitude_warp",
    "passmore_augment",
    "passmore_warp",
    "random_perturbation",
    "random_perturbation_batch",
    "sample_perturbation",
    "time_warp",
]


# ---------------------------------------------------------------------------------------------------- perturbation
class Perturbation(NamedTuple):
    """One draw of :func:`sample_perturbation` (scalars, or arrays under ``vmap``)."""

    angle: Array  # degrees (integer-valued)
    scale: Array
    dx: Array
    dy: Array


def _grid_check(max_angle, scale_range, max_shift):
    if isinstance(max_angle, bool) or not isinstance(max_angle, (int, np.integer)) or not 0 <= max_angle <= 180:
        raise ConfigError(f"max_angle must be an integer number of degrees in [0, 180], got {max_angle!r}")
    lo, hi = scale_range
    if not (0 < lo <= hi):
        raise ConfigError(f"scale_range must be (low, high) with 0 < low <= high, got {scale_range!r}")
    if not max_shift >= 0:
        raise ConfigError(f"max_shift must be >= 0, got {max_shift!r}")


def sample_perturbation(key: PRNGKeyArray, *, max_angle: int = 45, scale_range: tuple[float, float] = (0.70, 1.30),
                        max_shift: float = 0.30) -> Perturbation:
    """Draw an angle, a scale and a translation on the reference's 1° / 0.01 / 0.01 grids (uniform, inclusive)."""
    _grid_check(max_angle, scale_range, max_shift)
    lo, hi = (round(100 * v) for v in scale_range)
    shift = round(100 * max_shift)
    # one draw of four integers, each uniform on its own inclusive grid: degrees, then hundredths
    low = jnp.array([-max_angle, lo, -shift, -shift])
    high = jnp.array([max_angle, hi, shift, shift]) + 1
    draw = jax.random.randint(key, (4,), low, high).astype(jnp.float32)
    return Perturbation(draw[0], draw[1] / 100.0, draw[2] / 100.0, draw[3] / 100.0)


def apply_perturbation(window: Float[ArrayLike, "... J 2"], p: Perturbation) -> Float[Array, "... J 2"]:
    """Rotate about the origin, scale, then translate positions (x, y on the last axis).

    The reference's ``rotate(data, angle)`` turns by ``−angle`` degrees (counter-clockwise positive, y up), i.e.
    clockwise for a positive draw; that convention is kept so a given draw gives the reference's result.
    """
    w = jnp.asarray(window)
    rad = jnp.deg2rad(-p.angle)
    c, s = jnp.cos(rad), jnp.sin(rad)
    x, y = w[..., 0], w[..., 1]
    rx, ry = c * x - s * y, s * x + c * y
    return jnp.stack([rx * p.scale + p.dx, ry * p.scale + p.dy], axis=-1).astype(w.dtype)


def random_perturbation(key: PRNGKeyArray, window: Float[ArrayLike, "T J 2"], *, max_angle: int = 45,
                        scale_range: tuple[float, float] = (0.70, 1.30),
                        max_shift: float = 0.30) -> Float[Array, "T J 2"]:
    """Random rotation, scale and translation of one window (one draw for the whole window; positions only).

    Arguments:
        key: PRNG key.
        window: (T, J, 2) positions (any leading shape; the same draw applies to all of it).
    Returns:
        The perturbed window, same shape and dtype.
    """
    w = jnp.asarray(window)
    if w.ndim < 2 or w.shape[-1] != 2:
        raise DataError(f"random_perturbation needs positions with x, y on the last axis, got shape {w.shape}")
    return apply_perturbation(w, sample_perturbation(key, max_angle=max_angle, scale_range=scale_range,
                                                     max_shift=max_shift))


@functools.partial(jax.jit, static_argnames=("max_angle", "scale_range", "max_shift"))
def _perturb_batch(keys, w, max_angle: int = 45, scale_range: tuple[float, float] = (0.70, 1.30),
                   max_shift: float = 0.30):
    return jax.vmap(lambda k, x: random_perturbation(k, x, max_angle=max_angle, scale_range=scale_range,
                                                     max_shift=max_shift))(keys, w)


def random_perturbation_batch(key: PRNGKeyArray, windows: Float[ArrayLike, "N T J 2"],
                              **kwargs) -> Float[Array, "N T J 2"]:
    """:func:`random_perturbation` with an independent draw for each of N windows."""
    w = jnp.asarray(windows)
    if w.ndim != 4 or w.shape[-1] != 2:
        raise DataError(f"random_perturbation_batch needs (N, T, J, 2) windows, got shape {w.shape}")
    keys = jax.random.split(key, w.shape[0])
    if "scale_range" in kwargs:  # static arguments must be hashable: accept lists from configs
        kwargs["scale_range"] = tuple(float(v) for v in kwargs["scale_range"])
    return _perturb_batch(keys, w, **kwargs)


# ---------------------------------------------------------------------------------------------------- curves
def curve_bank(num_curves: int = 10_000, length: int = 128, *, sigma: float = 1.0, knots: tuple[int, int] = (3, 14),
               seed: int = 0) -> np.ndarray:
    """Smooth random curves for magnitude and time warping (seed 003's ``generate_random_curves``).

    For each curve the number of interior knots n is uniform in ``knots`` (inclusive; reference 3–14, i.e.
    ``randint(3, 15)``), the n + 2 knots are evenly spaced from 0 to ``length − 1``, their values are drawn from
    N(1, σ) (the reference driver passes σ = 1.0) and a not-a-knot cubic spline is evaluated at 0, 1, …,
    ``length − 1``. The reference precomputes 10,000 such curves once.

    Returns:
        (num_curves, length) float32.
    """
    if isinstance(num_curves, bool) or not isinstance(num_curves, (int, np.integer)) or num_curves < 1:
        raise ConfigError(f"num_curves must be a positive integer, got {num_curves!r}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 4:
        raise ConfigError(f"length must be an integer >= 4, got {length!r}")
    lo, hi = knots
    if not (isinstance(lo, (int, np.integer)) and isinstance(hi, (int, np.integer)) and 1 <= lo <= hi):
        raise ConfigError(f"knots must be (min, max) interior-knot counts with 1 <= min <= max, got {knots!r}")
    if not sigma > 0:
        raise ConfigError(f"sigma must be > 0, got {sigma!r}")
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    out = np.empty((num_curves, length), np.float32)
    for i in range(num_curves):
        n = int(rng.integers(lo, hi + 1))
        xk = np.linspace(0.0, length - 1, n + 2)
        yk = rng.normal(1.0, sigma, n + 2)
        out[i] = CubicSpline(xk, yk)(t)  # bc_type="not-a-knot" is SciPy's default
    return out


def _bank(bank: ArrayLike, length: int, where: str) -> Array:
    b = jnp.asarray(bank)
    if b.ndim != 2 or b.shape[1] != length:
        raise DataError(f"{where}: the curve bank must be (num_curves, {length}) to match the clip's time axis, "
                        f"got {b.shape}; build it with curve_bank(length={length})")
    return b


def _pick(key: PRNGKeyArray, bank: Array, shape=()) -> Array:
    return bank[jax.random.randint(key, shape, 0, bank.shape[0])]


def magnitude_warp(key: PRNGKeyArray, clips: Float[ArrayLike, "... T F"], bank: Float[ArrayLike, "N T"]
                   ) -> Float[Array, "... T F"]:
    """Multiply by one smooth curve over time: ``x · exp((c − mean c) / ptp c)`` (seed 003, as coded).

    One curve per call — the reference draws one per sample and applies it to all features and all clips of it.

    Arguments:
        clips: (..., T, F), time on axis −2 (e.g. (S, 128, 46) clips of one video, or one (128, 46) clip).
        bank: (N, T) curves from :func:`curve_bank`.
    """
    x = jnp.asarray(clips)
    if x.ndim < 2:
        raise DataError(f"magnitude_warp needs (..., T, F) clips, got shape {x.shape}")
    c = _pick(key, _bank(bank, x.shape[-2], "magnitude_warp"))
    span = jnp.ptp(c)
    factor = jnp.exp((c - c.mean()) / jnp.where(span > 0, span, 1.0))
    return (x * factor[:, None]).astype(x.dtype)


def _warp_one(x: Array, curve: Array) -> Array:
    """Resample one (T, F) clip at times given by the cumulative sum of a shifted curve (reference ``time_warp``)."""
    T = x.shape[0]
    steps = curve - curve.min()
    warped = jnp.cumsum(steps)
    total = warped[-1]
    warped = jnp.where(total > 0, warped * (T - 1) / jnp.where(total > 0, total, 1.0), jnp.arange(T, dtype=x.dtype))
    grid = jnp.arange(T, dtype=warped.dtype)
    return jax.vmap(lambda col: jnp.interp(grid, warped, col), in_axes=1, out_axes=1)(x).astype(x.dtype)


def time_warp(key: PRNGKeyArray, clips: Float[ArrayLike, "... T F"], bank: Float[ArrayLike, "N T"]
              ) -> Float[Array, "... T F"]:
    """Smoothly distort time, one curve per clip shared by all its features (seed 003, as coded).

    The curve is shifted to be non-negative, summed cumulatively and rescaled to end at T − 1; each feature is then
    read at integer times from samples placed at those warped times (``np.interp(arange(T), warped, x)``). The
    first and last samples are kept and order is preserved.

    Arguments:
        clips: (..., T, F); every leading index is a clip with its own curve.
        bank: (N, T) curves from :func:`curve_bank`.
    """
    x = jnp.asarray(clips)
    if x.ndim < 2:
        raise DataError(f"time_warp needs (..., T, F) clips, got shape {x.shape}")
    b = _bank(bank, x.shape[-2], "time_warp")
    lead = x.shape[:-2]
    flat = x.reshape((-1,) + x.shape[-2:])
    curves = _pick(key, b, (flat.shape[0],))
    return jax.vmap(_warp_one)(flat, curves).reshape(lead + x.shape[-2:])


def passmore_augment(key: PRNGKeyArray, clips: Float[ArrayLike, "... T F"], bank: Float[ArrayLike, "N T"]
                     ) -> Float[Array, "... T F"]:
    """Seed 003's training augmentation: a magnitude warp (one curve for the sample), then a time warp (one curve
    per clip). Both are always applied when augmentation is on (other_seeds_reference §1.6)."""
    k_mag, k_time = jax.random.split(key)
    return time_warp(k_time, magnitude_warp(k_mag, clips, bank), bank)


def passmore_warp(clips: Float[ArrayLike, "S T F"], magnitude_curve: Float[ArrayLike, " T"],
                  time_curves: Float[ArrayLike, "S T"]) -> Float[Array, "S T F"]:
    """:func:`passmore_augment` with the curves given: ``magnitude_curve`` for the whole sample (all clips and
    features), then ``time_curves[s]`` for clip s.

    For training loops that draw the curves on the host (the bank indices then depend only on the host's seeded
    generator, so a resumed run draws the same curves).

    Arguments:
        clips: (S, T, F) clips of one sample, time on axis −2.
        magnitude_curve: (T,) one curve of :func:`curve_bank`.
        time_curves: (S, T) one curve per clip.
    """
    x = jnp.asarray(clips)
    c = jnp.asarray(magnitude_curve, x.dtype)
    if x.ndim != 3 or c.shape != x.shape[1:2] or jnp.shape(time_curves) != x.shape[:2]:
        raise DataError(f"passmore_warp needs (S, T, F) clips with a (T,) magnitude curve and (S, T) time curves, "
                        f"got {x.shape}, {c.shape}, {jnp.shape(time_curves)}")
    span = jnp.ptp(c)
    x = x * jnp.exp((c - c.mean()) / jnp.where(span > 0, span, 1.0))[None, :, None]
    return jax.vmap(_warp_one)(x, jnp.asarray(time_curves, x.dtype))
