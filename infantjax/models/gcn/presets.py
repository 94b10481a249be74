"""Small architectures of the Table A.1 search space for demos, tests and benchmarks (not the paper's networks;
those are :meth:`~infantjax.models.gcn.GCNSpec.table_a4`)."""

from __future__ import annotations

from infantjax.models.gcn.spec import GCNSpec

__all__ = ["demo_spec"]


def demo_spec(**changes):
    """A small architecture of the search space for demos and tests: one ST-GCN module per branch, one main
    module, basic blocks, no SE or attention, width 6 — the smallest choice of every Table A.1 option except the
    temporal kernel, which is the longest (9 frames = 0.3 s at 30 Hz). With 3 taps the same network plateaued at
    held-out AUC ≈ 0.85 on the demo cohort (it cannot resolve the 1.5–4.5 Hz fidgety band over 0.1 s); with 9 it
    reaches 0.91–0.93 (docs/ensemble.md "Demo recipe"). ``changes`` override fields (e.g.
    ``temporal_kernel_size=3`` for the smallest network of the space)."""
    base = GCNSpec(graph="spatial", input_width=6, num_input_modules=1, initial_block_type="basic",
                   initial_residual="null", input_temporal_scales=1, initial_main_width=6, num_main_levels=1,
                   num_main_level_modules=1, block_type="basic", bottleneck_factor=2, residual="null",
                   main_temporal_scales=1, temporal_kernel_size=9, se="null", attention="null", pool="global")
    return GCNSpec.from_dict({**base.to_dict(), **changes}) if changes else base
