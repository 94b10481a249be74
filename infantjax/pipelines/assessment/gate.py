"""The tracking-quality gate's thresholds of an assessment: the shipped ones, the caller's, or a file written by
``infantjax pose-gate``, with what the records say of them and the digest that makes them part of a run's
settings."""

from __future__ import annotations

import json
import os

from infantjax.errors import ConfigError


#: what the records say of the gate when no thresholds file is given
SHIPPED_GATE = ("the shipped thresholds, calibrated on rendered infants with the zoo's pose model (calibrate them "
                "for your pose model and videos with infantjax pose-gate)")


def _gate_version(thresholds=None) -> str:
    """The tracking-quality gate's thresholds, as a short digest: part of the settings, so a video finished
    under other thresholds (or before the gate) is redone."""
    import hashlib

    from infantjax.clinical.quality import THRESHOLDS

    text = json.dumps((thresholds or THRESHOLDS).to_dict(), sort_keys=True)
    return "gate-" + hashlib.sha256(text.encode()).hexdigest()[:10]


def gate_thresholds(gate) -> tuple:
    """(thresholds, what they are) of ``assess``'s ``gate``: None (the shipped ones), a
    :class:`~infantjax.clinical.quality.Thresholds`, or a file written by ``infantjax pose-gate``."""
    from infantjax.clinical.quality import THRESHOLDS, Thresholds

    if gate is None:
        return THRESHOLDS, SHIPPED_GATE
    if isinstance(gate, Thresholds):
        return gate, "thresholds given by the caller"
    if isinstance(gate, (str, os.PathLike)):
        from infantjax.pipelines.labelled import read_gate

        return read_gate(gate)
    raise ConfigError(f"gate must be None, Thresholds or the path of a thresholds file, got {type(gate).__name__}")
