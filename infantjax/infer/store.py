"""Saved array pytrees: one Orbax checkpoint directory per pytree (a trained model's ``variables/``) and the flat
``{"a/b/c": array}`` layout of a single-file (``.npz``) model.

Orbax writes to a temporary directory and renames it when complete, so a saved pytree is either whole or absent
(atomic). Every failure to read one — missing, corrupt, or of other shapes than the model it is loaded into —
raises :class:`~infantjax.errors.CheckpointError`. The training engine's per-epoch checkpoints
(:class:`infantjax.train.checkpoint.RunCheckpointer`) use the same helpers; loading a model needs no optimizer.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from infantjax.errors import CheckpointError

__all__ = ["abstract_of", "describe", "flatten_tree", "restore_tree", "save_tree", "stored_mismatch", "to_host",
           "unflatten_tree"]


def abstract_of(tree) -> Any:
    """``jax.ShapeDtypeStruct`` leaves (on the default device) describing ``tree``'s arrays or shape structs."""
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])

    def one(x):
        return jax.ShapeDtypeStruct(tuple(x.shape), x.dtype, sharding=device)

    return jax.tree_util.tree_map(one, tree)


def to_host(tree):
    from infantjax import parallel

    return parallel.to_host(tree)  # the documented gather: arrays spanning other processes are gathered first


def describe(err: Exception) -> str:
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"


def _key(entry) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(entry, attr):
            return str(getattr(entry, attr))
    return str(entry)


def _shapes(tree) -> dict[tuple[str, ...], tuple[int, ...]]:
    leaves = jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda x: hasattr(x, "shape"))[0]
    return {tuple(_key(e) for e in path): tuple(int(d) for d in x.shape) for path, x in leaves}


def stored_mismatch(metadata, like) -> str | None:
    """Why the arrays described by Orbax ``metadata`` cannot be restored into ``like`` (None: no mismatch seen).

    Checked before restoring: a restore that fails half-way leaves Orbax's reader tasks behind, which log
    "Task exception was never retrieved" at interpreter exit.
    """
    metadata = getattr(metadata, "item_metadata", metadata)  # StepMetadata (newer Orbax) or the tree metadata
    stored = _shapes(getattr(metadata, "tree", metadata))
    wanted = _shapes(like)
    if set(stored) == set(wanted):
        for path, shape in wanted.items():
            if stored[path] != shape:
                return f"{'/'.join(path)} has shape {stored[path]} in the checkpoint but {shape} in the model"
        return None
    if sorted(stored.values()) != sorted(wanted.values()):  # other key naming: compare what can be compared
        return (f"the checkpoint holds {len(stored)} arrays of other shapes than the model's {len(wanted)} "
                "(another architecture or configuration)")
    return None


def save_tree(path: str | os.PathLike, tree) -> None:
    """Save an array pytree as one Orbax checkpoint directory (atomic; replaces an existing one)."""
    path = os.path.abspath(os.fspath(path))
    with ocp.StandardCheckpointer() as ckptr:
        ckptr.save(path, to_host(tree), force=True)
        ckptr.wait_until_finished()


def restore_tree(path: str | os.PathLike, like) -> Any:
    """Restore a pytree saved by :func:`save_tree` into the structure and shapes of ``like``.

    Raises:
        CheckpointError: missing, corrupt, or of other structure or shapes than ``like``.
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.isdir(path):
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with ocp.StandardCheckpointer() as ckptr:
            why = stored_mismatch(ckptr.metadata(path), like)
    except Exception:  # no readable metadata: let the restore itself decide
        why = None
    if why is not None:
        raise CheckpointError(f"checkpoint {path} does not match the architectures it is loaded into: {why}")
    try:
        with ocp.StandardCheckpointer() as ckptr:
            tree = ckptr.restore(path, abstract_of(like))
    except Exception as err:
        raise CheckpointError(
            f"checkpoint {path} cannot be restored ({describe(err)}); it is corrupt or does not match the "
            "architectures it is loaded into"
        ) from err
    want = jax.tree_util.tree_structure(like)
    got = jax.tree_util.tree_structure(tree)
    if want != got:
        raise CheckpointError(f"checkpoint {path} has another structure than the model it is loaded into")
    return tree


def flatten_tree(tree, prefix: str = "") -> dict[str, np.ndarray]:
    """A nested mapping of arrays (Flax variables) as ``{"a/b/c": array}`` (the ``.npz`` layout of a single-file
    model; :func:`unflatten_tree` inverts it)."""
    out: dict[str, np.ndarray] = {}
    for key, value in tree.items():
        path = f"{prefix}/{key}" if prefix else str(key)
        if hasattr(value, "items"):
            out.update(flatten_tree(dict(value), path))
        else:
            out[path] = np.asarray(value)
    return out


def unflatten_tree(flat: dict[str, np.ndarray]) -> dict:
    """The nested dictionaries of ``{"a/b/c": array}`` (:func:`flatten_tree`)."""
    tree: dict = {}
    for path, value in flat.items():
        node = tree
        parts = path.split("/")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return tree
