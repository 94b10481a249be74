"""The video a dashboard plays: the labelled video (the skeleton drawn on every frame), or a copy of the source,
and whether browsers play a video at all."""

from __future__ import annotations

import os
import pathlib
import shutil

from infantjax.errors import FileWriteError
from infantjax.io import files

#: Codecs and containers Chromium, Firefox and Safari play in a <video> element.
_BROWSER_CODECS = {"h264", "vp8", "vp9", "av1"}
_BROWSER_CONTAINERS = ("mp4", "mov", "webm", "matroska")


def write_labelled(video: pathlib.Path, keypoints, out: pathlib.Path, progress=False) -> pathlib.Path:
    """THE one call site of the labelled video: the skeleton drawn on every frame of ``video`` (H.264 MP4,
    :func:`infantjax.pipelines.pose.write_labelled_video`) at ``out``; the dashboard plays it instead of the
    source. ``progress``: False, or a function called with the number of frames of every chunk written."""
    from infantjax.pipelines import pose

    return pathlib.Path(pose.write_labelled_video(video, keypoints, out, progress=progress))


def playable_in_browsers(path: str | os.PathLike) -> tuple[bool, str | None]:
    """Whether a browser's ``<video>`` plays the file (H.264, VP8/9 or AV1 in MP4/MOV/WebM/Matroska, 8-bit 4:2:0),
    and if not a sentence saying why and what to do."""
    import av

    try:
        with av.open(os.fspath(path)) as container:
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            pix = stream.codec_context.pix_fmt or "?"
            fmt = container.format.name
    except (av.error.FFmpegError, IndexError, OSError) as err:
        return False, f"the video could not be probed for browser playback ({type(err).__name__})"
    ok_container = any(c in fmt.split(",") for c in _BROWSER_CONTAINERS)
    if codec in _BROWSER_CODECS and ok_container and pix in ("yuv420p", "yuvj420p", "nv12"):
        return True, None
    return False, (f"browsers cannot play this video ({codec}, {pix}, container {fmt.split(',')[0]}): the timeline, "
                   "keypoints and explanations work without it; for the player convert it to H.264 MP4 (ffmpeg -i "
                   "VIDEO -c:v libx264 -pix_fmt yuv420p video.mp4) or run infantjax assess with --labelled")


def _copy_video(video: pathlib.Path, folder: pathlib.Path, playable: bool) -> str:
    """The source copied into the video's folder (the dashboard's folder is self-contained), atomically."""
    suffix = ".mp4" if playable and video.suffix.lower() in (".mp4", ".mov", ".m4v") else video.suffix.lower()
    target = folder / f"video{suffix}"
    try:
        with files.atomic_path(target) as tmp:
            shutil.copyfile(video, tmp)
    except OSError as err:
        raise FileWriteError(f"{target}: cannot copy the video ({err.strerror})") from None
    return target.name
