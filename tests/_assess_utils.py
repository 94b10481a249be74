"""Shared by the assess tests: one tiny synthetic infant video (6 s at 15 fps, 160×120, H.264 MP4), the zoo's models
loaded once, and one finished assess run of the video.

The models are the zoo's default pose model and its 3-instance CP ensemble (``cp-gcn-synthetic-3folds``): these
tests check what ``assess`` does with a pose model and an ensemble (records, pages, resuming, failures, progress),
which the default ensemble's 28 instances would only make slower. That the defaults are the zoo's (the pose model
here, the 28-instance ``cp-gcn-tracked`` ensemble) is checked where it is the subject
(tests/test_assess.py::test_models_load_through_infantjax_load_and_a_wrong_family_is_a_typed_error)."""

from __future__ import annotations

import pathlib

import pytest


def render_video(path: pathlib.Path, *, seed: int = 0, duration_s: float = 6.0, fps: float = 15.0) -> pathlib.Path:
    """A synthetic infant's video (one window of the CP ensemble is 5 s, so 6 s gives two windows)."""
    from infantjax import synth

    recipe = synth.cohort("cp", n_subjects=1, seed=seed, duration_s=duration_s, fps=fps, videos=True).metadata[
        "video"][0]
    return pathlib.Path(recipe.write(path, width=160, height=120))


class CountingPose:
    """A pose model that counts (and can interrupt) its ``track`` calls: the real one underneath."""

    def __init__(self, real, interrupt_on: str | None = None):
        self.real, self.interrupt_on, self.calls = real, interrupt_on, []
        self.skeleton, self.spec = real.skeleton, real.spec

    def __getattr__(self, name):  # everything else (tracking settings, ...) is the real model's
        return getattr(self.real, name)

    def track(self, video, **kwargs):
        self.calls.append(pathlib.Path(video).name)
        if self.interrupt_on is not None and pathlib.Path(video).name == self.interrupt_on:
            raise KeyboardInterrupt  # the run is killed while this video is being tracked
        return self.real.track(video, **kwargs)


class TrackOnce:
    """A pose model that tracks each video once: a later ``track`` of the same file with the same settings is
    given the first call's keypoints (a copy; the real model tracks a file to the same keypoints every time) and
    its progress callback the same batches. For tests of what is done with the keypoints, which need not pay for
    tracking a video again. ``calls``: every call's video; ``tracked``: the videos the real model tracked."""

    def __init__(self, real):
        self.real, self.calls, self.tracked, self._done = real, [], [], {}
        self.skeleton, self.spec = real.skeleton, real.spec

    def __getattr__(self, name):  # everything else (tracking settings, ...) is the real model's
        return getattr(self.real, name)

    def track(self, video, *, progress=True, **kwargs):
        import copy

        path = pathlib.Path(video).resolve()
        key = (str(path), path.stat().st_size, path.stat().st_mtime_ns, repr(sorted(kwargs.items())))
        self.calls.append(path.name)
        if key not in self._done:
            self.tracked.append(path.name)
            self._done[key] = self.real.track(video, progress=progress, **kwargs)
        elif callable(progress):
            batch = int(kwargs.get("batch_size", 16))
            n = self._done[key].num_frames
            for start in range(0, n, batch):
                progress(min(batch, n - start))
        return copy.deepcopy(self._done[key])


#: The CP ensemble of the assess tests: the zoo's 3-instance one (the module docstring says why not the default).
ENSEMBLE = "cp-gcn-synthetic-3folds"


@pytest.fixture(scope="session")
def assess_models():
    """The zoo's default pose model and its 3-instance CP ensemble, loaded by name once."""
    from infantjax.pipelines.assessment import load_models

    return load_models(ensemble=ENSEMBLE)


@pytest.fixture(scope="session")
def infant_video(tmp_path_factory) -> pathlib.Path:
    return render_video(tmp_path_factory.mktemp("assess_video") / "baby one.mp4")


@pytest.fixture(scope="module")
def assessed(tmp_path_factory, assess_models, infant_video):
    """One video through ``infantjax.pipelines.assess``: the AssessRun.

    Module-scoped, so that it runs after the module's autouse fixtures: a session fixture runs before them, and the
    pose network it compiled there (with most XLA optimisations off, tests/conftest.py) stayed in use for the whole
    module of a test file marked ``xla_optimised``, 5-6 times slower."""
    from infantjax import pipelines

    return pipelines.assess(infant_video, tmp_path_factory.mktemp("assess_out"), models=assess_models,
                            labelled=False,
                            progress=False)
