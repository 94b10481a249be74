"""Pipelines: the model families put to work end to end, above training, ensembles, clinical and explain.

* :mod:`~infantjax.pipelines.pose` — video → keypoints (:class:`~infantjax.pipelines.pose.PosePredictor`), and
  the same on rendered synthetic infants;
* :mod:`~infantjax.pipelines.depth` — depth clip → limb pose (detection → regression → linking), the Table II run;
* :mod:`~infantjax.pipelines.cp` — skeleton sequence → CP risk with an ensemble.

Import the submodule you need; this package imports nothing eagerly.
"""
