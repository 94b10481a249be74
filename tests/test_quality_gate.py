"""The tracking-quality gate (``infantjax.clinical.assess_tracking``): every per-frame check on keypoints
spoiled the way it looks for, the window and recording states, the gated risk (unreliable windows left out,
doubtful never certain, unreliable withheld as "cannot be assessed", grey) and its JSON round trip; and on
rendered videos tracked by the zoo's pose model, a video that tracks well passes while each failure kind is
caught: the infant turned 90°, an empty mattress, a noise stream, the infant leaving the frame, heavy blur."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from infantjax import synth
from infantjax.clinical import (
    THRESHOLDS,
    RiskResult,
    TrackingQuality,
    assess,
    assess_tracking,
    hidden_joints,
    recording_length_warning,
    window_spans,
)
from infantjax.errors import DataError
from infantjax.sequence import SkeletonSequence
from infantjax.skeleton import get as skeleton

# the gate is checked on tracked videos: compiled as users do, where
# optimised code pays for its compile (tests/conftest.py)
pytestmark = pytest.mark.xla_optimised


NAMES = skeleton("in-motion-19").keypoints
IX = {n: i for i, n in enumerate(NAMES)}


def recording(seconds: float = 10.0, fps: float = 30.0, seed: int = 0) -> SkeletonSequence:
    """A synthetic infant's keypoints as a good tracker gives them: pixels of a 640 × 480 frame, confidence
    0.8."""
    rec = synth.cohort("cp", n_subjects=1, seed=seed, duration_s=seconds, fps=fps,
                       videos=True).metadata["video"][0]
    exact = rec.recording().sequence("in-motion-19", exact=True)
    conf = np.full(exact.coords.shape[:2], 0.8, np.float32)
    meta = {"image_hw": [480, 640], "units": "pixels"}
    return SkeletonSequence(exact.coords, fps, "in-motion-19", conf, meta)


def spans(seq: SkeletonSequence) -> list[tuple[float, float]]:
    """5-s windows with a hop of 2.5 s, the CP ensemble's."""
    starts = np.arange(0, int(seq.duration * 30) - 150 + 1, 75)
    return window_spans(starts, 150, 30.0, seq.duration)


def spoil(seq: SkeletonSequence, frames: slice, coords=None, conf=None) -> SkeletonSequence:
    c = seq.coords.copy()
    k = seq.confidence.copy()
    if coords is not None:
        c[frames] = coords(c[frames])
    if conf is not None:
        k[frames] = conf
    return seq.replace(coords=c, confidence=k)


# ------------------------------------------------------------------------------------------------ the checks
def test_a_well_tracked_recording_is_good_in_every_window():
    seq = recording()
    q = assess_tracking(seq, spans(seq))
    assert q.state == "good" and not q.withheld and q.reasons == ()
    assert q.window_states == ("good",) * 3 and q.window_reasons == ((),) * 3
    assert q.frame_score.shape == (seq.num_frames,) and (q.frame_score > 0.9).all()
    assert q.summary["spine"]["orientation"] == "upright" and 0.1 < q.summary["trunk_share"] < 0.5


@pytest.mark.parametrize("check", ["missing", "confidence", "edge", "bones", "jumps", "orientation"])
def test_each_check_fails_the_frames_spoiled_its_way(check):
    seq = recording()
    bad = slice(150, 300)  # 5 of 10 s: windows 2 (2.5–7.5 s) and 3 (5–10 s) are mostly spoiled
    rng = np.random.default_rng(1)
    if check == "missing":
        out = spoil(seq, bad, coords=lambda c: np.where(np.arange(19)[None, :, None] < 8, np.nan, c))
    elif check == "confidence":
        out = spoil(seq, bad, conf=0.05)
    elif check == "edge":  # a lost track parks the keypoints on the frame's edge
        out = spoil(seq, bad, coords=lambda c: np.where(np.arange(19)[None, :, None] < 6, [0.0, 240.0], c))
    elif check == "bones":  # both wrists three trunk lengths from their elbows
        def far(c):
            c = c.copy()
            for j in ("left_wrist", "right_wrist", "left_ankle", "right_ankle"):
                c[:, IX[j]] = c[:, IX[j.replace("wrist", "elbow").replace("ankle", "knee")]] + [0.0, 250.0]
            return c
        out = spoil(seq, bad, coords=far)
    elif check == "jumps":  # keypoints thrown about by a trunk length or more from one frame to the next
        five = (np.arange(19) < 5)[None, :, None]
        out = spoil(seq, bad, coords=lambda c: c + rng.normal(0, 120, c.shape) * five)
    else:  # the body turned inside out: the head below the pelvis
        def flip(c):
            c = c.copy()
            for j in ("head_top", "nose"):
                c[:, IX[j]] = 2 * c[:, IX["pelvis"]] - c[:, IX[j]]
            return c
        out = spoil(seq, bad, coords=flip)
    q = assess_tracking(out, spans(out))
    assert (q.frame_checks[check][bad] > 0).mean() > 0.9  # the check fails the spoiled frames
    assert (q.frame_checks[check][:140] == 0).all() or check == "jumps"
    assert (q.frame_score[bad] < 0.5).mean() > 0.9 and (q.frame_score[:140] >= 0.5).all()
    assert q.window_states[0] == "good" and q.window_states[1:] == ("unreliable", "unreliable")
    assert q.withheld and q.state == "unreliable" and q.reasons[0] == "tracking unreliable in 2 of 3 windows"
    assert q.window_reasons[0] == () and "implausible" in q.window_reasons[2][0]


def test_bones_foreshortened_are_plausible_and_a_few_bad_frames_make_a_window_doubtful():
    seq = recording()
    # every limb pointing at the camera: its bones shrink to a point, which is no error
    wrists = np.isin(np.arange(19), [IX["left_wrist"], IX["right_wrist"]])[None, :, None]
    short = spoil(seq, slice(0, 300), coords=lambda c: np.where(wrists, c[:, [IX["left_elbow"]]], c))
    assert assess_tracking(short, spans(short)).state == "good"
    # 20 % of the first window's frames with keypoints on the edge: doubtful, not left out
    six = np.arange(19)[None, :, None] < 6
    few = spoil(seq, slice(10, 40), coords=lambda c: np.where(six, [0.0, 0.0], c))
    q = assess_tracking(few, spans(few))
    assert q.window_states == ("doubtful", "good", "good") and q.state == "doubtful" and not q.withheld
    assert q.reasons == ("tracking doubtful in 1 of 3 windows",) and "edge" in q.window_reasons[0][0]


def test_no_infant_sized_body_and_a_sideways_spine_under_the_reference_rotation():
    seq = recording()
    centre = np.nanmean(seq.coords, axis=(0, 1))
    tiny = seq.replace(coords=(centre + (seq.coords - centre) * 0.05).astype(np.float32))
    q = assess_tracking(tiny, spans(tiny))
    assert q.withheld and "do not outline an infant" in " ".join(q.reasons)
    # turned 90°: plausible keypoints, but the reference window rotation misaligns a sideways spine
    x, y = np.moveaxis(seq.coords - centre, -1, 0)
    sideways = seq.replace(coords=(np.stack([-y, x], -1) + centre).astype(np.float32))
    plain = assess_tracking(sideways, spans(sideways))
    assert plain.state == "good"
    q = assess_tracking(sideways, spans(sideways), window_rotation="reference")
    assert q.state == "doubtful" and not q.withheld and "sideways" in q.reasons[0]
    assert assess_tracking(sideways, spans(sideways), window_rotation="corrected").state == "good"


def test_hidden_legs_make_a_window_unreliable_and_a_hidden_arm_doubtful_naming_the_part():
    """A blanket over the legs: the pose model still places knees and ankles, with confidences that fall (0.15
    here) but stay above the low-confidence threshold, so no per-frame check fails; the legs are hidden against
    the frame's best-seen keypoints. Both legs hidden through most of a window: unreliable; one arm: doubtful."""
    seq = recording(10.0)
    legs = [IX[n] for n in ("left_knee", "left_ankle", "right_knee", "right_ankle")]
    conf = seq.confidence.copy()
    conf[:, legs] = 0.15  # every frame: above THRESHOLDS.low_confidence (0.1), far below the rest (0.8)
    assert 0.15 > THRESHOLDS.low_confidence
    blanket = seq.replace(confidence=conf)
    q = assess_tracking(blanket, spans(blanket), window_rotation="corrected")
    assert q.withheld and set(q.window_states) == {"unreliable"}
    assert all(any("both legs hidden" in r for r in why) for why in q.window_reasons)
    assert any(r.startswith("both legs hidden in 3 of 3 windows") for r in q.reasons), q.reasons
    assert q.summary["hidden"]["left leg"] == 1.0 and q.summary["hidden"]["left arm"] == 0.0
    # the same with the per-frame checks only (the limb check needs confidences): the keypoints pass
    assert assess_tracking(blanket.replace(confidence=None), spans(blanket)).state == "good"

    # one arm behind a toy in the middle window only: that window doubtful, named; the risk still shown
    conf = seq.confidence.copy()
    conf[75:225, [IX["left_elbow"], IX["left_wrist"]]] = 0.2
    toy = seq.replace(confidence=conf)
    q = assess_tracking(toy, spans(toy), window_rotation="corrected")
    assert not q.withheld and q.state == "doubtful"
    assert q.window_states == ("good", "doubtful", "good")  # hidden in half the first and last: not more
    assert any("the left arm hidden" in r for r in q.reasons), q.reasons
    assert all("legs" not in r for r in q.reasons)
    # the joints a picture should draw as guessed: the arm's elbow and wrist in those frames, nothing else
    flags = hidden_joints(toy)
    assert flags[75:225][:, [IX["left_elbow"], IX["left_wrist"]]].all() and flags.sum() == 2 * 150
    assert hidden_joints(toy.replace(confidence=None)) is None
    # a leg hidden for a moment (a third of a window) changes nothing
    conf = seq.confidence.copy()
    conf[0:50, legs] = 0.15
    assert assess_tracking(seq.replace(confidence=conf), spans(seq), window_rotation="corrected").state == "good"


def test_a_face_hard_to_see_makes_its_windows_doubtful_naming_the_face():
    """A dim room: the pose model still finds every keypoint, but the nose's confidence falls to about half the
    frame's best-seen keypoints' (0.35 against 0.8 here, far above the low-confidence threshold), and the nose it
    places is a little off in every frame. Through most of a window: doubtful, the face named; for a moment (a
    head turned away for a second): nothing."""
    seq = recording(10.0)
    conf = seq.confidence.copy()
    conf[75:225, IX["nose"]] = 0.35  # the middle window, and half of the first and the last
    dim = seq.replace(confidence=conf)
    q = assess_tracking(dim, spans(dim), window_rotation="corrected")
    assert not q.withheld and q.state == "doubtful"
    assert q.window_states == ("good", "doubtful", "good")
    assert "the face hard to see in 100 % of its frames" in q.window_reasons[1]
    assert any(r.startswith("the face hard to see in 1 of 3 windows") for r in q.reasons), q.reasons
    assert q.summary["faint"]["face"] == pytest.approx(150 / len(conf)) and q.summary["faint"]["left foot"] == 0.0
    # at 75 % of the rest the face is seen; the threshold is a field of Thresholds (pose-gate files carry it)
    conf[75:225, IX["nose"]] = 0.75 * np.nanpercentile(seq.confidence, 75, axis=1)[75:225]
    assert assess_tracking(seq.replace(confidence=conf), spans(seq), window_rotation="corrected").state == "good"
    strict = dataclasses.replace(THRESHOLDS, faint_ratio=0.8)
    q = assess_tracking(seq.replace(confidence=conf), spans(seq), window_rotation="corrected", thresholds=strict)
    assert q.window_states == ("good", "doubtful", "good")
    # a toy held over the left knee through the middle window: the knee alone falls (its leg, judged by the mean of
    # knee and ankle, stays seen), and the window is doubtful, naming the knee
    conf = seq.confidence.copy()
    conf[75:225, IX["left_knee"]] = 0.35
    q = assess_tracking(seq.replace(confidence=conf), spans(seq), window_rotation="corrected")
    assert q.window_states == ("good", "doubtful", "good") and q.summary["hidden"]["left leg"] == 0.0
    assert "the left knee hard to see in 100 % of its frames" in q.window_reasons[1]
    assert any(r.startswith("the left knee hard to see in 1 of 3 windows") and "something over it" in r
               for r in q.reasons), q.reasons
    # a head turned away for a second changes nothing
    conf = seq.confidence.copy()
    conf[0:30, IX["nose"]] = 0.2
    assert assess_tracking(seq.replace(confidence=conf), spans(seq), window_rotation="corrected").state == "good"


def test_motion_blur_the_tracker_measured_makes_the_recording_doubtful_from_a_keypoint_file_too(tmp_path):
    """Frames that mix several instants: every keypoint plausible and seen, the hands and feet less sharp when
    they move fast (the tracker's ``metadata["sharpness"]``). Below the threshold the recording is doubtful,
    its windows untouched; the measure travels with the keypoints' CSV (its sidecar)."""
    from infantjax.io import read_keypoints, write_keypoints

    seq = recording(10.0)
    measured = {"fast_over_slow": 0.6, "joints": {"left_wrist": 0.55}, "frames": seq.num_frames}
    # with frame times, as the tracker gives them: the CSV's sidecar keeps what a CSV cannot hold
    blurred = seq.replace(metadata={**seq.metadata, "sharpness": measured}, times=np.arange(seq.num_frames) / 30.0)
    q = assess_tracking(blurred, spans(blurred), window_rotation="corrected")
    assert not q.withheld and q.state == "doubtful" and q.window_states == ("good",) * 3
    assert len(q.reasons) == 1 and "hands and feet are blurred when they move fast" in q.reasons[0]
    assert "60 %" in q.reasons[0] and q.summary["sharpness"] == 0.6
    write_keypoints(tmp_path / "k.csv", blurred)
    back = read_keypoints(tmp_path / "k.csv")
    assert back.metadata["sharpness"] == measured
    assert assess_tracking(back, spans(back), window_rotation="corrected").state == "doubtful"
    # sharp enough, a lower threshold, or nothing measured: good
    sharp = seq.replace(metadata={**seq.metadata, "sharpness": {**measured, "fast_over_slow": 0.95}})
    assert assess_tracking(sharp, spans(sharp), window_rotation="corrected").state == "good"
    lenient = dataclasses.replace(THRESHOLDS, blur_ratio=0.5)
    assert assess_tracking(blurred, spans(blurred), window_rotation="corrected", thresholds=lenient).state == "good"
    q = assess_tracking(seq, spans(seq), window_rotation="corrected")
    assert q.state == "good" and q.summary["sharpness"] is None


def test_keypoint_files_without_frame_size_or_confidence_are_judged_on_what_they_have():
    seq = recording()
    bare = SkeletonSequence(seq.coords, seq.fps, "in-motion-19")
    q = assess_tracking(bare, spans(bare))
    assert q.state == "good" and q.summary["image_hw"] is None and q.summary["mean_confidence"] is None
    assert assess_tracking(bare).window_states == ("good",)  # no windows: one over the whole recording
    with pytest.raises(DataError, match="in-motion-19"):
        assess_tracking(seq.map_to("mpii-16", approximate=True))
    with pytest.raises(DataError, match="SkeletonSequence"):
        assess_tracking(seq.coords)
    with pytest.raises(DataError, match="pairs"):
        assess_tracking(seq, [1.0, 2.0])


def test_synthetic_cohorts_pass_the_gate():
    """The keypoint files ``infantjax synth`` writes (a simulated detector: noise, outliers, dropouts) are
    good."""
    co = synth.cohort("cp", n_subjects=12, seed=4, duration_s=12.0, fps=(15, 31), difficulty="hard")
    states = [assess_tracking(s, spans(s), window_rotation="reference").state for s in co.sequences]
    assert states == ["good"] * 12


def test_recording_length_warning():
    assert recording_length_warning(120.0) is None
    warning = recording_length_warning(10.0)
    assert "10 s" in warning and "1–9 minutes" in warning


# ----------------------------------------------------------------------------------------- the gated risk
def quality_of(states: tuple[str, ...]) -> TrackingQuality:
    seq = recording(seconds=2.5 * (len(states) + 1))
    q = assess_tracking(seq, spans(seq))
    withheld = sum(s != "unreliable" for s in states) < max(1, np.ceil(THRESHOLDS.min_usable * len(states)))
    state = "unreliable" if withheld else "doubtful" if any(s != "good" for s in states) else "good"
    reasons = ("tracking unreliable in 2 of 3 windows",) if withheld else () if state == "good" else ("x",)
    return TrackingQuality(state, withheld, reasons, states, tuple(() for _ in states), q.frame_score,
                           windows=q.windows)


def test_unreliable_windows_are_left_out_of_the_risk_and_too_many_withhold_it():
    p = np.array([[0.9] * 5, [0.1] * 5, [0.2] * 5])  # window 1 alone says CP
    plain = assess(p, 0.5)
    assert plain.risk == pytest.approx(0.2) and plain.colour == "green"
    left_out = assess(p, 0.5, quality=quality_of(("good", "good", "unreliable")))
    assert left_out.risk == pytest.approx(0.5) and left_out.cp  # median of 0.9 and 0.1
    np.testing.assert_allclose(left_out.instance_risk, 0.5)
    assert left_out.used_windows.tolist() == [True, True, False] and not left_out.withheld
    assert left_out.colour == "orange"  # every instance says CP (red), but a window is out: never certain
    withheld = assess(p, 0.5, quality=quality_of(("unreliable", "good", "unreliable")))
    assert withheld.withheld and withheld.label == "cannot be assessed" and withheld.colour == "grey"
    assert withheld.risk == pytest.approx(0.1) and not withheld.certain  # kept for research, not shown
    assert withheld.summary().startswith("CP risk cannot be assessed: tracking unreliable in 2 of 3 windows")
    assert withheld.window_colour == plain.window_colour  # every window keeps its own colour
    with pytest.raises(DataError, match="window states"):
        assess(p, 0.5, quality=quality_of(("good", "good")))


def test_doubtful_tracking_is_never_certain():
    assert assess(np.full((3, 4), 0.9), 0.5).colour == "red"
    doubtful = quality_of(("good", "doubtful", "good"))
    assert assess(np.full((3, 4), 0.9), 0.5, quality=doubtful).colour == "orange"
    assert assess(np.full((3, 4), 0.1), 0.5, quality=quality_of(("doubtful",) * 3)).colour == "yellow"
    good = assess(np.full((3, 4), 0.1), 0.5, quality=quality_of(("good",) * 3))
    assert good.colour == "green" and good.certain


def test_the_verdict_travels_with_the_result_json():
    seq = recording()
    q = assess_tracking(spoil(seq, slice(150, 300), conf=0.01), spans(seq))
    assert TrackingQuality.from_json(json.loads(json.dumps(q.to_json()))).to_json() == q.to_json()
    assert TrackingQuality.from_json(json.dumps(q.to_json())).window_states == q.window_states
    r = assess(np.random.default_rng(0).uniform(size=(3, 5)), 0.5, quality=q)
    again = RiskResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert again.withheld and again.label == "cannot be assessed" and again.colour == "grey"
    assert again.quality.window_states == q.window_states and again.risk == r.risk
    assert r.to_dict()["quality"]["state"] == "unreliable" and r.to_dict()["withheld"] is True
    assert r.with_threshold(0.3).withheld
    with pytest.raises(DataError, match="tracking-quality record"):
        TrackingQuality.from_json({"state": "fine"})


# ---------------------------------------------------------------------------------------- rendered videos
@pytest.fixture(scope="module")
def pose_model():
    from infantjax.pipelines.pose import PosePredictor

    return PosePredictor.pretrained("rt-synthetic-infant")


#: The earlier whole-frame model draws hands and feet with 0.3–0.6 of its best keypoints' confidence in every
#: frame of a good render (the default model, for which the shipped 0.7 is calibrated, about as surely as its
#: trunk): judged with the faint_ratio a lab would fit for it (pose-gate), not the default model's.
EARLIER = dataclasses.replace(THRESHOLDS, faint_ratio=0.3)


@pytest.fixture(scope="module")
def earlier_thresholds():
    return EARLIER


def tracked_verdict(tmp_path, pose_model, kind: str, thresholds, seed: int = 2) -> TrackingQuality:
    """A 6-s video of ``kind`` (320 × 240, 10 fps) tracked by the zoo's pose model and judged over 5-s
    windows."""
    from infantjax.synth.faults import fault_video

    video = fault_video(tmp_path / f"{kind}.mp4", kind, seed=seed, duration_s=6.0, fps=10.0)
    seq = pose_model.track(video.path, progress=False)
    assert seq.metadata["image_hw"] == ([320, 240] if kind == "rotated" else [240, 320])
    return assess_tracking(seq, window_spans([0, 30], 150, 30.0, seq.duration), window_rotation="reference",
                           thresholds=thresholds)


@pytest.mark.needs("av")
def test_a_rendered_video_that_tracks_well_is_not_withheld(tmp_path, pose_model, earlier_thresholds):
    q = tracked_verdict(tmp_path, pose_model, "good", earlier_thresholds)
    assert not q.withheld and q.window_states == ("good", "good")
    # judged with the default model's faint_ratio, the earlier model's hands and feet are hard to see throughout
    q = tracked_verdict(tmp_path, pose_model, "good", THRESHOLDS)
    assert not q.withheld and "hard to see" in " ".join(q.reasons)


@pytest.mark.needs("av")
@pytest.mark.parametrize("kind", ["rotated", "empty", "noise", "leaving", "blurred"])
def test_each_failure_kind_is_withheld(tmp_path, pose_model, earlier_thresholds, kind):
    """The infant turned 90° (keypoints on the frame's edge, low confidence), no infant (an empty mattress, a
    noise stream), the infant leaving the frame from 2.1 to 4.5 s of 6, heavy blur: never a coloured
    decision."""
    q = tracked_verdict(tmp_path, pose_model, kind, earlier_thresholds)
    assert q.withheld and q.state == "unreliable", (kind, q.reasons, q.summary)
    assert q.reasons[0] == "tracking unreliable in 2 of 2 windows"
    assert all(w for w in q.window_reasons)  # each window says why
