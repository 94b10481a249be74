"""The picture of docs/pose.md's "Labelled video" section (docs/img/labelled-frame.png): a rendered synthetic infant
tracked by the shipped ``rt-synthetic-infant`` weights, its labelled video written by ``write_labelled_video``, and
one frame of it decoded and saved as PNG.

    python experiments/labelled_frame.py [--out docs/img/labelled-frame.png] [--frame 12]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="docs/img/labelled-frame.png")
    p.add_argument("--frame", type=int, default=12)
    p.add_argument("--seed", type=int, default=3)
    args = p.parse_args(argv)

    from PIL import Image

    from infantjax.io import open_video
    from infantjax.io.files import atomic_path
    from infantjax.pipelines.pose import track_synthetic_video, write_labelled_video

    with tempfile.TemporaryDirectory() as tmp:
        video = pathlib.Path(tmp) / "infant.mp4"
        result = track_synthetic_video(duration_s=2.0, fps=15.0, size=(360, 480), seed=args.seed,
                                       video_path=str(video))
        labelled = write_labelled_video(video, result.sequence, pathlib.Path(tmp) / "infant.labelled.mp4",
                                        progress=False)
        with open_video(labelled) as src:
            frame = src[args.frame]
    with atomic_path(args.out) as tmp_png:
        Image.fromarray(frame).save(tmp_png, format="PNG", optimize=True)
    print(f"PCKh@0.5 {result.pckh:.3f}; frame {args.frame} of the labelled video -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
