"""The synthetic infant's body: a kinematic tree with the keypoints of every infantjax skeleton, in 3D.

Coordinates are in centimetres in the **body frame** of an infant lying supine: ``x`` points to the infant's left
(the image right for a camera above), ``y`` points from the head towards the feet and ``z`` is the height above the
mattress. A body is a set of segment lengths and radii; :func:`forward_kinematics` turns joint angles (see
``infantjax.synth.movement.DOFS``) into the 3D positions of :data:`BODY_KEYPOINTS`.

Proportions are those of a 9–18-week-old infant (the fidgety-movement period, seed 002: 9–18 weeks corrected age,
median 12). Segment lengths were set so that the 2D projections seen by a camera above reproduce the ratios of
the real infant annotations in ``data/passmore-dlc-labels`` (see ``docs/synth.md``; ``tests/test_synth.py``
computes both): trunk (mid-shoulder to mid-hip) ≈ 18 cm at 12 weeks, head (crown to chin) ≈ 0.69 trunk, shoulder
width ≈ 0.69, hip width ≈ 0.56, upper arm ≈ 0.39, forearm ≈ 0.33, thigh ≈ 0.48, shank (knee to ankle) ≈ 0.61.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import ConfigError

__all__ = [
    "BODY_KEYPOINTS",
    "BODY_PARTS",
    "Body",
    "infant",
    "forward_kinematics",
    "keypoints_for",
    "segment_ratios",
]

# Every keypoint of every built-in skeleton (canonical names), plus hand centres for rendering.
BODY_KEYPOINTS: tuple[str, ...] = (
    "head_top", "nose", "right_ear", "left_ear", "upper_neck", "right_shoulder", "right_elbow", "right_wrist",
    "thorax", "left_shoulder", "left_elbow", "left_wrist", "pelvis", "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",  # the In-Motion 19, in its order
    "left_eye", "right_eye", "chin", "left_heel", "left_toe", "right_heel", "right_toe", "left_hand", "right_hand",
    "neck", "head_center",
)
_K = {name: i for i, name in enumerate(BODY_KEYPOINTS)}


@dataclasses.dataclass(frozen=True)
class Part:
    """A rendered body part: a capsule (sphere-swept segment) between two keypoints.

    ``radius`` is the half-width seen from above and ``thickness`` the half-height above the part's axis (a
    flattened capsule), both in cm as multiples of the body's ``trunk_length``; ``cloth`` says whether clothing
    covers it (``"onesie"``: trunk and the proximal limb segments, ``"diaper"``: pelvis) or skin shows.
    """

    name: str
    a: str
    b: str
    radius: float
    thickness: float
    cloth: str = "skin"


# Radii as fractions of the trunk length (18 cm at 12 weeks): head r ≈ 6.3 cm (head circumference ≈ 40 cm).
BODY_PARTS: tuple[Part, ...] = (
    Part("trunk", "thorax", "pelvis", 0.33, 0.27, "onesie"),
    Part("pelvis", "left_hip", "right_hip", 0.22, 0.22, "diaper"),
    Part("neck", "thorax", "upper_neck", 0.18, 0.16, "skin"),
    Part("head", "head_center", "head_center", 0.35, 0.35, "skin"),
    Part("left_upper_arm", "left_shoulder", "left_elbow", 0.11, 0.11, "onesie"),
    Part("left_forearm", "left_elbow", "left_wrist", 0.095, 0.095, "skin"),
    Part("left_hand", "left_wrist", "left_hand", 0.09, 0.07, "skin"),
    Part("right_upper_arm", "right_shoulder", "right_elbow", 0.11, 0.11, "onesie"),
    Part("right_forearm", "right_elbow", "right_wrist", 0.095, 0.095, "skin"),
    Part("right_hand", "right_wrist", "right_hand", 0.09, 0.07, "skin"),
    Part("left_thigh", "left_hip", "left_knee", 0.15, 0.15, "onesie"),
    Part("left_shank", "left_knee", "left_ankle", 0.12, 0.12, "skin"),
    Part("left_foot", "left_heel", "left_toe", 0.085, 0.085, "skin"),
    Part("right_thigh", "right_hip", "right_knee", 0.15, 0.15, "onesie"),
    Part("right_shank", "right_knee", "right_ankle", 0.12, 0.12, "skin"),
    Part("right_foot", "right_heel", "right_toe", 0.085, 0.085, "skin"),
)


class _Record:
    """The plain-dict round trip of the synthetic infant's frozen records (:class:`Body`,
    :class:`~infantjax.synth.movement.MovementProfile`): ``to_json()`` gives the fields as a dict, ``from_json(d)``
    builds the record from one."""

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping):
        return cls(**dict(data))


@dataclasses.dataclass(frozen=True)
class Body(_Record):
    """Per-infant proportions (cm). All fields are lengths except ``corrected_age`` (weeks) and ``sex``.

    ``trunk_length`` is mid-shoulder to mid-hip (seed 002's trunk: upper chest to mid pelvis); the other lengths
    are absolute. Use :func:`infant` to sample one.
    """

    trunk_length: float = 18.0
    shoulder_width: float = 12.4
    hip_width: float = 10.0
    upper_arm: float = 7.0
    forearm: float = 6.0
    hand: float = 2.6
    thigh: float = 8.6
    shank: float = 11.0
    foot: float = 7.0
    head_radius: float = 6.3
    neck: float = 2.0
    trunk_height: float = 4.5
    corrected_age: float = 12.0
    sex: str = "F"

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if f.name in ("sex",):
                continue
            v = getattr(self, f.name)
            if not np.isfinite(v) or v <= 0:
                raise ConfigError(f"Body.{f.name} must be a positive number, got {v!r}")

    def scaled(self, factor: float) -> Body:
        """The same proportions at another size (e.g. a preterm infant for the depth set-up)."""
        changes = {f.name: getattr(self, f.name) * factor for f in dataclasses.fields(self)
                   if f.name not in ("corrected_age", "sex")}
        return dataclasses.replace(self, **changes)


def infant(seed: int | np.random.Generator | None = None, *, corrected_age: float | None = None,
           sex: str | None = None, variation: float = 1.0) -> Body:
    """Sample the proportions of one 9–18-week-old infant.

    Arguments:
        seed: an int seed or a ``numpy.random.Generator``.
        corrected_age: weeks; default drawn from N(12.2, 1.3²) clipped to [9, 18] (seed 002, eTable 1: corrected
            age at recording 12.3 (SD 1.3) weeks, range 9–18).
        sex: ``"M"`` or ``"F"``; default male with probability 0.55 (seed 002, eTable 1: 55 % male).
        variation: multiplies the per-segment variation (0 gives the mean body at that age).

    Returns:
        a :class:`Body`.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if corrected_age is None:
        corrected_age = float(np.clip(rng.normal(12.2, 1.3), 9.0, 18.0))
    if not 4.0 <= corrected_age <= 30.0:
        raise ConfigError(f"corrected_age must be between 4 and 30 weeks for this body model, got {corrected_age}")
    if sex is None:
        sex = "M" if rng.random() < 0.55 else "F"
    if sex not in ("M", "F"):
        raise ConfigError(f"sex must be 'M' or 'F', got {sex!r}")
    # body length grows ≈ 0.8 cm/week around 3 months (≈ 60 cm at 12 weeks): ≈ 1.3 %/week; boys ≈ 2 % larger
    size = (1.0 + 0.013 * (corrected_age - 12.0)) * (1.01 if sex == "M" else 0.99)
    size *= float(np.exp(rng.normal(0.0, 0.04 * variation)))
    base = Body()
    changes = {}
    for f in dataclasses.fields(base):
        if f.name in ("corrected_age", "sex"):
            continue
        spread = 0.0 if f.name == "trunk_length" else 0.05
        changes[f.name] = getattr(base, f.name) * size * float(np.exp(rng.normal(0.0, spread * variation)))
    return dataclasses.replace(base, corrected_age=float(corrected_age), sex=sex, **changes)


# ------------------------------------------------------------------------------------------ kinematics

def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices (3, 3, T) — time last, so every entry is one contiguous vector — about a body axis
    (0 = x, 1 = y, 2 = z) by ``angle`` (T,) radians."""
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros((3, 3) + angle.shape)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    out[axis, axis] = 1.0
    out[i, i] = c
    out[j, j] = c
    out[i, j] = -s
    out[j, i] = s
    return out


def _mm(*mats: np.ndarray) -> np.ndarray:
    """Product of per-frame 3×3 matrices stored (3, 3, T)."""
    out = mats[0]
    for m in mats[1:]:
        out = (out[:, :, None, :] * m[None, :, :, :]).sum(axis=1)
    return out


def _apply(r: np.ndarray, v) -> np.ndarray:
    """Rotate a constant vector (3,) or per-frame vectors (T, 3) by per-frame rotations (3, 3, T); returns (T, 3)."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 1:
        return (r * v[None, :, None]).sum(axis=1).T
    return (r * v.T[None, :, :]).sum(axis=1).T


def forward_kinematics(body: Body, angles: Mapping[str, np.ndarray]) -> np.ndarray:
    """3D keypoints of the body for joint angles over time.

    Arguments:
        body: the infant's proportions.
        angles: radians per degree of freedom (names of ``infantjax.synth.movement.DOFS``), each (T,); a missing
            degree of freedom is 0 (the straight supine pose with arms and legs along the body).

    Returns:
        (T, K, 3) float64 positions of :data:`BODY_KEYPOINTS` in the body frame (cm; x left, y feet, z up). Limb
        points are kept above the mattress by their segment radius.
    """
    lengths = {len(np.shape(v)) and np.shape(v)[0] for v in angles.values()}
    lengths.discard(0)
    if len(lengths) > 1:
        raise ConfigError(f"all joint-angle series must have the same length, got lengths {sorted(lengths)}")
    t = lengths.pop() if lengths else 1

    def a(name):
        v = angles.get(name)
        return np.zeros(t) if v is None else np.broadcast_to(np.asarray(v, dtype=np.float64), (t,))

    b = body
    out = np.zeros((t, len(BODY_KEYPOINTS), 3))
    ey = np.array([0.0, 1.0, 0.0])
    pelvis = np.array([0.0, 0.0, b.trunk_height])
    r_pelvis = _rot(1, a("pelvis_roll"))
    r_trunk = _mm(_rot(2, a("trunk_lateral")), _rot(1, a("trunk_twist")), _rot(0, a("trunk_flex")))
    thorax = pelvis + _apply(r_trunk, [0.0, -b.trunk_length, 0.0])
    out[:, _K["pelvis"]] = pelvis
    out[:, _K["thorax"]] = thorax
    # head: rotates about the upper neck (skull base); offsets in the head frame (x left, y feet, z face)
    upper_neck = thorax + _apply(r_trunk, [0.0, -b.neck, 0.4 * b.neck])
    neck_mid = 0.5 * (thorax + upper_neck)
    out[:, _K["upper_neck"]] = upper_neck
    out[:, _K["neck"]] = neck_mid
    r_head = _mm(r_trunk, _rot(2, a("neck_lateral")), _rot(0, -a("neck_flex")), _rot(1, a("neck_yaw")))
    hr = b.head_radius
    head = {
        "head_center": (0.0, -0.8 * hr, 0.25 * hr),
        "head_top": (0.0, -1.7 * hr, 0.1 * hr),
        "nose": (0.0, -0.55 * hr, 1.15 * hr),
        "left_eye": (0.33 * hr, -0.9 * hr, 0.95 * hr),
        "right_eye": (-0.33 * hr, -0.9 * hr, 0.95 * hr),
        "left_ear": (0.88 * hr, -0.8 * hr, 0.2 * hr),
        "right_ear": (-0.88 * hr, -0.8 * hr, 0.2 * hr),
        "chin": (0.0, 0.16 * hr, 0.75 * hr),
    }
    for name, off in head.items():
        out[:, _K[name]] = upper_neck + _apply(r_head, off)
    for side, s in (("left", 1.0), ("right", -1.0)):
        # arm: abduction swings the arm in the mattress plane, flexion lifts it towards the camera, positive
        # rotation is external (a flexed forearm then points towards the head), flexion bends the elbow
        shoulder = thorax + _apply(r_trunk, [s * 0.5 * b.shoulder_width, 0.04 * b.trunk_length, 0.0])
        r_upper = _mm(r_trunk, _rot(2, -s * a(f"{side}_shoulder_abduction")), _rot(0, a(f"{side}_shoulder_flexion")),
                      _rot(1, s * a(f"{side}_shoulder_rotation")))
        elbow = shoulder + b.upper_arm * _apply(r_upper, ey)
        r_fore = _mm(r_upper, _rot(0, a(f"{side}_elbow_flexion")))
        wrist = elbow + b.forearm * _apply(r_fore, ey)
        r_hand = _mm(r_fore, _rot(0, a(f"{side}_wrist_flexion")), _rot(2, s * a(f"{side}_wrist_deviation")))
        hand = wrist + b.hand * _apply(r_hand, ey)
        # leg: flexion lifts the thigh, the knee bends posteriorly, ankle plantarflexion points the toes distally
        hip = pelvis + _apply(r_pelvis, [s * 0.5 * b.hip_width, 0.0, 0.0])
        r_thigh = _mm(r_pelvis, _rot(2, -s * a(f"{side}_hip_abduction")), _rot(0, a(f"{side}_hip_flexion")),
                      _rot(1, s * a(f"{side}_hip_rotation")))
        knee = hip + b.thigh * _apply(r_thigh, ey)
        r_shank = _mm(r_thigh, _rot(0, -a(f"{side}_knee_flexion")))
        ankle = knee + b.shank * _apply(r_shank, ey)
        r_foot = _mm(r_shank, _rot(0, -a(f"{side}_ankle_flexion")), _rot(2, s * a(f"{side}_ankle_inversion")))
        heel = ankle + _apply(r_foot, [0.0, 0.2 * b.foot, -0.12 * b.foot])
        toe = heel + _apply(r_foot, [0.0, 0.0, b.foot])
        for name, p in (("shoulder", shoulder), ("elbow", elbow), ("wrist", wrist), ("hand", hand), ("hip", hip),
                        ("knee", knee), ("ankle", ankle), ("heel", heel), ("toe", toe)):
            out[:, _K[f"{side}_{name}"]] = p
    # the mattress: no limb point sinks below its own segment radius
    floor = _floor(body)
    np.maximum(out[..., 2], floor, out=out[..., 2])
    return out


def _floor(body: Body) -> np.ndarray:
    floor = np.zeros(len(BODY_KEYPOINTS))
    tl = body.trunk_length
    for part in BODY_PARTS:
        if part.name in ("trunk", "pelvis", "neck", "head"):
            continue
        for k in (part.a, part.b):
            floor[_K[k]] = max(floor[_K[k]], part.thickness * tl)
    return floor


def keypoints_for(points: np.ndarray, target: str | _skeleton.Skeleton) -> np.ndarray:
    """Select the keypoints of a skeleton (``"in-motion-19"``, ``"passmore-18"``, ``"babypose-12"``,
    ``"kinect-limbs-4"``, ``"mpii-16"``, ``"coco-18"``) from body points (..., K, D) by canonical name.

    Returns:
        (..., J, D) in the target's order.
    """
    skel = _skeleton.get(target)
    idx = []
    for name in skel.keypoints:
        if name not in _K:
            raise ConfigError(f"the synthetic body has no keypoint {name!r} needed by skeleton {skel.name!r}")
        idx.append(_K[name])
    return np.asarray(points)[..., idx, :]


def segment_ratios(points: np.ndarray, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Segment lengths over the trunk length (mid-shoulder to mid-hip), per frame, for points (..., K, D) in
    ``names`` order (default :data:`BODY_KEYPOINTS`).

    The segments are those of the Passmore annotations: upper arm (shoulder–elbow), forearm (elbow–hand point,
    which Passmore calls ``LHand`` and infantjax ``left_wrist``), thigh (hip–knee), shank (knee–heel), head
    (crown–chin); both sides pooled on the last axis.
    """
    names = names or BODY_KEYPOINTS
    ix = {n: i for i, n in enumerate(names)}
    p = np.asarray(points, dtype=np.float64)

    def P(n):
        return p[..., ix[n], :]

    def L(a, b):
        return np.linalg.norm(P(a) - P(b), axis=-1)

    trunk = np.linalg.norm(0.5 * (P("left_shoulder") + P("right_shoulder")) - 0.5 * (P("left_hip") + P("right_hip")),
                           axis=-1)
    pairs = {
        "upper_arm": [("shoulder", "elbow")], "forearm": [("elbow", "wrist")], "thigh": [("hip", "knee")],
        "shank": [("knee", "heel")],
    }
    out = {}
    for seg, ((a, b),) in pairs.items():
        out[seg] = np.stack([L(f"{s}_{a}", f"{s}_{b}") / trunk for s in ("left", "right")], axis=-1)
    out["head"] = (L("head_top", "chin") / trunk)[..., None]
    return out
