"""Reductions over the rows of a channels-last array, in the form a GPU reads at full width.

A GCN's BatchNorm statistics and its channel attention's pooling reduce an (N, T, V, C) array over its rows and keep
its C = 10–96 channels: 91,200 rows of 40 channels for a BatchNorm of Table A.4 #1's training step at batch 32. XLA:GPU
emits that as a column reduction whose rows are 40 elements (80 bytes in bfloat16) wide, and the GPU cost model
calibrated on the H100 and H200 runs puts such narrow reductions at 12 % of the bandwidth, against 94 % for the other
reductions (docs/performance.md). The same sums over the rows viewed g at a time, (R, C) → (R/g, g·C), are a column
reduction g·C wide, then a sum of g vectors of C: the same values up to the order of the float additions.

Under a backend policy whose ``narrow_reductions`` is ``"grouped"`` (GPUs) :func:`mean_rows` and the training
BatchNorm of :mod:`infantjax.nn.norm` reduce so; under ``"as is"`` (CPU, TPUs) they reduce as written
(``x.mean(axes)``, Flax's ``BatchNorm``).

    from infantjax.nn.rows import mean_rows
    pooled = mean_rows(x, 1)             # (N, T, V, C) -> (N, C): the mean over T and V
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from infantjax import backend

__all__ = ["NARROW", "WIDE", "grouping", "mean_rows", "sum_groups", "tile"]

#: channels below which a reduction over rows is narrow (rows under one 128-byte transaction in bfloat16)
NARROW = 64
#: the width (elements) a grouped row reaches at least, where a divisor of the rows allows it
WIDE = 512
#: the most rows grouped into one
MAX_GROUP = 64


def grouping(rows: int, channels: int) -> int:
    """g: how many rows of ``channels`` one grouped row holds — the smallest divisor of ``rows`` with
    g·channels ≥ :data:`WIDE` (at most :data:`MAX_GROUP`), else the largest divisor up to there; 1 where the channels
    are not narrow or no divisor helps."""
    if channels >= NARROW or rows <= 1:
        return 1
    best = 1
    for g in range(2, min(MAX_GROUP, rows) + 1):
        if rows % g == 0:
            best = g
            if g * channels >= WIDE:
                break
    return best


def _grouped() -> bool:
    return backend.current().narrow_reductions == "grouped"


def tile(v, g: int):
    """A per-channel vector (..., C) repeated for the g rows of a grouped row: (..., g·C)."""
    return v if g == 1 else jnp.tile(v, (1,) * (v.ndim - 1) + (g,))


def sum_groups(v, g: int, channels: int):
    """The column sums of a grouped view (..., g·C) folded back to (..., C)."""
    return v if g == 1 else v.reshape(*v.shape[:-1], g, channels).sum(axis=-2)


def mean_rows(x, first: int = 0):
    """The mean of ``x`` (..., C) over its axes ``first`` … ndim − 2 (the rows), keeping the axes before ``first``
    and the channels, in ``x``'s dtype (summed in at least float32, as ``jnp.mean`` does): grouped (module
    docstring) under a policy whose ``narrow_reductions`` is ``"grouped"``, else ``x.mean`` itself."""
    axes = tuple(range(first, x.ndim - 1))
    if not axes:
        return x
    c = x.shape[-1]
    rows = math.prod(x.shape[first:-1])
    g = grouping(rows, c) if _grouped() else 1
    if g == 1:
        return x.mean(axis=axes)
    acc = jnp.promote_types(x.dtype, jnp.float32)
    view = x.reshape(*x.shape[:first], rows // g, g * c)
    return (sum_groups(view.sum(axis=first, dtype=acc), g, c) / rows).astype(x.dtype)
