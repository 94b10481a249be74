"""Reductions over the rows of a channels-last array, in the form a GPU reads at full width.

A GCN's BatchNorm statistics and its channel attention's pooling reduce an (N, T, V, C) array over its rows and keep
its C = 10–96 channels: 91,200 rows of 40 channels for a BatchNorm of Table A.4 #1's training step at batch 32. XLA:GPU
emits that as a column reduction whose rows are 40 elements (80 bytes in bfloat16) wide, and the GPU cost model
calibrated on the H100 and H200 runs puts such narrow reductions at 12 % of the bandwidth, against 94 % for the other
reductions (docs/performance.md). The same sums over the rows viewed g at a time, (R, C) → (R/g, g·C), are a column
reduction g·C wide, then a sum of g vectors of C: the same values up to the order of the float additions. The
first axis (the batch, which a data-parallel mesh splits over its devices) is never merged into a group: g divides
the rows of one sample, (N, T, V, C) → (N, T·V/g, g·C), so the grouped view is a reshape within each device's shard
and the SPMD partitioner needs no all-gather for it.

Two more such reductions appear only in the gradient: a bias added to every row (a convolution's or a Dense
layer's) has the column sum of the output's cotangent as its gradient, and a per-channel scale of every row (a
channel attention's weights) the column sum of the cotangent times the input. :func:`add_bias` and
:func:`scale_rows` add and multiply as written (the forward pass is the same program) and sum their gradients on
the grouped view (a ``jax.custom_vjp``), so those are wide column reductions too.

Under a backend policy whose ``narrow_reductions`` is ``"grouped"`` :func:`mean_rows`, :func:`add_bias`,
:func:`scale_rows` and the training BatchNorm of :mod:`infantjax.nn.norm` reduce so; under ``"as is"`` (CPU, TPUs)
they reduce as written (``x.mean(axes)``, ``y + b``, ``x * a``, Flax's ``BatchNorm``). Under ``"stacked training"``
(GPUs) they reduce so only inside a :func:`stacked_training` block, which the training engine opens around the trace
of a step that vmaps two or more instances on one device: measured on an H200, the grouped view made 7 vmapped
folds of Table A.4 #1's training step 17 % faster, but one fold's step 5.5 % slower and the 70-instance scoring
of 512 windows 1.74 × slower (there every pooled row keeps 512 windows × 40 channels: a column reduction with
20,480 outputs per instance is wide enough as written, and the grouped view only writes g times more partial sums;
docs/performance.md).

    from infantjax.nn.rows import add_bias, mean_rows, scale_rows
    pooled = mean_rows(x, 1)             # (N, T, V, C) -> (N, C): the mean over T and V
    y = add_bias(y, bias)                # (..., F) + (F,)
    y = scale_rows(x, a, 1)              # (N, T, V, C) * (N, C) over T and V
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading

import jax
import jax.numpy as jnp

from infantjax import backend

__all__ = ["NARROW", "WIDE", "add_bias", "grouped", "grouping", "mean_rows", "scale_rows", "stacked_training",
           "sum_groups", "tile", "view"]

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


_local = threading.local()


@contextlib.contextmanager
def stacked_training(instances: int = 2):
    """A block that traces a training step of ``instances`` instances vmapped on one device: under a policy whose
    ``narrow_reductions`` is ``"stacked training"`` (GPUs), the reductions of this module are grouped inside it
    when ``instances`` ≥ 2 (module docstring). Blocks nest; each thread has its own. The policy itself is not
    changed (no JAX cache is cleared): the block belongs inside the traced function."""
    before = getattr(_local, "stacked", False)
    _local.stacked = before or int(instances) >= 2
    try:
        yield
    finally:
        _local.stacked = before


def grouped() -> bool:
    """Whether the reductions over rows are grouped here and now: the policy's ``narrow_reductions`` is
    ``"grouped"``, or ``"stacked training"`` inside a :func:`stacked_training` block of two or more instances."""
    mode = backend.current().narrow_reductions
    return mode == "grouped" or (mode == "stacked training" and getattr(_local, "stacked", False))



def tile(v, g: int):
    """A per-channel vector (..., C) repeated for the g rows of a grouped row: (..., g·C)."""
    return v if g == 1 else jnp.tile(v, (1,) * (v.ndim - 1) + (g,))


def sum_groups(v, g: int, channels: int):
    """The column sums of a grouped view (..., g·C) folded back to (..., C)."""
    return v if g == 1 else v.reshape(*v.shape[:-1], g, channels).sum(axis=-2)


def view(x, first: int = 0):
    """The grouped view of ``x`` (..., C) for a reduction over its axes ``first`` … ndim − 2: ``(view, g, axes)``,
    the reduction's axes of ``view`` and g (1: no grouping, ``view`` is ``x``). Axes before ``first`` are kept; so is
    axis 0 (the batch: module docstring), which is then reduced on its own axis: a 2-D (N, C) array reduced over
    its N samples is not grouped."""
    keep = max(first, 1)
    g = _groups(x.shape, first)
    if g == 1:
        return x, 1, tuple(range(first, x.ndim - 1))
    rows = x.reshape(*x.shape[:keep], math.prod(x.shape[keep:-1]) // g, g * x.shape[-1])
    return rows, g, tuple(range(first, keep + 1))


def _groups(shape, first: int = 0) -> int:
    """:func:`view`'s g for an array of ``shape`` (no reshape traced): 1 unless grouping is on and helps."""
    rows = math.prod(shape[max(first, 1):-1])
    return grouping(rows, shape[-1]) if grouped() and rows > 1 else 1


def mean_rows(x, first: int = 0):
    """The mean of ``x`` (..., C) over its axes ``first`` … ndim − 2 (the rows), keeping the axes before ``first``
    and the channels, in ``x``'s dtype (summed in at least float32, as ``jnp.mean`` does): grouped (module
    docstring) under a policy whose ``narrow_reductions`` is ``"grouped"``, else ``x.mean`` itself."""
    if first >= x.ndim - 1:
        return x
    grouped, g, axes = view(x, first)
    if g == 1:
        return x.mean(axis=axes)
    acc = jnp.promote_types(x.dtype, jnp.float32)
    n = math.prod(x.shape[first:-1])
    return (sum_groups(grouped.sum(axis=axes, dtype=acc), g, x.shape[-1]) / n).astype(x.dtype)


def _row_sums(g, first: int):
    """The column sums of ``g`` (..., C) over its axes ``first`` … ndim − 2, on the grouped view, in ``g``'s dtype
    (as JAX's own transpose of a broadcast sums)."""
    grouped, k, axes = view(g, first)
    return sum_groups(grouped.sum(axis=axes), k, g.shape[-1])


@jax.custom_vjp
def _add_bias_grouped(y, bias):
    return y + bias


def _add_bias_fwd(y, bias):
    return y + bias, None


def _add_bias_bwd(_, g):
    return g, _row_sums(g, 0)


_add_bias_grouped.defvjp(_add_bias_fwd, _add_bias_bwd)


def _broadcast(a, x, first: int):
    return a.reshape(*x.shape[:first], *(1,) * (x.ndim - first - 1), x.shape[-1])


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _scale_rows_grouped(x, a, first):
    return x * _broadcast(a, x, first)


def _scale_fwd(x, a, first):
    return x * _broadcast(a, x, first), (x, a)


def _scale_bwd(first, residuals, g):
    x, a = residuals
    return g * _broadcast(a, x, first), _row_sums(g * x, first)


_scale_rows_grouped.defvjp(_scale_fwd, _scale_bwd)


def add_bias(y, bias):
    """``y + bias`` for ``y`` (..., F) and a per-channel ``bias`` (F,), in ``y``'s dtype. Under a policy whose
    ``narrow_reductions`` is ``"grouped"``, the bias's gradient (the cotangent's column sum) is summed on the grouped
    view (R/g, g·F) of the rows, a wide reduction; the forward pass is ``y + bias`` either way."""
    bias = bias.astype(y.dtype)
    if y.ndim > 1 and _groups(y.shape) > 1:
        return _add_bias_grouped(y, bias)
    return y + bias


def scale_rows(x, a, first: int = 0):
    """``x`` (..., C) times ``a`` (the axes of ``x`` before ``first``, C), broadcast over the axes ``first`` …
    ndim − 2 (the rows): ``x * a[:, None, None, :]`` for ``first`` = 1 and a 4-D ``x``. Under a policy whose
    ``narrow_reductions`` is ``"grouped"``, ``a``'s gradient (the column sum of the cotangent times ``x``) is summed
    on the grouped view of the rows, a wide reduction; the forward pass is the plain product either way."""
    if first < x.ndim - 1 and _groups(x.shape, first) > 1:
        return _scale_rows_grouped(x, a, first)
    return x * _broadcast(a, x, first)
