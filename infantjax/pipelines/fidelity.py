"""Is the video path faithful to the movements it measures? The chain video → keypoints → ensemble → risk judged on
rendered infants whose keypoints are known exactly (design section 5).

:func:`render_cohort` renders a held-out synthetic cohort to MP4 files with the renderer's exact keypoints beside
them (cached: a second call reuses the files); :func:`evaluate_chain` tracks every video with a pose model and scores
both the tracked and the exact keypoints with the same CP ensemble, and returns a :class:`ChainReport`:

* **pose precision** (Paper II's metrics): the median error in pixels and in head lengths (head top to upper neck),
  PCKh@0.1, @0.2 and @0.5 overall and per joint, and the share of keypoints lying on the lattice of the network's
  input pixels (the official integer arg-max puts every keypoint on a grid of ``long side / R`` pixels);
* **the answer's fidelity**: per infant |risk from the video − risk from the exact keypoints|, whether the class
  and the certainty colour agree, and the AUC of both risks against the labels;
* **speed**: seconds per stage (tracking, scoring), frames per second of the tracker.

``python benchmarks/chain.py`` runs it from the command line; any pose model or ensemble can be passed.

:func:`track_cohort` gives a synthetic cohort the keypoints a pose model tracks in its rendered videos, in place of
the simulated detector's: what a CP ensemble is trained on when it is to score tracked keypoints (the thesis trained
its GCNs on its tracker's keypoints).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib
import time

import numpy as np

from infantjax.errors import DataError

__all__ = ["ChainReport", "RenderedCohort", "evaluate_chain", "lattice_share", "render_cohort", "track_cohort"]

log = logging.getLogger(__name__)

#: the cohort's keypoints and labels beside its videos
TRUTH = "truth.npz"


@dataclasses.dataclass(frozen=True)
class RenderedCohort:
    """Rendered videos with their exact keypoints.

    ``videos``: paths of the MP4 files; ``truth``: per video (T, 19, 2) exact In-Motion 19 keypoints in the
    tracker's pixel convention (pixel ``j`` spans [j, j + 1)); ``labels``: CP (1) or not (0) per video;
    ``fps``: frame rate; ``size``: (height, width); ``seed``: the cohort's seed.
    """

    videos: tuple[pathlib.Path, ...]
    truth: tuple[np.ndarray, ...]
    labels: np.ndarray
    fps: float
    size: tuple[int, int]
    seed: int
    difficulty: str

    def __len__(self) -> int:
        return len(self.videos)


def render_cohort(out: str | os.PathLike, *, n: int = 32, seed: int = 4242, duration_s: float = 30.0,
                  fps: float = 30.0, size: tuple[int, int] = (480, 640), prevalence: float = 0.5,
                  difficulty: str = "default", progress: bool = True) -> RenderedCohort:
    """Render a synthetic CP cohort to ``out/infant_<i>.mp4`` with the exact keypoints in ``out/truth.npz``.

    A folder already holding the same cohort (same arguments, recorded in ``truth.npz``) is reused; videos are
    written atomically, so an interrupted call resumes where it stopped.

    Arguments:
        out: the folder.
        n: infants (one recording each).
        seed: the cohort's seed (the zoo's models were trained on seed 101; use any other).
        duration_s, fps, size: each video's length, frame rate and (height, width).
        prevalence: share of infants with CP.
        difficulty: the cohort's difficulty preset (:class:`infantjax.synth.Difficulty`).
        progress: a progress bar over the videos.
    """
    from infantjax import synth
    from infantjax.synth.pose import PIXEL_OFFSET

    folder = pathlib.Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    h, w = int(size[0]), int(size[1])
    recipe = {"n": int(n), "seed": int(seed), "duration_s": float(duration_s), "fps": float(fps),
              "size": [h, w], "prevalence": float(prevalence), "difficulty": str(difficulty)}
    truth_file = folder / TRUTH
    if truth_file.is_file():
        with np.load(truth_file, allow_pickle=False) as data:
            same = json.loads(str(data["recipe"])) == recipe
            if same and all((folder / f"infant_{i:03d}.mp4").is_file() for i in range(int(n))):
                return RenderedCohort(tuple(folder / f"infant_{i:03d}.mp4" for i in range(int(n))),
                                      tuple(data[f"truth_{i:03d}"] for i in range(int(n))),
                                      data["labels"].astype(np.int64), float(fps), (h, w), int(seed),
                                      str(difficulty))
    recording = synth.RecordingConfig(width=w, height=h)
    cohort = synth.cohort("cp", n_subjects=int(n), seed=int(seed), duration_s=float(duration_s), fps=float(fps),
                          prevalence=float(prevalence), difficulty=difficulty, recording=recording, videos=True)
    iterator = range(int(n))
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="render held-out videos", unit="video")
    truths = []
    for i in iterator:
        video = cohort.metadata["video"][i]
        path = folder / f"infant_{i:03d}.mp4"
        if not path.is_file():
            tmp = folder / f".infant_{i:03d}.partial.mp4"
            video.write(tmp, width=w, height=h)
            os.replace(tmp, path)
        exact = video.recording().sequence(exact=True).coords.astype(np.float32) + PIXEL_OFFSET
        truths.append(exact)
    labels = np.asarray(cohort.labels, np.int64)
    from infantjax.io import files

    arrays = {f"truth_{i:03d}": t for i, t in enumerate(truths)}
    files.save_npz(truth_file, {"recipe": np.asarray(json.dumps(recipe)), "labels": labels, **arrays})
    return RenderedCohort(tuple(folder / f"infant_{i:03d}.mp4" for i in range(int(n))), tuple(truths), labels,
                          float(fps), (h, w), int(seed), str(difficulty))


def lattice_share(coords: np.ndarray, frame_hw: tuple[int, int], resolution: int, tol: float = 1e-3) -> float:
    """Share of keypoints lying on the letterbox lattice of an R × R network input: x and y at ``(j + 0.5) · s``
    from the letterbox's corner, ``s = max(H, W) / R`` (where the official integer arg-max puts every keypoint)."""
    h, w = int(frame_hw[0]), int(frame_hw[1])
    side = max(h, w)
    step = side / float(resolution)
    xy = np.asarray(coords, np.float64).reshape(-1, 2)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if not len(xy):
        return float("nan")
    origin = np.array([-((side - w) // 2), -((side - h) // 2)], np.float64)
    q = (xy - origin) / step - 0.5
    return float(np.mean(np.all(np.abs(q - np.rint(q)) < tol * max(1.0, 1.0 / step), axis=1)))


@dataclasses.dataclass
class ChainReport:
    """What :func:`evaluate_chain` measured (``to_json`` for the record, ``table`` for a reader)."""

    pose: dict
    per_joint: dict
    fidelity: dict
    per_infant: list
    speed: dict
    settings: dict

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def table(self) -> str:
        p, f, s = self.pose, self.fidelity, self.speed
        lines = [
            f"pose: {self.settings['pose']} ({self.settings['tracking']})",
            f"  median error {p['median_px']:.2f} px = {100 * p['median_head']:.1f} % of a head length "
            f"(95th percentile {p['p95_px']:.1f} px); PCKh@0.1 {100 * p['pckh@0.1']:.1f} %, @0.2 "
            f"{100 * p['pckh@0.2']:.1f} %, @0.5 {100 * p['pckh@0.5']:.1f} %; on the input lattice "
            f"{100 * p['lattice']:.1f} %",
            f"  jitter {p['jitter_px']:.2f} px a frame (the exact keypoints move {p['truth_motion_px']:.2f} px)",
            f"risk ({self.settings['ensemble']} on the video's keypoints, "
            f"{self.settings.get('truth_ensemble', self.settings['ensemble'])} on the exact ones; {f['infants']} "
            f"infants, {f['with_cp']} with CP):",
            f"  mean |risk from video − risk from exact keypoints| {f['mean_abs_risk_diff']:.3f} "
            f"(max {f['max_abs_risk_diff']:.3f}); same class {f['same_class']}/{f['infants']}, same colour "
            f"{f['same_colour']}/{f['infants']}",
            f"  flagged CP: {f['flagged_video']} from video, {f['flagged_truth']} from the exact keypoints "
            f"(of {f['with_cp']}); AUC {f['auc_video']:.3f} from video, {f['auc_truth']:.3f} from the exact "
            "keypoints",
            f"speed: tracking {s['track_ms_per_frame']:.1f} ms a frame ({s['frames']} frames, "
            f"{s['track_s']:.1f} s), scoring {s['score_s']:.1f} s",
        ]
        return "\n".join(lines)


def evaluate_chain(cohort: RenderedCohort, *, pose=None, ensemble=None, tracking=None, batch_size: int = 16,
                   threshold: float | None = None, map_skeleton: str = "approximate",
                   progress: bool = True, truth_ensemble=None) -> ChainReport:
    """Track every video of a rendered cohort and score tracked and exact keypoints (with the same ensemble, or
    the exact keypoints with ``truth_ensemble``).

    Arguments:
        cohort: from :func:`render_cohort`.
        pose: a pose model (zoo name, weights file or :class:`~infantjax.pipelines.pose.PosePredictor`; default
            the zoo's infant model).
        ensemble: a CP ensemble (zoo name, folder or :class:`~infantjax.ensemble.Ensemble`; default the zoo's).
        tracking: the tracking settings (default the pose model's own; ``"reference"`` for the official path).
        batch_size: frames per forward pass.
        threshold: the decision threshold (default the ensemble's).
        map_skeleton: how keypoints of another skeleton (the MPII models') are mapped to In-Motion 19.
        progress: a progress bar over the videos.
        truth_ensemble: the ensemble that gives the true movements' answer (default ``ensemble``): e.g. one trained
            on precise keypoints, against which a video path with an ensemble trained on tracked keypoints is judged.
    """
    from sklearn.metrics import roc_auc_score

    from infantjax.clinical import assess_prediction
    from infantjax.metrics.pose import head_length, normalized_errors, pckh
    from infantjax.pipelines.assessment import load_models
    from infantjax.pipelines.cp import to_model_skeleton
    from infantjax.sequence import SkeletonSequence
    from infantjax.skeleton import get

    if not len(cohort):
        raise DataError("the rendered cohort has no videos")
    models = load_models(ensemble, pose)
    predictor, ens = models.pose, models.ensemble
    truth_ens, truth_name = ens, models.ensemble_name
    if truth_ensemble is not None:
        truth_models = load_models(truth_ensemble, predictor)
        truth_ens, truth_name = truth_models.ensemble, truth_models.ensemble_name
    settings = predictor.tracking if tracking is None else None
    if tracking is not None:
        from infantjax.infer.tracking import Tracking

        settings = Tracking.of(tracking)
    skel = get("in-motion-19")
    iterator = range(len(cohort))
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="track and score", unit="video")
    tracked, exact, rows = [], [], []
    track_s = score_s = 0.0
    frames = 0
    for i in iterator:
        t0 = time.perf_counter()
        seq = predictor.track(cohort.videos[i], batch_size=batch_size, progress=False, tracking=settings)
        track_s += time.perf_counter() - t0
        frames += seq.num_frames
        mapped, _ = to_model_skeleton(seq, map_skeleton, cohort.videos[i])
        truth = cohort.truth[i]
        if truth.shape != mapped.coords.shape:
            raise DataError(f"{cohort.videos[i]}: {mapped.coords.shape[0]} frames tracked but the truth has "
                            f"{truth.shape[0]}")
        t0 = time.perf_counter()
        r_video = assess_prediction(ens.predict(mapped), threshold)
        score_s += time.perf_counter() - t0
        truth_seq = SkeletonSequence(truth, fps=seq.fps, skeleton=skel, times=seq.times,
                                     metadata={"source": "exact keypoints"})
        r_truth = assess_prediction(truth_ens.predict(truth_seq), threshold)
        tracked.append(mapped.coords)
        exact.append(truth)
        rows.append({"video": cohort.videos[i].name, "label": int(cohort.labels[i]),
                     "risk_video": float(r_video.risk), "risk_truth": float(r_truth.risk),
                     "class_video": bool(r_video.cp), "class_truth": bool(r_truth.cp),
                     "colour_video": r_video.colour, "colour_truth": r_truth.colour,
                     "abs_risk_diff": abs(float(r_video.risk) - float(r_truth.risk))})
    pred = np.concatenate(tracked).astype(np.float64)
    true = np.concatenate(exact).astype(np.float64)
    err = np.linalg.norm(pred - true, axis=-1)
    head = head_length(true, skel)
    norm = normalized_errors(pred, true, skeleton=skel)
    found = np.isfinite(err)
    jitter = np.nanmedian(np.concatenate([np.linalg.norm(np.diff(t, axis=0), axis=-1).ravel()
                                          for t in tracked]))
    motion = np.nanmedian(np.concatenate([np.linalg.norm(np.diff(t, axis=0), axis=-1).ravel() for t in exact]))
    pose_summary = {
        "median_px": float(np.nanmedian(err)), "p95_px": float(np.nanpercentile(err, 95)),
        "median_head": float(np.nanmedian(norm)), "head_length_px": float(np.nanmedian(head)),
        **{f"pckh@{t}": float(pckh(pred, true, t, skeleton=skel)) for t in (0.1, 0.2, 0.5)},
        "lattice": lattice_share(pred, cohort.size, predictor.resolution),
        "missing": float(1.0 - found.mean()), "jitter_px": float(jitter), "truth_motion_px": float(motion),
    }
    joint_pckh = np.asarray(pckh(pred, true, 0.1, skeleton=skel, per_keypoint=True))
    per_joint = {name: {"median_px": float(np.nanmedian(err[:, j])), "pckh@0.1": float(joint_pckh[j])}
                 for j, name in enumerate(skel.keypoints)}
    labels = np.asarray([r["label"] for r in rows])
    rv = np.asarray([r["risk_video"] for r in rows])
    rt = np.asarray([r["risk_truth"] for r in rows])
    two = len(set(labels.tolist())) == 2
    fidelity = {
        "infants": len(rows), "with_cp": int(labels.sum()),
        "mean_abs_risk_diff": float(np.mean(np.abs(rv - rt))), "max_abs_risk_diff": float(np.max(np.abs(rv - rt))),
        "same_class": int(sum(r["class_video"] == r["class_truth"] for r in rows)),
        "same_colour": int(sum(r["colour_video"] == r["colour_truth"] for r in rows)),
        "flagged_video": int(sum(r["class_video"] and r["label"] for r in rows)),
        "flagged_truth": int(sum(r["class_truth"] and r["label"] for r in rows)),
        "auc_video": float(roc_auc_score(labels, rv)) if two else float("nan"),
        "auc_truth": float(roc_auc_score(labels, rt)) if two else float("nan"),
        "mean_risk_shift_cp": float(np.mean((rv - rt)[labels == 1])) if labels.any() else float("nan"),
        "mean_risk_shift_no_cp": float(np.mean((rv - rt)[labels == 0])) if (labels == 0).any() else float("nan"),
    }
    speed = {"frames": int(frames), "track_s": track_s, "score_s": score_s,
             "track_ms_per_frame": 1000.0 * track_s / max(frames, 1)}
    run = {"pose": models.pose_name, "ensemble": models.ensemble_name, "truth_ensemble": truth_name,
           "tracking": (settings or predictor.tracking).to_json() if hasattr(settings or predictor.tracking,
                                                                              "to_json") else str(settings),
           "cohort": {"seed": cohort.seed, "videos": len(cohort), "fps": cohort.fps, "size": list(cohort.size),
                      "difficulty": cohort.difficulty}}
    return ChainReport(pose_summary, per_joint, fidelity, rows, speed, run)



def track_cohort(cohort, folder: str | os.PathLike, *, pose=None, size: tuple[int, int] = (480, 640),
                 batch_size: int = 16, progress: bool = True, render_only: bool = False):
    """A synthetic cohort (built with ``videos=True``) with every recording's keypoints tracked in its rendered
    video by a pose model, instead of the simulated detector's.

    Each video is rendered to ``folder/video_<i>.mp4`` and its tracked keypoints cached in
    ``folder/<pose name>/keypoints_<i>.npz`` (atomic files: an interrupted call resumes; a second call reads the
    cache). The recordings keep their labels, subjects and metadata; their keypoints are In-Motion 19 in the
    video's pixels with the tracker's confidences (keypoints of another skeleton are mapped approximately).

    Arguments:
        cohort: from :func:`infantjax.synth.cohort` with ``videos=True``.
        folder: where the videos and keypoints are kept.
        pose: the pose model (zoo name, weights file or predictor; default the zoo's infant model).
        size: (height, width) of the rendered videos.
        batch_size: frames per forward pass.
        progress: a progress bar over the recordings.
        render_only: only render the videos (returns None).

    Raises:
        DataError: a cohort without rendered-video recipes.
    """
    from infantjax.io import files
    from infantjax.pipelines.assessment import load_models
    from infantjax.pipelines.cp import to_model_skeleton
    from infantjax.sequence import Cohort, SkeletonSequence

    recipes = cohort.metadata.get("video")
    if recipes is None:
        raise DataError(f"cohort {cohort.name!r} has no rendered-video recipes; build it with "
                        "synth.cohort(..., videos=True)")
    root = pathlib.Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    h, w = int(size[0]), int(size[1])
    predictor = None if render_only else load_models(None, pose).pose
    name = "" if predictor is None else str(pose or "default").replace(os.sep, "_")
    cache = root / (name or "render")
    cache.mkdir(exist_ok=True)
    iterator = range(len(cohort.sequences))
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="render and track" if predictor else "render", unit="video")
    sequences = []
    for i in iterator:
        video = root / f"video_{i:04d}.mp4"
        if not video.is_file():
            tmp = root / f".video_{i:04d}.partial.mp4"
            recipes[i].write(tmp, width=w, height=h)
            os.replace(tmp, video)
        if predictor is None:
            continue
        kp = cache / f"keypoints_{i:04d}.npz"
        source = cohort.sequences[i]
        if kp.is_file():
            with np.load(kp, allow_pickle=False) as data:
                seq = SkeletonSequence(data["coords"], fps=float(data["fps"]), skeleton="in-motion-19",
                                       confidence=data["confidence"], times=data["times"],
                                       metadata=dict(source.metadata))
        else:
            tracked = predictor.track(video, batch_size=batch_size, progress=False)
            mapped, _ = to_model_skeleton(tracked, "approximate", video)
            files.save_npz(kp, {"coords": mapped.coords, "confidence": mapped.confidence, "fps": mapped.fps,
                                "times": mapped.times})
            seq = SkeletonSequence(mapped.coords, fps=mapped.fps, skeleton="in-motion-19",
                                   confidence=mapped.confidence, times=mapped.times,
                                   metadata=dict(source.metadata))
        sequences.append(seq)
    if predictor is None:
        return None
    meta = {k: v for k, v in cohort.metadata.items() if k != "video"}
    return Cohort(sequences, cohort.labels, cohort.subjects, meta, name=f"{cohort.name}-tracked")
