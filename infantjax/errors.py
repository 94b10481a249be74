"""The exception hierarchy of infantjax.

Every failure a user can cause raises a subclass of :class:`InfantJaxError`. Messages say what was wrong, where
(the file or argument) and what to do about it. Input is validated where it enters the library (files, public
functions, the CLI), never inside jitted code.
"""

from __future__ import annotations

__all__ = [
    "InfantJaxError",
    "VideoError",
    "KeypointFormatError",
    "SkeletonMismatchError",
    "ConfigError",
    "DataError",
    "LabelledDataError",
    "CheckpointError",
    "WeightsError",
    "StateDictError",
    "FileWriteError",
    "KeypointWriteError",
    "VideoWriteError",
    "ExportError",
    "ExportExtraError",
    "AotError",
    "AotExtraError",
]


class InfantJaxError(Exception):
    """Base class of every error infantjax raises on bad input."""


class VideoError(InfantJaxError):
    """A video file is missing, empty, truncated, not a video, or in a format the backend cannot decode."""


class KeypointFormatError(InfantJaxError):
    """A keypoint file cannot be parsed: wrong header, wrong columns, wrong keypoint count, bad encoding."""


class SkeletonMismatchError(InfantJaxError):
    """Keypoints of one skeleton were given where another is required, or a mapping between sets is impossible."""


class ConfigError(InfantJaxError, ValueError):
    """An invalid configuration value: names the field, the value and the allowed alternatives."""


class DataError(InfantJaxError, ValueError):
    """Data that has the right format but cannot be used: NaN/inf, too short, unknown subjects, empty cohort."""


class LabelledDataError(DataError):
    """A labelled project (DeepLabCut, COCO) cannot be used: a missing image, a label outside its image, body parts
    that differ between files, no labelled frame, two skeletons in one file."""


class CheckpointError(InfantJaxError):
    """A checkpoint is missing, corrupt, or does not match the model it is loaded into."""


class WeightsError(InfantJaxError):
    """A pretrained-weights file is not what it claims to be (e.g. not an EfficientPose .h5)."""


class FileWriteError(InfantJaxError, OSError):
    """A file cannot be written: its folder does not exist, the path is a folder, or the system refused.

    Also an ``OSError``, so code that caught the operating system's error before keeps catching it.
    """


class KeypointWriteError(KeypointFormatError, FileWriteError):
    """A keypoint file cannot be written (also a :class:`KeypointFormatError`, which the keypoint writers raised
    for a missing folder before :class:`FileWriteError` existed)."""


class VideoWriteError(VideoError, FileWriteError):
    """A video file cannot be written (also a :class:`VideoError`, which :class:`~infantjax.io.VideoWriter` raised
    for a missing folder before :class:`FileWriteError` existed)."""


class StateDictError(WeightsError):
    """A PyTorch state dict (or a file holding one) does not fit the architecture it is loaded into: missing,
    unexpected or wrongly shaped keys, a truncated or unreadable file. The message names the keys and shapes."""


class ExportError(InfantJaxError):
    """A model cannot be written in a deployment format (:mod:`infantjax.deploy`): the format cannot express one of
    its operations (the message names the operation and the format), or the format's converter is not installed
    (the message names the extra to install)."""


class ExportExtraError(ExportError, ImportError):
    """The converter or the runtime of a deployment format is not installed (jax2onnx or ONNX Runtime for ONNX;
    TensorFlow or ai-edge-litert for LiteRT, e.g. ``infantjax assess --runtime litert``): the message names the extra
    to install (``pip install "infantjax[litert]"``)."""


class AotError(InfantJaxError):
    """A program cannot be compiled for a named accelerator target (:mod:`infantjax.aot`): an unknown target or
    program, or a compiler that refused it. The message names what was asked and the choices."""


class AotExtraError(AotError, ImportError):
    """The compile wheels of a target (libtpu for TPU slices, the CUDA plugin for GPU hosts) are not installed: the
    message names the extra to install (``pip install "infantjax[aot]"``)."""
