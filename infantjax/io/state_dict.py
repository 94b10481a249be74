"""PyTorch state dicts as files: read ``.npz``, ``.safetensors`` and ``.pt``/``.pth``; write ``.npz``/``.safetensors``.

A state dict is a flat mapping of PyTorch key → tensor. Nothing here unpickles: ``.npz`` is read with
``allow_pickle=False``, ``.safetensors`` is a header and raw buffers, and ``.pt``/``.pth`` (PyTorch's zip of a
pickle) is read only through ``torch.load(weights_only=True)``, PyTorch's restricted unpickler that admits tensors
and plain containers only, and only when PyTorch is installed (``pip install infantjax[torch]``).
"""

from __future__ import annotations

import os
import pickle  # only for its exception type: nothing here unpickles
import zipfile
from collections.abc import Mapping

import numpy as np

from infantjax.errors import StateDictError

__all__ = ["STATE_DICT_SUFFIXES", "read_state_dict", "write_state_dict"]

#: File suffixes :func:`read_state_dict` reads.
STATE_DICT_SUFFIXES = (".npz", ".safetensors", ".pt", ".pth")


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a state dict from a file, by its suffix.

    Arguments:
        path: ``.npz`` (``np.savez`` of the tensors), ``.safetensors`` or ``.pt``/``.pth`` (``torch.save`` of a
            state dict; needs PyTorch).

    Returns:
        PyTorch key → NumPy array, in the file's order.

    Raises:
        StateDictError: the file is missing, of another kind, truncated or corrupt, holds something other than a
            flat mapping of tensors, or is a ``.pt`` file and PyTorch is not installed.
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in STATE_DICT_SUFFIXES:
        raise StateDictError(f"{path}: cannot read a state dict from a {suffix or 'suffix-less'} file; use one of "
                             f"{', '.join(STATE_DICT_SUFFIXES)}")
    if not os.path.isfile(path):
        raise StateDictError(f"{path}: no such file")
    if suffix == ".npz":
        state = _read_npz(path)
    elif suffix == ".safetensors":
        state = _read_safetensors(path)
    else:
        state = _read_torch(path)
    if not state:
        raise StateDictError(f"{path} holds no tensors; is it a state dict?")
    return state


def _read_npz(path: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            # read every member now: a truncated archive fails here, not later inside the loader
            return {k: np.asarray(data[k]) for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as err:
        raise StateDictError(f"{path} is not a readable .npz state dict (truncated or corrupt?): "
                             f"{type(err).__name__}: {err}") from None


def _read_safetensors(path: str) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return dict(load_file(path))
    except (SafetensorError, OSError, ValueError, TypeError) as err:
        raise StateDictError(f"{path} is not a readable .safetensors state dict (truncated or corrupt?): "
                             f"{type(err).__name__}: {err}") from None


def _read_torch(path: str) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError:
        raise StateDictError(
            f"{path}: reading PyTorch .pt/.pth files needs PyTorch (pip install 'infantjax[torch]'); or convert "
            "the file to .safetensors or .npz where PyTorch is installed") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError, ValueError, zipfile.BadZipFile) as err:
        raise StateDictError(f"{path} is not a readable PyTorch state dict (truncated, corrupt, or holding more "
                             f"than tensors): {type(err).__name__}: {err}") from None
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]  # a training checkpoint that wraps the state dict
    if not isinstance(obj, Mapping):
        raise StateDictError(f"{path} holds a {type(obj).__name__}, not a state dict (a mapping of key → tensor)")
    out = {}
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise StateDictError(f"{path}: entry {key!r} is a {type(value).__name__}, not a tensor")
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.float()
        out[str(key)] = value.numpy()
    return out


def write_state_dict(path: str | os.PathLike, state: Mapping[str, np.ndarray]) -> str:
    """Write a state dict as ``.npz`` or ``.safetensors`` (by suffix), atomically.

    Arguments:
        path: the file to write.
        state: PyTorch key → array (e.g. :func:`infantjax.models.gcn.to_torch_state_dict`).

    Returns:
        ``path``.

    Raises:
        StateDictError: another suffix. FileWriteError: the folder is missing or not writable.
    """
    from infantjax.io.files import atomic_path

    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    arrays = {str(k): np.ascontiguousarray(np.asarray(v)) for k, v in state.items()}
    if suffix not in (".npz", ".safetensors"):
        raise StateDictError(f"{path}: state dicts are written as .npz or .safetensors, not {suffix or 'no suffix'}")
    with atomic_path(path) as tmp:
        if suffix == ".npz":
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
        else:
            from safetensors.numpy import save_file

            save_file(arrays, tmp)
    return path
