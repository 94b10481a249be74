"""Labelled frames as labs keep them: a DeepLabCut project or a COCO keypoint export with its images, read into one
dataset type (:class:`LabelledFrames`) that the pose commands train on, evaluate on and write back.

    frames = infantjax.io.read_labelled("my-infants-2026-11-27/")          # a DeepLabCut project folder
    frames = infantjax.io.read_labelled("annotations/person_keypoints_default.json")  # CVAT / Label Studio COCO
    frames.parts, frames.skeleton, frames.videos, len(frames)
    image = frames.image(0)                                                # decoded when asked, (H, W, 3) uint8
    train, held_out, how = frames.split()                                  # by video (by frame when too few)

What is read:

* **DeepLabCut** (2.x and 3.x): ``config.yaml`` (``bodyparts``, ``skeleton``; a multi-animal project's
  ``multianimalbodyparts``, ``uniquebodyparts`` and ``individuals``) and every
  ``labeled-data/<video>/CollectedData_<scorer>.csv`` with its images: one index column
  (``labeled-data/<video>/img0001.png``, DeepLabCut before 2.3) or three (``labeled-data``, ``<video>``,
  ``img0001.png``); a multi-animal file (an ``individuals`` header row) with one individual, or the one named by
  ``individual``. An empty cell is a body part nobody labelled: missing (NaN), never (0, 0). The video folder is the
  frame's group: held-out frames are whole videos.
* **COCO keypoints** (CVAT "COCO Keypoints 1.0", Label Studio, mmpose): ``images``, ``annotations`` with 3·K
  ``keypoints`` (x, y, v) and the category's ``keypoints`` names and ``skeleton``; one example per annotated person.
  ``v = 0`` is not labelled (missing), ``v = 1`` labelled but hidden, ``v = 2`` visible. Images are found under
  ``images=`` or, by default, beside the JSON, in its ``images/`` folder or its parent's. A frame's group is the
  folder of its image inside the image root, else its file name without the trailing frame number.

Coordinates are kept as the source stores them: pixel indices, the centre of the top-left pixel at (0, 0)
(DeepLabCut, and COCO as Detectron2 and mmpose read it). infantjax's networks and trackers put pixel centres at
``j + 0.5`` (:data:`PIXEL_CENTRE`): :meth:`LabelledFrames.network_pixels` converts.

Body parts keep the lab's names and order. When they name the In-Motion 19 keypoints (case and punctuation aside)
the frames are put in In-Motion 19 order, so what a model trained on them tracks is scored by the CP ensemble
without a mapping. Otherwise the skeleton is the project's own: its edges from the project (DeepLabCut's
``skeleton``, COCO's category ``skeleton``) or, where it has none, derived from the labels (the tree of shortest
median distances between labelled parts); :attr:`LabelledFrames.edges_from` says which. Left and right are
recognised in the names (``left_ankle``, ``LAnkle``, ``ankle_l``, ``leftEar``) for flip augmentation.

Every problem is a :class:`~infantjax.errors.LabelledDataError` naming the file and what to do: a missing image, a
label outside its image, body parts that differ between files, a project with no labelled frame, two skeletons.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import os
import pathlib
import re
from collections.abc import Sequence

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import LabelledDataError
from infantjax.io.keypoints.common import bone_parents
from infantjax.io.keypoints.dlc_csv import part_columns
from infantjax.skeleton import Skeleton

__all__ = ["IMAGE_SUFFIXES", "PIXEL_CENTRE", "LabelledFrames", "canonical_name", "lab_skeleton", "part_key",
           "read_coco_frames", "read_collected", "read_config", "read_deeplabcut", "read_image", "read_labelled",
           "write_coco", "write_deeplabcut"]

log = logging.getLogger(__name__)

#: where infantjax's networks put the centre of pixel column ``j``: at ``j + PIXEL_CENTRE`` (the official
#: EfficientPose decoding, ``(col + 0.5) / R``); labelled frames put it at ``j``
PIXEL_CENTRE = 0.5
#: the image files a labelled project may hold
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
#: a label this many pixels outside its image is refused (labelling tools put points on the border at -0.5)
_OUTSIDE_TOLERANCE = 1.0


@dataclasses.dataclass(frozen=True, eq=False)
class LabelledFrames:
    """Labelled frames of one project: images (decoded when asked), keypoints with visibility, the body parts and
    their skeleton, and the video each frame came from.

    Attributes:
        root: the folder image paths are relative to (the DeepLabCut project, the COCO image root).
        images: every example's image path relative to ``root`` (an image with two annotated people appears twice).
        keypoints: (N, K, 2) float32 pixel coordinates as the source stores them (NaN: not labelled).
        visible: (N, K) bool, labelled and visible (COCO ``v = 2``; every labelled DeepLabCut point).
        sizes: (N, 2) int image (height, width).
        groups: the video (or image folder) of every example: held-out splits keep a group whole.
        skeleton: the keypoint set, in the order of ``keypoints``' second axis (:func:`lab_skeleton`).
        edges_from: ``"project"`` (the project's own skeleton), ``"in-motion-19"`` (the parts are In-Motion 19's)
            or ``"derived"`` (none in the project: derived from the labels).
        source: ``"deeplabcut"`` or ``"coco"``.
        path: the project folder or COCO file read.
        scorer: the DeepLabCut scorer (None for COCO).
        boxes: (N, 4) float32 COCO ``bbox`` (x, y, w, h) where given, else NaN.
    """

    root: pathlib.Path
    images: tuple[str, ...]
    keypoints: np.ndarray
    visible: np.ndarray
    sizes: np.ndarray
    groups: tuple[str, ...]
    skeleton: Skeleton
    edges_from: str
    source: str
    path: pathlib.Path
    scorer: str | None = None
    boxes: np.ndarray | None = None

    def __post_init__(self):
        n, k = len(self.images), self.skeleton.num_keypoints
        kp = np.asarray(self.keypoints, np.float32)
        if kp.shape != (n, k, 2):
            raise LabelledDataError(f"keypoints must be ({n}, {k}, 2) for {n} images of {k} body parts, got "
                                    f"{kp.shape}")
        object.__setattr__(self, "keypoints", kp)
        object.__setattr__(self, "visible", np.asarray(self.visible, bool).reshape(n, k))
        object.__setattr__(self, "sizes", np.asarray(self.sizes, np.int64).reshape(n, 2))
        object.__setattr__(self, "images", tuple(str(p) for p in self.images))
        object.__setattr__(self, "groups", tuple(str(g) for g in self.groups))
        object.__setattr__(self, "root", pathlib.Path(self.root))
        object.__setattr__(self, "path", pathlib.Path(self.path))
        boxes = np.full((n, 4), np.nan, np.float32) if self.boxes is None else np.asarray(self.boxes, np.float32)
        object.__setattr__(self, "boxes", boxes.reshape(n, 4))
        if len(self.groups) != n:
            raise LabelledDataError(f"{len(self.groups)} groups for {n} images")

    # ------------------------------------------------------------------ what it holds
    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return (f"LabelledFrames({self.source}, {len(self)} frames of {len(self.videos)} videos, "
                f"{self.skeleton.num_keypoints} body parts, {self.labelled.sum()} labels)")

    @property
    def parts(self) -> tuple[str, ...]:
        """The body parts as the project names them, in the order of the keypoints."""
        return tuple(self.skeleton.labels)

    @property
    def labelled(self) -> np.ndarray:
        """(N, K) bool: the body parts someone labelled."""
        return np.isfinite(self.keypoints).all(axis=-1)

    @property
    def videos(self) -> tuple[str, ...]:
        """The groups (videos) in order of first appearance."""
        return tuple(dict.fromkeys(self.groups))

    def image_path(self, i: int) -> pathlib.Path:
        return self.root / self.images[i]

    def image(self, i: int) -> np.ndarray:
        """Example ``i``'s image as (H, W, 3) uint8 RGB (grey and palette images converted), decoded now."""
        return read_image(self.image_path(i))

    def network_pixels(self, i: int | slice | np.ndarray | None = None) -> np.ndarray:
        """The keypoints in the pixel convention of infantjax's networks and trackers (:data:`PIXEL_CENTRE`)."""
        kp = self.keypoints if i is None else self.keypoints[i]
        return kp + np.float32(PIXEL_CENTRE)

    def subset(self, index: Sequence[int] | np.ndarray) -> LabelledFrames:
        """The examples ``index`` (in that order) as frames of their own."""
        idx = np.asarray(index, dtype=np.int64).reshape(-1)
        return dataclasses.replace(self, images=tuple(self.images[i] for i in idx), keypoints=self.keypoints[idx],
                                   visible=self.visible[idx], sizes=self.sizes[idx],
                                   groups=tuple(self.groups[i] for i in idx), boxes=self.boxes[idx])

    def split(self, held_out: float = 0.2, *, seed: int = 0, min_videos: int = 3,
              videos: Sequence[str] | None = None) -> tuple[LabelledFrames, LabelledFrames, dict]:
        """Training and held-out frames: whole videos held out (no frame of a held-out video is trained on), or,
        when the project has fewer than ``min_videos`` videos, single frames (said so in the record).

        Arguments:
            held_out: the share of videos (or frames) held out; at least one of each side.
            seed: which videos (or frames) are drawn.
            min_videos: the fewest videos that are split by video.
            videos: the held-out videos by name instead of a draw.

        Returns:
            (training frames, held-out frames, a record ``{"by": "video"|"frame", "held_out": [...], "seed"}``).
        """
        if not 0.0 < float(held_out) < 1.0:
            raise LabelledDataError(f"the held-out share must be between 0 and 1, got {held_out!r}")
        names = self.videos
        rng = np.random.default_rng([int(seed), 63])
        groups = np.asarray(self.groups)
        if videos is not None:
            unknown = sorted(set(videos) - set(names))
            if unknown:
                raise LabelledDataError(f"held-out videos {unknown} are not in {self.path} (its videos: "
                                        f"{', '.join(names[:8])}{' ...' if len(names) > 8 else ''})")
            chosen = [v for v in names if v in set(videos)]
            if len(chosen) == len(names) or not chosen:
                raise LabelledDataError("hold out some of the videos, not none or all of them")
            test = np.isin(groups, chosen)
            record = {"by": "video", "held_out": chosen, "seed": None}
        elif len(names) >= int(min_videos):
            count = min(len(names) - 1, max(1, round(float(held_out) * len(names))))
            chosen = sorted(rng.choice(len(names), count, replace=False).tolist())
            chosen_names = [names[i] for i in chosen]
            test = np.isin(groups, chosen_names)
            record = {"by": "video", "held_out": chosen_names, "seed": int(seed)}
        else:
            if len(self) < 2:
                raise LabelledDataError(f"{self.path} has {len(self)} labelled frame; label at least two to hold one "
                                        "out")
            count = min(len(self) - 1, max(1, round(float(held_out) * len(self))))
            pick = np.sort(rng.choice(len(self), count, replace=False))
            test = np.zeros(len(self), bool)
            test[pick] = True
            record = {"by": "frame", "held_out": [self.images[i] for i in pick], "seed": int(seed),
                      "why": f"{len(names)} video(s): fewer than {min_videos}, so single frames are held out and "
                             "frames of the same video are on both sides"}
        return self.subset(np.nonzero(~test)[0]), self.subset(np.nonzero(test)[0]), record

    def fingerprint(self) -> str:
        """A SHA-256 of the labels, the body parts and every image's bytes: which data a model was trained on."""
        h = hashlib.sha256()
        h.update(json.dumps({"parts": list(self.parts), "edges": [list(e) for e in self.skeleton.edges],
                             "images": list(self.images), "groups": list(self.groups)}).encode())
        h.update(np.ascontiguousarray(np.nan_to_num(self.keypoints, nan=-1e9)).tobytes())
        for name in dict.fromkeys(self.images):
            with open(self.root / name, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        return h.hexdigest()

    def summary(self) -> dict:
        """What the frames are, for a model's record: source, path, counts, body parts, skeleton origin."""
        return {"source": self.source, "path": str(self.path), "frames": len(self), "videos": len(self.videos),
                "labels": int(self.labelled.sum()), "parts": list(self.parts), "skeleton": self.skeleton.name,
                "edges_from": self.edges_from, "scorer": self.scorer}


# ------------------------------------------------------------------------------------------------ images
def read_image(path: str | os.PathLike) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise LabelledDataError(f"image {path} does not exist; the labels name it, so copy it back or relabel"
                                ) from None
    except (UnidentifiedImageError, OSError) as err:
        raise LabelledDataError(f"image {path} cannot be decoded ({err}); replace the damaged file") from None


def _image_size(path: pathlib.Path, labels_file) -> tuple[int, int]:
    """(height, width) of an image from its header (nothing decoded)."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise LabelledDataError(f"{labels_file}: the labelled image {path} does not exist; copy the project's "
                                "images back beside their labels (or pass the image folder)")
    try:
        with Image.open(path) as im:
            w, h = im.size
    except (UnidentifiedImageError, OSError) as err:
        raise LabelledDataError(f"{labels_file}: the labelled image {path} cannot be read ({err}); replace the "
                                "damaged file") from None
    return int(h), int(w)


def _check_inside(labels_file, images: Sequence[str], keypoints: np.ndarray, sizes: np.ndarray,
                  parts: Sequence[str]) -> None:
    """A label outside its image is an error naming the image and the body part."""
    for i, (kp, (h, w)) in enumerate(zip(keypoints, sizes)):
        with np.errstate(invalid="ignore"):
            out = np.isfinite(kp).all(axis=-1) & (
                (kp[:, 0] < -_OUTSIDE_TOLERANCE) | (kp[:, 0] > w - 1 + _OUTSIDE_TOLERANCE)
                | (kp[:, 1] < -_OUTSIDE_TOLERANCE) | (kp[:, 1] > h - 1 + _OUTSIDE_TOLERANCE))
        if out.any():
            j = int(np.argmax(out))
            raise LabelledDataError(
                f"{labels_file}: the label of {parts[j]!r} in {images[i]} is at ({kp[j, 0]:.1f}, {kp[j, 1]:.1f}), "
                f"outside the {w}x{h} image; correct it in the labelling tool (or delete it)")


# ------------------------------------------------------------------------------------------------ body parts
_LEFT = re.compile(r"^(?:left|Left|LEFT|l|L)(?=[_\-\s.]|[A-Z])[_\-\s.]*(.+)$")
_RIGHT = re.compile(r"^(?:right|Right|RIGHT|r|R)(?=[_\-\s.]|[A-Z])[_\-\s.]*(.+)$")


def canonical_name(name: str) -> str:
    """A lab's body-part name as a canonical keypoint name: lower case words joined by ``_``, a side first
    (``LAnkle`` → ``left_ankle``, ``ankle_r`` → ``right_ankle``, ``leftEar`` → ``left_ear``)."""
    raw = name.strip()
    side = None
    for word, pattern in (("left", _LEFT), ("right", _RIGHT)):
        m = pattern.match(raw)
        if m and len(m.group(1)) > 1:
            side, raw = word, m.group(1)
            break
        low = raw.lower()
        if low.startswith(word) and len(low) > len(word) + 1:
            side, raw = word, raw[len(word):]
            break
    if side is None:
        m = re.match(r"^(.+?)[_\-\s.]+(left|right|l|r)$", raw, flags=re.IGNORECASE)
        if m:
            side, raw = {"l": "left", "r": "right"}.get(m.group(2).lower(), m.group(2).lower()), m.group(1)
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", raw.strip(" _-."))
    words = re.sub(r"[^A-Za-z0-9]+", "_", words).strip("_").lower() or "part"
    return f"{side}_{words}" if side else words


def part_key(name: str) -> str:
    """A body-part name compared case- and punctuation-insensitively."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def lab_skeleton(parts: Sequence[str], edges: Sequence[tuple[int, int]] | None, name: str,
                 keypoints: np.ndarray | None = None) -> tuple[Skeleton, np.ndarray, str]:
    """The skeleton of a project's body parts.

    Arguments:
        parts: the body parts as the project names them.
        edges: the project's skeleton as index pairs into ``parts`` (None: it has none).
        name: the skeleton's name (a project name; ``lab-`` is put in front).
        keypoints: (N, K, 2) labels, to derive edges from when the project has none.

    Returns:
        (skeleton, order, edges_from): ``order[i]`` is the project part at skeleton keypoint ``i`` (In-Motion 19
        order when the parts are In-Motion 19's), and where the edges came from (``"in-motion-19"``,
        ``"project"``, ``"derived"``).
    """
    parts = [str(p) for p in parts]
    im19 = _skeleton.get("in-motion-19")
    lookup = {}
    for i, (kp, lab) in enumerate(zip(im19.keypoints, im19.labels)):
        lookup[part_key(kp)] = i
        lookup[part_key(lab)] = i
    for i, kp in enumerate(im19.keypoints):
        lookup.setdefault(part_key(canonical_name(kp)), i)
    where = [lookup.get(part_key(canonical_name(p)), lookup.get(part_key(p), -1)) for p in parts]
    if len(parts) == im19.num_keypoints and sorted(where) == list(range(im19.num_keypoints)):
        order = np.argsort(np.asarray(where))
        skel = Skeleton(im19.name, im19.keypoints, im19.edges, im19.parents, im19.center,
                        tuple(parts[i] for i in order))
        return skel, order, "in-motion-19"
    canon = [canonical_name(p) for p in parts]
    if len(set(canon)) != len(canon):  # two lab names with one canonical form: keep the lab's own spellings
        canon = [re.sub(r"[^a-z0-9]+", "_", p.lower()).strip("_") or f"part_{i}" for i, p in enumerate(parts)]
        if len(set(canon)) != len(canon):
            canon = [f"{c}_{i}" for i, c in enumerate(canon)]
    if edges:
        clean = sorted({(min(int(a), int(b)), max(int(a), int(b))) for a, b in edges if int(a) != int(b)})
        edges_from = "project"
    else:
        clean = _derived_edges(keypoints, len(parts))
        edges_from = "derived"
    parents = bone_parents(len(parts), clean)
    slug = re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-") or "project"
    skel = Skeleton(f"lab-{slug}-{len(parts)}", tuple(canon), tuple(clean), tuple(parents), None, tuple(parts))
    return skel, np.arange(len(parts)), edges_from


def _derived_edges(keypoints: np.ndarray | None, k: int) -> list[tuple[int, int]]:
    """A tree over the body parts: the minimum spanning tree of their median distances in the frames where both
    are labelled (parts never labelled together are joined last, in order)."""
    if k < 2:
        return []
    dist = np.full((k, k), np.inf)
    if keypoints is not None and len(keypoints):
        kp = np.asarray(keypoints, np.float64)
        for a in range(k):
            for b in range(a + 1, k):
                d = np.linalg.norm(kp[:, a] - kp[:, b], axis=-1)
                d = d[np.isfinite(d)]
                if len(d):
                    dist[a, b] = dist[b, a] = float(np.median(d))
    big = np.nanmax(np.where(np.isfinite(dist), dist, np.nan)) if np.isfinite(dist).any() else 1.0
    dist = np.where(np.isfinite(dist), dist, 10.0 * (big + 1.0) + np.abs(np.subtract.outer(np.arange(k),
                                                                                          np.arange(k))))
    inside, edges = {0}, []
    while len(inside) < k:
        best = None
        for a in inside:
            for b in range(k):
                if b not in inside and (best is None or dist[a, b] < best[0]):
                    best = (dist[a, b], a, b)
        _, a, b = best
        edges.append((min(a, b), max(a, b)))
        inside.add(b)
    return sorted(edges)


# ------------------------------------------------------------------------------------------------ dispatch
def read_labelled(path: str | os.PathLike, *, individual: str | None = None,
                  images: str | os.PathLike | None = None) -> LabelledFrames:
    """Read labelled frames: a DeepLabCut project folder (or one of its ``CollectedData_*.csv``), or a COCO keypoint
    JSON (or a folder holding one) with its images (see the module docstring).

    Arguments:
        path: the project folder, a ``CollectedData_*.csv``, a COCO ``.json`` or a folder with one.
        individual: in a multi-animal DeepLabCut project with several individuals, the one to read.
        images: the folder of a COCO file's images (default: found beside it).

    Raises:
        LabelledDataError: what is wrong and what to do.
    """
    p = pathlib.Path(path)
    if not p.exists():
        raise LabelledDataError(f"{p} does not exist; pass a DeepLabCut project folder or a COCO keypoint JSON")
    if p.is_file() and p.suffix.lower() == ".json":
        return read_coco_frames(p, images=images)
    if p.is_file() and p.suffix.lower() == ".csv":
        project = p.parent.parent.parent if p.parent.parent.name == "labeled-data" else p.parent
        return read_deeplabcut(project, individual=individual, files=[p])
    if p.is_dir():
        if (p / "config.yaml").is_file() or (p / "labeled-data").is_dir():
            return read_deeplabcut(p, individual=individual)
        jsons = sorted(q for q in [*p.glob("*.json"), *p.glob("annotations/*.json")] if _is_coco(q))
        if len(jsons) == 1:
            return read_coco_frames(jsons[0], images=images)
        if len(jsons) > 1:
            raise LabelledDataError(f"{p} holds {len(jsons)} COCO keypoint files ({', '.join(q.name for q in jsons[:4])}"
                                    "); pass the one to read")
        raise LabelledDataError(f"{p} is neither a DeepLabCut project (no config.yaml or labeled-data/) nor a folder "
                                "with a COCO keypoint JSON; pass the project folder or the .json file")
    raise LabelledDataError(f"{p}: pass a DeepLabCut project folder, a CollectedData_*.csv or a COCO keypoint .json")


def _is_coco(path: pathlib.Path) -> bool:
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(1 << 16)
    except (OSError, UnicodeDecodeError):
        return False
    return '"annotations"' in head or '"categories"' in head or '"images"' in head


def _parse(path: pathlib.Path, encoding: str, load, invalid_error: type[Exception], invalid):
    """``load`` of the text file ``path``: a LabelledDataError when it cannot be read, or with the message
    ``invalid(err)`` when ``load`` raises ``invalid_error``."""
    try:
        with open(path, encoding=encoding) as fh:
            return load(fh)
    except (OSError, UnicodeDecodeError) as err:
        raise LabelledDataError(f"{path} cannot be read ({err})") from None
    except invalid_error as err:
        raise LabelledDataError(invalid(err)) from None


# ------------------------------------------------------------------------------------------------ DeepLabCut
def read_config(path: str | os.PathLike) -> dict:
    """A DeepLabCut ``config.yaml`` as a dict (an empty file: {})."""
    path = pathlib.Path(path)
    import yaml

    doc = _parse(path, "utf-8", yaml.safe_load, yaml.YAMLError,
                 lambda err: f"{path} is not valid YAML ({str(err).splitlines()[0]}); fix the file or let "
                             "DeepLabCut write it again")
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise LabelledDataError(f"{path}: a DeepLabCut config.yaml is a mapping (Task, scorer, bodyparts ...), got "
                                f"a {type(doc).__name__}")
    return doc


def _name_list(value) -> list[str] | None:
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    return None


def read_deeplabcut(project: str | os.PathLike, *, individual: str | None = None,
                    files: Sequence[str | os.PathLike] | None = None) -> LabelledFrames:
    """A DeepLabCut project's labelled frames (module docstring).

    Arguments:
        project: the project folder (``config.yaml``, ``labeled-data/``).
        individual: the individual of a multi-animal project to read (needed when it has several).
        files: the ``CollectedData_*.csv`` files to read (default every one under ``labeled-data/``).
    """
    root = pathlib.Path(project)
    cfg_path = root / "config.yaml"
    cfg = read_config(cfg_path) if cfg_path.is_file() else {}
    if not cfg_path.is_file():
        log.warning("%s has no config.yaml: body parts from the labels, no skeleton", root)
    multi = bool(cfg.get("multianimalproject"))
    if multi:
        cfg_parts = (_name_list(cfg.get("multianimalbodyparts")) or []) + (_name_list(cfg.get("uniquebodyparts"))
                                                                           or [])
    else:
        cfg_parts = _name_list(cfg.get("bodyparts"))
    if files is None:
        data = root / "labeled-data"
        if not data.is_dir():
            raise LabelledDataError(f"{root} has no labeled-data/ folder: no frame has been labelled yet (label "
                                    "frames in DeepLabCut's GUI or napari, or extract some with infantjax pose-frames)")
        files = sorted(data.glob("*/CollectedData_*.csv"))
        h5 = sorted(data.glob("*/CollectedData_*.h5"))
        if not files and h5:
            raise LabelledDataError(f"{root}: labels only as HDF5 ({h5[0]}); infantjax reads the CSV DeepLabCut writes "
                                    "beside it: write it with deeplabcut.convert2csv(config) or "
                                    "pandas.read_hdf(file).to_csv(file.with_suffix('.csv'))")
    files = [pathlib.Path(f) for f in files]
    images, keypoints, groups, parts, scorer, first = [], [], [], None, None, None
    for f in files:
        rows = _csv_rows(f)
        got_parts, got_scorer, kp, names = _read_collected(f, rows, individual)
        if parts is None:
            parts, scorer, first = got_parts, got_scorer, f
        elif [part_key(p) for p in got_parts] != [part_key(p) for p in parts]:
            if sorted(part_key(p) for p in got_parts) == sorted(part_key(p) for p in parts):
                order = [[part_key(p) for p in got_parts].index(part_key(p)) for p in parts]
                kp = kp[:, order]
            else:
                raise LabelledDataError(
                    f"{f} labels body parts {got_parts} but {first} labels {parts}; a project has one set of body "
                    "parts: relabel the video or merge the parts in config.yaml and DeepLabCut's GUI")
        video = f.parent.name
        for rel in names:
            images.append(_dlc_image(rel, video))
            groups.append(video)
        keypoints.append(kp)
    if parts is None:
        raise LabelledDataError(f"{root}: no CollectedData_*.csv under labeled-data/: no frame has been labelled yet "
                                "(label frames in DeepLabCut's GUI, then save)")
    if cfg_parts and sorted(part_key(p) for p in cfg_parts) != sorted(part_key(p) for p in parts):
        extra = sorted(set(parts) - set(cfg_parts))
        lacking = sorted(set(cfg_parts) - set(parts))
        raise LabelledDataError(
            f"{first}: its body parts {parts} are not config.yaml's {cfg_parts}"
            + (f" (not in config.yaml: {extra})" if extra else "")
            + (f" (not labelled: {lacking})" if lacking else "")
            + "; add the new parts to config.yaml and label them in DeepLabCut's GUI")
    kp = np.concatenate(keypoints) if keypoints else np.zeros((0, len(parts), 2), np.float32)
    labelled = np.isfinite(kp).all(axis=-1)
    keep = labelled.any(axis=1)
    if not keep.any():
        raise LabelledDataError(f"{root}: no labelled frame (every body part of every frame in labeled-data/ is "
                                "empty); label frames in DeepLabCut's GUI, then save")
    if not keep.all():
        log.info("%s: %d frame(s) without any label left out", root, int((~keep).sum()))
    idx = np.nonzero(keep)[0]
    images = [images[i] for i in idx]
    groups = [groups[i] for i in idx]
    kp = kp[idx]
    sizes = np.array([_image_size(root / im, root) for im in images], np.int64)
    _check_inside(root, images, kp, sizes, parts)
    edges = _dlc_edges(cfg, parts, cfg_path)
    name = str(cfg.get("Task") or root.name)
    skel, order, edges_from = lab_skeleton(parts, edges, name, kp)
    kp = kp[:, order]
    return LabelledFrames(root, tuple(images), kp, np.isfinite(kp).all(axis=-1), sizes, tuple(groups), skel,
                          edges_from, "deeplabcut", root, scorer=scorer or (str(cfg["scorer"]) if cfg.get("scorer")
                                                                            else None))


def _csv_rows(path: pathlib.Path) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError:
        raise LabelledDataError(f"{path} is not UTF-8 text; let DeepLabCut write it again") from None
    except (OSError, csv.Error) as err:
        raise LabelledDataError(f"{path} cannot be read as CSV ({err})") from None
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    return rows


def read_collected(path: str | os.PathLike, individual: str | None = None):
    """(body parts, scorer, keypoints (N, K, 2), image paths) of one DeepLabCut ``CollectedData_*.csv``."""
    path = pathlib.Path(path)
    return _read_collected(path, _csv_rows(path), individual)


def _read_collected(path: pathlib.Path, rows: list[list[str]], individual: str | None):
    heads = [r[0].strip().lower() if r else "" for r in rows[:4]]
    if len(rows) < 3 or heads[0] != "scorer":
        raise LabelledDataError(f"{path}: a DeepLabCut CollectedData CSV starts with the header rows scorer, "
                                f"[individuals,] bodyparts, coords; found {heads[:3]}")
    if heads[1] == "individuals":
        ind_row, part_row, coord_row, body = rows[1], rows[2], rows[3] if len(rows) > 3 else [], rows[4:]
        if len(heads) < 4 or heads[3] != "coords":
            raise LabelledDataError(f"{path}: a multi-animal CollectedData CSV has the rows scorer, individuals, "
                                    f"bodyparts, coords; found {heads}")
    else:
        ind_row, part_row, coord_row, body = None, rows[1], rows[2], rows[3:]
        if heads[1:3] != ["bodyparts", "coords"]:
            raise LabelledDataError(f"{path}: the header rows must be scorer, bodyparts, coords; found {heads[:3]}")
    width = len(rows[0])
    value_cols = [c for c in range(1, width) if c < len(coord_row) and coord_row[c].strip().lower() in ("x", "y")]
    if not value_cols:
        raise LabelledDataError(f"{path}: the coords row names no x/y columns")
    n_index = value_cols[0]
    if n_index not in (1, 3):
        raise LabelledDataError(f"{path}: {n_index} index columns; DeepLabCut writes one (the image path) or three "
                                "(labeled-data, video, image)")
    chosen = None
    if ind_row is not None:
        names = list(dict.fromkeys(ind_row[c].strip() for c in value_cols))
        animals = [n for n in names if n != "single"]
        if individual is not None:
            if individual not in names:
                raise LabelledDataError(f"{path}: no individual {individual!r}; it labels {names}")
            chosen = {individual, "single"}
        elif len(animals) > 1:
            raise LabelledDataError(f"{path}: a multi-animal project labelling {len(animals)} individuals "
                                    f"({', '.join(animals)}); pass --individual NAME (individual=) to train on one")
        else:
            chosen = set(names)
    if chosen is not None:
        value_cols = [c for c in value_cols if ind_row[c].strip() in chosen]
    parts, cols = part_columns(path, part_row, coord_row, value_cols, LabelledDataError)
    kp = np.full((len(body), len(parts), 2), np.nan, np.float32)
    names: list[str] = []
    for r, row in enumerate(body):
        if len(row) != width:
            raise LabelledDataError(f"{path}: line {len(rows) - len(body) + r + 1} has {len(row)} fields but the "
                                    f"header has {width}" + (" (the file looks truncated)" if r == len(body) - 1
                                                             else ""))
        names.append("/".join(c.strip() for c in row[:n_index] if c.strip()))
        for j, p in enumerate(parts):
            for d, coord in enumerate(("x", "y")):
                cell = row[cols[p][coord]].strip()
                if cell and cell.lower() != "nan":
                    try:
                        kp[r, j, d] = float(cell)
                    except ValueError:
                        raise LabelledDataError(f"{path}: line {len(rows) - len(body) + r + 1}, {p}.{coord}: "
                                                f"{cell[:40]!r} is not a number") from None
    if np.isinf(kp).any():
        raise LabelledDataError(f"{path}: an infinite coordinate; an unlabelled body part is an empty cell")
    kp[np.isnan(kp).any(axis=-1)] = np.nan  # an x without its y is not a label
    scorer = rows[0][n_index].strip() if width > n_index else None
    return parts, scorer, kp, names


def _dlc_image(rel: str, video: str) -> str:
    """An index cell as the image's path relative to the project."""
    rel = rel.replace("\\", "/")
    if rel.startswith("labeled-data/"):
        return rel
    return f"labeled-data/{video}/{pathlib.PurePosixPath(rel).name}"


def _dlc_edges(cfg: dict, parts: Sequence[str], cfg_path) -> list[tuple[int, int]] | None:
    """config.yaml's ``skeleton`` (pairs of body-part names) as index pairs; None when it has none."""
    raw = cfg.get("skeleton")
    if not raw:
        return None
    if not isinstance(raw, list) or not all(isinstance(e, (list, tuple)) for e in raw):
        raise LabelledDataError(f"{cfg_path}: skeleton must be a list of [part, part] pairs, got {raw!r:.80}")
    index = {part_key(p): i for i, p in enumerate(parts)}
    edges = []
    for e in raw:
        if len(e) < 2:
            continue
        ids = [index.get(part_key(str(n))) for n in e]
        if any(i is None for i in ids):
            raise LabelledDataError(f"{cfg_path}: skeleton edge {list(e)} names a body part the labels do not have "
                                    f"({list(parts)}); fix the skeleton in config.yaml")
        # a longer chain [a, b, c] is a path a-b-c, as DeepLabCut draws it
        edges.extend((ids[i], ids[i + 1]) for i in range(len(ids) - 1))
    return edges or None


# ------------------------------------------------------------------------------------------------ COCO
def read_coco_frames(path: str | os.PathLike, *, images: str | os.PathLike | None = None) -> LabelledFrames:
    """A COCO keypoint file's annotated people with their images (module docstring)."""
    path = pathlib.Path(path)
    doc = _parse(path, "utf-8-sig", json.load, json.JSONDecodeError,
                 lambda err: f"{path} is not valid JSON ({err}); export it again")
    if not isinstance(doc, dict) or not isinstance(doc.get("annotations"), list):
        raise LabelledDataError(f"{path}: not a COCO keypoint file (an object with 'images', 'annotations' and "
                                "'categories')")
    cats = [c for c in doc.get("categories") or [] if isinstance(c, dict) and c.get("keypoints")]
    if not cats:
        raise LabelledDataError(f"{path}: no category names keypoints; export 'COCO Keypoints' (CVAT) or a keypoint "
                                "COCO file whose category lists its keypoints")
    used = {a.get("category_id") for a in doc["annotations"] if isinstance(a, dict) and a.get("keypoints")}
    cats_used = [c for c in cats if c.get("id") in used] or cats[:1]
    sets = {tuple(c["keypoints"]) for c in cats_used}
    if len(sets) > 1:
        names = ", ".join(f"{c.get('name')!r} ({len(c['keypoints'])} keypoints)" for c in cats_used)
        raise LabelledDataError(f"{path}: two skeletons: categories {names} label different keypoints; export one "
                                "category (one set of body parts) per file")
    cat = cats_used[0]
    parts = [str(p) for p in cat["keypoints"]]
    k = len(parts)
    ids = {c.get("id") for c in cats_used}
    table = {im.get("id"): im for im in doc.get("images") or [] if isinstance(im, dict)}
    root = _coco_root(path, images, [im.get("file_name") for im in table.values()])
    files, kps, vis, sizes, groups, boxes = [], [], [], [], [], []
    for a in doc["annotations"]:
        if not isinstance(a, dict) or a.get("category_id") not in ids or not a.get("keypoints"):
            continue
        values = np.asarray(a["keypoints"], np.float64).reshape(-1)
        if len(values) != 3 * k:
            raise LabelledDataError(f"{path}: annotation {a.get('id')} has {len(values)} keypoint values; its "
                                    f"category has {k} keypoints, so {3 * k} (x, y, v) are expected")
        im = table.get(a.get("image_id"))
        if im is None:
            raise LabelledDataError(f"{path}: annotation {a.get('id')} refers to image {a.get('image_id')!r}, which "
                                    "the file's 'images' do not list; export the file again")
        v = values[2::3].astype(np.int64)
        xy = values.reshape(k, 3)[:, :2].astype(np.float32)
        xy[v <= 0] = np.nan
        if not (v > 0).any():
            continue
        name = str(im.get("file_name"))
        h, w = _image_size(root / name, path)
        if im.get("height") and im.get("width") and (int(im["height"]), int(im["width"])) != (h, w):
            log.warning("%s: image %s is %dx%d, the file says %sx%s: the image's own size is used", path, name, w, h,
                        im["width"], im["height"])
        files.append(name)
        kps.append(xy)
        vis.append(v == 2)
        sizes.append((h, w))
        groups.append(_coco_group(name))
        bbox = a.get("bbox")
        boxes.append(np.asarray(bbox, np.float32) if isinstance(bbox, list) and len(bbox) == 4
                     else np.full(4, np.nan, np.float32))
    if not files:
        raise LabelledDataError(f"{path}: no annotation labels a keypoint (every v is 0); label some frames first")
    kp = np.stack(kps)
    _check_inside(path, files, kp, np.asarray(sizes), parts)
    edges = [(int(a) - 1, int(b) - 1) for a, b in cat.get("skeleton") or [] if 1 <= int(a) <= k and 1 <= int(b) <= k]
    skel, order, edges_from = lab_skeleton(parts, edges or None, str(cat.get("name") or path.stem), kp)
    kp = kp[:, order]
    visible = np.stack(vis)[:, order]
    return LabelledFrames(root, tuple(files), kp, visible, np.asarray(sizes), tuple(groups), skel, edges_from,
                          "coco", path, boxes=np.stack(boxes))


def _coco_root(path: pathlib.Path, images, names: Sequence) -> pathlib.Path:
    """The folder the file names are relative to: ``images`` or the first candidate beside the JSON that has the
    first image."""
    names = [str(n) for n in names if n]
    if images is not None:
        root = pathlib.Path(images)
        if not root.is_dir():
            raise LabelledDataError(f"the image folder {root} does not exist")
        return root
    here = path.parent
    candidates = [here, here / "images", here.parent / "images", here.parent]
    for cand in candidates:
        if names and (cand / names[0]).is_file():
            return cand
    raise LabelledDataError(f"{path}: its first image {names[0] if names else '?'} is in none of "
                            f"{', '.join(str(c) for c in candidates)}; pass the image folder (--images DIR)")


def _coco_group(file_name: str) -> str:
    """The video (or image folder) an image belongs to: its folder, else its name without the frame number."""
    p = pathlib.PurePosixPath(file_name.replace("\\", "/"))
    if str(p.parent) not in ("", "."):
        return str(p.parent)
    stem = re.sub(r"[_\-\s.]*\d+$", "", p.stem)
    return stem or "frames"


# ------------------------------------------------------------------------------------------------ writing
def write_deeplabcut(out: str | os.PathLike, videos: dict[str, Sequence[tuple[str, np.ndarray]]],
                     parts: Sequence[str], *, keypoints: dict[str, np.ndarray] | None = None,
                     scorer: str = "infantjax", edges: Sequence[tuple[int, int]] = (), task: str | None = None,
                     ) -> pathlib.Path:
    """Write a DeepLabCut project: ``config.yaml`` and ``labeled-data/<video>/<image>.png`` for every video, with a
    ``CollectedData_<scorer>.csv`` (three index columns, as DeepLabCut 2.3 and later write) where ``keypoints``
    gives labels (NaN: not labelled, an empty cell). Every file is written atomically; the images of a video that
    exists already are replaced one by one.

    Arguments:
        out: the project folder (created).
        videos: video name -> [(image file name, (H, W, 3) uint8 image or None for one already there), ...].
        parts: the body parts.
        keypoints: video name -> (N, K, 2) labels in DeepLabCut's pixel convention, one row per image.
        scorer: the CSV's scorer.
        edges: the skeleton as index pairs into ``parts``.
        task: the project's Task (default the folder's name).

    Returns:
        the project folder.
    """
    import yaml
    from PIL import Image

    from infantjax.io.files import atomic_open, atomic_path

    root = pathlib.Path(out)
    (root / "labeled-data").mkdir(parents=True, exist_ok=True)
    parts = [str(p) for p in parts]
    cfg_path = root / "config.yaml"
    cfg = read_config(cfg_path) if cfg_path.is_file() else {}
    video_sets = dict(cfg.get("video_sets") or {})
    for video in videos:
        video_sets.setdefault(video, {"crop": None})
    cfg.update({"Task": cfg.get("Task") or task or root.name, "scorer": cfg.get("scorer") or scorer,
                "bodyparts": parts, "skeleton": [[parts[a], parts[b]] for a, b in edges] or cfg.get("skeleton") or [],
                "multianimalproject": False, "video_sets": video_sets, "project_path": str(root.resolve())})
    for video, frames in videos.items():
        folder = root / "labeled-data" / video
        folder.mkdir(parents=True, exist_ok=True)
        for name, image in frames:
            if image is None:  # a frame already in the project: its image stays as it is
                continue
            with atomic_path(folder / name, suffix=".png") as tmp:
                Image.fromarray(np.asarray(image, np.uint8)).save(tmp, format="PNG")
        if keypoints is not None and video in keypoints:
            kp = np.asarray(keypoints[video], np.float64)
            with atomic_open(folder / f"CollectedData_{scorer}.csv", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["scorer", "", ""] + [scorer] * (2 * len(parts)))
                w.writerow(["bodyparts", "", ""] + [p for p in parts for _ in "xy"])
                w.writerow(["coords", "", ""] + ["x", "y"] * len(parts))
                for (name, _), row in zip(frames, kp):
                    w.writerow(["labeled-data", video, name] + ["" if not np.isfinite(v) else repr(float(v))
                                                                for v in row.reshape(-1)])
    with atomic_open(cfg_path) as fh:
        yaml.safe_dump(cfg, fh, sort_keys=False)
    return root


def write_coco(out: str | os.PathLike, frames: LabelledFrames, *, name: str = "infant") -> pathlib.Path:
    """Write labelled frames as a COCO keypoint file (the images stay where they are: ``file_name`` is relative to
    ``frames.root``; v = 2 visible, 1 labelled and hidden, 0 not labelled), atomically. Every image gets its
    ``width`` and ``height`` (``frames.sizes``); an image whose size is unknown (0) gets neither, never a 0."""
    from infantjax.io.files import write_json

    parts = list(frames.parts)
    ids: dict[str, int] = {}
    images, annotations = [], []
    for i, file in enumerate(frames.images):
        if file not in ids:
            ids[file] = len(ids) + 1
            h, w = (int(v) for v in frames.sizes[i])
            images.append({"id": ids[file], "file_name": file, **({"height": h, "width": w} if h > 0 and w > 0
                                                                   else {})})
        kp = frames.keypoints[i]
        v = np.where(np.isfinite(kp).all(axis=-1), np.where(frames.visible[i], 2, 1), 0)
        flat = []
        for (x, y), vis in zip(kp, v):
            flat += [0.0, 0.0, 0] if vis == 0 else [round(float(x), 3), round(float(y), 3), int(vis)]
        ok = np.isfinite(kp).all(axis=-1)
        lo, hi = kp[ok].min(axis=0), kp[ok].max(axis=0)
        annotations.append({"id": i + 1, "image_id": ids[file], "category_id": 1, "keypoints": flat,
                            "num_keypoints": int((v > 0).sum()), "iscrowd": 0,
                            "bbox": [round(float(lo[0]), 3), round(float(lo[1]), 3), round(float(hi[0] - lo[0]), 3),
                                     round(float(hi[1] - lo[1]), 3)],
                            "area": round(float((hi - lo).prod()), 3)})
    doc = {"images": images, "annotations": annotations,
           "categories": [{"id": 1, "name": name, "supercategory": name, "keypoints": parts,
                           "skeleton": [[a + 1, b + 1] for a, b in frames.skeleton.edges]}]}
    return write_json(out, doc, sort_keys=False)
