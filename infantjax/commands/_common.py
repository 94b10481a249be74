"""What the model-family commands (``mam``, ``sma``, ``smartphone``) share: the options of their ``train`` and
``predict`` verbs and the reading of them.

A ``train`` verb reads a recipe (``--quick`` or the paper's, a ``--config`` JSON file, then flags that override
single fields), trains with ``--seed``, ``--checkpoint-dir`` and ``--no-progress`` and saves to ``--out``; a
``predict`` verb loads a MODEL directory, scores an INPUT file or folder and writes the rows to ``--out`` CSV.
Not a command itself: modules starting with ``_`` are not registered by :func:`infantjax.cli.build_parser`.
"""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Iterable, Sequence

from infantjax.errors import ConfigError, DataError

__all__ = [
    "add_config",
    "add_deprecated_alias",
    "add_model_out",
    "add_predict_verb",
    "add_run_options",
    "input_files",
    "metric_row",
    "read_json",
    "read_recording",
    "report_predictions",
    "save_model",
    "train_config",
    "warn_deprecated",
    "write_predictions",
]


# ------------------------------------------------------------------------------------------------------ options
def warn_deprecated(message: str, command: str) -> None:
    """A :class:`FutureWarning` that prints as one line on stderr (``<infantjax COMMAND>:0: FutureWarning: ...``;
    no source line: the place is the user's command line, not ours); filterable as any warning."""
    import warnings

    warnings.warn_explicit(message, FutureWarning, filename=f"<infantjax {command}>", lineno=0,
                           module="infantjax.cli")


class _DeprecatedAlias(argparse.Action):
    """An old spelling of an option: stores into the canonical option's ``dest`` and warns once it is used."""

    def __init__(self, option_strings, dest, *, canonical: str, command: str, **kwargs):
        self.canonical, self.command = canonical, command
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        warn_deprecated(f"{option_string} is deprecated and will be removed; use {self.canonical} (same value)",
                        self.command)
        setattr(namespace, self.dest, values)


def add_deprecated_alias(parser, old: str, canonical: str, dest: str, command: str) -> None:
    """Keep ``old`` (e.g. ``--weights``) working as a hidden alias of ``canonical`` (``--pose``): same ``dest``,
    not in ``--help``, a one-line :class:`FutureWarning` when used (:func:`warn_deprecated`)."""
    parser.add_argument(old, dest=dest, action=_DeprecatedAlias, canonical=canonical, command=command,
                        default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def add_model_out(parser) -> None:
    """``--out MODEL`` (required) of a ``train`` verb."""
    parser.add_argument("--out", required=True, help="directory to write the model to")


def add_config(parser, config_name: str) -> None:
    """``--config FILE``: a JSON file of the recipe ``config_name`` (e.g. ``"SMAConfig"``) that flags override."""
    parser.add_argument("--config", default=None, help=f"{config_name} JSON file (flags below override it)")


def add_run_options(parser, *, seed: int = 0) -> None:
    """``--seed``, ``--checkpoint-dir`` and ``--no-progress`` of a ``train`` verb (in this order)."""
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--checkpoint-dir", default=None, help="checkpoint every epoch here and resume from it")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_scoring_options(parser, *, said: str) -> None:
    """The options of how an ensemble scores keypoints, shared by ``infantjax assess`` and ``infantjax predict``:
    ``--threshold``, ``--certainty``, ``--window-rotation``, ``--camera`` and ``--mirror``. ``said`` names where a
    correction is reported (e.g. ``"the result says so"``)."""
    parser.add_argument("--threshold", type=float, default=None, help="decision threshold (default: the ensemble's)")
    parser.add_argument("--certainty", choices=("paper", "interquartile"), default="paper",
                        help="colour rule: the paper's share of instances, or the reference code's inter-quartile "
                             "rule")
    parser.add_argument("--window-rotation", choices=("auto", "reference", "corrected"), default="auto",
                        help="window rotation to score with: auto (default) keeps the ensemble's for an upright "
                             f"infant and corrects it for a head-down or sideways one ({said}); reference scores "
                             "every recording as the reference code does")
    parser.add_argument("--camera", choices=("auto", "steady", "reference"), default="auto",
                        help="a hand-held camera's shake: auto (default) takes it out of the keypoints where they "
                             f"say the camera shook ({said}, and the risk is shown as doubtful); steady always; "
                             "reference scores the keypoints as "
                             "tracked, as the reference code does")
    parser.add_argument("--mirror", choices=("average", "reference"), default="reference",
                        help="mirror images: average scores every window as tracked and as its mirror image and "
                             "averages the two, so a mirrored video (a phone's front camera) gets the same risk "
                             "(twice the scoring work); reference (default) scores the keypoints as given, as the "
                             "reference code does")


def add_predict_verb(verbs, command: str, help: str, input_help: str, func):
    """The ``predict`` verb of a family's command: ``infantjax COMMAND predict MODEL INPUT [--out CSV]`` (MODEL a
    directory written by ``infantjax COMMAND train``; the CSV written by :func:`report_predictions`). Returns the
    parser for the family's own options."""
    q = verbs.add_parser("predict", help=help)
    q.add_argument("model", help=f"directory written by `infantjax {command} train`")
    q.add_argument("input", help=input_help)
    q.add_argument("--out", default=None, help="CSV of the predictions (default: print only)")
    q.set_defaults(func=func)
    return q


# ------------------------------------------------------------------------------------------------------ reading
def read_json(cls, path, flag: str = "--config"):
    """``cls.from_json`` of the file ``path`` given with ``flag``, or None when the option was not given.

    Raises:
        ConfigError: the file cannot be read (naming the flag and the file); ``from_json`` raises its own typed
            errors for a malformed or wrong recipe.
    """
    if path is None:
        return None
    try:
        text = pathlib.Path(path).read_text()
    except OSError as err:
        raise ConfigError(f"{flag} {path}: {err}") from None
    return cls.from_json(text)


def train_config(cls, args, **flags):
    """The recipe of a ``train`` verb: ``--config`` if given, else ``cls.quick()`` with ``--quick`` or ``cls()``;
    then every flag in ``flags`` (field name → parsed value) that was given (not None) replaces its field, and
    ``--no-progress`` turns the progress bars off.

    Arguments:
        cls: the recipe class (a :class:`~infantjax.train.config.TrainConfig` subclass with ``quick``).
        args: the parsed arguments (``config``, ``quick``, ``no_progress``).
        flags: overrides, e.g. ``epochs=args.epochs``.
    """
    config = read_json(cls, args.config) or (cls.quick() if args.quick else cls())
    changes = {k: v for k, v in flags.items() if v is not None}
    if args.no_progress:
        changes["progress"] = False
    return config.replace(**changes)


def _is_openpose_folder(path: pathlib.Path) -> bool:
    return path.is_dir() and any(path.glob("*_keypoints.json"))


def input_files(path, suffixes: Iterable[str], what: str) -> list[pathlib.Path]:
    """The recordings a ``predict`` verb scores, as other tools leave them: ``path`` itself (a file, or an OpenPose
    output folder of ``*_keypoints.json`` files, which is one recording), or the entries of folder ``path`` —
    files with one of ``suffixes`` (case-insensitive) and, when ``.json`` is one, OpenPose sub-folders — sorted by
    name.

    Left out of a folder: ``labels.csv``, the sidecars infantjax writes beside CSV keypoint files (``x.csv.json``)
    and a DeepLabCut ``.h5`` beside its ``.csv`` twin (DeepLabCut writes both; the CSV is read).

    Arguments:
        path: the INPUT argument.
        suffixes: file suffixes with their dot (``".csv"``).
        what: how the error names the files a folder lacks (``"limb-track files (.csv, .npy, .npz)"``).

    Raises:
        DataError: the path does not exist, a folder holds none of those files, or a DeepLabCut ``.h5`` has no
            ``.csv`` twin (HDF5 keypoint files are not read: their column names are pickled).
    """
    from infantjax.io.keypoints import sidecar

    path, suffixes = pathlib.Path(path), {s.lower() for s in suffixes}
    if not path.exists():
        raise DataError(f"input {path} does not exist")
    if not path.is_dir() or (".json" in suffixes and _is_openpose_folder(path)):
        return [path]
    files = []
    for p in sorted(path.iterdir()):
        if p.is_dir():
            if ".json" in suffixes and _is_openpose_folder(p):
                files.append(p)
        elif p.suffix.lower() in suffixes and p.name != "labels.csv" and not sidecar.is_sidecar(p):
            files.append(p)
    lone = [p for p in files if p.suffix.lower() in (".h5", ".hdf5") and not p.with_suffix(".csv").is_file()]
    if lone:
        raise DataError(f"{lone[0]}: a DeepLabCut HDF5 file without its CSV; HDF5 keypoint files are not read (their "
                        "column names are pickled). Export the CSV beside it with "
                        "deeplabcut.analyze_videos_converth5_to_csv(folder) or analyze_videos(..., save_as_csv=True)")
    files = [p for p in files if p.suffix.lower() not in (".h5", ".hdf5")]
    if not files:
        raise DataError(f"{path} holds no {what}")
    return files


def read_recording(path, **kwargs):
    """:func:`infantjax.io.read_keypoints` of one input of a verb that windows time: a per-image label set (COCO,
    a DeepLabCut training set) is refused, naming the file.

    Raises:
        DataError: the file holds per-image labels; and whatever ``read_keypoints`` raises.
    """
    from infantjax.io import read_keypoints

    seq = read_keypoints(path, **kwargs)
    if seq.metadata.get("time_series") is False:
        images = seq.metadata.get("images") or []
        raise DataError(f"{path}: holds {len(images)} labelled images (per-image labels, e.g. COCO or a DeepLabCut "
                        "training set), not a recording in time; pass the keypoints tracked in a video")
    return seq


# ------------------------------------------------------------------------------------------------------ output
def write_predictions(path, lines: Sequence[str]) -> None:
    """Write the CSV rows ``lines`` (header first) to ``path`` atomically; nothing when ``path`` is None."""
    if path:
        from infantjax.io.files import write_text

        write_text(path, "\n".join(lines) + "\n", parents=True)


def report_predictions(path, files: Sequence[pathlib.Path], columns: dict[str, Sequence], describe) -> None:
    """The end of every family's ``predict`` verb: print ``describe(i, file)`` for each input and write the CSV
    ``file,<columns>`` (one row per input; floats with 6 decimals, integers as they are) to ``path`` (none when
    ``path`` is None)."""
    import numpy as np

    def cell(value) -> str:
        return str(value) if isinstance(value, (int, np.integer)) else f"{float(value):.6f}"

    lines = [",".join(["file", *columns])]
    for i, f in enumerate(files):
        print(describe(i, f))
        lines.append(",".join([f.name, *(cell(values[i]) for values in columns.values())]))
    write_predictions(path, lines)


def save_model(model, path) -> None:
    """The end of every family's ``train`` verb: save the trained model to ``path`` and say how many networks."""
    model.save(path)
    print(f"saved {model.num_instances} network(s) to {path}")


def metric_row(summary: dict) -> str:
    """``"auc 0.812 ± 0.034 recall …"``: held-out metrics given as name → (mean, standard deviation)."""
    return " ".join(f"{k} {m:.3f} ± {s:.3f}" for k, (m, s) in summary.items())
