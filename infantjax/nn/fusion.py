"""Fusion boundaries for the accelerator forms.

XLA:GPU's Triton fusions have refused or aborted on two of the library's programs (an H100, jax 0.10.2 and
0.11.2): a strided slice pulled into a product's operand (``nn.temporal.Pointwise``) and a concatenation pulled
into a block-level reduction (``models.mam.network``). :func:`own_buffer` keeps a value out of its users' fusions
where the policy picks the accelerator forms; on the CPU forms it is the value itself, so the CPU programs are
unchanged. The values are the same either way: the cost is one buffer written and read once.
"""

from __future__ import annotations

import jax

from infantjax.backend import form

__all__ = ["own_buffer"]


def own_buffer(x):
    """``x`` as a buffer of its own (an ``optimization_barrier``) in the accelerator forms; ``x`` on the CPU forms.

    The backend policy decides (:func:`infantjax.backend.form`, ``cpu="fused"``, other platforms
    ``"materialised"``), so ``INFANTJAX_BACKEND_POLICY=accelerator`` on a CPU compiles what a GPU or TPU runs.
    """
    if form("auto", cpu="fused", other="materialised") == "materialised":
        return jax.lax.optimization_barrier(x)
    return x
