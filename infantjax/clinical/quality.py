"""The tracking-quality gate: can the keypoints a risk is computed from be trusted?

    from infantjax.clinical import assess_tracking
    quality = assess_tracking(keypoints, windows=[(0.0, 5.0), (2.5, 7.5), (5.0, 10.0)])
    quality.state, quality.withheld, quality.reasons      # "good" | "doubtful" | "unreliable"
    quality.window_states, quality.frame_score

A pose model that loses the infant does not say so: its keypoints still arrive, in every frame, with
confidences that barely drop, and the CP ensemble scores them like any other. This module judges the keypoints
themselves — **per frame** the plausibility of the body they describe, **per window** the share of implausible
frames, **per recording** what is left — so that a risk computed from a lost track is withheld ("cannot be
assessed") instead of shown with a confident colour (``docs/quality.md``).

Per frame (each check gives the share of the frame's keypoints or bones that fail it):

* **missing** — keypoints without coordinates;
* **confidence** — keypoints whose detector confidence is below :attr:`Thresholds.low_confidence`;
* **edge** — keypoints on or outside the frame's edge (within :attr:`Thresholds.edge_margin` of the short
  side); a pose model that lost the infant parks its keypoints there;
* **bones** — bones longer than :attr:`Thresholds.bone_long` × the same bone's median length in this recording
  (the median taken as at least three quarters of the expected length), or longer than
  :attr:`Thresholds.proportion_long` × the synthetic infant's proportions (``infantjax.synth.body``: bone over
  trunk, at the recording's median trunk length); a bone shorter than :attr:`Thresholds.bone_free` trunk
  lengths always passes. Shorter is not checked: a limb pointing at the camera is foreshortened;
* **jumps** — keypoints that move more than :attr:`Thresholds.jump` trunk lengths in 1/30 s (twice the fastest
  movement of the synthetic infants);
* **orientation** — the head on the pelvis's side of the thorax, or the shoulders' and the hips' left–right
  order disagreeing (a body turned inside out).

Per body part, where the keypoints have confidences: a limb (a leg: knee and ankle; an arm: elbow and wrist) is
**hidden** in a frame when its keypoints are missing or their mean confidence is below
:attr:`Thresholds.hidden_ratio` × the frame's best-seen keypoints' (its 75th percentile) — a blanket, a toy or a
parent's hand over it. A pose model draws a hidden limb somewhere all the same, with a confidence that falls but
not below :attr:`Thresholds.low_confidence`; the CP networks read leg movements, so a window in which **both legs**
are hidden in more than :attr:`Thresholds.window_hidden` of its frames is *unreliable*, and one with a single limb
hidden so long is *doubtful*, the reasons naming the body part. The **face** (the nose), a **hand** (the wrist),
a **knee** or a **foot** (the ankle) is *hard to see* in a frame when its confidence is below
:attr:`Thresholds.faint_ratio` × the same 75th percentile — a dim room, a grey picture, blur or heavy compression
takes their detail first, a toy held over a knee hides it alone, and the pose model then places the keypoint a
little off in every frame, which the CP networks read as movement: a window with one of them hard to see in more
than :attr:`Thresholds.window_faint` of its frames is *doubtful*.

Per window, the **camera**: a hand-held camera moves every keypoint by the same vector one or two times a second,
which the CP networks read as the infant's movement. The keypoints' common fast movement
(:func:`infantjax.preprocess.camera.camera_motion`) faster than :attr:`Thresholds.shake` trunk lengths a second
makes a window *doubtful*; the reasons say whether the ensemble scored the keypoints with the shake taken out
(``infantjax assess`` does by default: :func:`infantjax.preprocess.camera.steady`).

Per recording, **motion blur**: frames that each mix several instants smooth the movements themselves, with every
keypoint plausible and well seen. Where the infant tracker measured the detail around the hands and feet
(``metadata["sharpness"]``, :mod:`infantjax.preprocess.blur`), a recording whose hands and feet keep less than
:attr:`Thresholds.blur_ratio` of it in their fastest frames is *doubtful*.

A frame's plausibility (``frame_score``) is 1 when no check fails and falls linearly to 0 at twice a check's
threshold share; a frame with a score below 0.5 is **implausible**. A window is *unreliable* when more than
:attr:`Thresholds.window_unreliable` of its frames are implausible or its mean confidence is below
:attr:`Thresholds.window_confidence`, *doubtful* when more than :attr:`Thresholds.window_doubtful` are. The
recording: *unreliable* (the risk **withheld**) when fewer than :attr:`Thresholds.min_usable` of its windows
are usable (good or doubtful) or the body is too small to be an infant; *doubtful* when a window is not good
or the windows are scored under a rotation that misaligns the recording's orientation; else *good*. Unreliable
windows are left out of the risk (:func:`infantjax.clinical.assess`), and a doubtful recording is never shown
as certain.

The thresholds live in :data:`THRESHOLDS`, calibrated on rendered cohorts with the default pose model
(``benchmarks/quality_gate.py``, which reports the false-withhold rate on videos that track well and the
catches of each failure kind; rerun it when the pose model changes).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import DataError
from infantjax.sequence import SkeletonSequence

__all__ = ["CHECKS", "STATES", "THRESHOLDS", "Thresholds", "TrackingQuality", "assess_tracking",
           "calibrate_thresholds", "hidden_joints", "recording_length_warning", "window_spans"]

#: The states of a window and of a recording, from best to worst.
STATES = ("good", "doubtful", "unreliable")
#: The per-frame checks, in the order the reasons name them.
CHECKS = ("missing", "confidence", "edge", "bones", "jumps", "orientation")
#: The clinical recordings the CP model was made for last 1–9 minutes (seed 002: median 5 minutes of supine
#: spontaneous movement): a recording shorter than this gets a warning.
RECORDING_MIN_S = 60.0
_SKELETON = "in-motion-19"


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """Every threshold of the gate, in one place (``docs/quality.md`` explains each; calibrated by
    ``benchmarks/quality_gate.py``).

    Attributes:
        missing_share: a frame is implausible when more than this share of its 19 keypoints is missing.
        low_confidence: a keypoint's confidence below this is low (EfficientPose heatmap peaks: 0.2–0.4 on
            videos that track well, 0.06–0.1 where the infant is lost; DeepLabCut likelihoods are higher).
        confidence_share: ... when more than this share of its keypoints has a low confidence.
        edge_margin: a keypoint within this share of the image's short side from the frame's edge (or outside
            it) is on the edge.
        edge_share: ... when more than this share of its keypoints is on the edge.
        bone_long: a bone longer than this multiple of its median length in the recording is implausible.
        proportion_long: ... or longer than this multiple of the synthetic infant's bone-to-trunk proportion
            times the recording's median trunk length.
        bone_free: no bone shorter than this many trunk lengths is implausible (the short ones — neck, hips —
            are placed differently by different annotations and trackers).
        bone_share: ... when more than this share of its 18 bones is implausible.
        jump: a keypoint that moves more than this many trunk lengths in 1/30 s jumps (the synthetic infants'
            fastest joint, an ankle, moves 0.54).
        jump_share: ... when more than this share of its keypoints jumps.
        window_doubtful: a window is doubtful when more than this share of its frames is implausible,
        window_unreliable: unreliable when more than this share is,
        window_confidence: or when its mean keypoint confidence is below this.
        min_usable: the risk is withheld when fewer than this share of the windows is good or doubtful.
        min_trunk: the risk is withheld when the median trunk (thorax to pelvis) is shorter than this share of
            the image's short side (no infant, or one too far away to track).
        hidden_ratio: a limb is hidden in a frame when its keypoints' mean confidence is below this share of the
            frame's 75th-percentile keypoint confidence (rendered infants that track well: a limb's share is
            below 0.4 in at most 1.4 % of the frames, never both legs at once; legs under a blanket: 0.2–0.3).
        window_hidden: a window is unreliable when both legs are hidden in more than this share of its frames,
            doubtful when one limb is.
        faint_ratio: the face, a hand, a knee or a foot (:data:`FAINT`) is hard to see in a frame when its keypoint's
            confidence is below this share of the frame's 75th-percentile keypoint confidence.
        window_faint: a window is doubtful when one of them is hard to see in more than this share of its frames
            (rendered infants, 5-s windows: 48 good 10-s renders at 320 × 240 at most 55 %, the worst-tracked of
            them; the perturbation suite's clean 30-s videos at most 44 %; the same videos in a dim room, where the
            nose alone moved a risk by up to 0.43, 95–100 % for the nose; heavily compressed, 68–77 %, and grey,
            68 % for an ankle, where the risk moved by 0.14–0.21).
        shake: a window is doubtful when the camera's fast movement under the infant (the keypoints' common
            displacement, :func:`infantjax.preprocess.camera.camera_motion`) is faster than this many trunk
            lengths per second, root mean square over the window (rendered infants: clean videos and their valid
            variants at most 1.3 in their liveliest 5 s, a hand-held camera's ±6 % at 1–2 Hz 1.9–2.6).
        blur_ratio: the recording is doubtful when its hands and feet keep less than this share of their detail
            in their fastest quarter of frames (the infant tracker's ``metadata["sharpness"]``,
            :mod:`infantjax.preprocess.blur`; the perturbation suite's rendered infants, 30-s videos: 0.87–1.17
            clean and in every valid and hard variant but the blanket's (0.66–1.18, withheld for the hidden legs),
            0.45–0.81 with five frames mixed into each). Not yet measured on real phone videos, whose exposure
            blurs fast hands a little.
    """

    missing_share: float = 0.25
    low_confidence: float = 0.1
    confidence_share: float = 0.3
    edge_margin: float = 0.02
    edge_share: float = 0.2
    bone_long: float = 2.0
    proportion_long: float = 2.0
    bone_free: float = 0.5
    bone_share: float = 0.15
    jump: float = 1.0
    jump_share: float = 0.1
    window_doubtful: float = 0.1
    window_unreliable: float = 0.3
    window_confidence: float = 0.12
    min_usable: float = 0.5
    min_trunk: float = 0.04
    hidden_ratio: float = 0.4
    window_hidden: float = 0.5
    faint_ratio: float = 0.7
    window_faint: float = 0.6
    shake: float = 1.5
    blur_ratio: float = 0.8

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Thresholds:
        """Thresholds from :meth:`to_dict`'s values (missing ones keep their defaults).

        Raises:
            DataError: an unknown name or a value that is not a positive number.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise DataError(f"unknown gate thresholds {unknown}; known: {sorted(known)}")
        bad = [k for k, v in values.items()
               if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0]
        if bad:
            raise DataError(f"gate thresholds {bad} must be positive numbers")
        return cls(**{k: float(v) for k, v in values.items()})


#: The gate's thresholds (see :class:`Thresholds`).
THRESHOLDS = Thresholds()


@functools.lru_cache(maxsize=1)
def _proportions() -> np.ndarray:
    """(18,) length of every In-Motion 19 bone over the trunk (thorax to pelvis) of the synthetic infant
    (``infantjax.synth.body.Body()``, the 12-week mean body, in its straight supine pose: 3D lengths, the
    longest a camera can see them)."""
    from infantjax.synth.body import BODY_KEYPOINTS, Body, forward_kinematics

    pts = forward_kinematics(Body(), {})[0]
    ix = {n: i for i, n in enumerate(BODY_KEYPOINTS)}
    skel = _skeleton.get(_SKELETON)
    names = skel.keypoints
    trunk = np.linalg.norm(pts[ix["thorax"]] - pts[ix["pelvis"]])
    return np.array([np.linalg.norm(pts[ix[names[a]]] - pts[ix[names[b]]]) / trunk for a, b in skel.edges])


@dataclasses.dataclass(frozen=True, eq=False)
class TrackingQuality:
    """The gate's verdict on one recording's keypoints (:func:`assess_tracking`).

    Attributes:
        state: ``"good"``, ``"doubtful"`` or ``"unreliable"`` for the recording.
        withheld: the risk must not be shown as a decision (state unreliable).
        reasons: why, in sentences (empty when good).
        window_states: one state per scored window, in the windows' order.
        window_reasons: per window, why it is not good (empty tuples for good windows).
        frame_score: (T,) plausibility of every frame in [0, 1] (1: every check passes; below 0.5:
            implausible).
        frame_checks: per check (:data:`CHECKS`), (T,) the share of the frame's keypoints (or bones) failing
            it.
        windows: the (start, end) of every window in seconds from the first frame.
        summary: recording-level figures (mean confidence, median trunk length over the short side, share of
            implausible frames, spine orientation, duration).
        thresholds: the :class:`Thresholds` used, as a dict.
    """

    state: str
    withheld: bool
    reasons: tuple[str, ...]
    window_states: tuple[str, ...]
    window_reasons: tuple[tuple[str, ...], ...]
    frame_score: np.ndarray
    frame_checks: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    windows: tuple[tuple[float, float], ...] = ()
    summary: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    thresholds: Mapping[str, float] = dataclasses.field(default_factory=dict)

    @property
    def usable(self) -> np.ndarray:
        """(W,) bool: the windows the risk is computed from (good or doubtful)."""
        return np.array([s != "unreliable" for s in self.window_states], dtype=bool)

    @property
    def num_unreliable(self) -> int:
        return sum(s == "unreliable" for s in self.window_states)

    def headline(self) -> str:
        """One line: the state and the first reason (``tracking good`` when good)."""
        if self.state == "good":
            return "tracking good"
        what = "cannot be assessed" if self.withheld else "tracking doubtful"
        return f"{what}: {self.reasons[0]}" if self.reasons else what

    def to_json(self) -> dict:
        """A JSON-ready record (frame scores rounded to 0.001)."""
        def r3(x):
            return [None if not np.isfinite(v) else round(float(v), 3)
                    for v in np.asarray(x, dtype=np.float64)]

        return {"state": self.state, "withheld": bool(self.withheld), "reasons": list(self.reasons),
                "window_states": list(self.window_states),
                "window_reasons": [list(r) for r in self.window_reasons],
                "windows": [[round(float(a), 4), round(float(b), 4)] for a, b in self.windows],
                "frame_score": r3(self.frame_score),
                "frame_checks": {k: r3(v) for k, v in self.frame_checks.items()},
                "summary": _plain(self.summary), "thresholds": dict(self.thresholds)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str) -> TrackingQuality:
        """The inverse of :meth:`to_json` (a dict, or its JSON text).

        Raises:
            DataError: a record that is not a tracking-quality record.
        """
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError as err:
                raise DataError(f"tracking quality: not JSON ({err})") from None
        try:
            state = str(data["state"])
            if state not in STATES:
                raise ValueError(f"state {state!r}")
            window_states = tuple(str(s) for s in data["window_states"])
            if any(s not in STATES for s in window_states):
                raise ValueError("window_states")

            def arr(x):
                return np.array([np.nan if v is None else float(v) for v in x], dtype=np.float64)

            return cls(state=state, withheld=bool(data["withheld"]), reasons=tuple(map(str, data["reasons"])),
                       window_states=window_states,
                       window_reasons=tuple(tuple(map(str, r)) for r in data["window_reasons"]),
                       frame_score=arr(data["frame_score"]),
                       frame_checks={str(k): arr(v) for k, v in (data.get("frame_checks") or {}).items()},
                       windows=tuple((float(a), float(b)) for a, b in data.get("windows", ())),
                       summary=dict(data.get("summary") or {}), thresholds=dict(data.get("thresholds") or {}))
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"tracking quality: not a tracking-quality record ({type(err).__name__}: {err}); "
                            "write it with TrackingQuality.to_json") from None


def _plain(value):
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def window_spans(window_starts: Sequence[int], window_frames: int, model_fps: float = 30.0,
                 duration: float | None = None) -> list[tuple[float, float]]:
    """The (start, end) in seconds of windows given by their first frames at the model's frame rate (what
    :class:`~infantjax.clinical.RiskResult` stores) and their length in frames (the ensemble's
    ``config.window``); ends clipped to ``duration`` when given."""
    out = []
    for s in np.asarray(window_starts).reshape(-1):
        a = float(s) / float(model_fps)
        b = a + float(window_frames) / float(model_fps)
        out.append((a, b if duration is None else min(b, float(duration))))
    return out


def recording_length_warning(duration_s: float, minimum_s: float = RECORDING_MIN_S) -> str | None:
    """The warning for a recording shorter than the CP model was made for, or None."""
    if duration_s >= minimum_s:
        return None
    return (f"the recording lasts {duration_s:.0f} s; the CP model was made for recordings of 1–9 minutes of "
            f"spontaneous movement (at least {minimum_s:.0f} s), so a risk from {duration_s:.0f} s rests on "
            "few windows: record longer where possible")


def _image_size(seq: SkeletonSequence) -> tuple[float, float] | None:
    """(height, width) of the frames the keypoints are in, when the recording says."""
    meta = seq.metadata or {}
    hw = meta.get("image_hw")
    if isinstance(hw, (list, tuple)) and len(hw) == 2:
        try:
            h, w = float(hw[0]), float(hw[1])
            if h > 0 and w > 0:
                return h, w
        except (TypeError, ValueError):
            pass
    w, h = meta.get("width"), meta.get("height")
    if isinstance(w, (int, float)) and isinstance(h, (int, float)) and w > 0 and h > 0 \
            and meta.get("units", "pixels") == "pixels":
        return float(h), float(w)
    return None


def _frame_checks(coords: np.ndarray, conf: np.ndarray | None, times: np.ndarray, size, th: Thresholds,
                  scale: float) -> dict[str, np.ndarray]:
    """Per check, (T,) the share of each frame's keypoints or bones that fail it."""
    skel = _skeleton.get(_SKELETON)
    ix = {n: i for i, n in enumerate(skel.keypoints)}
    edges = np.asarray(skel.edges)
    t, j = coords.shape[:2]
    missing = np.isnan(coords).any(axis=-1)
    present = ~missing
    n_present = np.maximum(present.sum(axis=1), 1)
    out = {"missing": missing.mean(axis=1)}
    if conf is not None:
        low = present & ~(np.nan_to_num(conf, nan=1.0) >= th.low_confidence)
        out["confidence"] = low.sum(axis=1) / n_present
    else:
        out["confidence"] = np.zeros(t)
    if size is not None:
        h, w = size
        m = th.edge_margin * min(h, w)
        with np.errstate(invalid="ignore"):
            on_edge = present & ((coords[..., 0] <= m) | (coords[..., 0] >= w - 1 - m) | (coords[..., 1] <= m)
                                 | (coords[..., 1] >= h - 1 - m))
        out["edge"] = on_edge.sum(axis=1) / n_present
    else:
        out["edge"] = np.zeros(t)
    bones = np.linalg.norm(coords[:, edges[:, 0]] - coords[:, edges[:, 1]], axis=-1)  # (T, 18), NaN: missing
    with np.errstate(invalid="ignore", divide="ignore"):
        med = np.nanmedian(np.where(np.isfinite(bones), bones, np.nan), axis=0) if t else np.zeros(len(edges))
    expected = _proportions() * scale
    # the recording's own median, but never below three quarters of the infant's proportion: where most frames
    # are lost (a bone collapsed to a point), the median says nothing, and the frames that are right must
    # still pass
    med = np.where(np.isfinite(med), np.maximum(med, 0.75 * expected), np.inf)
    limit = np.maximum(np.minimum(th.bone_long * med, th.proportion_long * expected), th.bone_free * scale)
    measured = np.isfinite(bones)
    with np.errstate(invalid="ignore"):
        long_ = measured & (bones > limit[None, :])
    out["bones"] = long_.sum(axis=1) / np.maximum(measured.sum(axis=1), 1)
    jumps = np.zeros(t)
    if t > 1:
        dt = np.diff(times)
        dt = np.where(dt > 0, dt, np.median(dt[dt > 0]) if (dt > 0).any() else 1.0 / 30.0)
        step = np.linalg.norm(np.diff(coords, axis=0), axis=-1)  # (T-1, J)
        allowed = th.jump * scale * (dt * 30.0)[:, None]
        with np.errstate(invalid="ignore"):
            moved = np.isfinite(step) & (step > allowed)
        # a jump makes both frames of the pair suspect: the frame it lands in (the usual case of an outlier)
        # and the one it leaves, so an outlier frame counts once on each side
        share = moved.sum(axis=1) / j
        jumps[1:] = np.maximum(jumps[1:], share)
        jumps[:-1] = np.maximum(jumps[:-1], share)
    out["jumps"] = jumps
    out["orientation"] = _orientation_flags(coords, ix, scale)
    return out


_LIMITS = {"missing": "missing_share", "confidence": "confidence_share", "edge": "edge_share",
           "bones": "bone_share"}


def _single_frame_checks(coords: np.ndarray, conf: np.ndarray, sizes: np.ndarray, th: Thresholds
                         ) -> dict[str, np.ndarray]:
    """Per check, (N,) the share of each single frame's keypoints or bones that fail it (no jumps: one frame has
    no neighbour), each frame scaled by its own trunk."""
    ix = {n: i for i, n in enumerate(_skeleton.get(_SKELETON).keypoints)}
    out: dict[str, list] = {c: [] for c in CHECKS}
    for i in range(len(coords)):
        trunk = float(np.linalg.norm(coords[i, ix["thorax"]] - coords[i, ix["pelvis"]]))
        unit = trunk if math.isfinite(trunk) and trunk > 0 else 1.0
        checks = _frame_checks(coords[i:i + 1], conf[i:i + 1], np.zeros(1), tuple(sizes[i]), th, unit)
        for c in CHECKS:
            out[c].append(float(checks[c][0]))
    return {c: np.asarray(v) for c, v in out.items()}


def _implausible(checks: dict[str, np.ndarray], th: Thresholds) -> np.ndarray:
    """(N,) the frames some check fails: a share above its threshold (the gate's frame score below 0.5)."""
    limits = {c: getattr(th, name) for c, name in _LIMITS.items()}
    limits.update(jumps=th.jump_share, orientation=0.5)
    return np.any(np.stack([checks[c] > limits[c] for c in CHECKS]), axis=0)


def calibrate_thresholds(coords: np.ndarray, confidence: np.ndarray, sizes: np.ndarray, correct: np.ndarray, *,
                         base: Thresholds | None = None, max_false: float = 0.02) -> tuple[Thresholds, dict]:
    """Re-fit the gate's per-frame thresholds on single frames a pose model tracked, whose keypoints are known to be
    right or wrong (a lab's labelled frames: within or outside a tolerance of the labels).

    * ``low_confidence`` — the keypoint confidence that best separates right from wrong keypoints (the largest
      Youden's J over the observed confidences; the middle of the cuts that reach it);
    * ``missing_share``, ``confidence_share``, ``edge_share``, ``bone_share`` — each the smallest share that at most
      ``max_false`` of the right frames exceed (so the gate flags few frames the model tracked well), never below
      the share one keypoint (or bone) makes;
    * ``faint_ratio`` — at most ``base``'s, and low enough that at most :data:`FAINT_FALSE` of the right keypoints
      of the face, the hands, the knees and the feet (:data:`FAINT`) in right frames fall below it (a model that
      draws them with less confidence than its trunk in every frame, e.g. one tracking whole frames, is not called
      faint in every window).

    The checks that need time (jumps) or a whole recording (windows, the share of usable windows) keep ``base``'s
    values: single frames cannot tell them.

    Arguments:
        coords: (N, 19, 2) In-Motion 19 keypoints the model found, in each frame's pixels (NaN: missing).
        confidence: (N, 19) their confidences.
        sizes: (N, 2) each frame's (height, width).
        correct: (N, 19) bool, each keypoint within the tolerance of its label; NaN-free. A frame is right when at
            least 80 % of its labelled keypoints are (pass NaN-labelled keypoints as False and they only lower it).
        base: the thresholds to start from (default :data:`THRESHOLDS`).
        max_false: the share of right frames the fitted gate may call implausible.

    Returns:
        (the fitted thresholds, a report: frames, right and wrong frames, and for the base and the fitted
        thresholds the share of right frames called implausible and of wrong frames caught).

    Raises:
        DataError: arrays of other shapes, or no right frame (nothing to calibrate on).
    """
    base = base or THRESHOLDS
    coords = np.asarray(coords, np.float64)
    conf = np.asarray(confidence, np.float64)
    sizes = np.asarray(sizes, np.float64).reshape(-1, 2)
    correct = np.asarray(correct, bool)
    n = len(coords)
    if coords.shape != (n, 19, 2) or conf.shape != (n, 19) or correct.shape != (n, 19) or len(sizes) != n:
        raise DataError(f"calibrate_thresholds takes (N, 19, 2) keypoints with (N, 19) confidences and correctness "
                        f"and (N, 2) sizes; got {coords.shape}, {conf.shape}, {correct.shape}, {sizes.shape}")
    present = np.isfinite(coords).all(-1)
    right = correct.sum(axis=1) >= 0.8 * np.maximum(present.sum(axis=1), 1)
    if not right.any():
        raise DataError("no frame was tracked within the tolerance of its labels: there is nothing to calibrate "
                        "the gate on (check the model and the labels)")
    # the keypoint confidence that separates right from wrong keypoints best (Youden's J)
    c, ok = conf[present], correct[present]
    low = base.low_confidence
    if ok.any() and (~ok).any():
        cuts = np.unique(np.quantile(c, np.linspace(0.01, 0.99, 99)))
        j = np.array([(c[ok] >= t).mean() - (c[~ok] >= t).mean() for t in cuts])
        best = cuts[j >= j.max() - 1e-9]  # the middle of the cuts that separate best
        low = float(np.median(best))
    fitted = dataclasses.replace(base, low_confidence=low)
    checks = _single_frame_checks(coords, conf, sizes, fitted)
    floors = {"missing": 1 / 19, "confidence": 1 / 19, "edge": 1 / 19, "bones": 1 / 18}
    changes = {}
    for check, name in _LIMITS.items():
        values = np.sort(checks[check][right])
        allowed = int(np.floor(float(max_false) * len(values)))
        limit = values[len(values) - 1 - allowed] if len(values) else getattr(base, name)
        changes[name] = float(max(limit, floors[check]) + 1e-9)
    ix = {name: i for i, name in enumerate(_skeleton.get(_SKELETON).keypoints)}
    parts = [ix[k] for names in FAINT.values() for k in names]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        relative = conf / np.nanpercentile(np.where(present, conf, np.nan), 75, axis=1, keepdims=True)
    seen = relative[:, parts][right[:, None] & correct[:, parts] & present[:, parts]]
    seen = seen[np.isfinite(seen)]
    if len(seen):
        changes["faint_ratio"] = float(min(base.faint_ratio, np.quantile(seen, FAINT_FALSE)))
    fitted = dataclasses.replace(fitted, **changes)

    def rates(th: Thresholds) -> dict:
        flagged = _implausible(_single_frame_checks(coords, conf, sizes, th), th)
        return {"right_flagged": float(flagged[right].mean()),
                "wrong_caught": float(flagged[~right].mean()) if (~right).any() else None}

    report = {"frames": int(n), "right": int(right.sum()), "wrong": int((~right).sum()), "max_false": max_false,
              "base": rates(base), "fitted": rates(fitted),
              "kept": ["jump", "jump_share", "window_doubtful", "window_unreliable", "window_confidence",
                       "hidden_ratio", "window_hidden", "window_faint",
                       "min_usable", "min_trunk", "bone_long", "proportion_long", "bone_free", "edge_margin"]}
    return fitted, report


def _orientation_flags(coords: np.ndarray, ix: dict, scale: float) -> np.ndarray:
    """(T,) 1 where the body is turned inside out: the head (nose or head top) on the pelvis's side of
    the thorax, or the shoulders' and the hips' left–right order disagreeing (each counted only where its
    keypoints are far enough apart to tell)."""
    thorax, pelvis = coords[:, ix["thorax"]], coords[:, ix["pelvis"]]
    spine = thorax - pelvis
    length = np.linalg.norm(spine, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = spine / length[:, None]
        head = np.nanmean(np.stack([coords[:, ix["nose"]], coords[:, ix["head_top"]]]), axis=0) \
            if coords.shape[0] else np.zeros((0, 2))
        ahead = ((head - thorax) * unit).sum(axis=-1)
        flags = np.isfinite(ahead) & (ahead < 0) & (length > 0.25 * scale)

        def order(left, right):
            lat = coords[:, ix[left]] - coords[:, ix[right]]
            cross = unit[:, 0] * lat[:, 1] - unit[:, 1] * lat[:, 0]
            sure = np.isfinite(cross) & (np.abs(cross) > 0.1 * scale)
            return np.where(sure, np.sign(cross), 0.0)

    shoulders = order("left_shoulder", "right_shoulder")
    hips = order("left_hip", "right_hip")
    crossed = (shoulders * hips) < 0
    return (flags | crossed).astype(np.float64)


def assess_tracking(seq: SkeletonSequence, windows: Sequence[tuple[float, float]] | None = None, *,
                    window_rotation: str | None = None, preprocess_version: str = "v1",
                    thresholds: Thresholds | None = None, steadied: bool = False) -> TrackingQuality:
    """Judge the keypoints of one recording (see the module docstring).

    Arguments:
        seq: the In-Motion 19 keypoints the CP ensemble scores, in the video's pixels (y down), with their
            confidences and frame times where known; ``metadata["image_hw"]`` (what
            :meth:`~infantjax.pipelines.pose.PosePredictor.track` records) or ``width``/``height`` give the
            frame for the edge check (skipped without them).
        windows: the scored windows as (start, end) seconds from the first frame (:func:`window_spans`); None:
            one window over the whole recording.
        window_rotation: the window rotation the ensemble scores with (``"reference"``, ``"corrected"`` or
            None): under ``"reference"`` (with ``preprocess_version="v1"``) a sideways or head-down spine
            makes the recording doubtful, since that rotation misaligns such windows.
        preprocess_version: the ensemble's preprocessing (``"v1"`` or ``"v2"``; v2 aligns every frame).
        thresholds: the gate's thresholds (default :data:`THRESHOLDS`).
        steadied: the ensemble scored these keypoints with the camera's shake taken out
            (:func:`infantjax.preprocess.camera.steady`): the reasons say so where the camera shook.

    Returns:
        a :class:`TrackingQuality`.

    Raises:
        DataError: not a SkeletonSequence, not In-Motion 19 (map it with
            ``infantjax.skeleton.to_model_skeleton``), or windows that are not (start, end) pairs.
    """
    with warnings.catch_warnings():  # all-NaN frames and joints are expected here: NumPy need not say so
        warnings.simplefilter("ignore", RuntimeWarning)
        return _assess_tracking(seq, windows, window_rotation, preprocess_version, thresholds, steadied)


def _assess_tracking(seq, windows, window_rotation, preprocess_version, thresholds, steadied) -> TrackingQuality:
    th = thresholds or THRESHOLDS
    if not isinstance(seq, SkeletonSequence):
        raise DataError(f"assess_tracking takes a SkeletonSequence, got {type(seq).__name__}")
    if seq.skeleton.name != _SKELETON:
        raise DataError(f"assess_tracking judges {_SKELETON} keypoints (what the CP ensemble scores), got "
                        f"{seq.skeleton.name!r}; map them with infantjax.skeleton.to_model_skeleton")
    coords = np.asarray(seq.coords, dtype=np.float64)[..., :2]
    conf = None if seq.confidence is None else np.asarray(seq.confidence, dtype=np.float64)
    t = coords.shape[0]
    times = np.asarray(seq.frame_times, dtype=np.float64)
    times = times - times[0] if t else times
    duration = float(times[-1] + 1.0 / seq.fps) if t else 0.0
    if windows is None:
        spans = [(0.0, duration)]
    else:
        try:
            spans = [(float(a), float(b)) for a, b in windows]
        except (TypeError, ValueError):
            raise DataError("windows must be (start, end) pairs in seconds "
                            "(infantjax.clinical.window_spans)") from None
    size = _image_size(seq)
    ix = {n: i for i, n in enumerate(_skeleton.get(_SKELETON).keypoints)}
    with np.errstate(invalid="ignore"):
        trunk = np.linalg.norm(coords[:, ix["thorax"]] - coords[:, ix["pelvis"]], axis=-1)
    scale = float(np.nanmedian(trunk)) if np.isfinite(trunk).any() else math.nan
    unit = scale if math.isfinite(scale) and scale > 0 else 1.0
    checks = _frame_checks(coords, conf, times, size, th, unit)
    hidden, faint = _hidden_parts(coords, conf, th)
    from infantjax.preprocess.camera import camera_motion

    camera = camera_motion(seq)
    shaken_windows = 0
    limb_windows = {limb: 0 for limb in LIMBS}
    legs_windows = 0
    faint_windows = {name: 0 for name in FAINT}
    limits = {"missing": th.missing_share, "confidence": th.confidence_share, "edge": th.edge_share,
              "bones": th.bone_share, "jumps": th.jump_share, "orientation": 0.5}
    scores = np.stack([np.clip(1.0 - checks[c] / (2.0 * limits[c]), 0.0, 1.0) for c in CHECKS]) if t else \
        np.zeros((len(CHECKS), 0))
    frame_score = scores.min(axis=0) if t else np.zeros(0)
    bad = frame_score < 0.5
    mean_conf = None
    if conf is not None:
        c = np.where(np.isnan(coords).any(axis=-1), np.nan, conf)
        with np.errstate(invalid="ignore"):
            mean_conf = np.nanmean(c, axis=1) if t else np.zeros(0)
    # recording-level
    reasons: list[str] = []
    short = min(size) if size is not None else None
    tiny = short is not None and (not math.isfinite(scale) or scale < th.min_trunk * short)
    trunk_share = None if short is None or not math.isfinite(scale) else scale / short
    # per window
    window_states, window_reasons = [], []
    for a, b in spans:
        sel = (times >= a - 1e-9) & (times < b - 1e-9)
        if not sel.any():  # a window between frames (e.g. shorter than a frame): the frames nearest to it
            sel = np.zeros(t, bool)
            if t:
                sel[int(np.argmin(np.abs(times - 0.5 * (a + b))))] = True
        share = float(bad[sel].mean()) if sel.any() else 1.0
        why = []
        if share > th.window_doubtful:
            worst = _worst_checks(checks, scores, sel)
            why.append(f"{100 * share:.0f} % of its frames are implausible ({worst})")
        wconf = None
        if mean_conf is not None and sel.any() and np.isfinite(mean_conf[sel]).any():
            wconf = float(np.nanmean(mean_conf[sel]))
        if wconf is not None and wconf < th.window_confidence:
            why.append(f"mean keypoint confidence {wconf:.2f} (below {th.window_confidence:g})")
        if tiny:
            why.append("no infant-sized body in the frame")
        legs_hidden, limbs_hidden = False, []
        if hidden is not None and sel.any():
            both = float((hidden["left leg"] & hidden["right leg"])[sel].mean())
            if both > th.window_hidden:
                legs_hidden = True
                legs_windows += 1
                why.append(f"both legs hidden in {100 * both:.0f} % of its frames")
            for limb, flags in hidden.items():
                part = float(flags[sel].mean())
                if part > th.window_hidden:
                    limb_windows[limb] += 1
                    if not (legs_hidden and limb.endswith("leg")):
                        limbs_hidden.append(limb)
                        why.append(f"the {limb} hidden in {100 * part:.0f} % of its frames")
        faint_parts = []
        if faint is not None and sel.any():
            for name, flags in faint.items():
                part = float(flags[sel].mean())
                if part > th.window_faint:
                    faint_parts.append(name)
                    faint_windows[name] += 1
                    why.append(f"the {name} hard to see in {100 * part:.0f} % of its frames")
        shake = camera.window_shake(times, a, b) if sel.any() else 0.0
        shaken = shake > th.shake
        if shaken:
            shaken_windows += 1
            why.append(f"the camera shook ({shake:.1f} trunk lengths a second)")
        if share > th.window_unreliable or (wconf is not None and wconf < th.window_confidence) or tiny \
                or legs_hidden:
            state = "unreliable"
        elif share > th.window_doubtful or limbs_hidden or shaken or faint_parts:
            state = "doubtful"
        else:
            state = "good"
        window_states.append(state)
        window_reasons.append(tuple(why))
    n = len(spans)
    n_bad = sum(s == "unreliable" for s in window_states)
    n_doubt = sum(s == "doubtful" for s in window_states)
    usable = n - n_bad
    withheld = n == 0 or usable < max(1, math.ceil(th.min_usable * n - 1e-9))
    if tiny:
        reasons.append("the keypoints do not outline an infant: the median trunk (thorax to pelvis) spans "
                       + (f"{100 * trunk_share:.1f} %" if trunk_share is not None else "nothing")
                       + f" of the image's short side (at least {100 * th.min_trunk:.0f} % expected)")
    if withheld:
        reasons.insert(0, f"tracking unreliable in {n_bad} of {n} windows")
    elif n_bad:
        reasons.append(f"tracking unreliable in {n_bad} of {n} windows: left out of the risk")
    if n_doubt:
        reasons.append(f"tracking doubtful in {n_doubt} of {n} windows")
    if legs_windows:
        reasons.append(f"both legs hidden in {legs_windows} of {n} windows (under a blanket or out of sight: the "
                       "pose model places them anyway)")
    for limb, count in limb_windows.items():
        if count and not (legs_windows and limb.endswith("leg") and count <= legs_windows):
            reasons.append(f"the {limb} hidden in {count} of {n} windows")
    for name, count in faint_windows.items():
        if count:
            reasons.append(f"the {name} hard to see in {count} of {n} windows (a dim room, a grey picture, blur, "
                           "heavy compression or something over it?): the pose model places it less surely, and the "
                           "CP networks read its movement")
    if shaken_windows:
        reasons.append(f"the camera shook in {shaken_windows} of {n} windows (a hand-held camera?): "
                       + ("its shake was taken out of the keypoints before scoring" if steadied else
                          "the CP networks read its movement as the infant's"))
    sharpness = _sharpness(seq)
    if sharpness is not None and sharpness < th.blur_ratio:
        reasons.append(f"the hands and feet are blurred when they move fast (their fastest frames keep "
                       f"{100 * sharpness:.0f} % of the detail of their slowest; a dim room or a long exposure?): "
                       "motion blur smooths the movements the CP networks read")
    orientation, angle = _spine(seq)
    misaligned = window_rotation == "reference" and preprocess_version == "v1"
    if misaligned and not withheld and orientation in ("sideways", "inverted"):  # a body not followed has no spine
        how = "head-down" if orientation == "inverted" else "sideways"
        reasons.append(f"the infant lies {how} in the image ({angle:+.0f}° from head-up), which the "
                       "reference window rotation misaligns")
    if withheld:
        state = "unreliable"
    elif reasons:
        state = "doubtful"
    else:
        state = "good"
    summary = {"frames": t, "duration_s": duration, "implausible_frames": float(bad.mean()) if t else 1.0,
               "mean_confidence": None if mean_conf is None or not np.isfinite(mean_conf).any()
               else float(np.nanmean(mean_conf)),
               "trunk_share": trunk_share, "image_hw": None if size is None else [int(size[0]), int(size[1])],
               "spine": {"orientation": orientation,
                         "angle": None if not math.isfinite(angle) else float(angle)},
               "checks": {c: float(checks[c].mean()) if t else 0.0 for c in CHECKS},
               "hidden": None if hidden is None else {limb: float(f.mean()) for limb, f in hidden.items()},
               "faint": None if faint is None else {name: float(f.mean()) for name, f in faint.items()},
               "camera": {**camera.to_json(), "steadied": bool(steadied)}, "sharpness": sharpness}
    return TrackingQuality(state=state, withheld=bool(withheld), reasons=tuple(reasons),
                           window_states=tuple(window_states), window_reasons=tuple(window_reasons),
                           frame_score=frame_score, frame_checks=checks, windows=tuple(spans),
                           summary=summary, thresholds=th.to_dict())


def _sharpness(seq: SkeletonSequence) -> float | None:
    """The hands' and feet's sharpness when fast over when slow, where the tracker measured it (else None)."""
    value = (seq.metadata or {}).get("sharpness")
    ratio = value.get("fast_over_slow") if isinstance(value, Mapping) else None
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not math.isfinite(ratio):
        return None
    return float(ratio)


#: The limbs the gate judges one by one (their distal keypoints: a hidden limb hides them first).
LIMBS = {"left leg": ("left_knee", "left_ankle"), "right leg": ("right_knee", "right_ankle"),
         "left arm": ("left_elbow", "left_wrist"), "right arm": ("right_elbow", "right_wrist")}


#: The share of right keypoints of the face, hands, knees and feet that :func:`calibrate_thresholds` lets fall below
#: the ``faint_ratio`` it fits (a window needs more than ``window_faint`` of its frames below it to be doubtful).
FAINT_FALSE = 0.02

#: The parts the gate judges for detail a dim room, a grey picture, blur or compression takes away first, or a toy
#: held over one of them hides: the face, the hands, the knees and the feet (one keypoint each), whose movements
#: the CP networks read. (A knee alone under a toy moved a risk by 0.24 while its leg's mean confidence, the hidden
#: check's, stayed up: the perturbation suite's toy variant.)
FAINT = {"face": ("nose",), "left hand": ("left_wrist",), "right hand": ("right_wrist",),
         "left knee": ("left_knee",), "right knee": ("right_knee",),
         "left foot": ("left_ankle",), "right foot": ("right_ankle",)}


def hidden_joints(seq: SkeletonSequence, thresholds: Thresholds | None = None) -> np.ndarray | None:
    """(T, 19) True where a joint belongs to a limb the gate calls hidden in that frame (its knee and ankle, or its
    elbow and wrist: :data:`LIMBS`, :attr:`Thresholds.hidden_ratio`) and still has coordinates: a place the pose
    model guessed, which a picture should not show as seen. None without confidences (nothing to tell them by)."""
    if seq.skeleton.name != _SKELETON:
        raise DataError(f"hidden_joints judges {_SKELETON} keypoints, got {seq.skeleton.name!r}")
    coords = np.asarray(seq.coords, dtype=np.float64)[..., :2]
    conf = None if seq.confidence is None else np.asarray(seq.confidence, dtype=np.float64)
    hidden, _ = _hidden_parts(coords, conf, thresholds or THRESHOLDS)
    if hidden is None:
        return None
    ix = {n: i for i, n in enumerate(_skeleton.get(_SKELETON).keypoints)}
    out = np.zeros(coords.shape[:2], bool)
    for limb, names in LIMBS.items():
        for name in names:
            out[:, ix[name]] |= hidden[limb]
    return out & ~np.isnan(coords).any(axis=-1)


def _hidden_parts(coords: np.ndarray, conf: np.ndarray | None,
                  th: Thresholds) -> tuple[dict[str, np.ndarray] | None, dict[str, np.ndarray] | None]:
    """Per limb of :data:`LIMBS`, (T,) True where it is hidden, and per part of :data:`FAINT`, (T,) True where
    it is hard to see (see the module docstring); (None, None) without confidences (nothing to tell them by)."""
    if conf is None or not len(conf):
        return None, None
    ix = {n: i for i, n in enumerate(_skeleton.get(_SKELETON).keypoints)}
    c = np.where(np.isnan(coords).any(axis=-1), np.nan, conf)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        best = np.nanpercentile(c, 75, axis=1)
        if not np.isfinite(best).any():
            return None, None

        def below(names, ratio):  # NaN (missing, or no confidence at all): below
            return ~(np.nanmean(c[:, [ix[n] for n in names]], axis=1) >= ratio * best)

        return ({limb: below(names, th.hidden_ratio) for limb, names in LIMBS.items()},
                {name: below(names, th.faint_ratio) for name, names in FAINT.items()})


_CHECK_WORDS = {"missing": "keypoints missing", "confidence": "low confidence",
                "edge": "keypoints on the frame's edge", "bones": "implausible bone lengths",
                "jumps": "keypoints jumping", "orientation": "body turned over"}


def _worst_checks(checks, scores, sel) -> str:
    """The checks that failed most in the selected frames, in words (at most two)."""
    fails = {c: float((scores[k][sel] < 0.5).mean()) for k, c in enumerate(CHECKS)}
    top = [c for c in sorted(fails, key=lambda c: -fails[c]) if fails[c] > 0][:2]
    return ", ".join(_CHECK_WORDS[c] for c in top) or "several checks"


def _spine(seq: SkeletonSequence) -> tuple[str, float]:
    from infantjax.preprocess import spine_orientation

    try:
        return spine_orientation(seq)
    except (DataError, KeyError, ValueError):
        return "unknown", math.nan
