"""The model registry: every spec type names the network it builds and an input to initialise it with.

A spec class registers itself where it is defined::

    @register(build="infantjax.models.gcn.build:build_model", sample_input=_window)
    @dataclasses.dataclass(frozen=True)
    class GCNSpec(JsonConfig): ...

``build`` is a callable ``(spec, **kwargs) -> flax.linen.Module`` or a ``"module:attribute"`` path to one, imported
on first use (so a spec module need not import its network); ``sample_input(spec, **kwargs)`` returns the shape of
a float32 input batch for ``init`` — counts never depend on its size, so it is small. This module imports neither
JAX nor any model: ``import infantjax.models`` stays cheap and a spec module can import it without a cycle.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
from collections.abc import Callable, Mapping
from typing import Any

from infantjax.errors import ConfigError

__all__ = ["build", "count_parameters", "register", "registered", "sample_input"]


@dataclasses.dataclass(frozen=True)
class _Entry:
    build: str | Callable
    sample_input: Callable


_ENTRIES: dict[type, _Entry] = {}


def register(*, build: str | Callable, sample_input: Callable) -> Callable[[type], type]:
    """Class decorator: register a spec type (module docstring).

    Arguments:
        build: ``(spec, **kwargs) -> Module`` or its ``"module:attribute"`` path.
        sample_input: ``(spec, **kwargs) -> shape`` of a float32 batch the network initialises on.

    Returns:
        the decorator, which returns the class unchanged.
    """
    def decorate(cls: type) -> type:
        _ENTRIES[cls] = _Entry(build, sample_input)
        return cls

    return decorate


def registered() -> tuple[type, ...]:
    """The registered spec types (those whose modules have been imported)."""
    return tuple(_ENTRIES)


def _entry(spec: Any) -> _Entry | None:
    for cls in type(spec).__mro__:
        if cls in _ENTRIES:
            return _ENTRIES[cls]
    return None


def _require(spec: Any) -> _Entry:
    entry = _entry(spec)
    if entry is None:
        names = ", ".join(sorted(c.__name__ for c in _ENTRIES))
        raise ConfigError(f"no network is registered for {type(spec).__name__}; pass a spec of one of: {names}")
    return entry


def _resolve(target: str | Callable) -> Callable:
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def build(spec: Any, **kwargs):
    """The Flax module of ``spec`` (any registered spec: GCNSpec, STGCNSpec, EfficientPoseSpec,
    EfficientHourglassSpec, OpenPoseSpec, DetectionSpec, RegressionSpec).

    Arguments:
        spec: the configuration.
        kwargs: options of that family's builder (e.g. ``mode``, ``conv_impl``, ``skeleton`` for the GCNs).

    Returns:
        an unbound ``flax.linen.Module``; ``init(rng, x, train=False)`` / ``apply(variables, x, train=...)``.
    """
    return _resolve(_require(spec).build)(spec, **kwargs)


def sample_input(spec: Any, **kwargs) -> tuple[int, ...]:
    """The shape of a small float32 batch the network of ``spec`` initialises on (its registered
    ``sample_input``; e.g. (1, T, V, C) for a GCN), so callers need not know each family's input channels."""
    return tuple(int(n) for n in _require(spec).sample_input(spec, **kwargs))


def count_parameters(variables_or_spec: Any, *, collections: tuple[str, ...] | None = None, **kwargs) -> int:
    """The number of scalars in a network's variables.

    Arguments:
        variables_or_spec: a registered spec — its network is initialised shapes-only (``jax.eval_shape``, nothing
            allocated; cached per spec) — or a variables pytree (``{"params": ..., "batch_stats": ...}``, a bare
            parameter tree, arrays or ``jax.ShapeDtypeStruct`` leaves, stacked ensembles included).
        collections: count only these top-level collections (e.g. ``("params",)`` for the trained parameters;
            a collection the variables lack counts 0); None = every leaf.
        kwargs: with a spec, options of its builder (as for :func:`build`).

    Returns:
        the count. For a spec it does not depend on ``spec.dtype`` (parameters are always float32). The GCN's
        paper conventions are ``infantjax.models.gcn.count_params``; EfficientPose's official one is all
        collections (``infantjax.models.pose.efficientpose.parameter_count``).
    """
    if collections is not None:
        if isinstance(collections, str) or not all(isinstance(c, str) for c in collections):
            raise ConfigError(f"collections must be a tuple of collection names, got {collections!r}")
        collections = tuple(collections)
    entry = _entry(variables_or_spec)
    if entry is not None:
        try:
            return _count_spec(variables_or_spec, collections, tuple(sorted(kwargs.items())))
        except TypeError:  # an unhashable option (e.g. an unregistered skeleton object): count without the cache
            return _count_spec.__wrapped__(variables_or_spec, collections, tuple(sorted(kwargs.items())))
    if kwargs:
        raise ConfigError(f"count_parameters takes builder options only with a spec, got {sorted(kwargs)}")
    if not isinstance(variables_or_spec, Mapping):
        raise ConfigError(f"count_parameters needs a registered spec or a variables dict, got "
                          f"{type(variables_or_spec).__name__}")
    return _count_tree(variables_or_spec, collections)


def _count_tree(variables: Mapping, collections: tuple[str, ...] | None) -> int:
    import jax

    trees = [variables] if collections is None else [variables[c] for c in collections if c in variables]
    return sum(math.prod(getattr(leaf, "shape", ())) for tree in trees for leaf in jax.tree_util.tree_leaves(tree))


@functools.lru_cache(maxsize=256)
def _count_spec(spec: Any, collections: tuple[str, ...] | None, options: tuple) -> int:
    import jax
    import jax.numpy as jnp

    kwargs = dict(options)
    entry = _require(spec)
    model = _resolve(entry.build)(spec, **kwargs)
    shape = sample_input(spec, **kwargs)
    shapes = jax.eval_shape(lambda key, x: model.init(key, x, train=False), jax.random.key(0),
                            jax.ShapeDtypeStruct(shape, jnp.float32))
    return _count_tree(shapes, collections)
