"""Random Search: every candidate drawn uniformly from the whole space, duplicates rejected (seed 002, Table A.3).

Like K-Best Search it is a pure function of the log: the draw for trial ``number`` uses a generator derived from
``(search seed, number)``. It never stops by itself; the workers' trial budget ends it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from infantjax.nas.space import (
    Finished,
    Proposal,
    candidate_string,
    draw_unique,
    normalise_space,
    rng_for,
    uniform_table,
)

__all__ = ["RandomSearch"]


class RandomSearch:
    """Uniform sampling over the 20 choices (or a restriction of them) with duplicate rejection."""

    name = "random"

    def __init__(self, space: dict | None = None):
        self.space = normalise_space(space)

    def propose(self, finished: Sequence[Finished], *, seed: int, number: int,
                history: Iterable[str] = ()) -> Proposal:
        """The candidate for trial ``number`` (see :meth:`infantjax.nas.KBestSearch.propose`)."""
        seen = set(history) | {candidate_string(t.spec) for t in finished}
        spec = draw_unique(uniform_table(self.space), seen, rng_for(seed, number))
        if spec is None:
            return Proposal(None, "exhausted")
        return Proposal(spec, None, {"phase": "random"})

    def describe(self, finished: Sequence[Finished]) -> dict[str, Any]:
        return {"sampler": self.name, "space": self.space, "trials": len(finished)}

    def to_dict(self) -> dict[str, Any]:
        return {"sampler": self.name, "config": {}, "space": self.space}

    def __repr__(self) -> str:
        return "RandomSearch()" if self.space is None else f"RandomSearch(space={self.space})"
