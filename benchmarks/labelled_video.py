"""The labelled video's speed: ``write_labelled_video`` on a 3-minute 30 fps 640x480 video
(5,400 frames) with an In-Motion 19 skeleton on every frame, beside the time decoding alone takes, the time of the
drawing alone, and the load average.

The source is written first (a drifting smooth texture with a little noise, H.264 ``ultrafast``; not timed); the keypoints are the template
infant (``explain.TEMPLATE_POSE``) scaled to the frame, jittered every frame, with random confidences (some below
the threshold, so not every joint is drawn).

    python benchmarks/labelled_video.py                 # 180 s, 640x480, 30 fps
    python benchmarks/labelled_video.py --seconds 20    # a shorter run
    python benchmarks/labelled_video.py --out record.json
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

import numpy as np


def source_video(path: pathlib.Path, frames: int, height: int, width: int, fps: float) -> pathlib.Path:
    from infantjax.io import write_video

    from scipy import ndimage

    # a smooth scene with some detail (a phone video of a mattress, not white noise, which no encoder compresses)
    rng = np.random.default_rng(0)
    coarse = rng.uniform(60, 200, ((height + 64) // 16 + 1, (width + 64) // 16 + 1, 3))
    smooth = ndimage.zoom(coarse, (16, 16, 1), order=3)[:height + 64, :width + 64]
    texture = np.clip(smooth + rng.normal(0, 4, smooth.shape), 0, 255).astype(np.uint8)

    def chunks():
        for start in range(0, frames, 64):
            out = np.empty((min(64, frames - start), height, width, 3), np.uint8)
            for k in range(len(out)):
                s = (start + k) % 64
                out[k] = texture[s:s + height, s:s + width]
            yield out

    return write_video(path, chunks(), fps, options={"preset": "ultrafast"})


def keypoints(frames: int, height: int, width: int, fps: float):
    from infantjax.explain import TEMPLATE_POSE
    from infantjax.sequence import SkeletonSequence

    rng = np.random.default_rng(1)
    pose = np.asarray(TEMPLATE_POSE) * np.array([0.35 * height, -0.35 * height]) + np.array([width / 2, 0.7 * height])
    coords = pose[None] + rng.normal(0.0, 4.0, (frames, *pose.shape))
    conf = rng.uniform(0.1, 1.0, (frames, pose.shape[0]))
    return SkeletonSequence(coords.astype(np.float32), fps=fps, skeleton="in-motion-19", confidence=conf)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=180.0)
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--out", default=None, help="write the record (JSON) here")
    args = p.parse_args(argv)

    from infantjax.explain import draw_keypoints
    from infantjax.io import open_video
    from infantjax.pipelines.pose import LABELLED_ENCODING, write_labelled_video

    n = round(args.seconds * args.fps)
    with tempfile.TemporaryDirectory() as tmp:
        src = source_video(pathlib.Path(tmp) / "source.mp4", n, args.height, args.width, args.fps)
        seq = keypoints(n, args.height, args.width, args.fps)
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        with open_video(src) as video:
            for _ in video.iter_chunks(32):
                pass
        decode_s = time.perf_counter() - t0
        frames = np.zeros((32, args.height, args.width, 3), np.uint8)
        t0 = time.perf_counter()
        for start in range(0, n, 32):
            k = min(32, n - start)
            draw_keypoints(frames[:k], seq.coords[start:start + k], seq.confidence[start:start + k], seq.skeleton,
                           copy=False)
        draw_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = write_labelled_video(src, seq, pathlib.Path(tmp) / "labelled.mp4", progress=False)
        total_s = time.perf_counter() - t0
        size = out.stat().st_size
        load_after = os.getloadavg()
    record = {
        "frames": n, "size": f"{args.width}x{args.height}", "fps": args.fps, "encoding": LABELLED_ENCODING,
        "labelled_s": round(total_s, 2), "frames_per_s": round(n / total_s, 1),
        # decoding and drawing timed alone; in the labelled run decoding overlaps the encoding (a background thread)
        "decode_only_s": round(decode_s, 2), "draw_only_s": round(draw_s, 2), "file_mb": round(size / 1e6, 1),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in load_after], "cpus": os.cpu_count(),
    }
    print(json.dumps(record, indent=1))
    if args.out:
        from infantjax.io.files import write_json

        write_json(args.out, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
