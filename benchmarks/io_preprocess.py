"""Video decoding throughput (PyAV vs decord), memory while decoding a long video, and CP preprocessing throughput.

Writes synthetic test videos to a temporary folder and measures, for each backend that is installed:

* sequential decoding with ``VideoSource.iter_chunks(64)`` (frames/s);
* random access with ``VideoSource.get_batch`` of 32 random frames (frames/s);
* peak RSS growth while decoding a 3-minute 30 fps video in chunks, next to a 10-second one (each in a fresh
  subprocess, so the numbers are that decode's own): constant memory means both growths are about equal;
* the CP preprocessing pipeline (``infantjax.preprocess.preprocess_cp`` v1 and v2, ``cp_windows`` and
  ``features``) on a 3-minute 30 fps In-Motion 19 sequence, when ``infantjax.preprocess`` provides it.

Every timing is the median of ``--repeats`` runs after one warm-up run. Prints a table and a JSON record (also
written to ``--out`` when given)::

    python benchmarks/io_preprocess.py              # full run (a few minutes on 2 cores)
    python benchmarks/io_preprocess.py --quick      # smaller videos, fewer repeats
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from infantjax.io import open_video, write_video  # noqa: E402
from infantjax.io.video import default_codec  # noqa: E402

BACKENDS = ["pyav"] + (["decord"] if importlib.util.find_spec("decord") else [])


def synthetic_frames(n: int, h: int, w: int, seed: int = 0):
    """Moving shapes on a textured background: enough motion and detail for real P/B-frames."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    background = (rng.integers(0, 40, (h, w, 3)) + 90).astype(np.uint8)
    for i in range(n):
        frame = background.copy()
        for k in range(4):
            cx = (w / 2 + w / 3 * np.sin(0.05 * i + k)) % w
            cy = (h / 2 + h / 3 * np.cos(0.04 * i + 2 * k)) % h
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < (min(h, w) / 10) ** 2
            frame[mask] = (60 * k, 255 - 50 * k, (i * 3) % 256)
        yield frame


def median_time(fn, repeats: int) -> float:
    """Median seconds after one warm-up call (the harness's, infantjax.bench)."""
    from infantjax.bench import harness

    return harness.median_time(fn, repeats=repeats, warmup=1)[0]


def decode_rates(path: pathlib.Path, backend: str, repeats: int, batch: int = 32) -> dict:
    with open_video(path, backend=backend) as src:
        n = len(src)

        def sequential():
            for _ in src.iter_chunks(64):
                pass

        rng = np.random.default_rng(0)
        batches = [rng.integers(0, n, batch) for _ in range(repeats + 1)]
        it = iter(batches)

        def random_access():
            src.get_batch(next(it))

        t_seq = median_time(sequential, repeats)
        t_rand = median_time(random_access, repeats)
    return {"sequential_fps": n / t_seq, "random_fps": batch / t_rand, "frames": n}


def rss_child(path: str, backend: str, chunk: int) -> None:
    """Run in a subprocess: decode everything in chunks; report RSS at the start and its maximum (kB).

    RSS is sampled after every chunk, while the chunk is still referenced (the high point of a chunked loop).
    """
    with open_video(path, backend=backend) as src:
        src.get_batch([0])  # decoder and first buffers allocated: the baseline
        base = peak = _current_rss_kb()
        count = 0
        for _, frames in src.iter_chunks(chunk):
            count += len(frames)
            peak = max(peak, _current_rss_kb())
    print(json.dumps({"frames": count, "base_kb": base, "peak_kb": peak}))


def _current_rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rss_growth(path: pathlib.Path, backend: str, chunk: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, __file__, "--rss-child", str(path), backend, str(chunk)],
                         capture_output=True, text=True, env=env, check=True)
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    rec["growth_mb"] = (rec["peak_kb"] - rec["base_kb"]) / 1024
    return rec


def synthetic_in_motion(frames: int, fps: float = 30.0, seed: int = 0):
    """A plausible supine infant in In-Motion 19 keypoints (pixels), moving smoothly, with a few dropouts."""
    from infantjax import skeleton
    from infantjax.sequence import SkeletonSequence

    skel = skeleton.get("in-motion-19")
    base = np.array([[0, -120], [0, -95], [-18, -100], [18, -100], [0, -75], [-35, -60], [-55, -20], [-60, 15],
                     [0, -60], [35, -60], [55, -20], [60, 15], [0, 20], [-20, 25], [-30, 70], [-35, 115],
                     [20, 25], [30, 70], [35, 115]], dtype=np.float64) + [320, 240]
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    phase = rng.uniform(0, 2 * np.pi, (19, 2))
    freq = rng.uniform(0.2, 1.5, (19, 2))
    amp = np.where(np.isin(np.arange(19), [7, 11, 15, 18, 6, 10, 14, 17]), 12.0, 3.0)[:, None]
    coords = base[None] + amp * np.sin(2 * np.pi * freq * t[:, None, None] + phase) + rng.normal(0, 0.8, (frames, 19, 2))
    drop = rng.random((frames, 19)) < 0.01
    coords[drop] = np.nan
    conf = np.where(drop, np.nan, rng.uniform(0.5, 1.0, (frames, 19)))
    return SkeletonSequence(coords.astype(np.float32), fps, skel, conf.astype(np.float32))


def preprocess_rates(repeats: int) -> dict:
    try:
        from infantjax.preprocess import cp_windows, features, preprocess_cp
    except ImportError as err:
        return {"available": False, "reason": f"infantjax.preprocess has no CP pipeline here ({err})"}
    import jax

    seq = synthetic_in_motion(3 * 60 * 30)
    out = {"available": True, "frames": seq.num_frames, "fps": seq.fps}
    for version in ("v1", "v2"):
        pre = preprocess_cp(seq, version)
        t_pre = median_time(lambda v=version: preprocess_cp(seq, v), repeats)
        t_win = median_time(lambda p=pre: cp_windows(p), repeats)
        wins = cp_windows(pre)
        feats = jax.jit(lambda w: features(w, seq.skeleton.parents))

        def run_features(w=wins):
            jax.block_until_ready(feats(w))

        t_feat = median_time(run_features, repeats)
        out[version] = {"preprocess_ms": 1e3 * t_pre, "windows_ms": 1e3 * t_win, "features_ms": 1e3 * t_feat,
                        "windows": int(wins.shape[0]),
                        "frames_per_s": seq.num_frames / (t_pre + t_win + t_feat)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small videos and 2 repeats")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--out", type=pathlib.Path, default=None, help="also write the JSON record here")
    parser.add_argument("--rss-child", nargs=3, metavar=("PATH", "BACKEND", "CHUNK"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child[0], args.rss_child[1], int(args.rss_child[2]))
        return 0
    repeats = args.repeats or (2 if args.quick else 5)
    frames = 90 if args.quick else 300
    long_seconds = 20 if args.quick else 180
    gop = 30  # a keyframe a second, typical of phone and camera recordings
    import av

    record = {
        "benchmark": "io_preprocess",
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "pyav": av.__version__, "decord": _version("decord"), "codec": default_codec(), "gop": gop,
        "repeats": repeats, "decode": [], "memory": [], "preprocess": None,
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for h, w in ((480, 640), (256, 256)):
            path = write_video(tmp / f"synthetic_{w}x{h}.mp4", synthetic_frames(frames, h, w), 30,
                               options={"g": str(gop)})
            for backend in BACKENDS:
                rates = decode_rates(path, backend, repeats)
                record["decode"].append({"backend": backend, "size": f"{w}x{h}", **rates})
        # memory: a long and a short video of the same size, decoded in chunks of 64
        h, w = 480, 640
        lengths = {"short": 10 * 30, "long": long_seconds * 30}
        paths = {name: write_video(tmp / f"{name}.mp4", synthetic_frames(n, h, w), 30,
                                   options={"g": str(gop), "preset": "ultrafast"})
                 for name, n in lengths.items()}
        for backend in BACKENDS:
            for name, path in paths.items():
                rec = rss_growth(path, backend, 64)
                record["memory"].append({"backend": backend, "video": name, "size": f"{w}x{h}",
                                         "seconds": lengths[name] / 30, **rec,
                                         "whole_video_mb": lengths[name] * h * w * 3 / 2**20})
    record["preprocess"] = preprocess_rates(repeats)
    _print_table(record)
    text = json.dumps(record, indent=None)
    print(text)
    if args.out:
        args.out.write_text(json.dumps(record, indent=2))
    return 0


def _version(module: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return None
    return getattr(__import__(module), "__version__", "unknown")


def _print_table(record: dict) -> None:
    print(f"video decoding ({record['codec']}, GOP {record['gop']}, median of {record['repeats']} after warm-up)")
    print(f"{'backend':8} {'size':>8} {'frames':>6} {'sequential f/s':>15} {'random f/s':>11}")
    for r in record["decode"]:
        print(f"{r['backend']:8} {r['size']:>8} {r['frames']:6d} {r['sequential_fps']:15.1f} {r['random_fps']:11.1f}")
    print("\npeak RSS growth while decoding in chunks of 64 (fresh process each)")
    print(f"{'backend':8} {'video':6} {'seconds':>7} {'frames':>6} {'growth MB':>10} {'whole video MB':>15}")
    for r in record["memory"]:
        print(f"{r['backend']:8} {r['video']:6} {r['seconds']:7.0f} {r['frames']:6d} {r['growth_mb']:10.1f} "
              f"{r['whole_video_mb']:15.0f}")
    pre = record["preprocess"]
    print("\nCP preprocessing of a 3-minute 30 fps In-Motion 19 sequence")
    if not pre or not pre.get("available"):
        print(f"  not available: {pre.get('reason') if pre else ''}")
    else:
        print(f"{'version':8} {'preprocess ms':>14} {'windows ms':>11} {'features ms':>12} {'windows':>8} {'frames/s':>10}")
        for v in ("v1", "v2"):
            r = pre[v]
            print(f"{v:8} {r['preprocess_ms']:14.1f} {r['windows_ms']:11.2f} {r['features_ms']:12.2f} "
                  f"{r['windows']:8d} {r['frames_per_s']:10.0f}")
    print()


if __name__ == "__main__":
    sys.exit(main())
