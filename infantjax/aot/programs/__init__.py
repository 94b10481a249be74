"""The programs of the catalogue (:mod:`infantjax.aot.catalogue`), one module a family, each registering its
programs with the shapes it knows: importing this package imports every module in it, in the order of their names,
and so registers them all.

* :mod:`~infantjax.aot.programs.cp`: ``cp-train``, ``stgcn-train``, ``cp-score`` (seed 002);
* :mod:`~infantjax.aot.programs.depth`: ``depth-train``, ``depth-full-train`` (seed 004);
* :mod:`~infantjax.aot.programs.mam`: ``mam-train`` (seed 001);
* :mod:`~infantjax.aot.programs.nas`: ``nas-trial`` (one search trial on one chip);
* :mod:`~infantjax.aot.programs.pose`: ``pose-rt``, ``pose-i`` (EfficientPose inference);
* :mod:`~infantjax.aot.programs.sma`: ``sma-train`` (seed 000);
* :mod:`~infantjax.aot.programs.smartphone`: ``smartphone-train`` (seed 003).

A new family's programs: a module here registering them (:func:`infantjax.aot.catalogue.register`); no list names
it. The modules import JAX and the families' networks and tasks only when a program is built.
"""

from __future__ import annotations

import importlib
import pkgutil

from infantjax.aot.catalogue import PROGRAMS

# each module registers its own programs; the order of their names is the catalogue's (--help, the full table)
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["PROGRAMS"]
