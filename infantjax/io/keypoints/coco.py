"""COCO keypoint JSON (``coco``): ``images``, ``annotations`` with 3·K ``keypoints`` (x, y, visibility) and
``categories`` naming the keypoints; one frame per annotated person, visibility in the metadata.

Keypoints tracked in a video keep their time: :func:`write` gives every image its ``frame_time`` (seconds, the
frame's presentation time) and ``info`` the frame rate (``fps``); :func:`read` turns a file whose every image has a
``frame_time`` back into a recording in time with those times (not a set of unrelated labelled images). Every image
gets its ``width`` and ``height`` where the size is known (the sequence's ``image_sizes``, or the video's upright
frame size ``image_hw``); where it is not, they are left out, never written as 0."""

from __future__ import annotations

import logging

import numpy as np

from infantjax import skeleton as _skeleton
from infantjax.errors import DataError, InfantJaxError, KeypointFormatError, SkeletonMismatchError
from infantjax.io.keypoints.common import (
    check_finite,
    custom_skeleton,
    float_list,
    index_column,
    load_json,
    make_sequence,
    match_skeleton,
    part_key,
    place,
    write_json_file,
)
from infantjax.sequence import SkeletonSequence

log = logging.getLogger(__name__)


def read(path, skeleton, fps) -> SkeletonSequence:
    """Read a COCO keypoint JSON (``skeleton``, ``fps``: as :func:`~infantjax.io.read_keypoints`)."""
    try:
        return _read_coco_object(path, load_json(path), skeleton, fps)
    except InfantJaxError:
        raise
    except (TypeError, ValueError, AttributeError) as err:
        raise KeypointFormatError(f"{path}: malformed COCO keypoint file ({type(err).__name__}: {err})") from None


def _read_coco_object(path, obj, skeleton, fps) -> SkeletonSequence:
    if not isinstance(obj, dict) or not isinstance(obj.get("annotations"), list):
        raise KeypointFormatError(
            f"{path}: not a COCO keypoint file (expected an object with an 'annotations' list)"
        )
    cats = {c.get("id"): c for c in obj.get("categories", []) if isinstance(c, dict)}
    anns = [a for a in obj["annotations"] if isinstance(a, dict) and "keypoints" in a]
    if len(anns) != len(obj["annotations"]):
        raise KeypointFormatError(f"{path}: {len(obj['annotations']) - len(anns)} annotation(s) have no 'keypoints'")
    if not anns:
        raise KeypointFormatError(f"{path}: the COCO file has no keypoint annotations")
    cat_ids = {a.get("category_id") for a in anns}
    if len(cat_ids) > 1:
        raise KeypointFormatError(_several_categories(path, cats, cat_ids, anns))
    cat = cats.get(next(iter(cat_ids)), {})
    names = cat.get("keypoints") or None  # an empty list (Halpe) names no keypoints, as a missing one
    images = {im.get("id"): im for im in obj.get("images", []) if isinstance(im, dict)}
    image_order = {iid: i for i, iid in enumerate(images)}
    anns.sort(key=lambda a: image_order.get(a.get("image_id"), len(image_order)))
    arrays = [float_list(path, a["keypoints"], f"annotation {a.get('id')} keypoints") for a in anns]
    k = len(names) if isinstance(names, list) else len(arrays[0]) // 3
    if k == 0:
        # zero keypoints would read as a recording whose keypoints are all missing
        raise KeypointFormatError(f"{path}: the COCO category and annotations list no keypoints; export the file "
                                  "with its keypoints (x, y, visibility per keypoint)")
    for a, arr in zip(anns, arrays):
        if len(arr) != 3 * k:
            raise KeypointFormatError(
                f"{path}: annotation {a.get('id')} has {len(arr)} keypoint values; the category has {k} keypoints, "
                f"so 3·{k} = {3 * k} values (x, y, visibility) are expected"
            )
    kv = np.stack(arrays).reshape(len(anns), k, 3)
    vis = kv[..., 2]
    xy = np.where((vis > 0)[..., None], kv[..., :2], np.nan)  # v = 0: not labelled (COCO)
    if skeleton is None and not _is_person(cat) and not (isinstance(names, list) and _names_a_registered_set(names)):
        what = _some(names) if isinstance(names, list) else "unnamed"
        raise KeypointFormatError(
            f"{path}: the COCO category {_describe(cat)} is not a person, and its {k} keypoints ({what}) are not "
            f"those of a registered keypoint set; infantjax reads people's keypoints ({', '.join(_skeleton.names())})"
            ". Pass skeleton= if they are a person's keypoints of a registered set, or name the category's keypoints "
            "as one (docs/skeleton.md)"
        )
    if isinstance(names, list):
        parts = [str(n) for n in names]
        edges = [(int(a) - 1, int(b) - 1) for a, b in cat.get("skeleton", []) if 1 <= a <= k and 1 <= b <= k]
        skel, idx = match_skeleton(path, parts, skeleton)
        if skel.name.startswith("custom-"):
            skel = custom_skeleton(f"{cat.get('name') or 'coco'}-{k}", parts, edges)
    elif skeleton is not None:
        skel = _skeleton.get(skeleton)
        if skel.num_keypoints != k:
            raise SkeletonMismatchError(f"{path}: {k} keypoints per annotation but {skel.name!r} has "
                                        f"{skel.num_keypoints}")
        parts, idx = list(skel.labels), np.arange(k)
    elif k == _skeleton.HALPE_136.num_keypoints:
        # Halpe's category names none of its 136 keypoints: they are Halpe full-body's, in its order
        skel = _skeleton.HALPE_136
        parts, idx = list(skel.labels), np.arange(k)
        log.info("%s: the COCO category names none of its 136 keypoints; read as Halpe full-body (halpe-136; "
                 "pass skeleton= to read them as another 136-keypoint set)", path)
    else:  # the category names no keypoints: number them, in the file's order
        parts = [f"keypoint_{i + 1}" for i in range(k)]
        log.warning("%s: the COCO category names none of its %d keypoints; they are read as keypoint_1 .. "
                    "keypoint_%d (pass skeleton= to read them as a registered keypoint set)", path, k, k)
        skel, idx = custom_skeleton(f"{cat.get('name') or 'coco'}-{k}", parts), np.arange(k)
    check_finite(path, xy, None, parts)
    sizes = []
    for a in anns:
        im = images.get(a.get("image_id"), {})
        sizes.append([int(im.get("height", 0)), int(im.get("width", 0))])
    meta = {
        "time_series": False,
        "images": [str(images.get(a.get("image_id"), {}).get("file_name", a.get("image_id"))) for a in anns],
        "image_ids": [a.get("image_id") for a in anns],
        "annotation_ids": [a.get("id") for a in anns],
        "image_sizes": sizes,
        "visibility": place(vis, idx, skel.num_keypoints).tolist(),
    }
    scores = [a.get("score") for a in anns]
    if all(isinstance(s, (int, float)) for s in scores):
        meta["scores"] = scores
    times = _frame_times(anns, images)
    if times is not None:  # a recording in time (keypoints tracked in a video), not unrelated images
        del meta["time_series"]
        if sizes and sizes[0][0] > 0 and sizes[0][1] > 0 and all(sz == sizes[0] for sz in sizes):
            meta["image_hw"] = list(sizes[0])
        if fps is None:
            info_fps = (obj.get("info") or {}).get("fps") if isinstance(obj.get("info"), dict) else None
            if isinstance(info_fps, (int, float)) and not isinstance(info_fps, bool) and np.isfinite(info_fps) \
                    and info_fps > 0:
                fps = float(info_fps)
            elif len(times) > 1:
                fps = 1.0 / float(np.median(np.diff(times)))
    seq = make_sequence(path, place(xy, idx, skel.num_keypoints), None, skel, fps, meta, parts)
    return seq if times is None else seq.replace(times=times)


def _frame_times(anns: list, images: dict) -> np.ndarray | None:
    """The ``frame_time`` of every annotation's image when each annotation has its own image with a numeric,
    strictly increasing time (what :func:`write` writes for a recording), else None."""
    ids = [a.get("image_id") for a in anns]
    if len(set(ids)) != len(ids):
        return None
    times = [images.get(i, {}).get("frame_time") for i in ids]
    if not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in times):
        return None
    times = np.asarray(times, dtype=np.float64)
    if not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
        return None
    return times


#: category names and supercategories (compared as :func:`part_key`) that mark people
_PERSON = frozenset({"person", "persons", "people", "human", "humans", "pedestrian", "infant", "infants", "baby",
                     "babies", "child", "children", "newborn", "newborns"})


def _is_person(cat: dict) -> bool:
    """Whether a COCO category may be a person: its name or supercategory says so, or it names neither (the
    category of a file written by a tool that leaves them out) — AP-10K's species (``antelope``, supercategory
    ``Bovidae``) are not."""
    said = [str(cat.get(f) or "") for f in ("name", "supercategory")]
    said = [part_key(v) for v in said if part_key(v)]
    return not said or any(v in _PERSON for v in said)


def _names_a_registered_set(parts: list) -> bool:
    """Whether every keypoint name is one of a single registered skeleton's (its names or labels)."""
    keys = {part_key(str(p)) for p in parts}
    for name in _skeleton.names():
        skel = _skeleton.get(name)
        if keys <= {part_key(n) for n in skel.keypoints + skel.labels}:
            return True
    return False


def _describe(cat: dict) -> str:
    super_ = cat.get("supercategory")
    return f"{cat.get('id')} {cat.get('name')!r}" + (f" (supercategory {super_!r})" if super_ else "")


def _some(names, n: int = 8) -> str:
    names = [str(x) for x in names]
    return ", ".join(names[:n]) + (f", … ({len(names)} in all)" if len(names) > n else "")


def _several_categories(path, cats: dict, cat_ids: set, anns: list) -> str:
    """The message for keypoint annotations of several categories (AP-10K: one category per animal species)."""
    counts = {c: sum(1 for a in anns if a.get("category_id") == c) for c in cat_ids}
    found = "; ".join(f"category {_describe(cats.get(c, {'id': c}))}: {counts[c]} annotation(s)"
                      + (f", keypoints {_some(cats[c]['keypoints'], 5)}" if cats.get(c, {}).get("keypoints") else "")
                      for c in sorted(cat_ids, key=str))
    people = all(_is_person(cats.get(c, {})) for c in cat_ids)
    what = ("annotations of several categories" if people else
            "annotations of several categories that are not one person skeleton (an animal set such as AP-10K "
            "has one category per species)")
    return (f"{path}: keypoint {what}: {found}. A keypoint sequence is one skeleton of one kind of subject, and "
            "infantjax reads people's keypoints: keep the annotations of one person category (one category_id) "
            "per file")


def _image_size(seq: SkeletonSequence, t: int) -> tuple[int, int] | None:
    """(height, width) of frame ``t``'s image: the per-image ``image_sizes`` of a label set, else the video's upright
    frame size ``image_hw`` (what tracking records); None when unknown (a size of 0 is unknown)."""
    sizes, hw = seq.metadata.get("image_sizes"), seq.metadata.get("image_hw")
    for size in ((sizes[t] if isinstance(sizes, (list, tuple)) and len(sizes) == seq.num_frames else None), hw):
        try:
            h, w = (int(v) for v in size)
        except (TypeError, ValueError):
            continue
        if h > 0 and w > 0:
            return h, w
    return None


def write(path, seq: SkeletonSequence) -> None:
    """Write ``seq`` as a COCO keypoint JSON (one image and annotation per frame), atomically.

    Every image gets ``width`` and ``height`` where the size is known (``metadata["image_sizes"]`` of a label set,
    else ``metadata["image_hw"]``, the upright frame size of the video the keypoints were tracked in); where no size
    is known they are left out rather than written as 0. A recording in time (not a per-image label set,
    ``metadata["time_series"] is False``) gives every image its ``frame_time`` in seconds
    (:attr:`~infantjax.sequence.SkeletonSequence.frame_times`: the video's presentation times when known) and
    ``info`` its ``fps``, which :func:`read` restores.
    """
    if seq.dims != 2:
        raise DataError(f"COCO keypoint JSON holds 2D keypoints; the sequence is {seq.dims}D")
    skel = seq.skeleton
    names = index_column(seq) if isinstance(seq.metadata.get("images"), (list, tuple)) else \
        [f"frame_{t:06d}.png" for t in range(seq.num_frames)]
    in_time = seq.metadata.get("time_series") is not False and len(set(names)) == len(names)
    times = seq.frame_times if in_time else None
    vis_meta = seq.metadata.get("visibility")
    images, image_ids, annotations = [], {}, []
    for t in range(seq.num_frames):
        if names[t] not in image_ids:
            image_ids[names[t]] = len(image_ids) + 1
            im = {"id": image_ids[names[t]], "file_name": names[t]}
            size = _image_size(seq, t)
            if size is not None:
                im["height"], im["width"] = size
            if times is not None:
                im["frame_time"] = float(times[t])
            images.append(im)
        xy = seq.coords[t]
        present = ~np.isnan(xy).any(axis=-1)
        vis = np.where(present, 2, 0)
        if isinstance(vis_meta, (list, tuple)) and len(vis_meta) == seq.num_frames:
            vis = np.where(present, np.asarray(vis_meta[t], dtype=np.float64), 0).astype(int)
        kp = np.column_stack([np.where(present, xy[:, 0], 0.0), np.where(present, xy[:, 1], 0.0), vis])
        ann = {"id": t + 1, "image_id": image_ids[names[t]], "category_id": 1, "iscrowd": 0,
               "num_keypoints": int(present.sum()), "keypoints": [float(v) for v in kp.reshape(-1)]}
        if present.any():
            x0, y0 = np.min(xy[present], axis=0)
            x1, y1 = np.max(xy[present], axis=0)
            ann["bbox"] = [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]
            ann["area"] = float((x1 - x0) * (y1 - y0))
        annotations.append(ann)
    doc = {
        "info": {"description": f"written by infantjax ({skel.name})", **({"fps": float(seq.fps)} if in_time else {})},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(skel.labels),
                        "skeleton": [[a + 1, b + 1] for a, b in skel.edges]}],
    }
    write_json_file(path, doc)

