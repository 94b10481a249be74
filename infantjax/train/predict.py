"""Moved to :mod:`infantjax.infer.predict` (the inference layer below training): the old path warns and gives that
module (:data:`infantjax._moved.MOVED`)."""

from infantjax._moved import alias

alias(__name__)
