"""Orbax checkpoints: per-epoch run checkpoints (resume) and single saved pytrees (ensembles).

Orbax writes to a temporary directory and renames it when complete, so a checkpoint is either whole or absent
(atomic). Every failure to read one — missing, corrupt, or of other shapes than the model it is loaded into —
raises :class:`~infantjax.errors.CheckpointError`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import orbax.checkpoint as ocp

from infantjax.errors import CheckpointError
from infantjax.infer.store import (  # noqa: F401 - re-exported: the saved-pytree helpers live in infer/
    abstract_of,
    flatten_tree,
    restore_tree,
    save_tree,
    unflatten_tree,
)
from infantjax.infer.store import describe as _describe
from infantjax.infer.store import stored_mismatch as _stored_mismatch
from infantjax.infer.store import to_host as _host

__all__ = ["RunCheckpointer", "abstract_of", "flatten_tree", "restore_tree", "save_tree", "unflatten_tree"]

log = logging.getLogger(__name__)


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
