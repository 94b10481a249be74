"""Left and right kept consistent: a pose network that labels every frame on its own can swap the left and right
joints of a limb (the official MPII models do it in about a quarter of the frames of a supine infant), which a
movement model reads as a limb jumping across the body.

:func:`consistent_sides` decides, for every frame and every left/right limb chain (arms, legs, the head's eyes and
ears — each chain hangs from a pair of proximal joints: shoulders, hips, ...), whether the detector swapped it. Two
cues, combined in a two-state path through the recording per left/right pair (Viterbi), from the chain's proximal
pair outwards:

* **the body's handedness** (the proximal pair) — an infant lying on its back, filmed from above, has its left side
  on the image's right when its head is up: the pair crosses the spine (thorax → pelvis) one way. A labelling whose
  pair crosses it the other way costs in proportion to how clearly it does (nothing when the pair lies along the
  spine);
* **the bones** (every other pair) — an elbow belongs with the shoulder of its side: the labelling whose bones to
  the already decided parents are shorter;
* **continuity** — the distance the pair's joints travel from one frame to the next.

``handedness="supine"`` (the default) is right for the recordings of General Movement Assessment (supine infant,
camera above, an unmirrored video); ``"none"`` keeps continuity alone and orients the path by the labelling the
network gave in most frames.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

from infantjax import skeleton as _skeleton
from infantjax.errors import ConfigError, DataError

__all__ = ["HANDEDNESS", "consistent_sides", "side_chains"]

HANDEDNESS = ("supine", "none")
#: weight of a wrong handedness against the distance travelled, in trunk lengths: a clearly crossed pair costs as
#: much as the chain jumping this far
_HAND_WEIGHT = 1.0


def side_chains(skeleton: str | _skeleton.Skeleton) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """The left/right chains of a skeleton: for every proximal pair (a flip pair whose parents are not a flip
    pair), the pair and every flip pair hanging from it (itself included), as (left, right, pairs)."""
    skel = _skeleton.get(skeleton)
    pairs = [tuple(int(v) for v in p) for p in skel.flip_pairs]
    partner = {a: b for a, b in pairs} | {b: a for a, b in pairs}

    def root(j: int) -> int:
        seen = set()
        while j in partner and j not in seen:
            seen.add(j)
            parent = int(skel.parents[j])
            if parent == j or parent not in partner:
                return j
            j = parent
        return j

    chains: dict[int, list[tuple[int, int]]] = {}
    for a, b in pairs:
        ra = root(a)
        key = ra if ra in chains or partner[ra] not in chains else partner[ra]
        chains.setdefault(key, []).append((a, b))
    out = []
    for key, members in chains.items():
        left = key if "left" in skel.keypoints[key] else partner[key]
        out.append((left, partner[left], members))
    return out


def spine_direction(x: np.ndarray, skel: _skeleton.Skeleton) -> np.ndarray | None:
    """(T, 2) spine direction (upper body → pelvis; NaN where a keypoint is missing) of (T, K, 2) keypoints, from
    the thorax (or neck, or the shoulders' midpoint) to the pelvis (or the hips' midpoint); None when the skeleton
    has no way to tell."""
    names = skel.keypoints

    def point(*options):
        for o in options:
            if o in names:
                return x[:, names.index(o)]
        return None

    top = point("thorax", "neck", "upper_neck")
    if top is None and "left_shoulder" in names and "right_shoulder" in names:
        top = 0.5 * (x[:, names.index("left_shoulder")] + x[:, names.index("right_shoulder")])
    bottom = point("pelvis", "mid_hip")
    if bottom is None and "left_hip" in names and "right_hip" in names:
        bottom = 0.5 * (x[:, names.index("left_hip")] + x[:, names.index("right_hip")])
    if top is None or bottom is None:
        return None
    return bottom - top


def _viterbi(views: np.ndarray, unary: np.ndarray, scale: float) -> np.ndarray:
    """The two-state path (0 as labelled, 1 swapped) minimising the unary costs plus the distance the joints travel
    from frame to frame (in units of ``scale``); frames without a joint carry its last position forward."""
    t = len(views)
    cost = unary[0].copy()
    back = np.zeros((t, 2), np.int64)
    last = views[0]
    for i in range(1, t):
        cur = views[i]
        d = np.linalg.norm(cur[None, :] - last[:, None], axis=-1)  # (2 prev, 2 cur, joints)
        d = np.where(np.isfinite(d), d, 0.0).sum(axis=-1) / scale
        total = cost[:, None] + d
        back[i] = np.argmin(total, axis=0)
        cost = total[back[i], [0, 1]] + unary[i]
        have = np.isfinite(cur).all(axis=-1)
        last = np.where(have[..., None], cur, last)
    state = np.zeros(t, np.int64)
    state[-1] = int(np.argmin(cost))
    for i in range(t - 1, 0, -1):
        state[i - 1] = back[i, state[i]]
    return state


def consistent_sides(coords: Float[np.ndarray, "T J 2"], skeleton: str | _skeleton.Skeleton,
                     confidence: Float[np.ndarray, "T J"] | None = None, *, handedness: str = "supine",
                     ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Swap back the limbs whose left and right joints a detector swapped (module docstring).

    Arguments:
        coords: (T, J, 2) keypoints in image coordinates (x right, y down; NaN where missing).
        skeleton: their keypoint set (its ``flip_pairs`` and ``parents`` give the chains).
        confidence: optional (T, J) confidences, swapped with the keypoints.
        handedness: ``"supine"`` (a supine infant filmed from above) or ``"none"``.

    Returns:
        the keypoints and confidences with the chosen chains swapped, and the (T, C) bool mask of the swapped
        chains per frame (C chains, :func:`side_chains`).
    """
    if handedness not in HANDEDNESS:
        raise ConfigError(f"handedness must be one of {HANDEDNESS}, got {handedness!r}")
    skel = _skeleton.get(skeleton)
    x = np.asarray(coords, np.float64)
    if x.ndim != 3 or x.shape[1] != skel.num_keypoints or x.shape[2] != 2:
        raise DataError(f"keypoints of shape {x.shape} do not match {skel.name!r} ({skel.num_keypoints} joints, 2D)")
    chains = side_chains(skel)
    t = len(x)
    swapped = np.zeros((t, len(chains)), bool)
    out = np.asarray(coords, np.float64).copy()
    conf = None if confidence is None else np.asarray(confidence).copy()
    if t == 0 or not chains:
        return out.astype(np.asarray(coords).dtype), conf, swapped
    spine = spine_direction(x, skel) if handedness == "supine" else None
    scale = np.nanmedian(np.linalg.norm(spine, axis=-1)) if spine is not None else np.nan
    if not np.isfinite(scale) or scale <= 0:
        finite = x[np.isfinite(x).all(-1)]
        scale = float(np.ptp(finite, axis=0).max()) / 4 if len(finite) else 1.0
    for c, (left, right, pairs) in enumerate(chains):
        # pair by pair from the proximal one: the proximal pair by the body's handedness, every other pair by the
        # bone lengths to its (already decided) parents; continuity for all
        for k, (a, b) in enumerate(pairs):
            unary = np.zeros((t, 2))
            if k == 0 and spine is not None:
                across = out[:, a] - out[:, b] if a == left else out[:, b] - out[:, a]  # left − right
                # image coordinates (y down): with the head up, the infant's left lies on the image's right, so
                # cross(spine, left − right) < 0 for a correct labelling
                z = spine[:, 0] * across[:, 1] - spine[:, 1] * across[:, 0]
                norm = np.linalg.norm(spine, axis=-1) * np.linalg.norm(across, axis=-1)
                sgn = np.where(norm > 0, z / np.where(norm > 0, norm, 1.0), 0.0)
                sgn = np.where(np.isfinite(sgn), sgn, 0.0)
                unary[:, 0] = _HAND_WEIGHT * np.maximum(sgn, 0.0)
                unary[:, 1] = _HAND_WEIGHT * np.maximum(-sgn, 0.0)
            elif k > 0:
                pa, pb = int(skel.parents[a]), int(skel.parents[b])
                keep = np.linalg.norm(out[:, a] - out[:, pa], axis=-1) + np.linalg.norm(out[:, b] - out[:, pb], axis=-1)
                swap = np.linalg.norm(out[:, b] - out[:, pa], axis=-1) + np.linalg.norm(out[:, a] - out[:, pb], axis=-1)
                ok = np.isfinite(keep) & np.isfinite(swap)
                unary[ok, 0] = np.maximum(keep[ok] - swap[ok], 0.0) / scale
                unary[ok, 1] = np.maximum(swap[ok] - keep[ok], 0.0) / scale
            views = np.stack([out[:, [a, b]], out[:, [b, a]]], axis=1).astype(np.float64)  # (T, 2, 2, 2)
            state = _viterbi(views, unary, scale)
            if spine is None and k == 0 and (state == 1).mean() > 0.5:  # the network's majority orients it
                state = 1 - state
            rows = np.flatnonzero(state == 1)
            if len(rows):
                out[rows, a], out[rows, b] = out[rows, b].copy(), out[rows, a].copy()
                if conf is not None:
                    conf[rows, a], conf[rows, b] = conf[rows, b].copy(), conf[rows, a].copy()
            swapped[:, c] |= state == 1
    return out.astype(np.asarray(coords).dtype), conf, swapped
