"""What a family exports: its inference as one function of one float32 array (:class:`Deployable`).

A trained model's ``graph(**options)`` (:meth:`infantjax.infer.trained.TrainedModel.graph`) returns it;
:mod:`infantjax.deploy` writes it to StableHLO, ONNX or LiteRT without knowing the family. The instances of a stack
are unrolled (each instance's weights are constants of the file), so every runtime sees plain convolutions and
products. Each :class:`Deployable` also carries the library's own inference path for the same input
(``reference``) — what the on-the-spot check and the tests compare the exported file with — and a sample input.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import numpy as np

__all__ = ["Deployable", "instance"]


@dataclasses.dataclass(frozen=True, eq=False)
class Deployable:
    """A model's inference as one function of one float32 input.

    Attributes:
        name: what the model is (messages, the file's description).
        kind: what the graph is (``"pose"``, ``"smartphone"``, ``"gcn-stack"``, a new family's own).
        graph: ``graph(forms)`` → ``fn(x)`` returning a tuple of arrays (traced for export under the backend policy
            of ``forms``; its weights become constants). ``forms`` is the format's choice (:data:`FORMS`):
            ``"portable"`` (the runtimes' own operators: XLA's convolutions and einsums, grouped depthwise
            convolutions), ``"cpu"`` (infantjax's XLA:CPU forms) or ``"mobile"`` (the CPU forms of the layers —
            plain two-axis products — with the pose graph's grouped depthwise convolutions).
        input_name, input_shape: the input's name and per-example shape (the batch axis comes first).
        input_layout: what the input is, for the sidecar and the docs.
        output_names, output_layouts: the outputs' names and what they are.
        reference: ``reference(x)`` → the same outputs (numpy) through the library's own inference path.
        sample: ``sample(n, seed)`` → a deterministic input of ``n`` examples (float32).
        metadata: provenance written into the sidecar (the model's kind, spec, info).
    """

    name: str
    kind: str
    graph: Callable[[str], Callable]
    input_name: str
    input_shape: tuple[int, ...]
    input_layout: str
    output_names: tuple[str, ...]
    output_layouts: tuple[str, ...]
    reference: Callable[[np.ndarray], tuple]
    sample: Callable[..., np.ndarray]
    metadata: dict = dataclasses.field(default_factory=dict)


def _instance(tree, i: int):
    return jax.tree_util.tree_map(lambda a: np.asarray(a)[i], tree)


def instance(tree, i: int):
    """Instance ``i`` of a stacked variables pytree, as host arrays (the constants of an unrolled graph)."""
    return jax.tree_util.tree_map(lambda a: np.asarray(a)[i], tree)
