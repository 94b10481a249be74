"""A family's forward pass: what its trained model needs at prediction time, and nothing of training.

A :class:`Forward` holds the family's spec and its inference inputs (:class:`Inputs`: window, hop, stride, clip
length, the output scaling — the fields of the training config that prediction reads, stored in ``model.json``
under ``inputs`` and read from an older header's ``config``), and gives

* ``init(key)``: the network's variables (their shapes restore a saved model);
* ``apply(variables, batch)``: one instance's compiled forward (``predict`` is the same: the name the stacked
  predictor and the training engine call);
* ``prepare(recording)``: the host side, a recording → the batch ``apply`` takes;
* ``compile_key()``, equality and hash: forwards that compile the same programs are equal, so the compiled calls of
  :class:`~infantjax.infer.predict.StackedPredictor` are shared between models loaded again.

A training task composes its family's forward (``task.forward``): its ``predict`` is the forward's ``apply``, its
losses and optimiser are its own. A trained model names it (``TrainedModel.forward_type``) and then loads, predicts
and stacks its instances without importing :mod:`infantjax.train`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any, ClassVar

from infantjax import models
from infantjax._jsonconfig import JsonConfig

__all__ = ["Forward", "Inputs"]


@dataclasses.dataclass(frozen=True)
class Inputs(JsonConfig):
    """Base of a family's inference inputs: the fields of its training config that prediction reads.

    Attributes:
        memory_budget: bytes one inference call may use (None: :func:`infantjax.parallel.memory_budget`).
    """

    memory_budget: int | None = None

    @classmethod
    def of(cls, config: Any) -> Inputs:
        """The inputs from a config (a training config object, a dict of one, or inputs already): its fields of
        the same names; the others are ignored, missing ones keep their defaults."""
        if isinstance(config, cls):
            return config
        if config is None:
            return cls()
        record = config.to_dict() if hasattr(config, "to_dict") else dict(config)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls.from_dict({k: v for k, v in record.items() if k in names})


class Forward:
    """A family's forward pass (module docstring). Subclasses set :attr:`inputs_type` and override what differs:
    by default ``apply`` is the registered network's ``apply(variables, batch, train=False)`` and ``prepare`` gives
    the recording as a float32 array.

    Arguments:
        spec: the network's spec (registered with :func:`infantjax.models.register`).
        inputs: the inference inputs (:attr:`inputs_type`; a training config or its dict is read by
            :meth:`Inputs.of`).
    """

    inputs_type: ClassVar[type[Inputs]] = Inputs
    #: whether ``apply`` takes one float32 array of the network's sample input (then the trained model exports
    #: its forward without export code, :meth:`infantjax.infer.trained.TrainedModel.graph`)
    exports: ClassVar[bool] = True

    def __init__(self, spec: Any, inputs: Any = None):
        self.spec = spec
        self.inputs = self.inputs_type.of(inputs)

    @functools.cached_property
    def model(self):
        """The Flax module of the spec (:func:`infantjax.models.build`)."""
        return models.build(self.spec)

    def init(self, key) -> dict:
        """The network's variables (one instance)."""
        return models.init(self.spec, key)

    def apply(self, variables, batch):
        """One instance's forward (compiled)."""
        return self.model.apply(variables, batch, train=False)

    def predict(self, variables, batch):
        """:meth:`apply` (the name the stacked predictor and the engine call)."""
        return self.apply(variables, batch)

    def prepare(self, recording) -> Any:
        """A recording → the batch :meth:`apply` takes (host)."""
        import numpy as np

        return np.asarray(recording, np.float32)

    # forwards are equal when they compile the same programs (caches of compiled functions key on them)
    def compile_key(self) -> tuple:
        return (type(self), self.spec, self.inputs)

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.compile_key() == other.compile_key()

    def __hash__(self) -> int:
        return hash(self.compile_key())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r}, {self.inputs!r})"

    @classmethod
    def inputs_from(cls, header: Mapping) -> Inputs:
        """The inputs of a saved header: its ``inputs``, else (an older header) those fields of its ``config``."""
        if isinstance(header.get("inputs"), Mapping):
            return cls.inputs_type.from_dict(dict(header["inputs"]))
        return cls.inputs_type.of(header.get("config") or {})
