"""Video → keypoints: a pose network with its preprocessing and decoding (:class:`PosePredictor`), and the same on
rendered synthetic infants (fine-tuning, held-out evaluation, tracking a rendered video against its truth).

``PosePredictor.from_keras_h5(path)`` reproduces the official EfficientPose implementation on the official
weights (preprocessing, network and offline/real-time decoding; data/efficientpose/README.md). Fine-tuned models
(e.g. In-Motion 19 keypoints) are saved and loaded with :meth:`PosePredictor.save` / :meth:`PosePredictor.load`
(a plain ``.npz``, no pickle).

Videos are decoded in chunks, frames are batched through one jitted forward pass and decoded on the host, so memory
stays bounded for any video length.

Synthetic: :func:`finetune_synthetic` fine-tunes EfficientPose from the MPII weights to the In-Motion 19 keypoints
on rendered infants (seed 002, Paper II protocol at a small budget); :func:`evaluate_synthetic` scores held-out
renders; :func:`track_synthetic_video` tracks a rendered video against its exact keypoints. A network trained this
way has seen rendered capsule infants only and is not a detector for real infants.
"""

from __future__ import annotations

import dataclasses
import fractions
import json
import logging
import os
import pathlib
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Float, UInt8

from infantjax import backend, parallel
from infantjax import skeleton as _skeleton
from infantjax.errors import CheckpointError, ConfigError, DataError, VideoError, VideoWriteError
from infantjax.io.files import save_npz
from infantjax.metrics.pose import pose_metrics
from infantjax.models.pose.decode import REALTIME_THRESHOLD, decode_heatmaps, peak_values, undo_padding
from infantjax.models.pose.device_ops import decode_peaks, frame_geometry, preprocess_frames
from infantjax.models.pose.efficientpose import EfficientPose, EfficientPoseSpec
from infantjax.models.pose.inference import (
    default_options,
    efficientpose_heatmaps,
    fold_efficientpose,
    make_heatmap_fn,
    map_microbatches,
)
from infantjax.models.pose import zoo as _zoo
from infantjax.models.pose.init import finetune_variables
from infantjax.preprocess.image import check_image, preprocess
from infantjax.sequence import SkeletonSequence
from infantjax.synth.pose import PIXEL_OFFSET, ROTATION, SKELETON, synthetic_examples
from infantjax.infer.graph import Deployable
from infantjax.infer.registry import register_family
from infantjax.infer.store import flatten_tree, unflatten_tree
from infantjax.infer.trained import TrainedModel

if TYPE_CHECKING:
    from infantjax.train.engine import Hook
    from infantjax.train.pose import PoseConfig

__all__ = [
    "LABELLED_ENCODING",
    "PRETRAINED",
    "PosePredictor",
    "PoseWeights",
    "SyntheticTrack",
    "check_labelled_output",
    "evaluate_synthetic",
    "finetune_synthetic",
    "infant_spec",
    "pretrained_network",
    "read_weights",
    "track_synthetic_video",
    "write_labelled_video",
]

log = logging.getLogger(__name__)

_FORMAT = "infantjax-pose-predictor-v1"

# weights shipped with the package (the offline zoo, infantjax/models/pose/zoo.py): name -> (file, description)
PRETRAINED: dict[str, tuple[str, str]] = {e.name: (e.file, e.description) for e in _zoo.available()}


@dataclasses.dataclass(frozen=True)
class PoseWeights:
    """A pose network as stored: what a weights file or a zoo entry holds.

    Attributes:
        spec: the :class:`EfficientPoseSpec`.
        variables: its Flax variables (``params``, ``batch_stats``, ``fixed``).
        skeleton: the keypoint set of its heatmaps.
        info: the provenance stored with the weights.
    """

    spec: EfficientPoseSpec
    variables: dict
    skeleton: str
    info: dict


def read_weights(path: str | os.PathLike) -> PoseWeights:
    """The network in a weights file written by :meth:`PosePredictor.save` to a ``.npz`` path (the format of the
    shipped zoo: one pickle-free file, float16 or float32).

    Raises:
        CheckpointError: a missing, damaged or foreign file, non-finite weights, incomplete metadata.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"pose weights {path!r} do not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
            flat = {k: data[k] for k in data.files if k != "__meta__"}
    except (OSError, ValueError, KeyError) as err:
        raise CheckpointError(f"{path!r} is not a pose predictor file written by PosePredictor.save ({err})") \
            from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{path!r}: unknown format {found!r}, expected {_FORMAT}; write the file with "
                              "PosePredictor.save")
    bad = [k for k, v in flat.items() if not np.issubdtype(v.dtype, np.floating) or not np.isfinite(v).all()]
    if bad:
        # NaN weights run without an error and decode to nonsense keypoints: refuse them here
        raise CheckpointError(f"{path!r}: weights {bad[:3]} are not finite floating-point arrays; the file is "
                              "damaged, save the predictor again")
    try:
        spec = EfficientPoseSpec(**meta["spec"])
        skeleton = meta["skeleton"]
        info = dict(meta.get("info") or {})
    except (KeyError, TypeError, ValueError) as err:
        # a spec with unknown or mistyped fields, or metadata without spec/skeleton
        raise CheckpointError(f"{path!r}: the metadata (__meta__) is incomplete or invalid "
                              f"({type(err).__name__}: {err}); write the file with PosePredictor.save") from None
    return PoseWeights(spec, unflatten_tree(flat), skeleton, info)


def pretrained_network(name: str) -> PoseWeights:
    """The network of a shipped zoo entry (:func:`infantjax.models.pose.available`) by name: spec, variables,
    skeleton and provenance (what :meth:`PosePredictor.pretrained` builds on).

    Raises:
        ConfigError: an unknown name (the message lists the names). CheckpointError: the packaged file is
            missing or damaged.
    """
    with _zoo.weights_file(name) as path:
        return read_weights(path)


@register_family(recording="a video file (its path) or RGB frames")
class PosePredictor(TrainedModel):
    """A pose network with its variables, preprocessing and decoding (a
    :class:`~infantjax.train.trained.TrainedModel` of one instance: ``save(folder)`` / ``load(folder)`` in the
    common format; a ``.npz`` path is the single-file weights format of the shipped zoo).

    Arguments:
        spec: the :class:`EfficientPoseSpec` of the network.
        variables: Flax variables ``{"params", "batch_stats", "fixed"}`` matching ``spec``.
        skeleton: keypoint set of the K heatmap channels (``mpii-16`` for the official weights).
    """

    def __init__(self, spec: EfficientPoseSpec, variables: dict, skeleton: str | _skeleton.Skeleton = "mpii-16"):
        self.spec = spec
        self.skeleton = _skeleton.get(skeleton)
        if self.skeleton.num_keypoints != spec.num_keypoints:
            raise ConfigError(
                f"skeleton {self.skeleton.name!r} has {self.skeleton.num_keypoints} keypoints but the network "
                f"outputs {spec.num_keypoints} heatmaps"
            )
        self.model = EfficientPose(spec)
        expected = jax.eval_shape(
            lambda: self.model.init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3), jnp.float32)))
        exp_shapes = jax.tree_util.tree_map(lambda a: tuple(a.shape), expected)
        try:
            got_shapes = jax.tree_util.tree_map(lambda a: tuple(np.shape(a)), dict(variables))
        except Exception as err:  # noqa: BLE001
            raise CheckpointError(f"variables are not a pytree of arrays: {err}") from None
        got_shapes = {k: v for k, v in got_shapes.items() if k in exp_shapes}
        if got_shapes != dict(exp_shapes):
            raise CheckpointError(
                f"variables do not match EfficientPose {spec.variant!r} (K={spec.num_keypoints}, "
                f"P={spec.num_pafs}, graph={spec.graph!r}); check the weights file and the variant"
            )
        self.variables = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32),
                                                {k: variables[k] for k in exp_shapes})
        # inference runs the folded graph (models/pose/inference.py: BatchNorm folded, CPU-friendly operators),
        # equal to self.model.apply(...)["heatmaps"] up to float32 rounding
        self._heatmap_fn = make_heatmap_fn(spec)
        self._folded: tuple | None = None  # (variables it was folded from, folded pytree)
        self._frames_fns: dict = {}  # (H, W, real_time) -> jitted frames -> peaks
        self.info: dict = {}  # provenance stored with the weights (training data, steps, metrics)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_keras_h5(cls, path: str | os.PathLike) -> PosePredictor:
        """The official EfficientPose (RT, I, RT Lite, I Lite) from its Keras ``.h5`` (variant from the file)."""
        from infantjax.io.weights import load_efficientpose_h5

        w = load_efficientpose_h5(path)
        spec = EfficientPoseSpec(w.variant, num_keypoints=w.num_keypoints, num_pafs=w.num_pafs or 28,
                                 graph=w.graph)
        skeleton = "mpii-16" if w.num_keypoints == 16 else None
        if skeleton is None:
            raise ConfigError(f"{path!r} has {w.num_keypoints} keypoints; construct PosePredictor with its skeleton")
        return cls(spec, w.variables, skeleton)

    @classmethod
    def pretrained(cls, name: str = "rt-synthetic-infant") -> PosePredictor:
        """A predictor shipped with the package (the offline zoo: :func:`infantjax.models.pose.available`).

        ``efficientpose-{rt,i,rt-lite,i-lite}-mpii``: the official MPII-trained EfficientPose weights (16 MPII
        keypoints; Apache-2.0, see the package's NOTICE), converted value for value from the official Keras files.
        ``rt-synthetic-infant``: EfficientPose RT fine-tuned from the official MPII weights to the In-Motion 19
        keypoints on rendered synthetic infants; it has seen synthetic renders only: use it for demos and tests on
        synthetic videos, not on real infants.
        """
        return cls._from_weights(pretrained_network(name))

    @classmethod
    def _from_weights(cls, weights: PoseWeights) -> PosePredictor:
        predictor = cls(weights.spec, weights.variables, weights.skeleton)
        predictor.info = dict(weights.info)
        return predictor

    def save(self, path: str | os.PathLike, dtype: str = "float32", info: dict | None = None,
             compress: bool = False) -> pathlib.Path:
        """Write the predictor: to a folder in the common trained-model format (``model.json`` + Orbax
        ``variables/``, :meth:`TrainedModel.save`), or, for a path ending ``.npz``, to one weights file (the
        shipped zoo's format: spec, skeleton name and variables; atomic, no pickle).

        Arguments:
            path: the folder, or a ``.npz`` file.
            dtype: ``float32`` or ``float16`` storage of a ``.npz`` (loading always computes in float32; float16
                halves the file, e.g. for weights shipped as package data).
            info: JSON-serialisable provenance stored with the weights (``predictor.info`` after loading; default
                the predictor's).
            compress: zip-deflate the arrays of a ``.npz``.

        Returns:
            the path written.
        """
        if dtype not in ("float32", "float16"):
            raise ConfigError(f"dtype must be 'float32' or 'float16', got {dtype!r}")
        if info is not None:
            self.info = dict(info)
        if not os.fspath(path).lower().endswith(".npz"):
            return super().save(path)
        path = pathlib.Path(path)
        flat = {k: v.astype(dtype) for k, v in flatten_tree(jax.device_get(self.variables)).items()}
        meta = json.dumps({"format": _FORMAT, "spec": json.loads(self.spec.to_json()),
                           "skeleton": self.skeleton.name, "dtype": dtype, "info": dict(self.info)})
        save_npz(path, {"__meta__": np.array(meta), **flat}, compress=compress)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> PosePredictor:
        """Read a predictor: a folder written by :meth:`save`, a ``.npz`` weights file, or an official Keras
        ``.h5`` (:meth:`from_keras_h5`)."""
        name = os.fspath(path)
        if name.lower().endswith((".h5", ".hdf5", ".keras")):
            return cls.from_keras_h5(name)
        if os.path.isdir(name):
            return super().load(name)
        return cls._from_weights(read_weights(name))

    @classmethod
    def recognises(cls, path: pathlib.Path) -> bool:
        """An official EfficientPose Keras file (``.h5``, ``.hdf5``, ``.keras``) or a pose weights ``.npz`` (the
        zoo's single-file format, with ``__meta__`` and no common header)."""
        if path.is_file() and path.suffix.lower() in (".h5", ".hdf5", ".keras"):
            return True
        if not (path.is_file() and path.suffix.lower() == ".npz"):
            return False
        try:
            with np.load(path, allow_pickle=False) as data:
                return "__meta__" in data.files
        except (OSError, ValueError, EOFError):
            return False

    # the common format's hooks: one instance, no training config
    kind, spec_type, title = "pose", EfficientPoseSpec, "a pose predictor saved by PosePredictor.save"

    @property
    def config(self):
        return None

    def header(self) -> dict:
        return {"spec": self.spec.to_dict(), "skeleton": self.skeleton.name, "instances": 1, "info": self.info}

    def saved_variables(self) -> dict:
        return jax.tree_util.tree_map(lambda a: np.asarray(a)[None], jax.device_get(self.variables))

    @classmethod
    def abstract_variables(cls, header) -> dict:
        model = EfficientPose(cls.spec_from(header))
        shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3), jnp.float32)))
        return jax.tree_util.tree_map(lambda s: jax.ShapeDtypeStruct((1, *s.shape), s.dtype), dict(shapes))

    @classmethod
    def from_saved(cls, header, variables) -> PosePredictor:
        weights = PoseWeights(cls.spec_from(header), jax.tree_util.tree_map(lambda a: a[0], variables),
                              header["skeleton"], dict(header.get("info") or {}))
        return cls._from_weights(weights)

    # ------------------------------------------------------------------ properties
    @property
    def resolution(self) -> int:
        return int(self.spec.resolution)

    @property
    def normalisation(self) -> str:
        return "tf" if self.spec.lite else "torch"

    # ------------------------------------------------------------------ images
    def preprocess(self, image: UInt8[np.ndarray, "H W 3"]) -> Float[np.ndarray, "R R 3"]:
        """Official preprocessing of one image (README §1)."""
        return preprocess(image, self.resolution, self.normalisation)

    def inference_variables(self) -> dict:
        """The variables with BatchNorm folded in (:func:`fold_efficientpose`), refolded if ``variables`` changed."""
        if self._folded is None or self._folded[0] is not self.variables:
            self._folded = (self.variables, jax.jit(fold_efficientpose, static_argnums=0)(self.spec, self.variables))
        return self._folded[1]

    def forward(self, inputs: Float[np.ndarray, "N R R 3"]) -> Float[np.ndarray, "N R R K"]:
        """Upscaled heatmaps for preprocessed inputs (one jitted call of the folded inference graph)."""
        return np.asarray(self._heatmap_fn(self.inference_variables(), jnp.asarray(inputs, jnp.float32)))

    def heatmaps(self, image: UInt8[np.ndarray, "H W 3"]) -> Float[np.ndarray, "R R K"]:
        """(H, W, 3) uint8 RGB -> (R, R, K) float32 upscaled network output."""
        return self.forward(self.preprocess(image)[None])[0]

    def keypoints(self, image: UInt8[np.ndarray, "H W 3"], real_time: bool = False) -> Float[np.ndarray, "K 2"]:
        """(K, 2) x, y as fractions of the image width and height (official offline or real-time decoding)."""
        image = check_image(image)
        return decode_heatmaps(self.heatmaps(image), image.shape[:2], real_time=real_time)

    def keypoints_batch(self, images: UInt8[np.ndarray, "N H W 3"], real_time: bool = False,
                        pad_to: int | None = None) -> tuple[Float[np.ndarray, "N K 2"], Float[np.ndarray, "N K"]]:
        """Keypoint fractions (N, K, 2) and peak confidences (N, K) for a batch of same-size images.

        ``pad_to`` pads the network batch to a fixed size so that a short last batch reuses the compiled forward.
        """
        images = np.asarray(images)
        if images.ndim != 4:
            raise DataError(f"images must be (N, H, W, 3) uint8, got shape {images.shape}")
        if len(images) == 0:
            return np.zeros((0, self.spec.num_keypoints, 2)), np.zeros((0, self.spec.num_keypoints), np.float32)
        inputs = np.stack([self.preprocess(im) for im in images])
        n = len(inputs)
        if pad_to is not None and n < pad_to:
            inputs = np.concatenate([inputs, np.zeros((pad_to - n, *inputs.shape[1:]), inputs.dtype)])
        hms = self.forward(inputs)[:n]
        hw = images.shape[1:3]
        xy = np.stack([decode_heatmaps(h, hw, real_time=real_time) for h in hms])
        conf = np.stack([peak_values(h) for h in hms]).astype(np.float32)
        return xy, conf

    # ------------------------------------------------------------------ videos
    def _frames_fn(self, height: int, width: int, real_time: bool):
        """The jitted ``(folded, frames uint8) -> (peak rows/cols, peak values, raw peaks)`` for one frame size."""
        key = (int(height), int(width), bool(real_time), backend.current())
        if key not in self._frames_fns:
            geometry = frame_geometry(height, width, self.resolution)
            mode = self.normalisation

            def frames_fn(folded, frames):
                opts = default_options()  # of the platform traced for
                inner = dataclasses.replace(opts, microbatch=None)

                def one(f):
                    x = preprocess_frames(f, geometry, mode)
                    return decode_peaks(efficientpose_heatmaps(folded, x, self.spec, inner), real_time=real_time)

                # preprocessing, network and decoding of a microbatch stay in cache together
                return map_microbatches(one, frames, opts.microbatch)

            self._frames_fns[key] = jax.jit(frames_fn)
        return self._frames_fns[key]

    def _finish_frames(self, out, n: int, hw: tuple[int, int], real_time: bool):
        rc, _, raw_peak = (np.asarray(a)[:n] for a in out)
        r = self.resolution
        xy = np.stack([(rc[..., 1] + 0.5) / r, (rc[..., 0] + 0.5) / r], axis=-1).astype(np.float64)
        if real_time:  # the official camera path: a raw peak below the threshold is missing (README §1.2)
            xy[raw_peak < REALTIME_THRESHOLD] = -0.5 / r
        return undo_padding(xy, hw, r), raw_peak.astype(np.float32)

    def _prepare(self, images: np.ndarray, pad_to: int) -> np.ndarray:
        """Official float64 preprocessing of a batch, zero-padded to ``pad_to`` images (float32 network input)."""
        inputs = np.stack([self.preprocess(im) for im in images])
        if len(inputs) < pad_to:
            inputs = np.concatenate([inputs, np.zeros((pad_to - len(inputs), *inputs.shape[1:]), inputs.dtype)])
        return inputs

    def _finish(self, out, n: int, hw: tuple[int, int], fast: bool, real_time: bool):
        """Keypoint fractions, confidences and (H, W) of a batch's forward output (host side)."""
        if fast:
            return (*self._finish_frames(out, n, hw, real_time), hw)
        hms = np.asarray(out)[:n]
        xy = np.stack([decode_heatmaps(h, hw, real_time=real_time) for h in hms])
        conf = np.stack([peak_values(h) for h in hms]).astype(np.float32)
        return xy, conf, hw

    def keypoints_frames(self, frames: UInt8[np.ndarray, "N H W 3"], real_time: bool = False,
                         pad_to: int | None = None) -> tuple[Float[np.ndarray, "N K 2"], Float[np.ndarray, "N K"]]:
        """:meth:`keypoints_batch` with preprocessing and decoding inside the jitted call (float32, batched).

        The fast path of :meth:`track`: equal to the host path except where float32 rounding decides a uint8
        truncation or a tie between blurred maxima (``models/pose/device_ops.py``).
        """
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise DataError(f"frames must be (N, H, W, 3) uint8, got shape {frames.shape} and {frames.dtype}")
        n = len(frames)
        if pad_to is not None and n < pad_to:
            frames = np.concatenate([frames, np.zeros((pad_to - n, *frames.shape[1:]), np.uint8)])
        out = self._frames_fn(*frames.shape[1:3], real_time)(self.inference_variables(), frames)
        return self._finish_frames(out, n, frames.shape[1:3], real_time)

    def graph(self) -> Deployable:
        """The folded inference graph as an export graph: preprocessed images (N, R, R, 3) → upscaled heatmaps
        (N, R, R, K), BatchNorm folded (:mod:`infantjax.models.pose.inference`). Preprocess images as
        :meth:`preprocess` does before running the exported file; decode its heatmaps with
        :func:`infantjax.models.pose.decode_heatmaps` or take the arg-max of each channel."""
        return _pose_graph(self)

    def predict(self, video_path: str | os.PathLike, **kwargs) -> SkeletonSequence:
        """The keypoints of a video (every family's ``predict``: a recording in, a typed result out):
        :meth:`track` with its options; :meth:`keypoints_frames` is the lower-level call beside it.

        Raises:
            DataError: ``video_path`` is not a path. VideoError: no readable video there."""
        if not isinstance(video_path, (str, os.PathLike)):
            raise DataError(f"PosePredictor.predict takes the path of a video file, got "
                            f"{type(video_path).__name__ if video_path is not None else 'None'}"
                            f"{' of shape ' + str(tuple(video_path.shape)) if hasattr(video_path, 'shape') else ''}; "
                            "for frames already in memory call keypoints_frames")
        return self.track(video_path, **kwargs)

    def track(self, video_path: str | os.PathLike, *, stride: int = 1, batch_size: int = 16,
              real_time: bool = False, progress: bool = True, max_frames: int | None = None,
              fast: bool = False, data_parallel: bool | None = None) -> SkeletonSequence:
        """Keypoints of every ``stride``-th frame of a video as a :class:`SkeletonSequence` (pixels, confidences).

        Arguments:
            video_path: a video file readable by :func:`infantjax.io.open_video`.
            stride: keep every stride-th frame (the sequence's fps is divided accordingly).
            batch_size: frames per jitted forward pass; memory is bounded by it whatever the video length.
            real_time: use the real-time decoding (peaks < 0.3 -> NaN) instead of the offline one.
            progress: show a tqdm progress bar.
            max_frames: stop after this many decoded frames (None: the whole video).
            fast: preprocess and decode inside the jitted forward in float32 (:meth:`keypoints_frames`, several
                times faster end to end) instead of the official float64 host code; the keypoints can then differ
                where the reference's uint8 truncation of a near-integer value goes the other way (see
                ``models/pose/device_ops.py``). Either way frames are decoded (and, by default, preprocessed) in
                a background thread while the previous batch runs through the network.
            data_parallel: split every batch over this process's devices (mesh axis ``data``; the batch is rounded
                up to a multiple of the device count). None: when there are several accelerators (not on CPU,
                where the host "devices" share the same cores). The keypoints equal the one-device run's.

        Returns:
            coords (T, K, 2) float32 pixel x, y (NaN where missing) in the upright frame (a phone video's display
            rotation applied, ``metadata["rotation"]`` says by how much), confidence (T, K) = heatmap peak clipped
            to [0, 1], fps, every kept frame's presentation time in seconds (``times``: a phone's variable frame
            rate is kept), the predictor's skeleton and metadata (source, model, upright image size, stride).
        """
        if int(stride) < 1:
            raise ConfigError(f"stride must be >= 1, got {stride}")
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        from tqdm.auto import tqdm

        frames_iter, video, total = _open_frames(video_path, int(stride), max_frames)
        fps, size = video["fps"], video["size"]
        coords, confs = [], []
        n_out = None if total is None else -(-total // int(stride))
        bar = tqdm(total=n_out, desc=f"pose {os.path.basename(os.fspath(video_path))}", unit="frame",
                   disable=not progress)

        def emit(xy, conf, hw):
            h, w = hw
            xy = np.asarray(xy)
            px = xy * np.array([w, h], dtype=np.float64)
            if real_time:
                px[conf < REALTIME_THRESHOLD] = np.nan
            coords.append(px.astype(np.float32))
            confs.append(np.clip(conf, 0.0, 1.0))
            bar.update(len(xy))

        bs = int(batch_size)
        mesh = _data_mesh(data_parallel)
        if mesh is not None:
            bs = -(-bs // mesh.size) * mesh.size  # every device gets an equal share of the batch
        if fast:
            batches = _Prefetch(_batched(frames_iter, bs), depth=2)
        else:  # decoding and the float64 preprocessing run in the background thread
            batches = _Prefetch(((b.shape[1:3], len(b), self._prepare(b, bs)) for b in _batched(frames_iter, bs)),
                                depth=2)
        try:
            pending = None  # one batch in flight: JAX dispatches asynchronously, the host decodes the previous
            folded = self.inference_variables()
            place = _identity
            if mesh is not None:  # parameters on every device, frames split over them (batch over `data`)
                folded = jax.device_put(folded, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))
                batch = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(parallel.DATA))

                def place(x):
                    return jax.device_put(x, batch)
            for item in batches:
                if fast:
                    hw, n = item.shape[1:3], len(item)
                    frames = item
                    if n < bs:
                        frames = np.concatenate([frames, np.zeros((bs - n, *frames.shape[1:]), np.uint8)])
                    out = self._frames_fn(*hw, real_time)(folded, place(frames))
                else:
                    hw, n, inputs = item
                    out = self._heatmap_fn(folded, place(inputs))
                if pending is not None:
                    emit(*self._finish(*pending))
                pending = (out, n, hw, fast, real_time)
            if pending is not None:
                emit(*self._finish(*pending))
        finally:
            batches.close()
            bar.close()
        k = self.spec.num_keypoints
        coords_arr = np.concatenate(coords) if coords else np.zeros((0, k, 2), np.float32)
        conf_arr = np.concatenate(confs) if confs else np.zeros((0, k), np.float32)
        if len(coords_arr) == 0:
            raise VideoError(f"{os.fspath(video_path)!r} has no frames to track")
        meta = {"source": os.fspath(video_path), "model": f"efficientpose-{self.spec.variant}",
                "image_hw": [int(size[0]), int(size[1])], "stride": int(stride), "units": "pixels",
                "decoding": "real-time" if real_time else "offline",
                # keypoints are in the upright frame: the video's display rotation was applied before tracking
                "orientation": "upright", "rotation": int(video["rotation"])}
        times = video["times"][: len(coords_arr) * int(stride): int(stride)]
        return SkeletonSequence(coords_arr, fps=fps / int(stride), skeleton=self.skeleton, confidence=conf_arr,
                                metadata=meta, times=times)


# ------------------------------------------------------------------------------------------------------ labelled video
#: the default encoding of a labelled video, H.264 (libx264) in yuv420p with the index at the front of the MP4, which
#: every browser's HTML5 player plays: ``crf`` is the quality (0 lossless ... 51; 20 keeps the markers crisp),
#: ``preset`` trades encoding speed for file size only (superfast: about 1.4x veryfast's speed, 1.7x its size)
LABELLED_ENCODING = {"crf": 20, "preset": "superfast"}
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def check_labelled_output(out: str | os.PathLike, video: str | os.PathLike | None = None) -> pathlib.Path:
    """Check where a labelled video is to be written, before any work is done: an ``.mp4`` file (H.264 in MP4 is
    what browsers play) in an existing folder, not a folder, not the source video itself.

    Returns:
        the output path.

    Raises:
        VideoWriteError: what is wrong with the path, and what to do.
    """
    path = pathlib.Path(out)
    if path.suffix.lower() != ".mp4":
        raise VideoWriteError(f"cannot write the labelled video to {path}: it is written as H.264 in MP4 (what "
                              f"browsers play), so the name must end in .mp4, e.g. {path.with_suffix('.mp4').name}")
    if path.is_dir():
        raise VideoWriteError(f"cannot write the labelled video to {path}: it is a folder; give a file name inside "
                              "it, e.g. video.labelled.mp4")
    if not path.parent.is_dir():
        raise VideoWriteError(f"cannot write the labelled video to {path}: folder {path.parent} does not exist; "
                              "create it first or write somewhere else")
    if video is not None and path.exists() and os.path.samefile(path, video):
        raise VideoWriteError(f"cannot write the labelled video to {path}: that is the source video; choose "
                              "another name, e.g. " + path.with_name(path.stem + ".labelled.mp4").name)
    return path


def _output_time_base(source) -> fractions.Fraction:
    """The source's own clock when an MP4 can store it (1/N s), so its frame times are kept exactly; else 1/90000 s."""
    tb = source.time_base
    if tb is not None and tb.numerator == 1 and 1 < tb.denominator < 2**31:
        exact = np.rint(source.times / float(tb))
        if len(np.unique(exact)) == len(exact) and np.allclose(exact * float(tb), source.times, atol=1e-9):
            return tb
    return fractions.Fraction(1, 90000)


def write_labelled_video(video: str | os.PathLike, keypoints: SkeletonSequence, out: str | os.PathLike, *,
                         skeleton: str | _skeleton.Skeleton | None = None, min_confidence: float = 0.0,
                         stride: int = 1, max_frames: int | None = None, progress: bool = True,
                         crf: int | None = None, preset: str | None = None, chunk: int = 32) -> pathlib.Path:
    """Write a copy of ``video`` with the keypoints drawn on every frame, to check the tracking by eye.

    Keypoint frame ``i`` is drawn on video frame ``i · stride`` (the frames :meth:`PosePredictor.track` read with
    the same ``stride`` and ``max_frames``): joints are discs coloured by confidence (red 0, yellow 0.5, green 1;
    cyan when unknown), bones white lines between the joints of the skeleton's edges, missing joints (NaN, or a
    confidence below ``min_confidence``) not drawn (:func:`infantjax.explain.overlay.draw_keypoints`). Frames are
    upright (a phone video's display rotation applied, as the keypoints are) and keep the source's presentation
    times (a variable frame rate is kept: each frame is written with its own timestamp, on the source's clock where
    MP4 can store it). The file is H.264 (libx264, yuv420p; an odd width or height is padded by one pixel at the
    right or bottom edge) in MP4 with the index at the front, so a browser's video player plays it while it
    loads. The video is read and written in chunks (bounded memory for any length; the next two chunks are decoded
    in a background thread while one is encoded), and the file is written atomically (a temporary file renamed at
    the end: an interrupted run leaves no partial file).

    Arguments:
        video: the video the keypoints were tracked in.
        keypoints: its :class:`~infantjax.sequence.SkeletonSequence` (pixels in the upright frame, as
            :meth:`PosePredictor.track` returns them).
        out: the ``.mp4`` file to write.
        skeleton: draw the keypoints on this skeleton (they are mapped to it with
            :meth:`SkeletonSequence.map_to`); default the keypoints' own.
        min_confidence: joints below this confidence are not drawn. The default, 0, draws every joint that has
            coordinates — what the CP model is given (``infantjax predict`` masks no keypoint unless asked), with
            its confidence in its colour; 0.3 hides what EfficientPose's real-time decoding calls missing, 0.6 is
            DeepLabCut's ``pcutoff``.
        stride, max_frames: which frames the keypoints are of, as in :meth:`PosePredictor.track`.
        progress: a tqdm progress bar.
        crf, preset: libx264's quality (0 ... 51) and speed preset (ultrafast ... veryslow); defaults
            :data:`LABELLED_ENCODING`.
        chunk: frames decoded, drawn and encoded at a time.

    Returns:
        the path written.

    Raises:
        VideoWriteError: a bad output path (:func:`check_labelled_output`), or an FFmpeg without libx264.
        VideoError: a missing or undecodable video.
        DataError: keypoints that are not of this video: another number of frames, other frame times, another
            frame size.
        SkeletonMismatchError: keypoints that cannot be mapped to ``skeleton``.
    """
    from tqdm.auto import tqdm

    from infantjax.explain.overlay import check_min_confidence, draw_keypoints
    from infantjax.io import VideoWriter, open_video

    out = check_labelled_output(out, video)
    if not isinstance(keypoints, SkeletonSequence):
        raise DataError(f"keypoints must be a SkeletonSequence (PosePredictor.track, infantjax.io.read_keypoints), "
                        f"got {type(keypoints).__name__}")
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ConfigError(f"stride must be a whole number >= 1, got {stride!r}")
    if int(chunk) < 1:
        raise ConfigError(f"chunk must be >= 1, got {chunk}")
    crf = LABELLED_ENCODING["crf"] if crf is None else crf
    preset = LABELLED_ENCODING["preset"] if preset is None else preset
    if isinstance(crf, bool) or not isinstance(crf, (int, np.integer)) or not 0 <= crf <= 51:
        raise ConfigError(f"crf must be a whole number from 0 (lossless) to 51, got {crf!r}")
    if preset not in X264_PRESETS:
        raise ConfigError(f"preset must be one of {', '.join(X264_PRESETS)}, got {preset!r}")
    threshold = check_min_confidence(min_confidence)
    units = keypoints.metadata.get("units")
    if units is not None and units != "pixels":
        raise DataError(f"the keypoints are in {units!r}, not pixels of the video's frames; convert them to pixels "
                        "(x right, y down, in the upright frame) before drawing them")
    if skeleton is not None and _skeleton.get(skeleton).name != keypoints.skeleton.name:
        keypoints = keypoints.map_to(skeleton)
    try:
        import av

        av.Codec("libx264", "w")
    except (ValueError, av.error.FFmpegError):
        raise VideoWriteError(f"cannot write {out}: this FFmpeg build has no libx264 (H.264) encoder, which "
                              "browsers need; install PyAV's wheels from PyPI (`pip install -U av`), which bundle it") \
            from None
    with open_video(video) as source:
        stop = len(source) if max_frames is None else min(len(source), int(max_frames))
        chosen = np.arange(0, stop, int(stride))
        what = f"the keypoints ({keypoints.num_frames} frames) of {keypoints.metadata.get('source') or 'the input'}"
        if keypoints.num_frames != len(chosen):
            every = f"every {stride}-th frame of " if stride > 1 else ""
            raise DataError(f"{what} do not match {video}: it has {len(chosen)} frames ({every}{stop} decoded); "
                            "frame i of the keypoints must be frame i of the video — pass the video they were tracked "
                            "in, with the same stride and max_frames")
        times = np.asarray(source.times)[chosen]
        if keypoints.times is not None and len(times):
            step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / source.fps
            gap = np.abs(keypoints.times - times)
            if gap.max() > max(1e-3, 0.25 * step):
                k = int(np.argmax(gap))
                raise DataError(f"{what} do not match {video}: keypoint frame {k} is at {keypoints.times[k]:.3f} s "
                                f"but the video's frame {int(chosen[k])} at {times[k]:.3f} s; pass the video they "
                                "were tracked in")
        hw = keypoints.metadata.get("image_hw")
        if isinstance(hw, (list, tuple)) and len(hw) == 2 and tuple(int(v) for v in hw) != tuple(source.frame_size):
            raise DataError(f"{what} were tracked in {hw[1]}x{hw[0]} frames but {video}'s upright frames are "
                            f"{source.frame_size[1]}x{source.frame_size[0]}; pass the video they were tracked in")
        h, w = source.frame_size
        pad = (h % 2, w % 2)
        fps = float(source.fps) / int(stride)
        bar = tqdm(total=len(chosen), desc=f"label {os.path.basename(os.fspath(video))}", unit="frame",
                   disable=not progress)
        done = 0
        # the next chunks are decoded in a background thread (FFmpeg releases the GIL) while this one is encoded
        chunks = _Prefetch(source.iter_chunks(int(chunk) * int(stride), stop=stop), depth=2)
        try:
            with VideoWriter(out, fps, codec="libx264", crf=int(crf), options={"preset": preset},
                             container_options={"movflags": "+faststart"},
                             time_base=_output_time_base(source)) as writer:
                for start, frames in chunks:
                    keep = np.nonzero((np.arange(start, start + len(frames)) % int(stride)) == 0)[0]
                    if not len(keep):
                        continue
                    frames = frames[keep] if len(keep) < len(frames) else frames
                    rows = slice(done, done + len(keep))
                    conf = None if keypoints.confidence is None else keypoints.confidence[rows]
                    drawn = draw_keypoints(frames, keypoints.coords[rows, :, :2], conf, keypoints.skeleton,
                                           min_confidence=threshold, copy=not frames.flags.writeable)
                    if any(pad):
                        drawn = np.pad(drawn, ((0, 0), (0, pad[0]), (0, pad[1]), (0, 0)), mode="edge")
                    writer.write(drawn, times[rows])
                    done += len(keep)
                    bar.update(len(keep))
                if done != len(chosen):  # leaves no file: the writer is aborted
                    raise VideoError(f"{video}: decoded {done} of {len(chosen)} frames; the file is damaged")
        finally:
            chunks.close()
            bar.close()
    return out


# ------------------------------------------------------------------------------------------------------ synthetic
def infant_spec(variant: str = "rt", resolution: int = 128) -> EfficientPoseSpec:
    """EfficientPose (full graph) for the In-Motion 19 keypoints: K = 19, P = 2 · 18 limbs."""
    limbs = len(_skeleton.get(SKELETON).edges)
    return EfficientPoseSpec(variant, num_keypoints=19, num_pafs=2 * limbs, resolution=int(resolution))


def finetune_synthetic(mpii_variables: dict, *, variant: str = "rt", resolution: int = 128, frames: int = 256,
                       config: PoseConfig | None = None, seed: int = 0, progress: bool = True,
                       start: PosePredictor | None = None, hooks: Sequence[Hook] = (),
                       ) -> tuple[PosePredictor, list[float]]:
    """Fine-tune EfficientPose from MPII weights to the In-Motion 19 keypoints on rendered synthetic infants.

    Arguments:
        mpii_variables: Flax variables of the official model (``load_efficientpose_h5(path).variables``); unused
            when ``start`` is given.
        variant: EfficientPose variant of those weights (``rt``, ``i``, ...).
        resolution: network input R (the official RT uses 224; 128 keeps a CPU fine-tune short).
        frames: rendered training frames (seed ``seed``).
        config: training configuration (default :func:`~infantjax.train.pose.default_finetune_config`).
        seed: render, head-initialisation and training seed.
        progress: tqdm progress bar.
        start: continue training this In-Motion 19 predictor instead (its spec and resolution).
        hooks: engine hooks every N steps (e.g. held-out validation during training).

    Returns:
        the fine-tuned :class:`PosePredictor` (skeleton ``in-motion-19``) and the loss of every step.
    """
    from infantjax.train.engine import fit  # training: loading and predicting never import infantjax.train
    from infantjax.train.pose import PoseData, PoseTask, default_finetune_config

    config = (config or default_finetune_config(frames=frames)).replace(progress=progress)
    if start is not None:
        spec, variables = start.spec, start.variables
    else:
        spec = infant_spec(variant, resolution)
        variables = finetune_variables(mpii_variables, spec, jax.random.PRNGKey(seed))
    inputs, frac, _, _ = synthetic_examples(frames, spec.resolution, seed=seed)
    result = fit(PoseTask(spec, config, SKELETON), [PoseData(inputs, frac)], seeds=[seed], initial=variables,
                 hooks=hooks, desc=f"fine-tune {spec.variant}")
    return PosePredictor(spec, result.instance(0), SKELETON), result.step_losses[:, 0].tolist()


def evaluate_synthetic(predictor: PosePredictor, n: int = 96, *, seed: int = 10_000,
                       rotation_deg: Sequence[float] = ROTATION, batch_size: int = 32) -> dict:
    """PCKh@τ, ME and PCKh@Human^0.95 (:func:`~infantjax.metrics.pose.pose_metrics`) of a predictor on held-out rendered frames
    (rendered at the predictor's resolution; seeds ≥ 10,000 are never used for training here)."""
    r = predictor.resolution
    _, _, frames, kp = synthetic_examples(n, r, seed=seed, rotation_deg=rotation_deg)
    xy = np.concatenate([predictor.keypoints_batch(frames[s:s + batch_size], pad_to=batch_size)[0]
                         for s in range(0, len(frames), batch_size)])
    return pose_metrics(xy * r - PIXEL_OFFSET, kp, predictor.skeleton)


@dataclasses.dataclass(frozen=True, eq=False)
class SyntheticTrack:
    """Result of :func:`track_synthetic_video`.

    ``sequence``: the tracked :class:`SkeletonSequence` (pixels as ``PosePredictor.track`` reports them);
    ``truth``: (T, 19, 2) rendered keypoints in the same pixel frame; ``pckh``: PCKh@0.5 of the tracking against
    the truth; ``metrics``: all of :func:`~infantjax.metrics.pose.pose_metrics`; ``video``: path of the rendered video (None when it was
    written to a temporary directory that is gone).
    """

    sequence: SkeletonSequence
    truth: np.ndarray
    pckh: float
    metrics: dict
    video: str | None


def track_synthetic_video(predictor: PosePredictor | None = None, *, duration_s: float = 10.0, fps: float = 15.0,
                          size: tuple[int, int] | None = None, seed: int = 0, video_path: str | None = None,
                          batch_size: int = 16, progress: bool = False) -> SyntheticTrack:
    """Render one synthetic infant video, track it and score the keypoints against the rendered truth.

    Arguments:
        predictor: an In-Motion 19 predictor (default ``PosePredictor.pretrained("rt-synthetic-infant")``).
        duration_s: video length in seconds.
        fps: frame rate.
        size: (height, width) of the video (default the predictor's square resolution).
        seed: the infant, its movements, camera and appearance.
        video_path: where to write the video (default a temporary file, deleted afterwards).
        batch_size: frames per forward pass.
        progress: progress bar while tracking.

    Returns:
        a :class:`SyntheticTrack` (sequence, truth, PCKh@0.5, metrics, video path).
    """
    from infantjax import synth
    from infantjax.io import write_video
    from infantjax.synth.rendering import render, sample_appearance

    predictor = predictor or PosePredictor.pretrained("rt-synthetic-infant")
    if predictor.skeleton.name != SKELETON:
        raise ConfigError(f"track_synthetic_video needs an {SKELETON} predictor, got {predictor.skeleton.name!r}")
    if not (duration_s > 0 and fps > 0):
        raise ConfigError(f"duration_s and fps must be > 0, got {duration_s} and {fps}")
    h, w = (predictor.resolution, predictor.resolution) if size is None else (int(size[0]), int(size[1]))
    rng = np.random.default_rng(seed)
    body = synth.infant(rng)
    motion = synth.generate(body, synth.typical_profile(rng), duration_s=float(duration_s), fps=float(fps),
                            seed=int(rng.integers(2 ** 31)))
    camera = synth.sample_camera(synth.RecordingConfig(width=w, height=h), body.trunk_length, rng)
    frames, truth = [], []
    for out in render(motion.points, body, camera, sample_appearance(rng), batch=16):
        frames.append(out.frames)
        truth.append(out.select(SKELETON)[0])
    truth_px = np.concatenate(truth).astype(np.float32) + PIXEL_OFFSET
    with tempfile.TemporaryDirectory() as tmp:
        path = video_path or os.path.join(tmp, "synthetic_infant.mp4")
        write_video(path, np.concatenate(frames), fps=float(fps))
        seq = predictor.track(path, batch_size=batch_size, progress=progress)
    metrics = pose_metrics(seq.coords, truth_px, SKELETON)
    log.info("tracked %d synthetic frames: PCKh@0.5 = %.3f", seq.num_frames, metrics["pckh@0.5"])
    return SyntheticTrack(seq, truth_px, float(metrics["pckh@0.5"]), metrics, video_path)


# ------------------------------------------------------------------------------------------------------ helpers


class _Prefetch:
    """Iterate ``items`` in a background thread, at most ``depth`` ahead (video decoding releases the GIL, so it
    overlaps with the jitted forward). ``close()`` stops the thread, whether or not iteration began; an exception
    raised in the thread is raised by ``next``."""

    _DONE = object()

    def __init__(self, items: Iterator, depth: int = 2):
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="infantjax-video-decode", daemon=True)
        self._thread.start()

    def _put(self, entry) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self):
        try:
            for item in self._items:
                if not self._put((None, item)):
                    return
            self._put((None, self._DONE))
        except BaseException as err:  # noqa: BLE001 - handed to the consuming thread
            self._put((err, None))

    def __iter__(self):
        return self

    def __next__(self):
        err, item = self._queue.get()
        if err is not None:
            self.close()
            raise err
        if item is self._DONE:
            self.close()
            raise StopIteration
        return item

    def close(self):
        self._stop.set()
        self._thread.join()
        close = getattr(self._items, "close", None)
        if close is not None:
            close()


def _identity(x):
    return x


def _data_mesh(data_parallel: bool | None):
    """A 1-D ``data`` mesh over this process's devices for data-parallel inference, or None (one device)."""
    devices = jax.local_devices()
    if data_parallel is None:
        data_parallel = backend.current().data_parallel_inference
    if not data_parallel or len(devices) < 2:
        return None
    return parallel.build_mesh((len(devices),), (parallel.DATA,), devices)


def _batched(frames: Iterator[np.ndarray], batch_size: int) -> Iterator[np.ndarray]:
    buf: list[np.ndarray] = []
    for frame in frames:
        buf.append(frame)
        if len(buf) == batch_size:
            yield np.stack(buf)
            buf = []
    if buf:
        yield np.stack(buf)


def _open_frames(video_path, stride: int, max_frames: int | None, chunk: int = 64,
                 ) -> tuple[Iterator[np.ndarray], dict, int]:
    """Upright frames (H, W, 3) uint8 RGB of every ``stride``-th frame, decoded in chunks (bounded memory), what the
    video says about them (``fps``, ``size`` (H, W), ``rotation``, ``times`` of every frame) and the frame count."""
    from infantjax.io import open_video

    source = open_video(video_path)  # VideoError for missing / empty / undecodable files
    total = len(source) if max_frames is None else min(len(source), int(max_frames))
    if source.rotation:
        log.info("%s: display rotation %d° applied; keypoints refer to the upright %dx%d frames", video_path,
                 source.rotation, source.frame_size[1], source.frame_size[0])
    video = {"fps": float(source.fps), "size": tuple(source.frame_size), "rotation": source.rotation,
             "times": np.asarray(source.times)}

    def gen():
        try:
            for start, frames in source.iter_chunks(chunk, stop=total):
                for i, frame in enumerate(frames):
                    if (start + i) % stride == 0:
                        yield frame
        finally:
            source.close()

    return gen(), video, total


def _pose_graph(predictor) -> Deployable:
    """The folded inference graph of a :class:`~infantjax.pipelines.pose.PosePredictor` (module docstring).

    Preprocess images as ``predictor.preprocess`` does (the official rescaling, padding and normalisation) before
    running the exported file; decode its heatmaps with :func:`infantjax.models.pose.decode_heatmaps` or take the
    arg-max of each channel.
    """
    from infantjax.models.pose.inference import InferenceOptions, default_options, efficientpose_heatmaps

    spec, r = predictor.spec, predictor.resolution
    folded = jax.tree_util.tree_map(np.asarray, predictor.inference_variables())

    def graph(forms: str) -> Callable:
        if forms != "cpu":  # XLA's grouped depthwise convolution: Conv(group=C) / DEPTHWISE_CONV_2D natively
            options = InferenceOptions(depthwise="conv", microbatch=None, se_fold=False)
        else:  # the CPU forms, whole batches (a symbolic batch cannot be cut into microbatches)
            options = dataclasses.replace(default_options("cpu"), microbatch=None)

        def fn(x):
            return (efficientpose_heatmaps(folded, x, spec, options),)

        return fn

    def reference(x: np.ndarray) -> tuple:
        return (predictor.forward(x),)

    def sample(n: int, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        images = rng.integers(0, 256, (n, r, r * 3 // 4, 3), dtype=np.uint8)  # portrait: the padding is exercised
        return np.stack([predictor.preprocess(im) for im in images]).astype(np.float32)

    k = spec.num_keypoints
    return Deployable(
        f"EfficientPose {spec.variant} ({predictor.skeleton.name}, {r} px)", "pose", graph, "images", (r, r, 3),
        f"(N, {r}, {r}, 3) float32 images preprocessed as PosePredictor.preprocess does (rescaled and padded to "
        f"{r} × {r}, {'[-1, 1]' if spec.lite else 'ImageNet mean/std'} normalisation), channels last",
        ("heatmaps",), (f"(N, {r}, {r}, {k}) upscaled heatmaps of the {k} keypoints of {predictor.skeleton.name}",),
        reference, sample,
        {"model": "pose", "spec": spec.to_dict(), "skeleton": predictor.skeleton.name, "info": dict(predictor.info)})
