"""Moved to :mod:`infantjax.infer.predict` (the inference layer below training). This name stays an alias
of that module, so ``infantjax.train.predict`` imports (and monkeypatches) keep working."""

import sys

from infantjax.infer import predict as _moved

sys.modules[__name__] = _moved
