"""The synthetic infant: movement generator with known ground truth, renderer (RGB, depth, 3D, Kinect limb
tracks), videos and cohorts. See ``docs/synth.md`` for the movement model, its parameters and sources.

Typical use::

    from infantjax import synth
    cohort = synth.cohort("cp", n_subjects=100, seed=0)          # Cohort of SkeletonSequences + labels
    frames, keypoints, visible = synth.render_frames(64, seed=0)   # pose-training images

Lower-level pieces: :func:`infant` (body proportions), :func:`movement_profile` / :func:`generate` (joint angles
and 3D keypoints), :func:`record` (camera, detector noise, dropouts), :func:`rasterize` / :func:`render` (RGB),
``synth.depth`` (depth frames and babyPose limb masks), :func:`kinect_tracks`, :func:`keypoints_3d`;
:func:`sma_recordings` (Kinect limb-track recordings of an SMA cohort with CHOP INTEND scores, seed 000).
"""

from infantjax.synth.body import BODY_KEYPOINTS, BODY_PARTS, Body, forward_kinematics, infant, keypoints_for
from infantjax.synth.cohorts import (DIFFICULTIES, Difficulty, Subject, SyntheticVideo, birth_weight, cohort,
                                     fms_clip_labels, fms_frames, sample_subject)
from infantjax.synth.kinect import KinectRecordings, sma_recordings
from infantjax.synth.movement import (DOFS, FMS_CLASSES, Motion, MovementProfile, generate, movement_profile,
                                      typical_profile)
from infantjax.synth.recording import (Camera, Recording, RecordingConfig, keypoints_3d, kinect_tracks, record,
                                       sample_camera)
from infantjax.synth.rendering import Appearance, Rendered, rasterize, render, render_frames, sample_appearance

__all__ = [
    "BODY_KEYPOINTS", "BODY_PARTS", "Body", "forward_kinematics", "infant", "keypoints_for",
    "DIFFICULTIES", "Difficulty", "Subject", "SyntheticVideo", "birth_weight", "cohort", "fms_clip_labels",
    "fms_frames", "sample_subject",
    "DOFS", "FMS_CLASSES", "Motion", "MovementProfile", "generate", "movement_profile", "typical_profile",
    "Camera", "Recording", "RecordingConfig", "keypoints_3d", "kinect_tracks", "record", "sample_camera",
    "Appearance", "Rendered", "rasterize", "render", "render_frames", "sample_appearance",
    "KinectRecordings", "sma_recordings",
]
