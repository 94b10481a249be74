"""Parameter and FLOP counts of the searchable GCN and ST-GCN reproduce seed 002 (Table A.4, gcn_reference B)."""

from __future__ import annotations

import dataclasses

import pytest

from infantjax.errors import ConfigError
from infantjax.models import count_parameters
from infantjax.models.gcn import CHOICES, GCNSpec, STGCNSpec, count_flops
from infantjax.models.gcn.counting import ledger

# seed 002, Table A.4 / eTable 4 (parameters, GFLOPs) and gcn_reference A.8 ("actually used")
TABLE_A4_PARAMS = (233_362, 75_764, 174_767, 430_812, 107_233, 236_180, 1_691_288, 400_962, 554_652, 559_899)
TABLE_A4_GFLOPS = (0.76, 0.26, 0.58, 1.62, 0.32, 0.44, 2.48, 0.60, 0.63, 1.81)
LIVE_PARAMS = (164_362, 65_804, 137_711, 336_892, 89_857, 186_236, 1_385_048, 264_162, 464_868, 437_115)
# gcn_reference B.2: torchprofile 0.1.0 "all ops" (einsum and BN included), three decimals
FULL_GFLOPS = (0.839, 0.360, 0.659, 1.801, 0.379, 0.511, 2.549, 0.717, 0.695, 1.943)
# gcn_reference B.2 / B.1: edge-importance parameters per architecture
EDGE_IMPORTANCE = (7_220, 10_830, 11_913, 14_440, 11_552, 10_830, 6_498, 14_440, 7_942, 9_747)
STGCN_PARAMS, STGCN_GFLOPS, STGCN_FULL = 3_075_740, 6.21, 6.466


@pytest.mark.parametrize("arch", range(10))
def test_table_a4_reference_params_exact(arch):
    assert count_parameters(GCNSpec.table_a4()[arch], convention="reference") == TABLE_A4_PARAMS[arch]


@pytest.mark.parametrize("arch", range(10))
def test_live_params_match_the_used_column(arch):
    assert count_parameters(GCNSpec.table_a4()[arch], convention="live") == LIVE_PARAMS[arch]


@pytest.mark.parametrize("arch", range(10))
def test_table_a4_gflops_to_two_decimals(arch):
    spec = GCNSpec.table_a4()[arch]
    assert round(count_flops(spec, "reference") / 1e9, 2) == pytest.approx(TABLE_A4_GFLOPS[arch], abs=1e-9)
    assert round(count_flops(spec, "full") / 1e9, 3) == pytest.approx(FULL_GFLOPS[arch], abs=1e-9)


@pytest.mark.parametrize("arch", range(10))
def test_edge_importance_parameters(arch):
    entries = ledger(GCNSpec.table_a4()[arch])
    assert sum(e.params for e in entries if e.name.endswith("edge_importance")) == EDGE_IMPORTANCE[arch]


def test_stgcn_counts():
    spec = STGCNSpec()
    assert count_parameters(spec, convention="reference") == STGCN_PARAMS
    assert count_parameters(spec, convention="live") == STGCN_PARAMS  # ST-GCN builds nothing it does not run
    assert round(count_flops(spec) / 1e9, 2) == STGCN_GFLOPS
    assert round(count_flops(spec, "full") / 1e9, 3) == STGCN_FULL
    # gcn_reference B.1: other settings are off by these amounts
    def reference(**changes):
        return count_parameters(dataclasses.replace(spec, **changes), convention="reference")

    assert reference(in_channels=3) - STGCN_PARAMS == 230
    assert reference(in_channels=6) - STGCN_PARAMS == 920
    assert reference(edge_importance=False) - STGCN_PARAMS == -10_830
    assert reference(num_classes=1) - STGCN_PARAMS == -257


def test_table_a4_matches_the_paper_columns():
    specs = GCNSpec.table_a4()
    assert len(specs) == 10
    assert [s.graph for s in specs] == ["dis2", "dis42", "spatial", "dis4", "dis4", "dis2", "dis2", "dis4",
                                        "dis2", "spatial"]
    assert [s.temporal_kernel_size for s in specs] == [9, 7, 7, 7, 7, 3, 9, 5, 9, 7]
    assert specs[0] == GCNSpec()  # the default spec is K-Best Search no. 1
    for s in specs:
        assert set(s.choices()) == set(CHOICES)


def test_unused_se_ratio_does_not_change_counts():
    # "-" in Table A.4: the ratio of an architecture without SE is unused (gcn_reference B.1)
    spec = GCNSpec.table_a4()[0]
    other = dataclasses.replace(spec, se_ratio=4, se_type="relative")
    assert count_parameters(other, convention="reference") == count_parameters(spec, convention="reference")
    assert count_flops(other) == count_flops(spec)


def test_counting_rejects_bad_arguments():
    spec = GCNSpec()
    with pytest.raises(ConfigError, match="convention"):
        count_parameters(spec, convention="everything")
    with pytest.raises(ConfigError, match="convention"):
        count_flops(spec, "live")
    with pytest.raises(ConfigError, match="mode"):
        count_parameters(spec, convention="live", mode="fixed")
    with pytest.raises(ConfigError, match="registered spec"):
        count_parameters({"graph": "dis2"}, convention="reference")
    with pytest.raises(ConfigError, match="not both"):
        count_parameters(spec, convention="reference", collections=("params",))
    from infantjax.models.sma import SMASpec

    with pytest.raises(ConfigError, match="its conventions: none"):
        count_parameters(SMASpec(), convention="reference")
    with pytest.raises(ConfigError, match="num_joints"):
        count_parameters(spec, convention="reference", num_joints=0)


@pytest.mark.parametrize("arch", [0, 6])
def test_dense_graph_product_count_is_the_traced_tpu_program(arch):
    """``count_flops(..., graph_product="dense")`` counts the program the TPU policy traces (the graph convolutions
    as one (V·C, V·F) product each): the products and convolutions of the forward traced under the ``tpu`` policy
    (``bench.readers.matrix_flops``) are within 5 % of it (elementwise work is in the count, not in the products), as
    are those of the GPU policy (``accelerator``: the dense product too), and those traced under the v6e TPU policy
    (its einsum) within 5 % of the factored count."""
    import jax
    import jax.numpy as jnp

    from infantjax import backend
    from infantjax.bench.readers import matrix_flops
    from infantjax.models.gcn import SearchableGCN

    spec = GCNSpec.table_a4()[arch]
    model = SearchableGCN(spec)
    x = jnp.zeros((1, 150, 19, 6), jnp.float32)
    traced = {}
    for policy in ("accelerator", "tpu", "tpu-v6e"):
        with backend.use(policy, compute_dtype="float32"):
            variables = jax.eval_shape(lambda: model.init(jax.random.key(0), x, train=False))
            traced[policy] = matrix_flops(lambda v, x: model.apply(v, x, train=False), variables, x)
    factored, dense = count_flops(spec, "full"), count_flops(spec, "full", graph_product="dense")
    assert dense > factored
    assert traced["tpu"] == pytest.approx(dense, rel=0.05)
    assert traced["accelerator"] == pytest.approx(dense, rel=0.05)
    assert traced["tpu-v6e"] == pytest.approx(factored, rel=0.05)
    with pytest.raises(ConfigError, match="graph_product"):
        count_flops(spec, "full", graph_product="kron")
    with pytest.raises(ConfigError, match="convention='full'"):
        count_flops(spec, "reference", graph_product="dense")
