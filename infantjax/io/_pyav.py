"""PyAV, imported when first needed (importing it loads FFmpeg), and how its errors are described: shared by
reading (:mod:`infantjax.io.video`) and writing (:mod:`infantjax.io.video_write`) videos."""

from __future__ import annotations

__all__: list[str] = []


def _av():
    import av  # deferred: importing PyAV loads FFmpeg

    return av


def _describe(err: Exception) -> str:
    return f"{type(err).__name__}: {getattr(err, 'strerror', None) or err}"
