"""The progress of an assessment: one progress bar over every video's work, counted in frames and re-estimated
from the time finished videos took, each video's share of it, and the clock that times a video's stages into its
record and the run's totals."""

from __future__ import annotations

import os
import pathlib
import threading
import time

import numpy as np


def _frame_estimate(video: pathlib.Path, max_frames: int | None) -> int | None:
    """The number of frames ``video`` will give, from its header (no decoding; None when it cannot be
    read)."""
    import av

    try:
        with av.open(os.fspath(video)) as container:
            stream = container.streams.video[0]
            n = int(stream.frames or 0)
            if n <= 0 and stream.duration and stream.average_rate:
                n = int(round(float(stream.duration * stream.time_base) * float(stream.average_rate)))
            if n <= 0 and container.duration and stream.average_rate:
                n = int(round(container.duration / 1e6 * float(stream.average_rate)))
    except (av.error.FFmpegError, IndexError, OSError, ValueError, TypeError, ZeroDivisionError):
        return None
    if n <= 0:
        return None
    return n if max_frames is None else min(n, int(max_frames))


#: The work of each stage per frame of a video, in frames of the pose stage (what one frame costs there), as
#: measured with the default models on CPU (the stages' seconds in ``assess.json`` over the pose stage's: 40 s
#: of 320 × 240 video at 15 fps); a run refines them from the time its own finished videos' stages took.
_WORK = {"decode": 0.002, "pose": 1.0, "ensemble": 0.1, "explain": 0.002, "labelled": 0.1, "dashboard": 0.02,
         "records": 0.005}


class _Progress:
    """One progress bar over every video's work, counted in frames: each video's share is its frame count
    times the work of its stages (:data:`_WORK`, pose = 1); the pose stage and the labelled video advance it
    frame by frame, the other stages at their end. After each video the work of the stages is re-estimated
    from the time they took, and the remaining videos' shares with it, so the bar's remaining-time estimate
    follows the run."""

    def __init__(self, frames: list[int | None], labelled: bool):
        known = [f for f in frames if f]
        fallback = int(np.median(known)) if known else 300
        self.frames = [int(f) if f else fallback for f in frames]
        self.work = dict(_WORK)
        if not labelled:
            self.work.pop("labelled")
        self.done = [False] * len(frames)
        self.bar = None
        self.advanced = 0.0  # work counted so far (the bar shows it rounded down)
        self.lock = threading.Lock()  # the labelled video's thread advances the bar beside the ensemble stage
        self._ratios: list[dict] = []
        self._clock = False  # whether the bar's clock was restarted after the first tracked batch
        self.warmed = False  # whether the ensemble's programs were compiled before the first pose stage

    def restart_clock(self) -> None:
        """Time the bar's rate from now on: the first batch of the pose stage carries the models' loading and
        compilation, which no later frame pays, so the remaining-time estimate (tqdm's average rate since
        ``start_t`` over the work since ``initial``) starts after it."""
        if self._clock or self.bar is None:
            return
        self._clock = True
        if hasattr(self.bar, "start_t"):
            self.bar.start_t = getattr(self.bar, "_time", time.time)()
            self.bar.initial = self.bar.n

    def share(self, k: int) -> float:
        """Video ``k``'s work: its frames times the work of its stages."""
        return self.frames[k] * sum(self.work.values())

    @property
    def total(self) -> int:
        return self._total(0.0, range(len(self.frames)))

    def _total(self, counted: float, remaining) -> int:
        """The bar's total: the work counted so far plus the remaining videos' shares, rounded down as the
        bar's count is (``int(counted + rest)``, never ``int(counted) + round(rest)``, which can fall one short
        of the count the same shares reach), and exactly the count once nothing remains."""
        rest = sum(self.share(i) for i in remaining)
        if rest <= 0.0:
            return max(int(counted), 1)
        return max(int(counted + rest + 1e-6), 1)

    def _retotal(self) -> None:
        if self.bar is not None:
            remaining = [i for i in range(len(self.frames)) if not self.done[i]]
            self.bar.total = self._total(self.advanced, remaining)
            self.bar.refresh()

    def advance(self, n: float) -> None:
        if n <= 0:
            return
        with self.lock:
            before = int(self.advanced)
            self.advanced += n
            if self.bar is not None and int(self.advanced) > before:
                self.bar.update(int(self.advanced) - before)

    def skip(self, k: int) -> None:
        """A video with nothing to do in this run (finished, or failed before): its share at once."""
        self.done[k] = True
        self.advance(self.share(k))
        self._retotal()

    def video(self, k: int) -> _VideoProgress:
        return _VideoProgress(self, k)

    def learn(self, frames: int, seconds: dict) -> None:
        """Re-estimate the stages' work (per frame, in pose frames) from a finished video's times, and the
        bar's total from what is done and the remaining videos' shares."""
        pose = seconds.get("pose", 0.0)
        if frames > 0 and pose > 0:
            self._ratios.append({s: seconds.get(s, 0.0) / pose for s in self.work if s != "pose"})
            for s in self.work:
                if s != "pose":
                    self.work[s] = float(np.mean([r[s] for r in self._ratios]))
        self._retotal()


class _VideoProgress:
    """The progress of one video: the stage being run on the bar's line, frames as they are done."""

    def __init__(self, run: _Progress, k: int):
        self.run, self.k = run, k
        self.frames = run.frames[k]
        self.spent = 0.0  # of the video's share
        self.stage_spent: dict[str, float] = {}  # per stage: the labelled video runs beside the ensemble stage
        self.lock = threading.Lock()

    def begin(self, stage: str, video: str) -> None:
        self.stage_spent.setdefault(stage, 0.0)  # the labelled video's frames counted before its stage is waited on
        if self.run.bar is not None:
            self.run.bar.set_postfix_str(f"{video}: {stage}", refresh=True)

    def _step(self, stage: str, n: float) -> None:
        with self.lock:
            self.stage_spent[stage] = self.stage_spent.get(stage, 0.0) + n
            self.spent += n
        self.run.advance(n)

    def frames_done(self, stage: str, n: int) -> None:
        """``n`` more frames of a per-frame stage (pose, labelled) are done (at most the stage's share)."""
        room = self.frames * self.run.work.get(stage, 0.0) - self.stage_spent.get(stage, 0.0)
        self._step(stage, min(float(n) * self.run.work.get(stage, 0.0), max(room, 0.0)))
        if stage == "pose":
            self.run.restart_clock()

    def end(self, stage: str) -> None:
        """The stage is done: the rest of its share."""
        self._step(stage, max(self.frames * self.run.work.get(stage, 0.0) - self.stage_spent.get(stage, 0.0), 0.0))

    def finish(self, frames: int, seconds: dict) -> None:
        """The video is done: whatever is left of its share, then the stages' work re-estimated."""
        self.run.advance(max(self.run.share(self.k) - self.spent, 0.0))
        self.run.done[self.k] = True
        self.run.learn(frames, seconds)

    def abandon(self) -> None:
        """The video failed: the rest of its share (nothing more is done for it)."""
        self.run.advance(max(self.run.share(self.k) - self.spent, 0.0))
        self.run.done[self.k] = True
        self.run._retotal()


class _Clock:
    """Times the stages of one video into its own record and the run's totals, and tells the progress bar."""

    def __init__(self, totals: dict, progress: _VideoProgress, video: str):
        self.totals, self.progress, self.video = totals, progress, video
        self.own: dict[str, float] = {}

    def stage(self, name: str):
        clock = self

        class _Stage:
            def __enter__(self):
                clock.progress.begin(name, clock.video)
                self.t = time.perf_counter()

            def __exit__(self, exc_type, exc, tb):
                took = time.perf_counter() - self.t
                clock.own[name] = clock.own.get(name, 0.0) + took
                clock.totals[name] = clock.totals.get(name, 0.0) + took
                if exc_type is None:
                    clock.progress.end(name)

        return _Stage()

    def frames(self, name: str):
        """The callback of a per-frame stage: ``n`` more frames done."""
        return lambda n: self.progress.frames_done(name, int(n))
