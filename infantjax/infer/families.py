"""Every family shipped with infantjax, registered: importing this module imports the modules of
:data:`infantjax.infer.registry.SHIPPED` (each registers its family next to its definition, with its zoo entries)
without importing :mod:`infantjax.train`. :func:`infantjax.load` imports them one at a time instead, and stops at
the model's family (:func:`infantjax.infer.registry.discover`).
"""

from __future__ import annotations

from infantjax.infer import registry

registry.shipped()

__all__ = ["families"]


def families() -> tuple:
    """The families registered so far (every shipped one at least)."""
    return registry.families()
