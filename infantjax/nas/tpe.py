"""TPE (Optuna's ``TPESampler``) over the same 20 choices, as a third sampler to compare with K-Best Search.

To stay a pure function of the log like the other samplers, each proposal builds a fresh in-memory Optuna study
from the finished trials (in completion order) and asks a ``TPESampler`` seeded from ``(search seed, number)``.
Failed trials are left out (TPE needs a value). Duplicates are rejected with up to ``max_attempts`` re-draws; if
all of them are duplicates (TPE concentrates on the best candidate in small spaces), an untried candidate is drawn
uniformly instead, and the search is exhausted only when none is left.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from infantjax._jsonconfig import JsonConfig
from infantjax.errors import ConfigError
from infantjax.models.gcn.spec import GCNSpec
from infantjax.nas.space import (
    Finished,
    Proposal,
    candidate_string,
    derive_seed,
    draw_unique,
    normalise_space,
    optuna_distributions,
    rng_for,
    uniform_table,
)

__all__ = ["TPEConfig", "TPESearch"]


@dataclasses.dataclass(frozen=True)
class TPEConfig(JsonConfig):
    """Options passed to ``optuna.samplers.TPESampler``.

    Attributes:
        n_startup_trials: random trials before TPE's model is used (Optuna's default is 10).
        multivariate: model the choices jointly.
        max_attempts: re-draws (with fresh seeds) when TPE proposes a candidate already tried.
    """

    n_startup_trials: int = 10
    multivariate: bool = True
    max_attempts: int = 50

    def __post_init__(self):
        if self.n_startup_trials < 0 or self.max_attempts < 1:
            raise ConfigError(f"TPEConfig needs n_startup_trials >= 0 and max_attempts >= 1, got {self}")


class TPESearch:
    """Tree-structured Parzen Estimator via Optuna, seeded per trial so proposals are reproducible."""

    name = "tpe"

    def __init__(self, config: TPEConfig | None = None, space: dict | None = None):
        self.config = config or TPEConfig()
        self.space = normalise_space(space)

    def propose(self, finished: Sequence[Finished], *, seed: int, number: int,
                history: Iterable[str] = ()) -> Proposal:
        """The candidate for trial ``number`` (see :meth:`infantjax.nas.KBestSearch.propose`)."""
        import optuna

        logging.getLogger("optuna").setLevel(logging.WARNING)
        distributions = optuna_distributions(self.space)
        past = [
            optuna.trial.create_trial(params=t.spec.choices(), distributions=distributions, value=t.performance)
            for t in finished if t.performance is not None
        ]
        seen = set(history) | {candidate_string(t.spec) for t in finished}
        for attempt in range(self.config.max_attempts):
            sampler = optuna.samplers.TPESampler(
                seed=derive_seed(seed, number, purpose=100 + attempt),
                n_startup_trials=self.config.n_startup_trials,
                multivariate=self.config.multivariate,
            )
            study = optuna.create_study(direction="maximize", sampler=sampler)
            study.add_trials(past)
            trial = study.ask(distributions)
            spec = GCNSpec(**trial.params)
            if candidate_string(spec) not in seen:
                return Proposal(spec, None, {"phase": "tpe"})
        # TPE keeps proposing tried candidates (small spaces): fall back to a uniform draw among the untried ones
        spec = draw_unique(uniform_table(self.space), seen, rng_for(seed, number, purpose=99))
        if spec is None:
            return Proposal(None, "exhausted")
        return Proposal(spec, None, {"phase": "random-fallback"})

    def describe(self, finished: Sequence[Finished]) -> dict[str, Any]:
        return {"sampler": self.name, "config": self.config.to_dict(), "space": self.space, "trials": len(finished)}

    def to_dict(self) -> dict[str, Any]:
        return {"sampler": self.name, "config": self.config.to_dict(), "space": self.space}

    def __repr__(self) -> str:
        return f"TPESearch({self.config})"
