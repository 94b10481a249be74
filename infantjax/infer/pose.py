"""The pose family: a pose network with its variables, preprocessing and decoding (:class:`PosePredictor`), a video
→ keypoints (:meth:`PosePredictor.track`, every family's ``predict``), registered as the family ``pose``.

``PosePredictor.from_keras_h5(path)`` reproduces the official EfficientPose implementation on the official
weights (preprocessing, network and offline/real-time decoding; data/efficientpose/README.md). A predictor saves
in the common trained-model format (:class:`~infantjax.infer.trained.TrainedModel`): a folder (``model.json`` +
Orbax ``variables/``) or one ``.npz`` file (``__header__`` + ``variables/<path>``, float16 storage optional). The
single-file format the pose predictor wrote before (``__meta__``, :data:`LEGACY_FORMAT`: the shipped zoo's pose
entries, ``experiments/convert_mpii_zoo.py`` before this version) is still read (:func:`read_weights`).

Videos are decoded in chunks in a background thread, frames are batched through one jitted forward pass (the
folded inference graph, :mod:`infantjax.models.pose.inference`) and decoded on the host, so memory stays bounded for
any video length. Nothing here trains: fine-tuning is :mod:`infantjax.train.pose` (``PoseTask``), the synthetic
fine-tuning and evaluation drivers and the labelled video are in :mod:`infantjax.pipelines.pose`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import pathlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Float, UInt8

from infantjax import backend
from infantjax import skeleton as _skeleton
from infantjax.errors import CheckpointError, ConfigError, DataError
from infantjax.infer.graph import Deployable
from infantjax.infer.registry import register_family
from infantjax.infer.store import unflatten_tree
from infantjax.infer.trained import NPZ_HEADER, TrainedModel
from infantjax.models.pose import zoo as _zoo
from infantjax.models.pose.decode import REALTIME_THRESHOLD, decode_heatmaps, peak_values, undo_padding
from infantjax.models.pose.device_ops import decode_peaks, frame_geometry, preprocess_frames
from infantjax.models.pose.efficientpose import EfficientPose, EfficientPoseSpec
from infantjax.models.pose.inference import (
    InferenceOptions,
    default_options,
    efficientpose_heatmaps,
    fold_efficientpose,
    make_heatmap_fn,
    map_microbatches,
)
from infantjax.preprocess.image import check_image, preprocess
from infantjax.sequence import SkeletonSequence

__all__ = ["LEGACY_FORMAT", "PRETRAINED", "PosePredictor", "PoseWeights", "pretrained_network", "read_weights"]

log = logging.getLogger(__name__)

#: The ``format`` of the single-file pose weights written before the common format (``__meta__`` + flat variables):
#: read, never written.
LEGACY_FORMAT = "infantjax-pose-predictor-v1"
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
    skeleton: str | _skeleton.Skeleton
    info: dict


def read_weights(path: str | os.PathLike) -> PoseWeights:
    """The network in a pose weights file: a ``.npz`` in the common format (:meth:`PosePredictor.save`) or in the
    single-file format written before it (``__meta__``,
    :data:`LEGACY_FORMAT`: the shipped zoo's pose entries until 2026-11-24).

    Raises:
        CheckpointError: a missing, damaged or foreign file, non-finite weights, incomplete metadata.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"pose weights {path!r} do not exist")
    if not _is_legacy(path):
        predictor = PosePredictor.load(path)
        return PoseWeights(predictor.spec, predictor.variables, predictor.skeleton.name, dict(predictor.info))
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
            flat = {k: data[k] for k in data.files if k != "__meta__"}
    except (OSError, ValueError, KeyError, EOFError) as err:
        raise CheckpointError(f"{path!r} is not a pose predictor file written by PosePredictor.save ({err})") \
            from None
    if not isinstance(meta, dict) or meta.get("format") != LEGACY_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{path!r}: unknown format {found!r}, expected {LEGACY_FORMAT}; write the file with "
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


def _is_legacy(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a ``.npz`` of the older pose format: ``__meta__`` and no common header (an unreadable
    file counts as one, so that :func:`read_weights` names what is wrong with it)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return NPZ_HEADER not in data.files
    except (OSError, ValueError, EOFError):
        return True


def pretrained_network(name: str) -> PoseWeights:
    """The network of a shipped zoo entry (:func:`infantjax.models.pose.available`) by name: spec, variables,
    skeleton and provenance (the network :meth:`PosePredictor.pretrained` loads).

    Raises:
        ConfigError: an unknown name (the message lists the names). CheckpointError: the packaged file is
            missing or damaged.
    """
    with _zoo.weights_file(name) as path:
        return read_weights(path)


@register_family(recording="a video file (its path); frames in memory: keypoints_frames",
                 zoo=_zoo.available())  # its shipped models, declared beside its weights (models/pose/zoo.py)
class PosePredictor(TrainedModel):
    """A pose network with its variables, preprocessing and decoding (a
    :class:`~infantjax.infer.trained.TrainedModel` of one instance: ``save`` / ``load`` of a folder or a ``.npz``
    in the common format; the older pose ``.npz`` and the official Keras ``.h5`` are read too).

    ``PosePredictor.pretrained(name)`` gives a predictor shipped with the package (the offline zoo,
    :func:`infantjax.models.pose.available`; default ``rt-synthetic-infant-roi``):
    ``efficientpose-{rt,i,rt-lite,i-lite}-mpii`` are the official MPII-trained EfficientPose weights (16 MPII
    keypoints; Apache-2.0, see the package's NOTICE), converted value for value from the official Keras files;
    ``rt-synthetic-infant-roi`` is EfficientPose RT trained to the In-Motion 19 keypoints on the infant tracker's
    region-of-interest crops of rendered synthetic infants (it tracks with the region of interest, sub-pixel
    decoding and consistent sides, :attr:`tracking`), ``rt-synthetic-infant`` its predecessor fine-tuned on whole
    rendered frames: both have seen synthetic renders only; use them for demos and tests on synthetic videos, not
    on real infants.

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
        exp_shapes = jax.tree_util.tree_map(lambda a: tuple(a.shape), _variable_shapes(spec))
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
    def _from_weights(cls, weights: PoseWeights) -> PosePredictor:
        predictor = cls(weights.spec, weights.variables, weights.skeleton)
        predictor.info = dict(weights.info)
        return predictor

    def save(self, path: str | os.PathLike, dtype: str = "float32", info: dict | None = None,
             compress: bool = False) -> pathlib.Path:
        """Write the predictor in the common trained-model format: a folder (``model.json`` + Orbax
        ``variables/``, :meth:`TrainedModel.save`) or, for a path ending ``.npz``, one file
        (:meth:`TrainedModel.save_file`: the header under ``__header__``, atomic, no pickle).

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
        if os.fspath(path).lower().endswith(".npz"):
            return self.save_file(path, dtype=dtype, compress=compress)
        return super().save(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> PosePredictor:
        """Read a predictor: a folder or ``.npz`` written by :meth:`save`, a ``.npz`` of the older pose format
        (:func:`read_weights`), or an official Keras ``.h5`` (:meth:`from_keras_h5`)."""
        name = os.fspath(path)
        if name.lower().endswith((".h5", ".hdf5", ".keras")):
            return cls.from_keras_h5(name)
        if not os.path.isdir(name) and (not os.path.isfile(name) or _is_legacy(name)):
            return cls._from_weights(read_weights(name))
        return super().load(name)

    @classmethod
    def recognises(cls, path: pathlib.Path) -> bool:
        """An official EfficientPose Keras file (``.h5``, ``.hdf5``, ``.keras``) or a pose weights ``.npz`` of the
        older format (``__meta__`` and no common header)."""
        if path.is_file() and path.suffix.lower() in (".h5", ".hdf5", ".keras"):
            return True
        if not (path.is_file() and path.suffix.lower() == ".npz"):
            return False
        try:
            with np.load(path, allow_pickle=False) as data:
                return "__meta__" in data.files
        except (OSError, ValueError, EOFError):
            return False

    # the common format's hooks: one instance, no training config; the header keeps the skeleton
    kind, spec_type, title = "pose", EfficientPoseSpec, "a pose predictor saved by PosePredictor.save"
    #: the module of its training task (PoseTask, which trains the network a predictor is built from)
    training_module = "infantjax.train.pose"

    @property
    def config(self):
        return None

    def header(self) -> dict:
        head = {"spec": self.spec.to_dict(), "skeleton": self.skeleton.name, "instances": 1, "info": self.info}
        if not _registered(self.skeleton):  # a lab's own body parts: the definition travels with the model
            head["skeleton_definition"] = self.skeleton.to_dict()
        return head

    def saved_variables(self) -> dict:
        return jax.tree_util.tree_map(lambda a: np.asarray(a)[None], jax.device_get(self.variables))

    @classmethod
    def abstract_variables(cls, header) -> dict:
        shapes = _variable_shapes(cls.spec_from(header))
        return jax.tree_util.tree_map(lambda s: jax.ShapeDtypeStruct((1, *s.shape), s.dtype), shapes)

    @classmethod
    def from_saved(cls, header, variables) -> PosePredictor:
        skeleton = header["skeleton"]
        if isinstance(header.get("skeleton_definition"), dict):
            try:
                skeleton = _skeleton.define(header["skeleton_definition"])
            except ConfigError as err:
                raise CheckpointError(f"the model's skeleton cannot be read back: {err}") from None
        weights = PoseWeights(cls.spec_from(header), jax.tree_util.tree_map(lambda a: a[0], variables),
                              skeleton, dict(header.get("info") or {}))
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

    def example_input(self, seed: int = 0) -> tuple:
        """The path of a 4-frame 72 × 96 video of random pixels at 15 fps, written into a new temporary folder (the
        caller removes it); writing it needs PyAV (the video extra)."""
        import tempfile

        from infantjax.io.video_write import write_video

        rng = np.random.default_rng(seed)
        path = os.path.join(tempfile.mkdtemp(prefix="infantjax-example-"), "infant.mp4")
        write_video(path, rng.integers(0, 255, (4, 96, 72, 3), dtype=np.uint8), fps=15.0)
        return (path,)

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
        if not os.fspath(video_path):
            raise DataError("PosePredictor.predict takes the path of a video file, got an empty path")
        return self.track(video_path, **kwargs)

    @property
    def tracking(self):
        """The settings this model tracks videos with by default (:class:`~infantjax.infer.tracking.Tracking`):
        those stored with its weights (``info["tracking"]``, e.g. the infant model's region of interest and
        sub-pixel decoding), else the official reference path."""
        from infantjax.infer.tracking import Tracking

        return Tracking.of(self.info.get("tracking"))

    def track(self, video_path: str | os.PathLike, *, stride: int = 1, batch_size: int = 16,
              real_time: bool = False, progress: bool | Callable[[int], object] = True,
              max_frames: int | None = None,
              fast: bool = False, data_parallel: bool | None = None, tracking=None,
              decoding: str | None = None, roi: bool | None = None,
              smoothing_hz: float | None = None, sides: str | None = None) -> SkeletonSequence:
        """Keypoints of every ``stride``-th frame of a video as a :class:`SkeletonSequence` (pixels, confidences).

        Two paths: the official reference (the whole letterboxed frame, integer arg-max; the MPII models'
        default) and the infant tracker (a region of interest that follows the infant, sub-pixel decoding,
        optional smoothing; :mod:`infantjax.infer.tracking`), chosen by the model's :attr:`tracking` settings
        unless ``tracking`` (``"reference"``, ``"infant"``, a :class:`~infantjax.infer.tracking.Tracking`) or
        ``decoding`` / ``roi`` / ``smoothing_hz`` / ``sides`` say otherwise.

        Arguments:
            video_path: a video file readable by :func:`infantjax.io.open_video`.
            stride: keep every stride-th frame (the sequence's fps is divided accordingly).
            batch_size: frames per jitted forward pass; memory is bounded by it whatever the video length.
            real_time: use the real-time decoding (peaks < 0.3 -> NaN) instead of the offline one.
            progress: show a tqdm progress bar; or a function called with the number of frames of every batch
                as it is done (a caller's own progress bar), and no bar of its own.
            max_frames: stop after this many decoded frames (None: the whole video).
            fast: preprocess and decode inside the jitted forward in float32 (:meth:`keypoints_frames`, several
                times faster end to end) instead of the official float64 host code; the keypoints can then differ
                where the reference's uint8 truncation of a near-integer value goes the other way (see
                ``models/pose/device_ops.py``). Either way frames are decoded (and, by default, preprocessed) in
                a background thread while the previous batch runs through the network.
            data_parallel: split every batch over this process's devices (mesh axis ``data``; the batch is rounded
                up to a multiple of the device count). None: when there are several accelerators (not on CPU,
                where the host "devices" share the same cores). The keypoints equal the one-device run's.
            tracking: the tracking settings (default the model's :attr:`tracking`).
            decoding: ``"reference"`` or ``"subpixel"``, overriding the settings'.
            roi: follow the infant with a region of interest (True) or letterbox the whole frame (False).
            smoothing_hz: low-pass cut-off of the keypoint tracks (None: the settings').
            sides: ``"consistent"`` to undo left/right swaps of single frames, ``"as-detected"`` to keep them.

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
        from infantjax.infer.tracking import Tracking, finish, track_reference, track_video

        settings = Tracking.of(tracking, self.tracking).replace(decoding=decoding, roi=roi,
                                                                 smoothing_hz=smoothing_hz, sides=sides)
        if not settings.reference_network:
            return track_video(self, video_path, settings, stride=stride, batch_size=batch_size,
                               real_time=real_time, progress=progress, max_frames=max_frames)
        seq = track_reference(self, video_path, stride=stride, batch_size=batch_size, real_time=real_time,
                              progress=progress, max_frames=max_frames, fast=fast, data_parallel=data_parallel)
        return seq if settings.is_reference else finish(seq, settings)


def _registered(skeleton: _skeleton.Skeleton) -> bool:
    """Whether ``skeleton`` is the registered skeleton of its name (same keypoints and edges)."""
    try:
        known = _skeleton.get(skeleton.name)
    except ConfigError:
        return False
    return known.keypoints == skeleton.keypoints and tuple(map(tuple, known.edges)) == tuple(map(tuple,
                                                                                                 skeleton.edges))


@functools.lru_cache(maxsize=32)
def _variable_shapes(spec: EfficientPoseSpec) -> dict:
    """Shapes and dtypes of the variables of the network of ``spec`` (nothing computed; traced once per spec: the
    trace of EfficientPose's initialisation takes most of a second, and every predictor built checks its variables
    against it). Read only: callers map it, never change it."""
    model = EfficientPose(spec)
    return dict(jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3), jnp.float32))))


def _pose_graph(predictor) -> Deployable:
    """The folded inference graph of a :class:`PosePredictor` (module docstring).

    Preprocess images as ``predictor.preprocess`` does (the official rescaling, padding and normalisation) before
    running the exported file; decode its heatmaps with :func:`infantjax.models.pose.decode_heatmaps` or take the
    arg-max of each channel.
    """
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
