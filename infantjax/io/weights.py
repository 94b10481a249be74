"""Official EfficientPose weights: Keras 2 HDF5 (``.h5``) -> Flax variables, with h5py only (no pickle).

Format (data/efficientpose/README.md §3): the file attribute ``model_config`` is the Keras model JSON (layer
classes, configs, graph edges); group ``model_weights`` holds one group per layer whose attribute ``weight_names``
gives the order of its datasets. Dataset names keep the original EfficientNet names (the low-resolution twin of
``stem_conv_res1`` stores ``stem_conv_1/kernel:0``), so weights are keyed on the layer group name and the
``weight_names`` order, never on the dataset name.

Mapping to Flax (NHWC): Conv2D kernel (kh, kw, in, out) as is; DepthwiseConv2D (kh, kw, C, 1) -> (kh, kw, 1, C);
BatchNormalization gamma/beta -> ``params`` scale/bias and moving mean/variance -> ``batch_stats`` mean/var;
Conv2DTranspose (kh, kw, out, in) -> ``fixed`` kernel (kh, kw, in, out). Layer names ending ``_res1``/``_res2`` go
under the ``res1``/``res2`` backbone sub-trees. EfficientNet-Lite layer names (``efficientnet-lite0/model/blocks_3/
conv2d/Conv2D_0``) are renamed to the Keras EfficientNet names (``block3a_expand_conv``) by block order.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, NamedTuple

import numpy as np

from infantjax.errors import WeightsError

__all__ = ["EFFICIENTPOSE_VARIANTS_BY_WIDTH", "KerasWeights", "load_efficientpose_h5"]

# (detection-block width B, lite) -> variant (README §2.5)
EFFICIENTPOSE_VARIANTS_BY_WIDTH = {
    (40, False): "rt", (48, False): "i", (56, False): "ii", (64, False): "iii", (80, False): "iv",
    (40, True): "rt_lite", (48, True): "i_lite", (56, True): "ii_lite",
}


class KerasWeights(NamedTuple):
    """What :func:`load_efficientpose_h5` returns.

    Attributes:
        variant: ``rt``, ``i``, ``rt_lite``, ``i_lite`` (or ``ii``.. for files built the same way).
        variables: Flax variables ``{"params", "batch_stats", "fixed"}`` (numpy float32 arrays).
        num_keypoints: K, channels of ``upscaled_confs``.
        num_pafs: P, channels of ``pass1_skeleton_pafs``, or ``None`` when the file has no PAF head (Lite).
        graph: ``full`` when the PAF and pass-2 heads are in the file, else ``deployment``.
        resolution: the input size recorded in the file, or ``None`` when the input is unsized (Lite).
        keras_version: the file's ``keras_version`` attribute.
    """

    variant: str
    variables: dict
    num_keypoints: int
    num_pafs: int | None
    graph: str
    resolution: int | None
    keras_version: str


def _str(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _set(tree: dict, path: tuple[str, ...], value: np.ndarray) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    if path[-1] in tree:
        raise WeightsError(f"duplicate weight for {'/'.join(path)}")
    tree[path[-1]] = value


_LITE_RE = re.compile(r"^efficientnet-lite\d/model/(stem|blocks_(\d+))/")


def _lite_renames(layers: list[dict]) -> dict[str, str]:
    """Map EfficientNet-Lite layer names to Keras EfficientNet names (``stem_conv``, ``block2b_dwconv`` ...)."""
    blocks: dict[int, list[dict]] = {}
    renames: dict[str, str] = {}
    stem: list[dict] = []
    for layer in layers:
        name = layer["config"]["name"]
        m = _LITE_RE.match(name)
        if not m or layer["class_name"] not in ("Conv2D", "DepthwiseConv2D", "BatchNormalization"):
            continue
        if m.group(1) == "stem":
            stem.append(layer)
        else:
            blocks.setdefault(int(m.group(2)), []).append(layer)
    if [ly["class_name"] for ly in stem] != ["Conv2D", "BatchNormalization"]:
        raise WeightsError("EfficientNet-Lite stem is not conv + batch norm")
    renames[stem[0]["config"]["name"]] = "stem_conv"
    renames[stem[1]["config"]["name"]] = "stem_bn"
    stage, letter, prev_out = 0, 0, None
    for index in sorted(blocks):
        lys = blocks[index]
        kinds = [ly["class_name"] for ly in lys]
        if kinds == ["Conv2D", "BatchNormalization", "DepthwiseConv2D", "BatchNormalization", "Conv2D",
                     "BatchNormalization"]:
            roles = ["expand_conv", "expand_bn", "dwconv", "bn", "project_conv", "project_bn"]
        elif kinds == ["DepthwiseConv2D", "BatchNormalization", "Conv2D", "BatchNormalization"]:
            roles = ["dwconv", "bn", "project_conv", "project_bn"]
        else:
            raise WeightsError(f"EfficientNet-Lite block {index} has an unexpected layer sequence {kinds}")
        out = lys[-2]["config"]["filters"]
        # every EfficientNet stage has its own width: a new width starts a new stage
        if out != prev_out:
            stage, letter = stage + 1, 0
        else:
            letter += 1
        prev_out = out
        prefix = f"block{stage}{chr(ord('a') + letter)}"
        for ly, role in zip(lys, roles):
            renames[ly["config"]["name"]] = f"{prefix}_{role}"
    return renames


def load_efficientpose_h5(path: str | os.PathLike) -> KerasWeights:
    """Read an official EfficientPose Keras ``.h5`` into Flax variables (h5py only; nothing is unpickled).

    Arguments:
        path: ``EfficientPoseRT.h5``, ``EfficientPoseI.h5``, ``EfficientPoseRT_LITE.h5``, ``EfficientPoseI_LITE.h5``
            (the official MPII weights) or a file written the same way.

    Returns:
        :class:`KerasWeights` (variant recognised from the file's ``model_config``, variables, K, P).

    Raises:
        WeightsError: the file is missing, not HDF5, not a Keras model, or not an EfficientPose model.
    """
    import h5py

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WeightsError(f"weights file {path!r} does not exist; pass the path of an EfficientPose .h5 file")
    try:
        fh = h5py.File(path, "r")
    except OSError as err:
        raise WeightsError(f"{path!r} is not an HDF5 file ({err}); expected an EfficientPose Keras .h5") from None
    with fh:
        try:
            weights = _read_keras(fh, path)
        except WeightsError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OSError) as err:
            # a Keras file with missing groups, odd layer configs or unreadable datasets
            raise WeightsError(f"{path!r} is not a complete EfficientPose Keras .h5 ({type(err).__name__}: {err}); "
                               "use an official EfficientPose file or re-export it") from None
    bad = [name for name, value in _leaves(weights.variables) if not np.isfinite(value).all()]
    if bad:
        # NaN or infinite weights run without an error and give keypoints at nonsense positions
        raise WeightsError(f"{path!r}: weights {bad[:3]} hold NaN or infinite values; the file is damaged")
    return weights


def _leaves(tree: dict, prefix: str = ""):
    """(slash-joined name, array) of every array in a nested dict."""
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}/")
        else:
            yield f"{prefix}{key}", value


def _read_keras(fh, path: str) -> KerasWeights:
    """The :class:`KerasWeights` of an open Keras HDF5 file (raises WeightsError, KeyError, TypeError ...)."""
    if "model_config" not in fh.attrs or "model_weights" not in fh:
        raise WeightsError(
            f"{path!r} is not a Keras model file (no 'model_config' attribute or 'model_weights' group); "
            "expected an official EfficientPose .h5"
        )
    try:
        config = json.loads(_str(fh.attrs["model_config"]))
        layers = config["config"]["layers"]
    except (ValueError, KeyError, TypeError) as err:
        raise WeightsError(f"{path!r}: model_config is not a Keras model JSON ({err})") from None
    by_name = {ly["config"]["name"]: ly for ly in layers}
    if "upscaled_confs" not in by_name or "pass3_detection2_confs" not in by_name:
        raise WeightsError(
            f"{path!r} is a Keras model but not EfficientPose: it has no 'upscaled_confs' / "
            "'pass3_detection2_confs' layers"
        )
    lite = any(name.startswith("efficientnet-lite") for name in by_name)
    probe = "pass1_block1_mbconv1_skeleton_conv2"
    if probe not in by_name:
        raise WeightsError(f"{path!r}: EfficientPose detection block layer {probe!r} is missing")
    width = int(by_name[probe]["config"]["filters"])
    variant = EFFICIENTPOSE_VARIANTS_BY_WIDTH.get((width, lite))
    if variant is None:
        raise WeightsError(f"{path!r}: detection-block width {width} (lite={lite}) matches no EfficientPose variant")
    renames = _lite_renames(layers) if lite else {}

    variables: dict[str, dict] = {"params": {}, "batch_stats": {}, "fixed": {}}
    group = fh["model_weights"]
    layer_names = [_str(n) for n in group.attrs.get("layer_names", [])]
    for lname in layer_names:
        lgroup = group[lname]
        weight_names = [_str(n) for n in lgroup.attrs.get("weight_names", [])]
        if not weight_names:
            continue
        if lname not in by_name:
            raise WeightsError(f"{path!r}: weights for layer {lname!r} that model_config does not define")
        kind = by_name[lname]["class_name"]
        arrays = [np.asarray(lgroup[w], dtype=np.float32) for w in weight_names]
        name = renames.get(lname, lname)
        if name in renames.values() and lite:
            where: tuple[str, ...] = ("res1", name)
        elif name.endswith(("_res1", "_res2")):
            where = (name[-4:], name[:-5])
        else:
            where = (name,)
        if kind in ("Conv2D", "Conv2DTranspose", "DepthwiseConv2D"):
            kernel = arrays[0]
            if kind == "DepthwiseConv2D":
                kernel = np.swapaxes(kernel, 2, 3)  # (kh, kw, C, 1) -> (kh, kw, 1, C)
            elif kind == "Conv2DTranspose":
                kernel = np.swapaxes(kernel, 2, 3)  # (kh, kw, out, in) -> (kh, kw, in, out)
            col = "fixed" if kind == "Conv2DTranspose" else "params"
            _set(variables[col], (*where, "kernel"), kernel)
            if len(arrays) > 1:
                _set(variables[col], (*where, "bias"), arrays[1])
            elif kind == "Conv2DTranspose":
                _set(variables[col], (*where, "bias"), np.zeros(kernel.shape[-1], np.float32))
        elif kind == "BatchNormalization":
            if len(arrays) != 4:
                raise WeightsError(f"{path!r}: batch norm {lname!r} has {len(arrays)} weights, expected 4")
            gamma, beta, mean, var = arrays
            _set(variables["params"], (*where, "scale"), gamma)
            _set(variables["params"], (*where, "bias"), beta)
            _set(variables["batch_stats"], (*where, "mean"), mean)
            _set(variables["batch_stats"], (*where, "var"), var)
        else:
            raise WeightsError(f"{path!r}: layer {lname!r} of class {kind} has weights; not an EfficientPose layer")

    num_keypoints = int(by_name["upscaled_confs"]["config"]["filters"])
    num_pafs = int(by_name["pass1_skeleton_pafs"]["config"]["filters"]) if "pass1_skeleton_pafs" in by_name else None
    graph = "full" if (num_pafs is not None and "pass2_detection1_confs" in by_name) else "deployment"
    resolution = None
    for ly in layers:
        if ly["class_name"] == "InputLayer":
            shape = ly["config"].get("batch_input_shape") or []
            if len(shape) == 4 and shape[1] is not None:
                resolution = int(shape[1])
            break
    keras_version = _str(fh.attrs.get("keras_version", ""))
    return KerasWeights(variant, variables, num_keypoints, num_pafs, graph, resolution, keras_version)
