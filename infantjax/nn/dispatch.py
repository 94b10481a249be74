"""Where layers choose between a CPU formulation and the plain one: the backend policy's :func:`form`.

XLA:CPU runs some operations much faster when written differently: temporal convolutions as sums of shifted slices
(``nn.temporal``), depthwise image convolutions likewise (``nn.efficientnet``), the graph aggregation as one
explicit matmul (``nn.graph``). Each such layer takes an ``impl`` argument whose ``"auto"`` means "the CPU form
under the CPU policy, the plain form under the accelerator policy"; :func:`resolve` turns it into a concrete choice
and validates it. The decision itself lives in :mod:`infantjax.backend` (one policy for every backend-dependent
form; ``INFANTJAX_BACKEND_POLICY=accelerator`` runs the plain forms on a CPU).
"""

from __future__ import annotations

from infantjax.backend import form as resolve

__all__ = ["AUTO", "resolve"]

AUTO = "auto"
