"""The programs of the catalogue (:mod:`infantjax.aot.catalogue`), one module a family, each registering its
programs with the shapes it knows: importing this package registers them all.

* :mod:`~infantjax.aot.programs.cp`: ``cp-train``, ``stgcn-train``, ``cp-score`` (seed 002);
* :mod:`~infantjax.aot.programs.pose`: ``pose-rt``, ``pose-i`` (EfficientPose inference);
* :mod:`~infantjax.aot.programs.nas`: ``nas-trial`` (one search trial on one chip);
* :mod:`~infantjax.aot.programs.depth`: ``depth-train``, ``depth-full-train`` (seed 004);
* :mod:`~infantjax.aot.programs.smartphone`: ``smartphone-train`` (seed 003);
* :mod:`~infantjax.aot.programs.sma`: ``sma-train`` (seed 000);
* :mod:`~infantjax.aot.programs.mam`: ``mam-train`` (seed 001).

A new family's programs: a module here registering them (:func:`infantjax.aot.catalogue.register`), added to
the import below. The modules import JAX and the families' networks and tasks only when a program is built.
"""

from __future__ import annotations

from infantjax.aot.catalogue import PROGRAMS
# each module registers its own programs; the order of this line is the catalogue's (--help, the full table)
from infantjax.aot.programs import cp, pose, nas, depth, smartphone, sma, mam  # noqa: F401, I001

__all__ = ["PROGRAMS"]
