"""Rematerialisation of network blocks: a training step's memory for one more forward pass.

Under differentiation XLA keeps every activation a block computes until the backward pass reaches it; a training
step of a Table A.4 GCN at batch 32 keeps hundreds of (N, T, V, C) buffers (docs/performance.md, "Memory"). A block
wrapped by :func:`remat_module` keeps only its inputs and computes its activations again in the backward pass: the
same variables (names and shapes), the same outputs and gradients, less memory, about one more forward pass of
time. Outside differentiation (inference) it changes nothing.

Why not ``flax.linen.remat`` alone: ``jax.checkpoint`` stages a block's recomputation into the backward pass but
ties it to nothing there, so a scheduler is free to run it as soon as the block's inputs exist — and XLA:CPU's does,
recomputing every block at the start of the backward pass and holding all their activations at once (the training
step of Table A.4 #2 at batch 32 needed 3.75 GB of scratch with ``nn.remat`` per module, 3.82 GB without; the
buffers live at its peak were the ``rematted_computation`` of every module). Here each block's backward first passes
its saved inputs through an ``optimization_barrier`` together with the cotangent of its outputs (and, since XLA:CPU drops such barriers before it schedules, adds 0 · one element of that cotangent to
them), so its recomputation cannot start before the backward pass has reached the block: one block's activations at
a time.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.core import lift
from flax.linen import transforms

__all__ = ["recompute_in_backward", "remat_module"]


def recompute_in_backward(f):
    """``f`` (a pure function of arrays) whose backward pass recomputes it from its inputs once the cotangent of
    its outputs is there (``jax.checkpoint``, ordered by an ``optimization_barrier``; module docstring).

    Arguments:
        f: a function of pytrees of arrays returning a pytree of arrays.

    Returns:
        a function with the same values and derivatives as ``f``.
    """

    @jax.custom_vjp
    def run(*primals):
        return f(*primals)

    def forward(*primals):
        # the pullback of the checkpointed function holds only what it needs to recompute f: its inputs
        return jax.vjp(jax.checkpoint(f, prevent_cse=True), *primals)

    def backward(pullback, cotangent):
        leaves, tree = jax.tree_util.tree_flatten(pullback)
        floats = [i for i, x in enumerate(leaves) if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]
        tied, cotangent = jax.lax.optimization_barrier(([leaves[i] for i in floats], cotangent))
        # XLA:CPU expands optimization barriers before it schedules: a data dependency it cannot fold away
        # (0 · c is not 0 for floats, NaN · 0 is NaN) ties the saved inputs to the cotangent there too; the add
        # fuses into the recomputation's first operations
        zero = _zero_of(cotangent)
        for i, x in zip(floats, tied):
            leaves[i] = x if zero is None else x + zero.astype(x.dtype)
        return jax.tree_util.tree_unflatten(tree, leaves)(cotangent)

    run.defvjp(forward, backward)
    return run


def _zero_of(tree):
    """0 · (one element of the first floating leaf of ``tree``): a zero that depends on ``tree`` (None if it has no
    floating leaf)."""
    for leaf in jax.tree_util.tree_leaves(tree):
        if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact) and jnp.size(leaf):
            return jnp.ravel(leaf)[0] * 0
    return None


def _lifted(fn, static_argnums: tuple[int, ...] = ()):
    """The lifted (Flax core) transform of :func:`recompute_in_backward`, as ``flax.core.lift.checkpoint`` is of
    ``jax.checkpoint``: variables and RNGs of the scope go in and out as arrays; ``static_argnums`` (positions in
    the call without ``self``) stay Python values."""

    def inner(scope_fn, repack_fn, variable_groups, rng_groups, *args):
        static = {i: args[i] for i in static_argnums}
        dynamic = [a for i, a in enumerate(args) if i not in static]

        def pure(variable_groups, rng_groups, *values):
            it = iter(values)
            full = [static[i] if i in static else next(it) for i in range(len(args))]
            scope = scope_fn(variable_groups, rng_groups)
            y = fn(scope, *full)
            return y, repack_fn(scope)

        return recompute_in_backward(pure)(variable_groups, rng_groups, *dynamic)

    return lift.pack(inner, (True,), (True,), (True,), name="remat")


@functools.cache
def _remat(module: type[nn.Module], static_argnums: tuple[int, ...]) -> type[nn.Module]:
    # positions without ``self``, as the lifted function sees the call
    return transforms.lift_transform(_lifted, module, static_argnums=tuple(i - 1 for i in static_argnums))


def remat_module(module: type[nn.Module], enabled: bool, static_argnums: tuple[int, ...] = (3,)) -> type[nn.Module]:
    """``module`` itself, or its rematerialised version when ``enabled`` (module docstring).

    Arguments:
        module: a Flax module class whose instances are blocks of a network.
        enabled: rematerialise it.
        static_argnums: the positions of its ``__call__`` arguments that are Python values (``self`` is 0; the
            GCN modules' ``(self, x, a, train)`` has ``train`` at 3).

    Returns:
        a module class built with the same arguments and giving the same variables.
    """
    return _remat(module, tuple(static_argnums)) if enabled else module
