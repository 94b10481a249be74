"""Keypoint sets (skeletons) and the graph adjacencies built on them.

A :class:`Skeleton` names its keypoints in order, lists its edges, gives every keypoint a bone parent and names a
centre joint. Names are canonical (``left_wrist``, ``thorax`` ...) so that sets can be mapped onto each other by
name; the names used by each source (``LHand``, ``Crown``) are kept as ``labels``.

Built-in sets (``infantjax.skeleton.get(name)``):

* ``in-motion-19`` — the 19-keypoint infant skeleton of seed 002 (gcn_reference A.2), centre thorax.
* ``mpii-16`` — MPII in EfficientPose order (data/efficientpose/README.md), centre thorax.
* ``passmore-18`` — the DeepLabCut infant set of seed 003 (other_seeds_reference §1.1).
* ``babypose-12`` — the preterm depth set of seed 004, 12 joints with its 8 joint connections (four limbs).
* ``kinect-limbs-4`` — hands and feet tracked by the Kinect set-up of seed 000, in the paper's order
  (left arm, left foot, right arm, right foot).
* ``coco-18`` — the OpenPose COCO 18 body set.
* ``openpose-body-25`` — OpenPose's BODY_25 (its own part names as labels).
* ``coco-17`` — the COCO person category's 17 keypoints.
* ``halpe-136`` — Halpe full-body (AlphaPose): 26 body keypoints with head, neck, mid-hip and feet, 68 face
  landmarks (``face_1`` … ``face_68``, the 300-W order), 21 per hand (``left_hand_root``, ``left_thumb_1`` …
  ``left_pinky_4``, then the right hand); the face is joined to the body at the nose, each hand at its wrist.

Adjacencies (:meth:`Skeleton.adjacency`) are float32 arrays of shape (K, V, V) where ``A[k, v, w]`` is the weight
with which joint ``v`` feeds joint ``w`` in partition ``k`` (the ST-GCN einsum ``nkctv,kvw->nctw``).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Literal

import numpy as np

from infantjax.errors import ConfigError, SkeletonMismatchError

__all__ = [
    "MODEL_SKELETON",
    "Skeleton",
    "get",
    "define",
    "names",
    "register",
    "mapping",
    "map_keypoints",
    "to_model_skeleton",
    "spatial_adjacency",
    "disentangled_adjacency",
]


@dataclasses.dataclass(frozen=True, eq=False)
class Skeleton:
    """A keypoint set.

    Arguments:
        name: registry name, e.g. ``"in-motion-19"``.
        keypoints: canonical keypoint names in order.
        edges: undirected edges as index pairs (no self-loops; adjacencies add them).
        parents: bone parent of every keypoint (a keypoint that is its own parent has a zero bone).
        center: index of the centre joint used by the spatial partition, or ``None`` when the set has none.
        labels: the names the source uses for each keypoint (defaults to ``keypoints``).
    """

    name: str
    keypoints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    parents: tuple[int, ...]
    center: int | None
    labels: tuple[str, ...] = ()

    def __post_init__(self):
        n = len(self.keypoints)
        if len(set(self.keypoints)) != n:
            raise ConfigError(f"skeleton {self.name!r}: keypoint names must be unique")
        if len(self.parents) != n:
            raise ConfigError(f"skeleton {self.name!r}: {len(self.parents)} parents for {n} keypoints")
        for a, b in self.edges:
            if not (0 <= a < n and 0 <= b < n) or a == b:
                raise ConfigError(f"skeleton {self.name!r}: invalid edge ({a}, {b}) for {n} keypoints")
        if any(not 0 <= p < n for p in self.parents):
            raise ConfigError(f"skeleton {self.name!r}: parent index out of range")
        if self.center is not None and not 0 <= self.center < n:
            raise ConfigError(f"skeleton {self.name!r}: centre {self.center} out of range")
        if not self.labels:
            object.__setattr__(self, "labels", tuple(self.keypoints))
        elif len(self.labels) != n:
            raise ConfigError(f"skeleton {self.name!r}: {len(self.labels)} labels for {n} keypoints")

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    def __len__(self) -> int:
        return len(self.keypoints)

    def __repr__(self) -> str:
        return f"Skeleton({self.name!r}, {self.num_keypoints} keypoints)"

    def index(self, keypoint: str) -> int:
        """Index of a keypoint by canonical name or source label."""
        if keypoint in self.keypoints:
            return self.keypoints.index(keypoint)
        if keypoint in self.labels:
            return self.labels.index(keypoint)
        raise SkeletonMismatchError(
            f"skeleton {self.name!r} has no keypoint {keypoint!r}; it has {', '.join(self.keypoints)}"
        )

    def has(self, keypoint: str) -> bool:
        return keypoint in self.keypoints or keypoint in self.labels

    @property
    def flip_pairs(self) -> tuple[tuple[int, int], ...]:
        """Index pairs of left/right counterparts (for horizontal-flip augmentation)."""
        pairs = []
        for i, n in enumerate(self.keypoints):
            if n.startswith("left_"):
                other = "right_" + n[len("left_"):]
                if other in self.keypoints:
                    pairs.append((i, self.keypoints.index(other)))
        return tuple(pairs)

    def flip_permutation(self) -> np.ndarray:
        """(K,) int permutation that swaps every left keypoint with its right counterpart (``x[..., perm, :]``
        relabels a mirror image; the permutation is its own inverse)."""
        perm = np.arange(self.num_keypoints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def to_dict(self) -> dict:
        """The definition as JSON values (:func:`define` reads it back): what a saved model of a lab's own body
        parts carries, since its skeleton is registered nowhere else."""
        return {"name": self.name, "keypoints": list(self.keypoints), "edges": [list(e) for e in self.edges],
                "parents": list(self.parents), "center": self.center, "labels": list(self.labels)}

    def binary_adjacency(self, self_loops: bool = False) -> np.ndarray:
        """Symmetric 0/1 adjacency (V, V), optionally with self-loops."""
        n = self.num_keypoints
        a = np.zeros((n, n), dtype=np.float64)
        for i, j in self.edges:
            a[i, j] = a[j, i] = 1.0
        if self_loops:
            a += np.eye(n)
        return a

    def hop_distance(self, max_hop: int | None = None) -> np.ndarray:
        """Hop distances (V, V); pairs further than ``max_hop`` apart are ``inf`` (ST-GCN's truncation)."""
        n = self.num_keypoints
        a = self.binary_adjacency()
        dist = np.full((n, n), np.inf)
        if max_hop is None:
            for s in range(n):  # breadth-first search: exact distances
                dist[s, s] = 0
                queue = deque([s])
                while queue:
                    u = queue.popleft()
                    for v in np.flatnonzero(a[u]):
                        if dist[s, v] == np.inf:
                            dist[s, v] = dist[s, u] + 1
                            queue.append(v)
            return dist
        # ST-GCN's get_hop_distance: reachability by matrix powers up to max_hop
        arrive = np.stack([np.linalg.matrix_power(a, d) > 0 for d in range(max_hop + 1)])
        for d in range(max_hop, -1, -1):
            dist[arrive[d]] = d
        return dist

    def adjacency(self, strategy: Literal["spatial", "disentangled"] = "spatial", *, mode: str = "reference",
                  scales: int = 4) -> np.ndarray:
        """Graph adjacency stack (K, V, V), float32.

        Arguments:
            strategy: ``"spatial"`` — ST-GCN spatial configuration partitioning, K = 3 (self, root + centrifugal,
                centripetal); ``"disentangled"`` — MS-G3D k-hop disentangled aggregation, K = ``scales``.
            mode: for ``"spatial"``: ``"reference"`` reproduces ST-GCN's ``max_hop=1`` hop-distance truncation
                exactly (every joint more than one hop from the centre is "infinitely" far, so far from the trunk
                centripetal and centrifugal neighbours share a partition; gcn_reference A.3); ``"corrected"`` uses
                true hop distances to the centre.
            scales: number of hops for ``"disentangled"`` (2 or 4 in seed 002; any value ≥ 1 is accepted).
        """
        if strategy == "spatial":
            return spatial_adjacency(self, mode=mode)
        if strategy == "disentangled":
            return disentangled_adjacency(self, scales=scales)
        raise ConfigError(f"adjacency strategy {strategy!r} is unknown; use 'spatial' or 'disentangled'")


def spatial_adjacency(skeleton: Skeleton, mode: str = "reference") -> np.ndarray:
    """ST-GCN spatial-configuration partitions (3, V, V), column-normalised (gcn_reference A.3).

    ``A[0]`` is the self partition, ``A[1]`` the neighbours at least as far from the centre as the target joint
    (root + centrifugal), ``A[2]`` the neighbours closer to the centre (centripetal). Column ``w`` of the three
    matrices together sums to one: every joint's self+neighbour set shares one normaliser 1/deg.
    """
    if mode not in ("reference", "corrected"):
        raise ConfigError(f"spatial adjacency mode {mode!r} is unknown; use 'reference' or 'corrected'")
    if skeleton.center is None:
        raise ConfigError(
            f"skeleton {skeleton.name!r} has no centre joint, which the spatial partition needs; "
            "use strategy='disentangled'"
        )
    n = skeleton.num_keypoints
    neighbours = skeleton.hop_distance(max_hop=1)  # neighbour sets always come from the 1-hop graph
    to_center = skeleton.hop_distance(max_hop=1 if mode == "reference" else None)
    adjacency = (neighbours <= 1).astype(np.float64)
    normalised = adjacency / adjacency.sum(axis=0, keepdims=True)  # A[j, i] / deg(i)
    c = skeleton.center
    out = np.zeros((3, n, n))
    for i in range(n):  # target
        for j in range(n):  # source
            if neighbours[j, i] == 0:
                out[0, j, i] = normalised[j, i]
            elif neighbours[j, i] == 1:
                # equal distances (including inf == inf in reference mode) count as "root" -> partition 1
                if to_center[j, c] >= to_center[i, c]:
                    out[1, j, i] = normalised[j, i]
                else:
                    out[2, j, i] = normalised[j, i]
    return out.astype(np.float32)


def disentangled_adjacency(skeleton: Skeleton, scales: int = 4) -> np.ndarray:
    """MS-G3D disentangled k-hop aggregation (scales, V, V), symmetrically normalised (gcn_reference A.3).

    ``A_0 = I``; for k ≥ 1, ``A_k`` = (pairs exactly k hops apart) + I, then D^-1/2 A_k D^-1/2 with D the row sums.
    """
    if int(scales) != scales or scales < 1:
        raise ConfigError(f"disentangled adjacency needs scales >= 1, got {scales!r}")
    a = skeleton.binary_adjacency()
    eye = np.eye(len(a))
    mats = [eye]
    for k in range(1, int(scales)):
        exact = np.minimum(np.linalg.matrix_power(a + eye, k), 1) - np.minimum(
            np.linalg.matrix_power(a + eye, k - 1), 1
        )
        mats.append(exact + eye)
    out = []
    for m in mats:
        d = m.sum(axis=-1) ** -0.5
        out.append(d[:, None] * m * d[None, :])
    return np.stack(out).astype(np.float32)


# --------------------------------------------------------------------------------------------- registry

_REGISTRY: dict[str, Skeleton] = {}
_ALIASES: dict[str, str] = {}


def register(skeleton: Skeleton, *aliases: str) -> Skeleton:
    """Add a skeleton to the registry (under its name and any aliases) and return it."""
    _REGISTRY[skeleton.name] = skeleton
    for alias in aliases:
        _ALIASES[alias] = skeleton.name
    return skeleton


def names() -> tuple[str, ...]:
    """Names of the registered skeletons."""
    return tuple(_REGISTRY)


def get(name: str | Skeleton) -> Skeleton:
    """Return a registered skeleton by name (``"in-motion-19"``, ``"mpii-16"``, ...); a Skeleton passes through."""
    if isinstance(name, Skeleton):
        return name
    key = str(name).lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        raise ConfigError(f"unknown skeleton {name!r}; known: {', '.join(_REGISTRY)}")
    return _REGISTRY[key]


def define(definition: dict) -> Skeleton:
    """The skeleton of a definition (:meth:`Skeleton.to_dict`), registered under its name unless a skeleton of that
    name is registered already (a built-in set is never replaced: the registered one is returned when it has the
    same keypoints and edges).

    Raises:
        ConfigError: a malformed definition, or one whose name a different registered skeleton has.
    """
    try:
        skel = Skeleton(str(definition["name"]), tuple(str(k) for k in definition["keypoints"]),
                        tuple((int(a), int(b)) for a, b in definition["edges"]),
                        tuple(int(p) for p in definition["parents"]),
                        None if definition.get("center") is None else int(definition["center"]),
                        tuple(str(v) for v in definition.get("labels") or ()))
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"not a skeleton definition ({type(err).__name__}: {err})") from None
    key = skel.name.lower().replace("_", "-")
    known = _REGISTRY.get(_ALIASES.get(key, key))
    if known is None:
        return register(skel)
    if known.keypoints != skel.keypoints or tuple(map(tuple, known.edges)) != skel.edges:
        raise ConfigError(f"skeleton {skel.name!r} is registered with other keypoints or edges; rename the "
                          "definition")
    return known


def _from_parents(name, keypoints, parents, center, labels=(), extra_edges=()):
    edges = tuple((i, p) for i, p in enumerate(parents) if p != i) + tuple(extra_edges)
    return Skeleton(name, tuple(keypoints), edges, tuple(parents), center, tuple(labels))


IN_MOTION_19 = register(
    Skeleton(
        name="in-motion-19",
        keypoints=(
            "head_top", "nose", "right_ear", "left_ear", "upper_neck", "right_shoulder", "right_elbow",
            "right_wrist", "thorax", "left_shoulder", "left_elbow", "left_wrist", "pelvis", "right_hip",
            "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        ),
        # gcn_reference A.2, in the reference's order
        edges=((0, 1), (2, 1), (3, 1), (1, 4), (9, 8), (10, 9), (11, 10), (5, 8), (6, 5), (7, 6), (4, 8),
               (12, 8), (16, 12), (17, 16), (18, 17), (13, 12), (14, 13), (15, 14)),
        parents=(1, 4, 1, 1, 8, 8, 5, 6, 8, 8, 9, 10, 8, 12, 13, 14, 12, 16, 17),
        center=8,
    ),
    "in-motion", "inmotion-19", "inmotion", "in-motion19",
)

MPII_16 = register(
    _from_parents(
        "mpii-16",
        ("head_top", "upper_neck", "right_shoulder", "right_elbow", "right_wrist", "thorax", "left_shoulder",
         "left_elbow", "left_wrist", "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
         "left_ankle"),
        (1, 5, 5, 2, 3, 5, 5, 6, 7, 5, 9, 10, 11, 9, 13, 14),
        center=5,
    ),
    "mpii",
)

PASSMORE_18 = register(
    _from_parents(
        "passmore-18",
        ("head_top", "left_eye", "right_eye", "chin", "left_shoulder", "left_elbow", "left_wrist", "left_hip",
         "left_knee", "left_heel", "left_toe", "right_shoulder", "right_elbow", "right_wrist", "right_hip",
         "right_knee", "right_heel", "right_toe"),
        (3, 0, 0, 3, 3, 4, 5, 4, 7, 8, 9, 3, 11, 12, 11, 14, 15, 16),
        center=3,
        labels=("Crown", "LEye", "REye", "Chin", "LShoulder", "LElbow", "LHand", "LHip", "LKnee", "LHeel", "LToe",
                "RShoulder", "RElbow", "RHand", "RHip", "RKnee", "RHeel", "RToe"),
        extra_edges=((4, 11), (7, 14)),  # shoulder and hip girdles close the torso
    ),
    "passmore", "dlc-18", "deeplabcut-18",
)

BABYPOSE_12 = register(
    Skeleton(
        name="babypose-12",
        keypoints=("right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
                   "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle"),
        # the 8 joint connections of babyPose (other_seeds_reference §2): four limbs of three joints
        edges=((0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 8), (9, 10), (10, 11)),
        parents=(1, 2, 2, 3, 3, 4, 7, 8, 8, 9, 9, 10),
        center=None,
        labels=("right_hand", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_hand",
                "right_foot", "right_knee", "right_hip", "left_hip", "left_knee", "left_foot"),
    ),
    "babypose",
)

KINECT_LIMBS_4 = register(
    Skeleton(
        name="kinect-limbs-4",
        keypoints=("left_wrist", "left_ankle", "right_wrist", "right_ankle"),
        edges=(),
        parents=(0, 1, 2, 3),
        center=None,
        labels=("left_hand", "left_foot", "right_hand", "right_foot"),
    ),
    "kinect", "kinect-limbs",
)

COCO_18 = register(
    _from_parents(
        "coco-18",
        ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
         "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye",
         "left_eye", "right_ear", "left_ear"),
        (1, 1, 1, 2, 3, 1, 5, 6, 1, 8, 9, 1, 11, 12, 0, 0, 14, 15),
        center=1,
    ),
    "coco", "openpose-18", "openpose",
)

OPENPOSE_BODY_25 = register(
    _from_parents(
        "openpose-body-25",
        ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
         "left_wrist", "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
         "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe", "left_heel",
         "right_big_toe", "right_small_toe", "right_heel"),
        (1, 1, 1, 2, 3, 1, 5, 6, 1, 8, 9, 10, 8, 12, 13, 0, 0, 15, 16, 14, 19, 14, 11, 22, 11),
        center=1,
        # OpenPose's own part names (its MidHip is the pelvis point of MPII/In-Motion)
        labels=("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip",
                "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe",
                "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel"),
    ),
    "body-25", "openpose-25", "body25",
)

COCO_17 = register(
    Skeleton(
        name="coco-17",
        keypoints=("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                   "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                   "right_knee", "left_ankle", "right_ankle"),
        # the 19 limbs of the COCO person category (1-based in the annotation files)
        edges=((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9),
               (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6)),
        parents=(0, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
        center=None,
    ),
    "coco-person-17", "mscoco-17",
)



def _halpe_136() -> Skeleton:
    """Halpe full-body (AlphaPose): 26 body keypoints (COCO's 17, head, neck, mid-hip and three per foot), 68 face
    landmarks, then 21 per hand (left, right), the order of the Halpe-FullBody annotation files."""
    body = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
            "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
            "left_ankle", "right_ankle", "head", "neck", "pelvis", "left_big_toe", "right_big_toe", "left_small_toe",
            "right_small_toe", "left_heel", "right_heel")
    labels = ["Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow", "RElbow", "LWrist",
              "RWrist", "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle", "Head", "Neck", "Hip", "LBigToe",
              "RBigToe", "LSmallToe", "RSmallToe", "LHeel", "RHeel"]
    # the body as a tree from the neck: head and face up, arms out, the mid-hip down to the legs, toes and heels on
    # the ankles (the small toe beside the big toe, as OpenPose's BODY_25)
    parents = [18, 0, 0, 1, 2, 18, 18, 5, 6, 7, 8, 19, 19, 11, 12, 13, 14, 18, 18, 18, 15, 16, 20, 21, 15, 16]
    extra: list[tuple[int, int]] = [(5, 6), (11, 12)]  # the shoulder and hip girdles close the torso
    keypoints = list(body)

    # 68 face landmarks in the 300-W (iBUG) order, 1-based as in its figure: jaw 1-17, brows 18-22 and 23-27, nose
    # bridge 28-31, lower nose 32-36, eyes 37-42 and 43-48, outer lip 49-60, inner lip 61-68 (0-based below)
    face = len(keypoints)
    f_parent = [0] * 68
    f_extra: list[tuple[int, int]] = []

    def chain(order, root_parent):
        f_parent[order[0]] = root_parent
        for a, b in zip(order, order[1:]):
            f_parent[b] = a

    def loop(order, root_parent):
        chain(order, root_parent)
        f_extra.append((order[-1], order[0]))

    chain([30, 29, 28, 27], -1)  # the nose tip hangs on the body's nose (below)
    chain([33, 32, 31], 30)
    chain([34, 35], 33)
    chain([21, 20, 19, 18, 17], 27)
    chain([22, 23, 24, 25, 26], 27)
    loop([39, 40, 41, 36, 37, 38], 27)
    loop([42, 43, 44, 45, 46, 47], 27)
    loop([51, 52, 53, 54, 55, 56, 57, 58, 59, 48, 49, 50], 33)
    loop([62, 63, 64, 65, 66, 67, 60, 61], 51)
    chain([8, 7, 6, 5, 4, 3, 2, 1, 0], 57)
    chain([9, 10, 11, 12, 13, 14, 15, 16], 8)
    for i in range(68):
        keypoints.append(f"face_{i + 1}")
        labels.append(f"face_{i + 1}")
        parents.append(0 if f_parent[i] < 0 else face + f_parent[i])
    extra += [(face + a, face + b) for a, b in f_extra]

    # 21 points per hand: the hand root, then four per finger from the palm out (thumb, index, middle, ring, pinky)
    for side, wrist in (("left", 9), ("right", 10)):
        root = len(keypoints)
        keypoints.append(f"{side}_hand_root")
        labels.append(f"{side}_hand_root")
        parents.append(wrist)
        for finger in ("thumb", "index", "middle", "ring", "pinky"):
            for j in range(1, 5):
                keypoints.append(f"{side}_{finger}_{j}")
                labels.append(f"{side}_{finger}_{j}")
                parents.append(root if j == 1 else len(keypoints) - 2)
    return _from_parents("halpe-136", keypoints, parents, center=18, labels=labels, extra_edges=extra)


HALPE_136 = register(_halpe_136(), "halpe", "halpe-full-body", "halpe-fullbody")

# keypoints that are not the same point but stand in for each other when mapping between sets
_APPROXIMATE = (
    frozenset({"thorax", "neck"}),
    frozenset({"left_wrist", "left_hand"}),
    frozenset({"right_wrist", "right_hand"}),
    frozenset({"left_ankle", "left_heel", "left_foot"}),
    frozenset({"right_ankle", "right_heel", "right_foot"}),
)
# keypoints that can be derived as the midpoint of two others
_MIDPOINTS = {
    "thorax": ("left_shoulder", "right_shoulder"),
    "neck": ("left_shoulder", "right_shoulder"),
    "pelvis": ("left_hip", "right_hip"),
}


def mapping(source: str | Skeleton, target: str | Skeleton, *, approximate: bool = False) -> np.ndarray:
    """Index map from ``source`` to ``target`` keypoints: ``m[t]`` is the source index or -1 if absent.

    With ``approximate=True`` stand-ins are accepted (hand for wrist, heel for ankle, neck for thorax).
    """
    src, dst = get(source), get(target)
    out = np.full(dst.num_keypoints, -1, dtype=np.int64)
    for t, name in enumerate(dst.keypoints):
        if name in src.keypoints:
            out[t] = src.keypoints.index(name)
        elif approximate:
            for group in _APPROXIMATE:
                if name in group:
                    hits = [k for k in group if k in src.keypoints]
                    if hits:
                        out[t] = src.keypoints.index(sorted(hits)[0])
    return out


def map_keypoints(coords: np.ndarray, source: str | Skeleton, target: str | Skeleton, *,
                  approximate: bool = False, derive: bool = True) -> np.ndarray:
    """Map keypoint coordinates (..., J_source, D) onto another set (..., J_target, D).

    Keypoints the source lacks are NaN; with ``derive=True`` thorax/neck and pelvis are filled as the midpoint of
    the shoulders and hips when the source has those.
    """
    src, dst = get(source), get(target)
    coords = np.asarray(coords)
    if coords.ndim < 2 or coords.shape[-2] != src.num_keypoints:
        raise SkeletonMismatchError(
            f"keypoints of shape {coords.shape} do not match skeleton {src.name!r} "
            f"({src.num_keypoints} keypoints on axis -2)"
        )
    m = mapping(src, dst, approximate=approximate)
    out = np.full(coords.shape[:-2] + (dst.num_keypoints, coords.shape[-1]), np.nan, dtype=np.float32)
    ok = m >= 0
    out[..., ok, :] = coords[..., m[ok], :]
    if derive:
        for t, name in enumerate(dst.keypoints):
            if m[t] < 0 and name in _MIDPOINTS:
                a, b = _MIDPOINTS[name]
                if a in src.keypoints and b in src.keypoints:
                    out[..., t, :] = 0.5 * (coords[..., src.index(a), :] + coords[..., src.index(b), :])
    return out


#: The keypoints every CP ensemble reads (seed 002's In-Motion 19).
MODEL_SKELETON = "in-motion-19"
#: How :func:`to_model_skeleton` maps a recording of another skeleton.
MAPPINGS = ("none", "exact", "approximate")


def to_model_skeleton(seq, how: str, path, *, target: str = MODEL_SKELETON):
    """A recording (a :class:`~infantjax.sequence.SkeletonSequence`) on the CP ensemble's In-Motion 19 keypoints
    (e.g. keypoints tracked with the MPII pose models), and a warning naming the joints the mapping could not fill
    (or None).

    Arguments:
        seq: the recording.
        how: ``"none"`` (the recording must already be on ``target``), ``"exact"`` (same-named keypoints; thorax and
            pelvis derived from shoulders and hips) or ``"approximate"`` (also stand-ins such as hand for wrist,
            :func:`mapping`).
        path: where the recording comes from, for the messages.
        target: the skeleton to map to (default :data:`MODEL_SKELETON`).

    Raises:
        ConfigError: an unknown ``how``. SkeletonMismatchError: another skeleton with ``how="none"``, or a mapping
            that fills none of the target's joints.
    """
    if how not in MAPPINGS:
        raise ConfigError(f"the skeleton mapping must be one of {', '.join(MAPPINGS)}, got {how!r}")
    if seq.skeleton.name == get(target).name:
        return seq, None
    if how == "none":
        raise SkeletonMismatchError(
            f"{path}: keypoints of {seq.skeleton.name!r}, but the ensemble needs {target!r}; add --map-skeleton "
            "approximate (or exact) to map them, with the joints the file lacks treated as missing")
    mapped = seq.map_to(target, approximate=how == "approximate")
    never = [name for j, name in enumerate(mapped.skeleton.keypoints) if np.isnan(mapped.coords[:, j]).all()]
    if len(never) == mapped.num_keypoints:
        raise SkeletonMismatchError(f"{path}: none of the {target} joints can be mapped from {seq.skeleton.name!r}")
    if not never:
        return mapped, None
    return mapped, (f"mapped from {seq.skeleton.name} ({how}): {len(never)} of {mapped.num_keypoints} joints are "
                    f"missing and reach the model at the trunk centre ({', '.join(never)}); the risk is less "
                    "reliable than with In-Motion 19 keypoints")
