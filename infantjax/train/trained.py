"""Moved to :mod:`infantjax.infer.trained` (the inference layer below training). This name stays an alias
of that module, so ``infantjax.train.trained`` imports (and monkeypatches) keep working."""

import sys

from infantjax.infer import trained as _moved

sys.modules[__name__] = _moved
