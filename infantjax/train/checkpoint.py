"""Orbax checkpoints: per-epoch run checkpoints (resume) and single saved pytrees (ensembles).

Orbax writes to a temporary directory and renames it when complete, so a checkpoint is either whole or absent
(atomic). Every failure to read one — missing, corrupt, or of other shapes than the model it is loaded into —
raises :class:`~infantjax.errors.CheckpointError`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from infantjax.errors import CheckpointError

__all__ = ["RunCheckpointer", "abstract_of", "flatten_tree", "restore_tree", "save_tree", "unflatten_tree"]

log = logging.getLogger(__name__)


def abstract_of(tree) -> Any:
    """``jax.ShapeDtypeStruct`` leaves (on the default device) describing ``tree``'s arrays or shape structs."""
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])

    def one(x):
        return jax.ShapeDtypeStruct(tuple(x.shape), x.dtype, sharding=device)

    return jax.tree_util.tree_map(one, tree)


def _host(tree):
    from infantjax import parallel

    return parallel.to_host(tree)  # the documented gather: arrays spanning other processes are gathered first


def _describe(err: Exception) -> str:
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"


def _key(entry) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(entry, attr):
            return str(getattr(entry, attr))
    return str(entry)


def _shapes(tree) -> dict[tuple[str, ...], tuple[int, ...]]:
    leaves = jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda x: hasattr(x, "shape"))[0]
    return {tuple(_key(e) for e in path): tuple(int(d) for d in x.shape) for path, x in leaves}


def _stored_mismatch(metadata, like) -> str | None:
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


class RunCheckpointer:
    """Checkpoints of one training run, one per epoch (Orbax ``CheckpointManager``, the newest ``keep`` kept).

    Each checkpoint holds an array pytree (``state``) and a JSON record (``meta``: epoch, history, best AUCs).
    """

    def __init__(self, directory: str | os.PathLike, keep: int = 2):
        self.directory = os.path.abspath(os.fspath(directory))
        try:
            # the handler of every item named up front: the manager can then read a checkpoint's item metadata
            # (the shape check before a restore) through the step's own metadata, without a handler that looks for
            # a checkpoint-level metadata file inside the item folder ("Metadata file does not exist: …/state")
            self._manager = ocp.CheckpointManager(
                self.directory,
                options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                                     enable_async_checkpointing=False),
                item_handlers={"state": ocp.StandardCheckpointHandler(), "meta": ocp.JsonCheckpointHandler()},
            )
        except Exception as err:  # an unusable directory (a file, no permission)
            raise CheckpointError(f"cannot use checkpoint directory {self.directory}: {_describe(err)}") from err

    def latest(self) -> int | None:
        """The newest complete checkpoint's step (epoch), or None."""
        return self._manager.latest_step()

    def save(self, step: int, tree, meta: dict) -> None:
        self._manager.save(int(step), args=ocp.args.Composite(state=ocp.args.StandardSave(_host(tree)),
                                                              meta=ocp.args.JsonSave(meta)), force=True)
        self._manager.wait_until_finished()

    def restore(self, step: int, like) -> tuple[Any, dict]:
        """Restore checkpoint ``step`` into the structure and shapes of ``like``.

        Raises:
            CheckpointError: the checkpoint is corrupt or does not match ``like``.
        """
        try:
            why = _stored_mismatch(self._manager.item_metadata(int(step))["state"], like)
        except Exception:  # no readable metadata: let the restore itself decide
            why = None
        if why is not None:
            raise CheckpointError(f"checkpoint {self.directory}/{step} was written for another model or "
                                  f"configuration: {why}; delete it or use another checkpoint directory")
        try:
            out = self._manager.restore(int(step), args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract_of(like)), meta=ocp.args.JsonRestore()))
        except Exception as err:
            raise CheckpointError(
                f"checkpoint {self.directory}/{step} cannot be restored ({_describe(err)}); it is corrupt or was "
                "written for another model or configuration — delete it or use another checkpoint directory"
            ) from err
        return out.state, out.meta

    def close(self) -> None:
        self._manager.close()


def save_tree(path: str | os.PathLike, tree) -> None:
    """Save an array pytree as one Orbax checkpoint directory (atomic; replaces an existing one)."""
    path = os.path.abspath(os.fspath(path))
    with ocp.StandardCheckpointer() as ckptr:
        ckptr.save(path, _host(tree), force=True)
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
            why = _stored_mismatch(ckptr.metadata(path), like)
    except Exception:  # no readable metadata: let the restore itself decide
        why = None
    if why is not None:
        raise CheckpointError(f"checkpoint {path} does not match the architectures it is loaded into: {why}")
    try:
        with ocp.StandardCheckpointer() as ckptr:
            tree = ckptr.restore(path, abstract_of(like))
    except Exception as err:
        raise CheckpointError(
            f"checkpoint {path} cannot be restored ({_describe(err)}); it is corrupt or does not match the "
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
