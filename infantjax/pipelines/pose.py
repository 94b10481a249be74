"""Video → keypoints, end to end: the pose family's trained model (:class:`PosePredictor`, defined with its
tracking in :mod:`infantjax.infer.pose` and re-exported here), the labelled video that shows its keypoints
(:func:`write_labelled_video`), and the same on rendered synthetic infants (fine-tuning, held-out evaluation,
tracking a rendered video against its truth).

Synthetic: :func:`finetune_synthetic` fine-tunes EfficientPose from the MPII weights to the In-Motion 19 keypoints
on rendered infants (seed 002, Paper II protocol at a small budget); :func:`evaluate_synthetic` scores held-out
renders; :func:`track_synthetic_video` tracks a rendered video against its exact keypoints. A network trained this
way has seen rendered capsule infants only and is not a detector for real infants.
"""

from __future__ import annotations

import dataclasses
import fractions
import logging
import os
import pathlib
import tempfile
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import jax
import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import ConfigError, DataError, VideoError, VideoWriteError
from infantjax.infer.pose import PRETRAINED, PosePredictor, PoseWeights, pretrained_network, read_weights
from infantjax.io.video import Prefetch
from infantjax.metrics.pose import pose_metrics
from infantjax.models.pose.efficientpose import EfficientPoseSpec
from infantjax.models.pose.init import finetune_variables
from infantjax.sequence import SkeletonSequence
from infantjax.synth.pose import PIXEL_OFFSET, ROTATION, SKELETON, roi_examples, synthetic_examples

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
                         stride: int = 1, max_frames: int | None = None, progress: bool | Callable = True,
                         crf: int | None = None, preset: str | None = None, chunk: int = 32) -> pathlib.Path:
    """Write a copy of ``video`` with the keypoints drawn on every frame, to check the tracking by eye.

    Keypoint frame ``i`` is drawn on video frame ``i · stride`` (the frames :meth:`PosePredictor.track` read
    with the same ``stride`` and ``max_frames``): joints are discs coloured by confidence on the explanations'
    sequential scale (:func:`infantjax.explain.confidence_colour`: light blue 0, purple 1; grey when unknown),
    bones white lines between the joints of the skeleton's edges, missing joints (NaN, or a confidence below
    ``min_confidence``) not drawn (:func:`infantjax.explain.overlay.draw_keypoints`). Frames are upright (a
    phone video's display rotation applied, as the keypoints are) and keep the source's presentation times (a
    variable frame rate is kept: each frame is written with its own timestamp, on the source's clock where MP4
    can store it). The file is H.264 (libx264, yuv420p; an odd width or height is padded by one pixel at the
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
        progress: a tqdm progress bar; or a function called with the number of frames of every chunk written
            (a caller's own bar), and no bar of its own.
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
                   disable=callable(progress) or not progress)
        tick = progress if callable(progress) else bar.update
        done = 0
        # the next chunks are decoded in a background thread (FFmpeg releases the GIL) while this one is encoded
        chunks = Prefetch(source.iter_chunks(int(chunk) * int(stride), stop=stop), depth=2)
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
                    tick(len(keep))
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
                       examples: str = "letterbox", data: tuple[np.ndarray, np.ndarray] | None = None,
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
        examples: ``"letterbox"`` (whole frames rendered at R × R, :func:`~infantjax.synth.pose.synthetic_examples`)
            or ``"roi"`` (the infant tracker's region-of-interest crops of 640 × 480-like frames with phone-like
            degradation, :func:`~infantjax.synth.pose.roi_examples`).
        data: the training examples (inputs (N, R, R, 3) uint8, keypoint fractions (N, K, 2)) instead of
            rendering ``frames`` of them.

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
    if data is not None:
        inputs, frac = data
    elif examples == "roi":
        inputs, frac, _ = roi_examples(frames, spec.resolution, seed=seed)
    elif examples == "letterbox":
        inputs, frac, _, _ = synthetic_examples(frames, spec.resolution, seed=seed)
    else:
        raise ConfigError(f"examples must be 'letterbox' or 'roi', got {examples!r}")
    result = fit(PoseTask(spec, config, SKELETON), [PoseData(inputs, frac)], seeds=[seed], initial=variables,
                 hooks=hooks, desc=f"fine-tune {spec.variant}")
    return PosePredictor(spec, result.instance(0), SKELETON), result.step_losses[:, 0].tolist()


def evaluate_synthetic(predictor: PosePredictor, n: int = 96, *, seed: int = 10_000,
                       rotation_deg: Sequence[float] = ROTATION, batch_size: int = 32, examples: str = "letterbox",
                       decoding: str = "reference", home_video: dict | None = None,
                       hidden_threshold: float | None = None) -> dict:
    """PCKh@τ, ME and PCKh@Human^0.95 (:func:`~infantjax.metrics.pose.pose_metrics`) of a predictor on held-out
    rendered frames (seeds ≥ 10,000 are never used for training here): whole frames rendered at the predictor's
    resolution (``examples="letterbox"``, the official decoding path) or the tracker's region-of-interest crops
    (``"roi"``, :func:`~infantjax.synth.pose.roi_examples`) decoded with ``decoding`` (``"reference"`` or
    ``"subpixel"``); also ``median_px``, the median error in input pixels.

    ``home_video`` (``"roi"`` only): the shares of :func:`~infantjax.synth.pose.roi_examples`' ``occluders``,
    ``grey``, ``dim`` and ``shake`` of the held-out crops, e.g. ``{"occluders": 1.0}``. The metrics are then over the
    joints no occluder hides, and the result adds ``hidden`` (joints an occluder hides), ``hidden_peak`` and
    ``visible_peak`` (their mean heatmap peaks) and ``hidden_found``: the share of hidden joints whose peak is at
    least ``hidden_threshold`` (default the quality gate's ``Thresholds.low_confidence``) — joints the model draws
    where it cannot see."""
    r = predictor.resolution
    if home_video and examples != "roi":
        raise ConfigError("home_video perturbs the region-of-interest crops: pass examples='roi'")
    peaks = None
    if examples == "roi":
        from infantjax.infer.tracking import crop_keypoints

        inputs, frac, _ = roi_examples(n, r, seed=seed, **(home_video or {}))
        calls = [crop_keypoints(predictor, inputs[s:s + batch_size], decoding, pad_to=batch_size)
                 for s in range(0, len(inputs), batch_size)]
        xy, peaks = np.concatenate([c[0] for c in calls]), np.concatenate([c[1] for c in calls])
        pred, true = xy * r, frac * r
    elif examples == "letterbox":
        _, _, frames, kp = synthetic_examples(n, r, seed=seed, rotation_deg=rotation_deg)
        xy = np.concatenate([predictor.keypoints_batch(frames[s:s + batch_size], pad_to=batch_size)[0]
                             for s in range(0, len(frames), batch_size)])
        pred, true = xy * r - PIXEL_OFFSET, kp
    else:
        raise ConfigError(f"examples must be 'letterbox' or 'roi', got {examples!r}")
    hidden = ~np.isfinite(true).all(axis=-1)
    pred = np.where(hidden[..., None], np.nan, pred)  # an occluded joint is scored by its peak, not its place
    out = pose_metrics(pred, true, predictor.skeleton)
    out["median_px"] = float(np.nanmedian(np.linalg.norm(pred - true, axis=-1)))
    if peaks is not None and home_video:
        if hidden_threshold is None:
            from infantjax.clinical.quality import Thresholds

            hidden_threshold = Thresholds().low_confidence
        out["hidden"] = int(hidden.sum())
        out["visible_peak"] = float(peaks[~hidden].mean())
        out["hidden_peak"] = float(peaks[hidden].mean()) if hidden.any() else float("nan")
        out["hidden_found"] = float((peaks[hidden] >= hidden_threshold).mean()) if hidden.any() else float("nan")
    return out


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
        predictor: an In-Motion 19 predictor (default the zoo's infant model, ``rt-synthetic-infant-roi``).
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

    predictor = predictor or PosePredictor.pretrained("rt-synthetic-infant-roi")
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
        write_video(path, np.concatenate(frames), fps=float(fps), reproducible=True)
        seq = predictor.track(path, batch_size=batch_size, progress=progress)
    metrics = pose_metrics(seq.coords, truth_px, SKELETON)
    log.info("tracked %d synthetic frames: PCKh@0.5 = %.3f", seq.num_frames, metrics["pckh@0.5"])
    return SyntheticTrack(seq, truth_px, float(metrics["pckh@0.5"]), metrics, video_path)
