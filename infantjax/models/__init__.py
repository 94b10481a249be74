"""Networks: their specs, modules, initialisation, counting, and the pure functions that read their outputs.

* ``pose`` — heatmap pose networks of seed 002: EfficientPose RT–IV and the Lite variants (official Keras weights
  load onto them), EfficientHourglass B4, the OpenPose baseline; heatmap/PAF targets and decoding.
* ``depth`` — limb pose from depth video (seed 004): the two-branch 3D U-Net detection CNN, the asymmetric and full
  3D regression CNNs, map targets, peak finding and bipartite limb linking.
* ``gcn`` — skeleton GCNs of seed 002: the 20-choice searchable GCN of Ensemble-NAS-GCN and the ST-GCN baseline,
  with the paper-convention parameter and FLOP counters.
* ``passmore`` — the smartphone-video classifier of seed 003: a 1D causal CNN over 128-sample clips of the 46
  Passmore features with sigmoid-gated attention over a video's clips.
* ``sma`` — the SMA type-I regressor of seed 000: the Table 1 CNN over 30-s windows of four Kinect limb tracks
  (CHOP INTEND extremity score) and the mean / median / quartile aggregation per recording.
* ``mam`` — the motor assessment model of seed 001: joint-distance matrices of 3D pose → a spatio-temporal
  Transformer over clips with Ref / Main (attention MIL) / Info branches; FMs clips and FMs frequency.

Every network is a Flax Linen module configured by a frozen, JSON-serialisable spec with a ``dtype`` (compute
precision; parameters stay float32). The one construction rule: :func:`build` gives the module of any spec,
:func:`init` its initial variables (one cheaply compiled program) and :func:`count_parameters` counts a spec's or a
variables tree's scalars; a new family registers its spec with :func:`register` (a :class:`JsonConfig` dataclass). The network modules import nothing above ``infantjax.nn``; the application code that still lives
beside them (pose and depth training, data, evaluation, demos, the pose predictor, the synthetic adapters) is being
moved out of ``models/``. Importing this package does not import JAX.
"""

from infantjax._jsonconfig import JsonConfig
from infantjax.models._registry import (
    FAST_COMPILE,
    build,
    count_parameters,
    init,
    init_module,
    register,
    registered,
    sample_input,
)

__all__ = ["FAST_COMPILE", "JsonConfig", "build", "count_parameters", "init", "init_module", "register", "registered",
           "sample_input"]
