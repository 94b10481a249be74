"""Dense products: a 2-D matmul that accumulates low-precision operands in float32 on CPU, and a Dense layer that
runs as one such matmul.

``flax.linen.Dense`` on an (N, T, V, C) array is a ``dot_general`` with three free dimensions; under ``vmap`` over
ensemble instances it gains a batch dimension, and XLA:CPU then transposes and copies operands. Flattening the
leading axes first makes it a plain (batched) matmul. Measured with ``benchmarks/gcn.py --layers`` (12 → 36
channels, 3 instances × 16 windows, CPU): forward 1.9×, forward + backward 1.2× faster; at 48 channels or 7
instances 1.03–1.13×. Same parameters (``kernel``, ``bias``), initialisers and values as ``nn.Dense``. The
flattening is not XLA:TPU's form: under the ``tpu`` policy :class:`FlatDense` is ``nn.Dense`` (the flat operand
cost XLA:TPU 2.8 × the bytes).

**Low precision on CPU.** XLA:CPU runs a bfloat16 × bfloat16 → bfloat16 product up to 3× *slower* than the
float32 one, but bfloat16 operands with a float32 result 1.7–2.6× *faster* at the GCN step's deep shapes (AVX-512
BF16; ``python benchmarks/gcn.py --products``, ``docs/performance.md``). :func:`matmul` therefore asks for a
float32 result when both operands are bfloat16 or float16 on the CPU backend and rounds it to the operands' dtype
once, in the forward pass and in both gradient products (a ``jax.custom_vjp``: JAX's own transpose would multiply
the float32 cotangent by the bfloat16 operand at float32 speed). The sums are more exact too (float32
accumulation, one rounding). Other backends (:func:`infantjax.backend.form`) and float32 operands get
``a @ b`` unchanged.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float

from infantjax.backend import current, form
from infantjax.nn import rows

__all__ = ["FlatDense", "LOW_PRECISION", "dense_dot_general", "low_precision_cpu", "matmul"]

LOW_PRECISION = (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16))

_MM = (((1,), (0,)), ((), ()))  # (M, K) × (K, N)
_TN = (((0,), (0,)), ((), ()))  # (K, M)ᵀ × (K, N): the weight gradient
_NT = (((1,), (1,)), ((), ()))  # (M, N) × (K, N)ᵀ: the input gradient


def _accumulated(a, b, dims):
    """One product with a float32 result, rounded to the operands' dtype."""
    return lax.dot_general(a, b, dims, preferred_element_type=jnp.float32).astype(a.dtype)


@jax.custom_vjp
def _low_precision_matmul(a, b):
    return _accumulated(a, b, _MM)


def _lp_fwd(a, b):
    return _accumulated(a, b, _MM), (a, b)


def _lp_bwd(residuals, g):
    a, b = residuals
    g = g.astype(a.dtype)
    return _accumulated(g, b, _NT), _accumulated(a, g, _TN)


_low_precision_matmul.defvjp(_lp_fwd, _lp_bwd)


def low_precision_cpu(*arrays) -> bool:
    """True when every array is bfloat16 (or every one float16) and the default backend is the CPU."""
    dtypes = {jnp.dtype(x.dtype) for x in arrays}
    if len(dtypes) != 1 or dtypes.pop() not in LOW_PRECISION:
        return False
    return form("auto", cpu="float32 result", other="operand dtype") == "float32 result"


def matmul(a: Float[Array, "M K"], b: Float[Array, "K N"]) -> Float[Array, "M N"]:
    """``a @ b`` of 2-D arrays; bfloat16/float16 operands on CPU accumulate in float32 (module docstring).

    Under ``jax.vmap`` it becomes a batched product like ``@``; gradients follow the same rule.
    """
    if a.ndim == 2 and b.ndim == 2 and low_precision_cpu(a, b):
        return _low_precision_matmul(a, b)
    return a @ b


def dense_dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
    """``lax.dot_general`` for ``nn.Dense(dot_general=...)``: a 2-D (M, K) × (K, N) product goes through
    :func:`matmul`; any other contraction, or a requested result dtype, through ``lax.dot_general``."""
    if dimension_numbers == _MM and precision is None and preferred_element_type is None:
        return matmul(lhs, rhs)
    return lax.dot_general(lhs, rhs, dimension_numbers, precision=precision,
                           preferred_element_type=preferred_element_type)


class FlatDense(nn.Dense):
    """``nn.Dense`` that reshapes (..., C) to (M, C) around the matmul (see the module docstring), unless the
    backend policy's ``dense_operand`` is ``"as is"`` (the ``tpu`` policy): then the product keeps its input's shape.
    XLA:TPU lays a 2-D (M, C) operand out with its C channels on the 128 lanes of its tiles (10 channels: × 12.8 in
    memory) and relays it out around the product; kept (N, T, V, C) it is free to choose: the v5e-8 scoring of
    Table A.4 #1 (16 instances × 256 windows) moved 33.4 GB a chip flattened, 12.1 GB as is
    (docs/performance.md; an estimate, compiled for, not run on). XLA:GPU compiles both forms the same (the same
    memory and bound for the CP training step on 8 × H100), and XLA:CPU runs the flat one faster and rounds the
    other further from float32 (the CP GCN's bfloat16 training step under the accelerator forms on CPU: loss 3 ×
    and update 2.5 × further from float32's), so both keep the flat form."""

    dot_general: Any = dense_dot_general

    @nn.compact
    def __call__(self, inputs: Float[Array, "... C"]) -> Float[Array, "... F"]:
        if inputs.ndim <= 2 or current().dense_operand == "as is":
            return super().__call__(inputs)
        lead = inputs.shape[:-1]
        if self.use_bias and rows.grouped():
            return self._grouped_bias(inputs.reshape(-1, inputs.shape[-1]), lead)
        y = super().__call__(inputs.reshape(-1, inputs.shape[-1]))
        return y.reshape(*lead, y.shape[-1])

    def _grouped_bias(self, inputs, lead):
        """``nn.Dense`` itself (the same variables, dtypes and product) with its bias added to the product in its
        input's leading shape ``lead`` by :func:`infantjax.nn.rows.add_bias`: the bias's gradient a wide column
        reduction (grouped reductions), its groups within a sample."""
        from infantjax.nn.rows import add_bias

        kernel = self.param("kernel", self.kernel_init, (inputs.shape[-1], self.features), self.param_dtype)
        bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype)
        inputs, kernel, bias = self.promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        y = self.dot_general(inputs, kernel, (((inputs.ndim - 1,), (0,)), ((), ())), precision=self.precision)
        return add_bias(y.reshape(*lead, self.features), bias)
