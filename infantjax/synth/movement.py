"""Spontaneous movements of the synthetic infant: joint angles over time from documented stochastic processes.

Every degree of freedom (:data:`DOFS`) follows

    angle_d(t) = posture_d + gross_d · activity(t) · g_d(t) + fidgety_d · fms(t) · f_d(t)

* ``g_d`` — **writhing / gross movements**: slow, large, smooth, band-limited Gaussian noise with a log-normal
  spectral band around 0.35 Hz (0.15–0.8 Hz), amplitude 4–22° depending on the joint, independent between limbs
  in typical infants; ``activity(t)`` is a slow log-normal envelope (quiet and active bouts).
* ``f_d`` — **fidgety movements** (FMs): "small movements of moderate speed and variable acceleration, of neck,
  trunk and limbs, in all directions" (seed 002, after Einspieler et al. 2004): band-limited noise around 2.5 Hz
  (≈1.6–4 Hz; variable acceleration comes from the random phase and frequency modulation of the band), amplitude
  0.5–5° (a quarter or less of the gross amplitude), on every degree of freedom of the neck, trunk and limbs (all
  directions) at once.
* ``fms(t)`` — the **temporal organisation** of FMs (seed 002 §3.5.1 after Prechtl: continual, intermittent,
  sporadic, absent): an on/off renewal process whose on-fraction (the "FMs frequency" of seed 001) is drawn per
  recording: continual 0.60–0.85, intermittent 0.35–0.55, sporadic 0.08–0.22, absent 0. With continual and
  intermittent equally likely this reproduces seed 001's FMs frequency of normal infants (median 0.553, IQR
  0.41–0.71) and, for sporadic/absent, its risk group's low values (median 0.135).

Abnormal patterns (CP-like; amplitudes scale with a severity in [0, 1]):

* **cramped-synchronised**: the limbs' gross movements share one common driver (limbs contract and relax almost
  simultaneously): g_d ← √(1−ρ²)·g_d + ρ·s_d·c(t) with ρ = 0.65 + 0.3·severity and a squashed (abrupt, rigid)
  driver; distal joints stiffen (wrist/ankle amplitude × (1 − 0.5·severity)).
* **poor repertoire**: monotonous sequences: the gross band narrows (log-bandwidth 0.55 → 0.2), all joints share
  one frequency, and a random half of the degrees of freedom move at 30 % amplitude.
* **unilateral** involvement: the affected side's gross amplitude × (1 − 0.55·severity), its FMs ×
  (1 − 0.85·severity), its movements slower (frequency × (1 − 0.3·severity)) and its hand more fisted.
* **bilateral** involvement: legs more than arms (arms also strongly when GMFCS IV–V): reduced amplitude, legs
  more extended and adducted.

SMA-like weakness (seed 000): a CHOP INTEND extremity score s in [0, 72] scales limb amplitude by
0.12 + 0.88·(s/72)^0.8 and frequency by 0.6 + 0.4·s/72, and lowers anti-gravity postures (legs fall into
abduction on the mattress, arms rest on it) — strictly monotone in s.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import numpy as np

from infantjax.errors import ConfigError
from infantjax.synth.body import Body, _Record, forward_kinematics

__all__ = [
    "DOFS",
    "FMS_CLASSES",
    "FMS_DUTY",
    "MovementProfile",
    "Motion",
    "typical_profile",
    "movement_profile",
    "generate",
    "band_noise",
    "fms_mask",
]

FMS_CLASSES = ("absent", "sporadic", "intermittent", "continual")
# on-fraction ranges of the FMs process per class (see the module docstring; seed 001 FMs frequency)
FMS_DUTY = {"absent": (0.0, 0.0), "sporadic": (0.08, 0.22), "intermittent": (0.35, 0.55), "continual": (0.60, 0.85)}
# mean duration (s) of one FMs episode per class
_FMS_EPISODE = {"absent": 1.0, "sporadic": 2.0, "intermittent": 4.0, "continual": 8.0}

_AXIAL = ("pelvis_roll", "trunk_lateral", "trunk_twist", "trunk_flex", "neck_yaw", "neck_lateral", "neck_flex")
_ARM = ("shoulder_abduction", "shoulder_flexion", "shoulder_rotation", "elbow_flexion", "wrist_flexion",
        "wrist_deviation")
_LEG = ("hip_flexion", "hip_abduction", "hip_rotation", "knee_flexion", "ankle_flexion", "ankle_inversion")
DOFS: tuple[str, ...] = _AXIAL + tuple(f"{s}_{j}" for s in ("left", "right") for j in _ARM + _LEG)

# Per joint (degrees): posture mean, between-infant sd of the posture, gross amplitude (sd), FMs amplitude (sd),
# synergy sign in a whole-limb flexion (cramped-synchronised driver).
_TABLE = {
    "pelvis_roll": (0, 3, 4, 0.6, 0.0), "trunk_lateral": (0, 4, 4, 0.6, 0.0), "trunk_twist": (0, 3, 4, 0.6, 0.0),
    "trunk_flex": (3, 2, 2, 0.4, 0.5), "neck_yaw": (0, 14, 20, 1.8, 0.0), "neck_lateral": (0, 6, 6, 1.2, 0.0),
    "neck_flex": (5, 5, 5, 1.2, 0.5),
    "shoulder_abduction": (60, 12, 16, 2.4, -1.0), "shoulder_flexion": (22, 8, 16, 2.4, 1.0),
    "shoulder_rotation": (40, 18, 18, 3.0, -0.5), "elbow_flexion": (80, 14, 22, 3.0, 1.0),
    "wrist_flexion": (15, 10, 15, 4.2, 1.0), "wrist_deviation": (0, 5, 8, 3.0, 0.0),
    "hip_flexion": (40, 12, 15, 2.1, 1.0), "hip_abduction": (35, 8, 9, 2.1, -1.0),
    "hip_rotation": (25, 10, 10, 2.4, 0.5), "knee_flexion": (70, 14, 20, 3.0, 1.0),
    "ankle_flexion": (10, 8, 12, 4.2, -1.0), "ankle_inversion": (0, 5, 8, 3.0, 0.0),
}


def _joint(dof: str) -> str:
    for side in ("left_", "right_"):
        if dof.startswith(side):
            return dof[len(side):]
    return dof


def _side(dof: str) -> str:
    return "left" if dof.startswith("left_") else "right" if dof.startswith("right_") else "axial"


def _limb(dof: str) -> str:
    j = _joint(dof)
    return "arm" if j in _ARM else "leg" if j in _LEG else "axial"


_DEG = np.pi / 180.0


@dataclasses.dataclass(frozen=True)
class MovementProfile(_Record):
    """All parameters of one infant's movement processes (angles in degrees, frequencies in Hz).

    Per-degree-of-freedom tuples are in :data:`DOFS` order. Build one with :func:`movement_profile`.
    """

    posture: tuple[float, ...]
    gross_amplitude: tuple[float, ...]
    gross_frequency: tuple[float, ...]
    gross_bandwidth: float
    fms_amplitude: tuple[float, ...]
    fms_frequency: float
    fms_bandwidth: float
    fms_class: str
    fms_duty: float
    activity_variability: float = 0.35
    activity: float = 1.0
    synchrony: float = 0.0
    stiffness: float = 0.0

    def __post_init__(self):
        n = len(DOFS)
        for name in ("posture", "gross_amplitude", "gross_frequency", "fms_amplitude"):
            v = getattr(self, name)
            if len(v) != n:
                raise ConfigError(f"MovementProfile.{name} needs {n} values (one per DOF), got {len(v)}")
            object.__setattr__(self, name, tuple(float(x) for x in v))
        if self.fms_class not in FMS_CLASSES:
            raise ConfigError(f"fms_class must be one of {FMS_CLASSES}, got {self.fms_class!r}")
        if not 0.0 <= self.fms_duty <= 1.0:
            raise ConfigError(f"fms_duty must be in [0, 1], got {self.fms_duty}")
        if not 0.0 <= self.synchrony < 1.0:
            raise ConfigError(f"synchrony must be in [0, 1), got {self.synchrony}")

    def replace(self, **changes) -> MovementProfile:
        return dataclasses.replace(self, **changes)


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def typical_profile(seed=None, *, fms_class: str | None = None) -> MovementProfile:
    """A typically developing infant's movement parameters (per-infant variation included).

    Arguments:
        seed: int or Generator.
        fms_class: FMs temporal organisation; default continual or intermittent with equal probability.
    """
    rng = _rng(seed)
    if fms_class is None:
        fms_class = "continual" if rng.random() < 0.5 else "intermittent"
    if fms_class not in FMS_CLASSES:
        raise ConfigError(f"fms_class must be one of {FMS_CLASSES}, got {fms_class!r}")
    # per-infant activity level (log-normal) and FMs vigour; the same posture left and right up to a little noise
    activity = float(np.exp(rng.normal(0.0, 0.45)))
    fm_vigour = float(np.exp(rng.normal(0.0, 0.3)))
    gross_f0 = float(np.exp(rng.normal(np.log(0.35), 0.2)))
    posture, gross, freq, fms = [], [], [], []
    shared_posture = {}
    for dof in DOFS:
        mean, sd, amp, fm, _ = _TABLE[_joint(dof)]
        j = _joint(dof)
        if j not in shared_posture:
            shared_posture[j] = rng.normal(mean, sd)
        posture.append(shared_posture[j] + rng.normal(0.0, 0.25 * sd))
        gross.append(amp * activity * float(np.exp(rng.normal(0.0, 0.15))))
        freq.append(gross_f0 * float(np.exp(rng.normal(0.0, 0.15))))
        fms.append(fm * fm_vigour * float(np.exp(rng.normal(0.0, 0.1))))
    lo, hi = FMS_DUTY[fms_class]
    return MovementProfile(
        posture=tuple(posture), gross_amplitude=tuple(gross), gross_frequency=tuple(freq), gross_bandwidth=0.55,
        fms_amplitude=tuple(1.25 * np.asarray(fms)), fms_frequency=float(np.exp(rng.normal(np.log(2.5), 0.1))), fms_bandwidth=0.22,
        fms_class=fms_class, fms_duty=float(rng.uniform(lo, hi)),
        activity_variability=float(rng.uniform(0.25, 0.45)), activity=activity,
    )


def movement_profile(seed=None, *, fms_class: str | None = None, subtype: str = "none", severity: float = 0.0,
                     cramped_synchronised: bool = False, poor_repertoire: bool = False,
                     affected_side: str | None = None, chop_intend: float | None = None,
                     activity: float = 1.0) -> MovementProfile:
    """Movement parameters of one infant with the documented abnormal patterns applied.

    Arguments:
        seed: int or Generator (the typical base profile and the random choices come from it).
        fms_class: ``"continual" | "intermittent" | "sporadic" | "absent"``.
        subtype: ``"none"``, ``"unilateral"``, ``"bilateral"``, ``"dyskinetic"`` or ``"ataxic"`` (CP subtypes of
            seed 002 after SCPE; dyskinetic and ataxic are modelled as bilateral involvement, as seed 002 groups
            them into bilateral CP).
        severity: 0 (no abnormality) to 1 (most severe); the cohort maps GMFCS I–V onto it.
        cramped_synchronised, poor_repertoire: the abnormal GM qualities (module docstring).
        affected_side: ``"left"`` or ``"right"`` for unilateral involvement (default drawn).
        chop_intend: SMA-like weakness: CHOP INTEND extremity score 0–72 (None: no weakness).
        activity: multiplies all gross amplitudes (e.g. < 1 for a quiet atypical-but-healthy infant).

    Returns:
        a :class:`MovementProfile`.
    """
    rng = _rng(seed)
    base = typical_profile(rng, fms_class=fms_class)
    if not 0.0 <= severity <= 1.0:
        raise ConfigError(f"severity must be in [0, 1], got {severity}")
    if subtype not in ("none", "unilateral", "bilateral", "dyskinetic", "ataxic"):
        raise ConfigError(f"unknown subtype {subtype!r}; use none, unilateral, bilateral, dyskinetic or ataxic")
    posture = np.array(base.posture)
    gross = np.array(base.gross_amplitude) * activity
    freq = np.array(base.gross_frequency)
    fms = np.array(base.fms_amplitude)
    bandwidth = base.gross_bandwidth
    synchrony, stiffness = 0.0, 0.0
    idx = {d: i for i, d in enumerate(DOFS)}
    side = np.array([_side(d) for d in DOFS])
    limb = np.array([_limb(d) for d in DOFS])
    joint = np.array([_joint(d) for d in DOFS])
    sev = float(severity)
    if subtype == "unilateral":
        affected_side = affected_side or ("left" if rng.random() < 0.5 else "right")
        if affected_side not in ("left", "right"):
            raise ConfigError(f"affected_side must be 'left' or 'right', got {affected_side!r}")
        m = side == affected_side
        gross[m] *= 1.0 - 0.55 * sev
        fms[m] *= 1.0 - 0.85 * sev
        freq[m] *= 1.0 - 0.3 * sev
        posture[idx[f"{affected_side}_wrist_flexion"]] += 25.0 * sev  # fisted, flexed hand
        posture[idx[f"{affected_side}_elbow_flexion"]] += 15.0 * sev
    elif subtype in ("bilateral", "dyskinetic", "ataxic"):
        legs, arms = limb == "leg", limb == "arm"
        arm_factor = 0.2 if sev > 0.6 else 0.05  # GMFCS IV–V: arms too (quadriplegic pattern)
        gross[legs] *= 1.0 - 0.2 * sev
        gross[arms] *= 1.0 - arm_factor * sev
        fms[legs | arms] *= 1.0 - 0.5 * sev
        for s in ("left", "right"):
            posture[idx[f"{s}_hip_abduction"]] -= 25.0 * sev  # adducted, extended legs
            posture[idx[f"{s}_knee_flexion"]] -= 30.0 * sev
            posture[idx[f"{s}_ankle_flexion"]] -= 15.0 * sev  # pointed feet
    if cramped_synchronised:
        synchrony = min(0.65 + 0.3 * sev, 0.95)
        stiffness = 0.5 * sev
        distal = np.isin(joint, ("wrist_flexion", "wrist_deviation", "ankle_flexion", "ankle_inversion"))
        gross[distal] *= 1.0 - stiffness
        freq[limb != "axial"] = np.median(freq[limb != "axial"])
    if poor_repertoire:
        bandwidth = 0.2
        freq[:] = 1.3 * np.median(freq)  # monotonous and faster, not fluent
        quiet = rng.random(len(DOFS)) < 0.5
        gross[quiet] *= 0.3
    if chop_intend is not None:
        s = float(chop_intend)
        if not 0.0 <= s <= 72.0:
            raise ConfigError(f"chop_intend must be a CHOP INTEND extremity score in [0, 72], got {s}")
        strength = s / 72.0
        limbs = limb != "axial"
        # weakness, not temperament, sets the limbs' amplitude: most of the per-infant activity level is removed
        amp = (0.12 + 0.88 * strength ** 0.8) * base.activity ** -0.75
        gross[limbs] *= amp
        fms[limbs] *= amp
        freq[limbs] *= 0.6 + 0.4 * strength
        weak = 1.0 - strength
        for sd in ("left", "right"):  # anti-gravity postures fail: frog legs, arms on the mattress
            posture[idx[f"{sd}_hip_flexion"]] -= 30.0 * weak
            posture[idx[f"{sd}_hip_abduction"]] += 30.0 * weak
            posture[idx[f"{sd}_hip_rotation"]] += 25.0 * weak
            posture[idx[f"{sd}_shoulder_flexion"]] -= 22.0 * weak
            posture[idx[f"{sd}_shoulder_abduction"]] += 15.0 * weak
            posture[idx[f"{sd}_elbow_flexion"]] -= 25.0 * weak
    return base.replace(posture=tuple(posture), gross_amplitude=tuple(gross), gross_frequency=tuple(freq),
                        gross_bandwidth=bandwidth, fms_amplitude=tuple(fms), synchrony=synchrony,
                        stiffness=stiffness)


# ------------------------------------------------------------------------------------------ processes

def band_noise(rng: np.random.Generator, n: int, fps: float, f0, bandwidth: float, channels: int) -> np.ndarray:
    """Unit-variance Gaussian noise (n, channels) with a log-normal spectral band.

    The amplitude response is exp(−½ (ln(f/f0)/bandwidth)²), so most power lies within f0·e^(±2·bandwidth).
    ``f0`` is a scalar or one centre frequency per channel.
    """
    from scipy import fft as _fft

    pad = int(min(n, 2 * fps / max(float(np.min(f0)), 1e-3)))  # avoid wrap-around of slow components
    m = _fft.next_fast_len(n + pad, real=True)
    white = rng.standard_normal((m, channels))
    spec = _fft.rfft(white, axis=0)
    f = np.fft.rfftfreq(m, d=1.0 / fps)[:, None]
    with np.errstate(divide="ignore"):
        h = np.exp(-0.5 * (np.log(np.maximum(f, 1e-9) / np.asarray(f0, dtype=np.float64)) / bandwidth) ** 2)
    h[0] = 0.0
    x = _fft.irfft(spec * h, n=m, axis=0)[:n]
    # theoretical standard deviation of the filtered white noise (per channel)
    power = (2.0 * (h ** 2).sum(axis=0) - h[0] ** 2) / m
    return x / np.sqrt(np.maximum(power, 1e-12))


def fms_mask(rng: np.random.Generator, n: int, fps: float, duty: float, episode_s: float) -> np.ndarray:
    """FMs on/off envelope (n,) in [0, 1] with on-fraction ``duty`` and mean episode length ``episode_s``.

    Alternating gamma-distributed on and off durations (shape 2), started at a random phase, with 0.3 s ramps.
    """
    if duty <= 0.0:
        return np.zeros(n)
    if duty >= 1.0:
        return np.ones(n)
    off_s = episode_s * (1.0 - duty) / duty
    total = n / fps
    k = int(3 * total / (episode_s + off_s)) + 4
    on = rng.gamma(2.0, episode_s / 2.0, k)
    off = rng.gamma(2.0, off_s / 2.0, k)
    edges = np.cumsum(np.stack([off, on], axis=1).ravel())
    edges -= rng.uniform(0.0, edges[1])  # random phase
    t = np.arange(n) / fps
    state = (np.searchsorted(edges, t, side="right") % 2 == 1).astype(np.float64)
    ramp = max(int(round(0.3 * fps)), 1)
    if ramp > 1:
        kernel = np.ones(ramp) / ramp
        state = np.convolve(np.pad(state, (ramp // 2, ramp - 1 - ramp // 2), mode="edge"), kernel, mode="valid")
    return state


@dataclasses.dataclass(frozen=True, eq=False)
class Motion:
    """Generated movement: joint angles (radians, (T,) each), 3D body keypoints (T, K, 3) in cm (body frame, see
    ``infantjax.synth.body``), the FMs envelope (T,) and the frame rate."""

    angles: Mapping[str, np.ndarray]
    points: np.ndarray
    fms: np.ndarray
    fps: float
    body: Body

    @property
    def num_frames(self) -> int:
        return int(self.points.shape[0])


_STREAMS = {"gross": 1, "fms": 2, "fms_mask": 3, "activity": 4, "sync": 5, "phase": 6}


def generate(body: Body, profile: MovementProfile, duration_s: float, fps: float = 30.0, seed=0, *,
             fms: bool = True) -> Motion:
    """Joint angles and 3D keypoints of one recording.

    Each process draws from its own random stream derived from ``seed``, so switching FMs off (``fms=False``)
    or changing their amplitude leaves the gross movements unchanged (the tests compare such pairs).

    Arguments:
        body: the infant's proportions.
        profile: the movement parameters.
        duration_s: length in seconds (> 0).
        fps: frame rate of the generated series.
        seed: int (or Generator, from which an int is drawn).
        fms: include fidgety movements (False zeroes them regardless of the profile).

    Returns:
        a :class:`Motion`.
    """
    if not np.isfinite(duration_s) or duration_s <= 0:
        raise ConfigError(f"duration_s must be a positive number of seconds, got {duration_s!r}")
    if not np.isfinite(fps) or fps <= 0:
        raise ConfigError(f"fps must be positive, got {fps!r}")
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2 ** 63 - 1))
    n = max(int(round(duration_s * fps)), 2)
    streams = {k: np.random.default_rng([int(seed) % (2 ** 63), v]) for k, v in _STREAMS.items()}
    d = len(DOFS)
    limb = np.array([_limb(x) for x in DOFS])
    side = np.array([_side(x) for x in DOFS])
    joint = np.array([_joint(x) for x in DOFS])

    # gross movements, one band per DOF
    g = band_noise(streams["gross"], n, fps, np.array(profile.gross_frequency), profile.gross_bandwidth, d)
    if profile.synchrony > 0:
        rho = profile.synchrony
        c = band_noise(streams["sync"], n, fps, float(np.median(profile.gross_frequency)), 0.35, 1)[:, 0]
        c = np.tanh(1.5 * c) / np.tanh(1.5) * 1.2  # abrupt contract-relax rather than smooth
        sign = np.array([_TABLE[j][4] for j in joint])
        limbs = limb != "axial"
        g[:, limbs] = np.sqrt(1 - rho ** 2) * g[:, limbs] + rho * sign[limbs] * c[:, None]
    # activity envelope: common state plus a little per limb
    a = band_noise(streams["activity"], n, fps, 0.03, 0.5, 5)
    av = profile.activity_variability
    groups = {"axial": 0, ("left", "arm"): 1, ("right", "arm"): 2, ("left", "leg"): 3, ("right", "leg"): 4}
    col = np.array([groups["axial"] if lb == "axial" else groups[(sd, lb)] for sd, lb in zip(side, limb)])
    envelope = np.exp(av * (0.85 * a[:, [0]] + 0.5 * a[:, col]) - 0.5 * av ** 2 * (0.85 ** 2 + 0.25))
    angles_deg = np.array(profile.posture)[None, :] + np.array(profile.gross_amplitude)[None, :] * envelope * g
    mask = np.zeros(n)
    if fms and profile.fms_class != "absent":
        mask = fms_mask(streams["fms_mask"], n, fps, profile.fms_duty, _FMS_EPISODE[profile.fms_class])
        f = band_noise(streams["fms"], n, fps, profile.fms_frequency, profile.fms_bandwidth, d)
        angles_deg = angles_deg + np.array(profile.fms_amplitude)[None, :] * mask[:, None] * f
    angles = {name: angles_deg[:, i] * _DEG for i, name in enumerate(DOFS)}
    points = forward_kinematics(body, angles)
    return Motion(angles=angles, points=points, fms=mask, fps=float(fps), body=body)
